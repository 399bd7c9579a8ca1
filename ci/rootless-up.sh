#!/usr/bin/env bash
# A rootless Docker daemon next to the machine's own: the course's machines
# use it to show (and dockgrade's tests to check) what changes when the daemon
# runs as an unprivileged user. Needs root, like CI.
#
#   ci/rootless-up.sh          # start it (or keep it), load busybox:1.35 into it,
#                              # print its DOCKER_HOST (the only line on stdout)
#   ci/rootless-up.sh --stop   # stop it cleanly (its data stays for the next start)
#
#   export DOCKER_HOST=$(ci/rootless-up.sh)
#
# What it does, idempotently: creates the user $ROOTLESS_USER (a system user,
# home /var/lib/$ROOTLESS_USER, no login shell) with 65536 subordinate uids and
# gids in /etc/subuid and /etc/subgid; installs Debian's rootlesskit, uidmap
# (newuidmap, newgidmap) and slirp4netns when missing; then starts docker.io's
# dockerd-rootless.sh as that user: rootlesskit maps the user's uid to root in
# a user namespace, slirp4netns gives it a network, dockerd runs inside.
#   socket:     /run/$ROOTLESS_USER/docker.sock ($XDG_RUNTIME_DIR, the user's, mode 700;
#               root reaches it, other users do not)
#   data root:  /var/lib/$ROOTLESS_USER/docker
#   log:        $ROOTLESS_LOG (default /var/log/dockgrade-rootless-dockerd.log)
# A daemon that already answers on the socket is kept as it is.
#
# Storage driver: overlay2 when the kernel mounts overlayfs inside an
# unprivileged user namespace (Linux >= 5.11; probed below, as the user, on
# the data root's file system: on this project's CI machines it does), else
# fuse-overlayfs when /dev/fuse exists (Debian's package installed then),
# else vfs (a full copy per layer: slow and large, but works everywhere).
# DOCKGRADE_ROOTLESS_STORAGE_DRIVER=NAME forces one.
set -euo pipefail

ROOTLESS_USER=${ROOTLESS_USER:-dockgrade-rootless}
ROOTLESS_LOG=${ROOTLESS_LOG:-/var/log/dockgrade-rootless-dockerd.log}
home="/var/lib/$ROOTLESS_USER"
run_dir="/run/$ROOTLESS_USER"
sock="$run_dir/docker.sock"
host="unix://$sock"
# The pid of what we started (runuser, whose child is rootlesskit): root's,
# outside the user's own directory.
pid_file="/run/$ROOTLESS_USER.pid"
rootless_sh=/usr/share/docker.io/contrib/dockerd-rootless.sh

