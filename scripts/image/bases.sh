#!/usr/bin/env bash
# Make the stand-in base images (python, node) from Debian bookworm, for a machine that cannot
# pull from Docker Hub. An image already made is kept: `podman rmi NAME` to make it again.
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_tools

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The first of this machine's Debian sources (else deb.debian.org) serving `suite`.
mirror_for() {
    local suite=$1 tail=$2 uri
    for uri in $(sed -e '/^[[:space:]]*#/d' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -oE "https?://[^[:space:]]+/$tail/?" |
        sed 's:/$::') "http://deb.debian.org/$tail"; do
        if wget -q -T 15 -t 1 --spider "$uri/dists/$suite/Release"; then
            echo "$uri"
            return
        fi
    done
    echo "bases.sh: no Debian mirror answers for $suite" >&2
    return 1
}

# debian:bookworm-slim's own habits: no documentation, manuals or translations, no apt caches.
slim() {
    local root=$1
    cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CONF
    cat >"$root/etc/apt/apt.conf.d/slim" <<'CONF'
Acquire::Languages "none";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
CONF
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$root"/usr/share/{groff,info,lintian,man}/* "$root"/var/lib/apt/lists/* \
        "$root"/var/cache/apt/* "$root"/var/log/*.log "$root"/var/log/apt/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
}

make_debian() {
    local root=$work/rootfs main security
    main=$(mirror_for bookworm debian)
    security=$(mirror_for bookworm-security debian-security)
    debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$main"
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $main
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    # This machine's CA bundle: it may hold a TLS-intercepting proxy's CA, which pip and npm
    # must then trust to reach their registries. A CA certificate is public, not a secret.
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    fi
    slim "$root"
    tar --numeric-owner -C "$root" -c . |
        "${PODMAN[@]}" import --change 'CMD ["bash"]' - "$DEBIAN_BASE"
    rm -rf "$root"
}

# Build stand-in `name` from scripts/image/NAME.Containerfile on the Debian base.
make_from_debian() {
    local image=$1 name=$2
    "${PODMAN[@]}" build "${ULIMITS[@]}" --pull=never --format docker \
        --build-arg DEBIAN_IMAGE="$DEBIAN_BASE" --tag "$image" \
        --file "$REPO/scripts/image/$name.Containerfile" "$work"
}

"${PODMAN[@]}" image exists "$DEBIAN_BASE" || make_debian
"${PODMAN[@]}" image exists "$PYTHON_BASE" || make_from_debian "$PYTHON_BASE" python
"${PODMAN[@]}" image exists "$NODE_BASE" || make_from_debian "$NODE_BASE" node
