#!/usr/bin/env bash
# Build the app's image (homemovies:dev; IMAGE=NAME for another) with podman from the local
# stand-in bases (made first if missing); prints the build's time and the image's size.
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bash "$REPO/scripts/image/bases.sh"

start=$SECONDS
"${PODMAN[@]}" build "${ULIMITS[@]}" --pull=never --format docker --layers \
    --build-arg PYTHON_IMAGE="$PYTHON_BASE" --build-arg NODE_IMAGE="$NODE_BASE" \
    --tag "$IMAGE" "$REPO"
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "build.sh: $IMAGE built in $((SECONDS - start)) s, $((size / 1000000)) MB ($size bytes)"
