#!/usr/bin/env bash
# Builds the dockgrade image (the Dockerfile at the top of the repository).
#
#   ci/build-image.sh [TAG] [--binary PATH] [--label KEY=VALUE]...
#
# TAG defaults to dockgrade:<version from Cargo.toml>. Without --binary the
# release binary is built first (cargo build --release --locked). The image
# starts from debian:bookworm-slim (ci/seed-images.sh makes it where nothing
# can be pulled). Prints the image id.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -1)
tag="dockgrade:$version"
binary=""
labels=()
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --label) labels+=(--label "${2:?--label needs KEY=VALUE}"); shift 2 ;;
    -*) echo "build-image: unknown option $1" >&2; exit 2 ;;
    *) tag=$1; shift ;;
  esac
done

if [ -z "$binary" ]; then
  (cd "$here" && cargo build --release --locked --quiet)
  binary="$here/target/release/dockgrade"
fi
[ -x "$binary" ] || { echo "build-image: $binary is not an executable" >&2; exit 1; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$here/Dockerfile" "$context/Dockerfile"
cp "$binary" "$context/dockgrade"
# A debug binary carries its symbols: the image needs none of them.
strip "$context/dockgrade" 2>/dev/null || true
DOCKER_BUILDKIT=0 docker build -q --force-rm -t "$tag" "${labels[@]}" "$context"
