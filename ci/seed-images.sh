#!/usr/bin/env bash
# Create the course's base images when they are missing.
#
# These are local stand-ins built from Debian's packages, for machines that
# cannot reach a registry: busybox:1.35 (Debian's busybox-static and its applet
# links), hello-world:latest (busybox printing a greeting) and
# debian:bookworm-slim (debootstrap --variant=minbase). Where a
# registry is reachable the same names can simply be pulled instead; the course
# never depends on the exact size of a base image.
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
