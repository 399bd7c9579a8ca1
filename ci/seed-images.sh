#!/usr/bin/env bash
# Create the course's base images when they are missing.
#
# These are local stand-ins built from Debian's packages, for machines that
# cannot reach a registry: busybox:1.35 (Debian's busybox-static and its applet
# links), hello-world:latest (busybox printing a greeting),
# debian:bookworm-slim (debootstrap --variant=minbase) and registry:2 (Debian's
# docker-registry, the distribution registry 2.8, on debian:bookworm-slim, set
# up like the official image: see ci/registry-image/ and
# docs/course-machines.md). Where a registry is reachable the same names can
# simply be pulled instead; the course never depends on the exact size of a
# base image.
set -euo pipefail

say() { printf 'seed-images: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

need_pkg() {
  # need_pkg PACKAGE COMMAND-OR-FILE
  if ! command -v "$2" >/dev/null 2>&1 && [ ! -e "$2" ]; then
    [ "$(id -u)" -eq 0 ] || die "$1 is needed to build base images; as root, run: apt-get install -y $1"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$1" >/dev/null 2>&1; } \
      || die "apt-get install $1 failed"
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have_image busybox:1.35; then
  need_pkg busybox-static /bin/busybox
  root="$work/busybox"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/home"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  "$root/bin/busybox" --list | while read -r applet; do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import -c 'CMD ["sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - busybox:1.35 >/dev/null \
    || die "docker import busybox:1.35 failed"
fi

# The course's first container: a local stand-in for Docker's hello-world.
if ! have_image hello-world:latest; then
  printf 'FROM busybox:1.35\nCMD ["echo", "Hello from Docker!\\nThis message shows that your installation appears to be working correctly."]\n' \
    | DOCKER_BUILDKIT=0 docker build -q -t hello-world:latest - >/dev/null 2>"$work/hello.log" \
    || { cat "$work/hello.log" >&2; die "building hello-world:latest failed"; }
fi

if ! have_image debian:bookworm-slim; then
  need_pkg debootstrap debootstrap
  root="$work/bookworm"
  debootstrap --variant=minbase bookworm "$root" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - debian:bookworm-slim >/dev/null \
    || die "docker import debian:bookworm-slim failed"
fi

# registry_binary DEST: Debian's docker-registry binary (distribution 2.8)
# copied to DEST. An installed package is used as it is; otherwise its .deb is
# downloaded and unpacked here, never installed: installing it would also start
# Debian's docker-registry service (systemd hosts) on port 5000 of the
# machine, the port the course's registry exercises publish.
registry_binary() {
  local bin=/usr/bin/docker-registry
  if [ ! -x "$bin" ]; then
    (cd "$work" && apt-get download docker-registry >"$work/apt-download.log" 2>&1) \
      || { [ "$(id -u)" -eq 0 ] && apt-get update -qq >/dev/null 2>&1 \
             && (cd "$work" && apt-get download docker-registry >"$work/apt-download.log" 2>&1); } \
      || { cat "$work/apt-download.log" >&2; die "apt-get download docker-registry failed"; }
    dpkg-deb -x "$work"/docker-registry_*.deb "$work/registry-deb" || die "unpacking docker-registry failed"
    bin="$work/registry-deb/usr/bin/docker-registry"
  fi
  case "$("$bin" --version 2>/dev/null)" in
    *" 2."*) ;;
    *) die "$bin is not the distribution registry 2.x: $("$bin" --version 2>&1 || true)" ;;
  esac
  install -m 755 "$bin" "$1"
}

# The course's private registry: a local stand-in for the official registry:2,
# built from ci/registry-image/ by the legacy builder (COPY and metadata steps
# only, so no intermediate container is left; a failed COPY leaves no image).
if ! have_image registry:2; then
  here=$(cd "$(dirname "$0")" && pwd)
  ctx="$work/registry"
  install -d -m 755 "$ctx" "$ctx/rootfs" "$ctx/rootfs/usr" "$ctx/rootfs/usr/bin" "$ctx/rootfs/etc" \
    "$ctx/rootfs/etc/docker" "$ctx/rootfs/etc/docker/registry" "$ctx/rootfs/var" "$ctx/rootfs/var/lib" \
    "$ctx/rootfs/var/lib/registry"
  registry_binary "$ctx/rootfs/usr/bin/registry"
  install -m 755 "$here/registry-image/entrypoint.sh" "$ctx/rootfs/entrypoint.sh"
  install -m 644 "$here/registry-image/config.yml" "$ctx/rootfs/etc/docker/registry/config.yml"
  install -m 644 "$here/registry-image/Dockerfile" "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --force-rm -t registry:2 "$ctx" >/dev/null 2>"$work/registry.log" \
    || { cat "$work/registry.log" >&2; die "building registry:2 failed"; }
  # The binary comes from this machine's Debian, the image is bookworm: make
  # sure it starts there (glibc), or leave no registry:2 behind.
  if ! docker run --rm --network none --entrypoint /bin/registry registry:2 --version >/dev/null 2>"$work/registry.log"; then
    cat "$work/registry.log" >&2
    docker image rm registry:2 >/dev/null 2>&1 || true
    die "registry:2 was built but /bin/registry does not run in it"
  fi
fi
