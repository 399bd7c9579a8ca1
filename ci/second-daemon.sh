#!/usr/bin/env bash
# A second Docker daemon for tests: its own socket, data root, exec root,
# containerd and bridge (made here, with a subnet of its own and no NAT: its
# containers reach nothing beyond it), vfs storage (no overlay mounts to
# undo). Needs root. DOCKGRADE_DAEMON_ARGS adds options to dockerd, split on
# spaces (`--userns-remap=default`: the daemon one of 04-rootless's wrong
# cases is graded on).
#
#   ci/second-daemon.sh start DIR   # start (or restart) it; loads busybox:1.35
#   ci/second-daemon.sh kill DIR    # kill -9 it and everything it started
#   ci/second-daemon.sh stop DIR    # stop it cleanly, then remove DIR
#
# The socket is DIR/docker.sock. `kill` leaves DIR (a restarted daemon finds
# its containers there); `stop` removes it, unmounting what is mounted.
set -euo pipefail

cmd=${1:?start, kill or stop}
dir=${2:?a folder}
sock="$dir/docker.sock"
# An interface name has at most 15 characters; one bridge per folder.
bridge="dgb$(printf '%s' "$dir" | cksum | cut -d' ' -f1 | cut -c1-8)"

say() { printf 'second-daemon: %s\n' "$*" >&2; }

answers() { docker -H "unix://$sock" version >/dev/null 2>&1; }

# Processes started by this daemon: its containerd and the shims refer to
# paths under DIR; a container's processes are the shims' children. Only
# daemon processes are matched by command line: a client that merely names
# the socket (a test, dockgrade itself) must never be killed with them.
ours() {
  local pids comm
  pids=$(pgrep -f -- "$dir/" || true)
  for p in $pids; do
    comm=$(cat "/proc/$p/comm" 2>/dev/null || true)
    case "$comm" in
      dockerd|containerd|containerd-shim*|docker-proxy|runc) ;;
      *) continue ;;
    esac
    echo "$p"
    pgrep -P "$p" || true
  done
}

teardown_mounts() {
  # Deepest first.
  awk -v d="$dir" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if ! answers; then
      # A killed daemon leaves its pid files; the new one must not trust them.
      rm -f "$dir/docker.pid" "$dir/exec/containerd/containerd.pid" "$sock"
      if ! ip link show "$bridge" >/dev/null 2>&1; then
        # 10.213.x.0/24 from the name: two second daemons, two subnets.
        net=$(( $(printf '%s' "$bridge" | cksum | cut -d' ' -f1) % 250 + 1 ))
        ip link add "$bridge" type bridge
        ip addr add "10.213.$net.1/24" dev "$bridge"
        ip link set "$bridge" up
      fi
      # shellcheck disable=SC2086 # the extra options are words
      nohup dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$dir/docker.pid" --bridge "$bridge" --iptables=false --ip-masq=false \
        --storage-driver vfs ${DOCKGRADE_DAEMON_ARGS:-} >>"$dir/dockerd.log" 2>&1 &
      for _ in $(seq 1 120); do answers && break; sleep 0.25; done
      answers || { tail -20 "$dir/dockerd.log" >&2; say "did not answer within 30 s"; exit 1; }
    fi
    if ! docker -H "unix://$sock" image inspect busybox:1.35 >/dev/null 2>&1; then
      docker save busybox:1.35 | docker -H "unix://$sock" load >/dev/null
    fi
    ;;
  kill)
    # The daemon first, then what it had started.
    [ -f "$dir/docker.pid" ] && kill -9 "$(cat "$dir/docker.pid")" 2>/dev/null || true
    pids=$(ours | sort -u)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    rm -f "$sock"
    ;;
  stop)
    pid=$(cat "$dir/docker.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    pids=$(ours | sort -u)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    teardown_mounts
    ip link delete "$bridge" 2>/dev/null || true
    rm -rf "$dir"
    ;;
  *)
    say "unknown command $cmd"; exit 2 ;;
esac
