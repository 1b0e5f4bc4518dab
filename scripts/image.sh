#!/usr/bin/env bash
# Build the resource image from Dockerfile, with the repository root as the
# context (.dockerignore sends only build/image/, which `make image-context`
# lays out; `make image` runs both).
#
# Environment:
#   IMAGE          image name            (default templates-candidate-resource:dev)
#   BUILDER        buildah|podman|docker (default: the first one installed, in that order)
#   BUILDAH_STORAGE_DRIVER, BUILDAH_ROOT, BUILDAH_RUNROOT   optional storage driver
#                  (e.g. vfs, which works everywhere, even in containers without
#                  overlay) and private storage dirs for buildah/podman; default:
#                  the machine's containers-storage configuration
#   OCI_DIR        optional: also write the image as an OCI layout to OCI_DIR,
#                  tagged with IMAGE's tag (buildah/podman only)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

IMAGE=${IMAGE:-templates-candidate-resource:dev}
rootfs=build/image   # what Dockerfile copies
OCI_DIR=${OCI_DIR:-}

die() { echo "image.sh: $*" >&2; exit 1; }

for f in opt/resource/check opt/resource/in opt/resource/out etc/ssl/certs/ca-certificates.crt; do
  [[ -s "$rootfs/$f" ]] || die "$rootfs/$f missing: run 'make image-context' first"
done
[[ -d "$rootfs/tmp" ]] || die "$rootfs/tmp missing: run 'make image-context' first"

if [[ -z "${BUILDER:-}" ]]; then
  for b in buildah podman docker; do
    if command -v "$b" >/dev/null 2>&1; then BUILDER=$b; break; fi
  done
  [[ -n "${BUILDER:-}" ]] || die "no image builder found: install buildah (apt-get install buildah), podman or docker"
fi

tag=${IMAGE##*:}
[[ "$tag" != "$IMAGE" && "$tag" != */* ]] || tag=latest

case "$BUILDER" in
  buildah|podman)
    storage=()
    [[ -z "${BUILDAH_STORAGE_DRIVER:-}" ]] || storage+=(--storage-driver "$BUILDAH_STORAGE_DRIVER")
    [[ -z "${BUILDAH_ROOT:-}" ]] || storage+=(--root "$BUILDAH_ROOT")
    [[ -z "${BUILDAH_RUNROOT:-}" ]] || storage+=(--runroot "$BUILDAH_RUNROOT")
    if [[ "$BUILDER" == buildah ]]; then
      # --isolation chroot: no RUN step exists, and chroot needs no runtime (runc/crun).
      buildah "${storage[@]}" bud --isolation chroot -t "$IMAGE" -f Dockerfile .
    else
      podman "${storage[@]}" build -t "$IMAGE" -f Dockerfile .
    fi
    if [[ -n "$OCI_DIR" ]]; then
      "$BUILDER" "${storage[@]}" push "$IMAGE" "oci:$OCI_DIR:$tag"
      echo "image.sh: wrote $IMAGE as OCI layout $OCI_DIR:$tag"
    fi
    ;;
  docker)
    [[ -z "$OCI_DIR" ]] || die "OCI_DIR needs BUILDER=buildah or podman"
    docker build -t "$IMAGE" -f Dockerfile .
    ;;
  *) die "unknown BUILDER '$BUILDER' (buildah, podman or docker)" ;;
esac
echo "image.sh: built $IMAGE with $BUILDER"
