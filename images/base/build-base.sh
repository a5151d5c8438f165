#!/usr/bin/env bash
# Build coursehub/base:bookworm, a minimal Debian 12 image, without any registry:
# debootstrap a minbase root filesystem and `docker import` it.
#
# Usage: images/base/build-base.sh [--force]
#   --force   rebuild even when the image already exists
# Env: BASE_IMAGE (default coursehub/base:bookworm), DEBIAN_MIRROR, DOCKER (client binary)
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-coursehub/base:bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-/usr/bin/docker}"
force=0
[[ "${1:-}" == "--force" ]] && force=1

if [[ $force -eq 0 ]] && "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "$BASE_IMAGE exists (use --force to rebuild)"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is needed: apt-get install debootstrap" >&2; exit 1; }

rootfs="$(mktemp -d /tmp/coursehub-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
# env -i: the host's proxy and certificate variables must not leak into the chroot.
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR"
# Smaller image: package lists and caches are fetched again by any build that needs them.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | "$DOCKER" import \
    -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' \
    -m "debootstrap --variant=minbase bookworm" - "$BASE_IMAGE"
echo "built $BASE_IMAGE"
