# shellcheck shell=bash disable=SC2034  # the names are for the scripts sourcing this one
# Sourced by scripts/image/*.sh: the images' names, the tools they need and the flags podman
# needs on a machine whose limits are lower than its defaults.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=${IMAGE:-homemovies:dev}
# Stand-ins for the Dockerfile's bases, made from Debian bookworm by bases.sh.
DEBIAN_BASE=localhost/stand-in/debian:bookworm-slim
PYTHON_BASE=localhost/stand-in/python:3.11-slim-bookworm
NODE_BASE=localhost/stand-in/node:bookworm-slim

# The Debian packages these scripts run; iptables is netavark's (the container network).
TOOLS=(podman buildah runc debootstrap iptables)

need_tools() {
    local missing=() package
    for package in "${TOOLS[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$package")
    done
    if ((${#missing[@]})); then
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
}

# --ulimit NAME=N:N with N podman's default, or this machine's hard limit when that is lower:
# runc cannot raise a limit above it, and the container fails to start.
ulimit_flag() {
    local name=$1 default=$2 hard=$3
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$default" ]; then
        default=$hard
    fi
    echo "--ulimit=$name=$default:$default"
}

PODMAN=(podman --runtime runc)
ULIMITS=("$(ulimit_flag nofile 1048576 "$(ulimit -Hn)")" "$(ulimit_flag nproc 32768 "$(ulimit -Hu)")")
