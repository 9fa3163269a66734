#!/usr/bin/env bash
# Build (once) the Debian 12 image Molecule's default scenario runs: no
# registry is reachable, so it is made from Debian packages and imported.
#   build-container-image.sh [NAME]      (default localhost/hostperf-debian12)
set -euo pipefail
NAME=${1:-${HOSTPERF_MOLECULE_IMAGE:-localhost/hostperf-debian12}}
MIRROR=${HOSTPERF_LAB_MIRROR:-http://deb.debian.org/debian}
if podman image exists "$NAME"; then
    echo "container image cached: $NAME"
    exit 0
fi
rootfs=$(mktemp -d /var/tmp/hostperf-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,iproute2,ethtool,procps,kmod bookworm "$rootfs" "$MIRROR"
chroot "$rootfs" apt-get clean
tar -C "$rootfs" -c . | podman import --change 'CMD ["sleep", "infinity"]' - "$NAME"
echo "container image built: $NAME"
