#!/usr/bin/env bash
# Builds the senseye-agent image from the Dockerfile, here and on hosts without Docker Hub:
# an engine (engine.sh: the running one, else its own dockerd, left running for you to run the
# image; `engine.sh stop` stops it), the base image (base-image.sh: a local stand-in for
# node:20-bookworm-slim, cached), then `docker build` with that base through NODE_IMAGE.
#
# Behind a TLS-inspecting proxy npm must trust the proxy's CA: pass it with --ca FILE (or
# SENSEYE_BUILD_CA; by default $NODE_EXTRA_CA_CERTS when set). It reaches the build as the
# BuildKit secret `build-ca`, mounted for the npm steps only and never stored in the image.
#
# Usage: scripts/container/build-image.sh [--tag NAME] [--ca FILE] [--official-base]
#   --official-base  build FROM node:20-bookworm-slim as pulled from Docker Hub (no stand-in)
# Prints the image tag on its last line. Exits 3 when the base image cannot be made here
# (debootstrap or npm missing, not root), 1 on any other failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

tag=senseye-agent:local
ca=${SENSEYE_BUILD_CA:-${NODE_EXTRA_CA_CERTS:-}}
official=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --ca) ca=$2; shift 2 ;;
    --official-base) official=1; shift ;;
    *) echo "usage: $0 [--tag NAME] [--ca FILE] [--official-base]" >&2; exit 2 ;;
  esac
done

engine=$("$here/engine.sh" start)
eval "$engine"
export DOCKER DOCKER_HOST
[ "$ENGINE_STARTED" = 1 ] && echo "build-image: started dockerd on $DOCKER_HOST (stop it with $here/engine.sh stop)" >&2

args=(build --network host --tag "$tag")
if [ "$official" = 0 ]; then
  # Exit 3 passes on "the base image cannot be made here" (a tool or root missing).
  base=$("$here/base-image.sh") || exit $?
  base=$(tail -n 1 <<<"$base")
  args+=(--build-arg "NODE_IMAGE=$base")
fi
if [ -n "$ca" ]; then
  [ -r "$ca" ] || { echo "build-image: CA file $ca is not readable" >&2; exit 1; }
  args+=(--secret "id=build-ca,src=$ca")
fi

echo "build-image: $DOCKER ${args[*]} $root" >&2
DOCKER_BUILDKIT=1 "$DOCKER" "${args[@]}" --progress "${BUILD_PROGRESS:-plain}" "$root" >&2
echo "$tag"