say() { printf 'rootless-up: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (I create a user and start its daemon)"

answers() { timeout 10 docker -H "$host" info >/dev/null 2>&1; }

# tree PID: PID and all its descendants, parents first.
tree() {
  local p
  echo "$1"
  for p in $(pgrep -P "$1" || true); do tree "$p"; done
}

# alive PID COMM...: PID runs one of these programs (a pid file left by a
# daemon that died long ago may name someone else's process by now).
alive() {
  local pid=$1 comm; shift
  [ -n "$pid" ] && comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  for c in "$@"; do [ "$comm" = "$c" ] && return 0; done
  return 1
}

stop_daemon() {
  local pid dpid
  pid=$(cat "$pid_file" 2>/dev/null || true)
  alive "$pid" setsid runuser || pid=""
  dpid=$(cat "$run_dir/docker.pid" 2>/dev/null || true)
  alive "$dpid" dockerd || dpid=""
  # dockerd first (it stops its containers and containerd); rootlesskit and
  # runuser then exit on their own.
  if [ -n "$dpid" ]; then
    kill -TERM "$dpid"
    for _ in $(seq 1 60); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.5; done
  fi
  if [ -n "$pid" ]; then
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      say "the daemon did not stop within 35 s; killing what was started (pid $pid and its children)"
      # shellcheck disable=SC2046 # one pid per word
      kill -KILL $(tree "$pid" | tac) 2>/dev/null || true
    fi
  fi
  rm -f "$pid_file" "$run_dir/docker.pid" "$sock"
}

# One of us at a time (a start and a stop racing would kill what the other
# started). The daemon itself is started without this descriptor.
exec 9>"/run/$ROOTLESS_USER.lock"
flock -w 120 9 || die "another ci/rootless-up.sh holds /run/$ROOTLESS_USER.lock"

if [ "${1:-}" = "--stop" ]; then
  stop_daemon
  say "stopped"
  exit 0
fi
[ $# -eq 0 ] || die "usage: ci/rootless-up.sh [--stop]"

need_pkg() {
  # need_pkg PACKAGE COMMAND-OR-FILE
  if ! command -v "$2" >/dev/null 2>&1 && [ ! -e "$2" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$1" >/dev/null 2>&1; } \
      || die "apt-get install $1 failed"
  fi
}

ensure_user() {
  if ! id "$ROOTLESS_USER" >/dev/null 2>&1; then
    useradd --system --user-group --create-home --home-dir "$home" --shell /usr/sbin/nologin \
      --comment "dockgrade rootless Docker daemon" "$ROOTLESS_USER" || die "useradd $ROOTLESS_USER failed"
  fi
  # Subordinate ids: 65536 of them, after every range already given out.
  local f start
  touch /etc/subuid /etc/subgid
  if ! grep -q "^$ROOTLESS_USER:" /etc/subuid || ! grep -q "^$ROOTLESS_USER:" /etc/subgid; then
    start=$(awk -F: 'BEGIN { m = 100000 } NF == 3 && $2 + $3 > m { m = $2 + $3 } END { print m }' /etc/subuid /etc/subgid)
    for f in /etc/subuid /etc/subgid; do
      grep -q "^$ROOTLESS_USER:" "$f" || printf '%s:%s:65536\n' "$ROOTLESS_USER" "$start" >>"$f"
    done
  fi
  # XDG_RUNTIME_DIR: the user's, 700 (/run may be a tmpfs: made at every start).
  install -d -m 700 -o "$ROOTLESS_USER" -g "$ROOTLESS_USER" "$run_dir"
}

# as_user CMD...: CMD as the user, with the environment dockerd-rootless.sh
# needs (and nothing of root's).
user_env=(env -i HOME="$home" USER="$ROOTLESS_USER" LOGNAME="$ROOTLESS_USER" XDG_RUNTIME_DIR="$run_dir"
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
as_user() { runuser -u "$ROOTLESS_USER" -- "${user_env[@]}" "$@"; }

# The storage driver (see the top of this file).
storage_driver() {
  if [ -n "${DOCKGRADE_ROOTLESS_STORAGE_DRIVER:-}" ]; then
    echo "$DOCKGRADE_ROOTLESS_STORAGE_DRIVER"; return
  fi
  local d
  d=$(as_user mktemp -d "$home/.overlay-probe.XXXXXX")
  # shellcheck disable=SC2016 # $1 is the inner shell's
  if as_user unshare --user --map-root-user --mount sh -c '
      cd "$1" && mkdir l u w m && echo x >l/f &&
      mount -t overlay overlay -o "lowerdir=$1/l,upperdir=$1/u,workdir=$1/w,userxattr" m &&
      rm m/f && echo y >m/g && [ -c u/f ]' sh "$d" >/dev/null 2>&1; then
    rm -rf "$d"; echo overlay2; return
  fi
  rm -rf "$d"
  if [ -c /dev/fuse ]; then
    need_pkg fuse-overlayfs fuse-overlayfs
    echo fuse-overlayfs; return
  fi
  echo vfs
}

start_daemon() {
  local driver pid started
  need_pkg rootlesskit rootlesskit
  need_pkg uidmap newuidmap
  need_pkg slirp4netns slirp4netns
  command -v dockerd >/dev/null 2>&1 || need_pkg docker.io dockerd
  [ -x "$rootless_sh" ] || die "$rootless_sh is missing (it comes with Debian's docker.io)"
  ensure_user
  driver=$(storage_driver)
  # What a killed daemon left: the old process tree, its pid files, its socket.
  stop_daemon
  say "starting a rootless dockerd as $ROOTLESS_USER ($driver storage), log in $ROOTLESS_LOG"
  printf '\n==== %s rootless-up: start (%s)\n' "$(date -u +%FT%TZ)" "$driver" >>"$ROOTLESS_LOG"
  # Its own session (setsid), so that it outlives this script and its
  # caller's job; not holding our lock (9>&-). Networking by slirp4netns
  # (dockerd-rootless.sh's default when it is installed, said here anyway;
  # naming it skips the script's MTU choice for it, 65520, so that is said too).
  setsid -w runuser -u "$ROOTLESS_USER" -- "${user_env[@]}" \
    DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520 \
    "$rootless_sh" --host "$host" --data-root "$home/docker" --storage-driver "$driver" \
    </dev/null >>"$ROOTLESS_LOG" 2>&1 9>&- &
  pid=$!
  started=$SECONDS
  echo "$pid" >"$pid_file"
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    answers && { say "it answers ($((SECONDS - started)) s after its start)"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 30 "$ROOTLESS_LOG" >&2
  stop_daemon
  die "the rootless dockerd did not answer within 60 s (log above, all of it in $ROOTLESS_LOG)"
}

if answers; then
  say "a rootless dockerd already answers on $sock"
else
  start_daemon
fi

# busybox:1.35 in it too: it cannot pull, so it is copied from the machine's
# daemon ($DOCKER_HOST when that is not this one, else /var/run/docker.sock).
if ! docker -H "$host" image inspect busybox:1.35 >/dev/null 2>&1; then
  from=${DOCKER_HOST:-unix:///var/run/docker.sock}
  [ "$from" != "$host" ] || from=unix:///var/run/docker.sock
  docker -H "$from" image inspect busybox:1.35 >/dev/null 2>&1 \
    || die "busybox:1.35 is not on $from to copy from; run ci/docker-up.sh first"
  docker -H "$from" save busybox:1.35 | docker -H "$host" load >/dev/null \
    || die "copying busybox:1.35 into the rootless daemon failed"
fi

echo "$host"
