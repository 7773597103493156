#!/usr/bin/env bash
# Run the image as a user would (`podman run -e HOMEMOVIES_PASSWORD IMAGE --library demo ...`)
# and check it: its health check passes, it runs as a user other than root, and Chromium signs
# in and plays an MP4 and an HLS title of the demo library from it (browser.py). The container
# is removed at exit, whatever happened.
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PYTHON=${PYTHON:-$REPO/.venv/bin/python}  # one with Playwright: make setup-dev
HEALTHY_WITHIN=${HEALTHY_WITHIN:-120}     # seconds
need_tools

start=$SECONDS
name=homemovies-smoke-$$
# The password goes in as the README says secrets do, as a variable: in no process's arguments.
HOMEMOVIES_PASSWORD=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
export HOMEMOVIES_PASSWORD

finish() {
    local status=$?
    if ((status)) && "${PODMAN[@]}" container exists "$name"; then
        echo "smoke.sh: failed; the container's last log lines:" >&2
        "${PODMAN[@]}" logs --tail 40 "$name" >&2 || true
    fi
    "${PODMAN[@]}" rm --force --time 0 "$name" >/dev/null 2>&1 || true
    exit "$status"
}
trap finish EXIT

# Without systemd (a CI container) podman cannot schedule the image's health check and says
# so; the check still runs whenever asked, as below.
"${PODMAN[@]}" run --detach --name "$name" "${ULIMITS[@]}" --publish 127.0.0.1::8501 \
    --env HOMEMOVIES_PASSWORD "$IMAGE" --library demo --username demo >/dev/null
url=http://$("${PODMAN[@]}" port "$name" 8501)

deadline=$((SECONDS + HEALTHY_WITHIN))
until "${PODMAN[@]}" healthcheck run "$name" >/dev/null 2>&1; do
    if [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$name")" != true ]; then
        echo "smoke.sh: the container stopped before its health check passed" >&2
        exit 1
    fi
    if ((SECONDS > deadline)); then
        echo "smoke.sh: the health check did not pass within $HEALTHY_WITHIN s" >&2
        exit 1
    fi
    sleep 1
done
echo "smoke.sh: healthy after $((SECONDS - start)) s at $url"

uid=$("${PODMAN[@]}" exec "$name" id -u)
if [ "$uid" = 0 ]; then
    echo "smoke.sh: the app runs as root" >&2
    exit 1
fi
echo "smoke.sh: runs as uid $uid"

"$PYTHON" "$REPO/scripts/image/browser.py" "$url" demo
echo "smoke.sh: passed in $((SECONDS - start)) s"
