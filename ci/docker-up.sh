#!/usr/bin/env bash
# Make a Docker daemon answer, then make the course's base images exist.
#
# Idempotent: a daemon that already answers is used as it is; otherwise
# Debian's docker.io is installed (when dockerd is missing) and dockerd is
# started in the background with its log in $DOCKERD_LOG. Quiet on success;
# on failure it says what went wrong and where the log is, and exits non-zero.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockgrade-dockerd.log}
here=$(cd "$(dirname "$0")" && pwd)

say() { printf 'docker-up: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

daemon_answers() {
  # The daemon answers when /_ping says OK over its socket. We do not rely on
  # the docker CLI version matching the daemon's.
  if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
    docker version >/dev/null 2>&1
  else
    local sock=${DOCKER_HOST:-}; sock=${sock#unix://}
    sock=${sock:-/var/run/docker.sock}
    [ -S "$sock" ] || return 1
    if command -v curl >/dev/null 2>&1; then
      curl -fsS --max-time 3 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1
    else
      docker version >/dev/null 2>&1
    fi
  fi
}

if ! daemon_answers; then
  if ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "no daemon answers and dockerd is not installed; as root, run: apt-get install -y docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed"
    apt-get install -y -qq docker.io >/dev/null 2>&1 || die "apt-get install docker.io failed"
  fi
  [ "$(id -u)" -eq 0 ] || die "no daemon answers; start one (sudo systemctl start docker) or set DOCKER_HOST"
  # The system daemon, not any dockerd: a rootless one (ci/rootless-up.sh)
  # runs under the same name with a pid file of its own.
  main_pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -z "$main_pid" ] || ! kill -0 "$main_pid" 2>/dev/null; then
    # A stale pid file from a killed daemon stops a new one from starting.
    rm -f /var/run/docker.pid
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 &
  fi
  for _ in $(seq 1 120); do
    daemon_answers && break
    sleep 0.5
  done
  daemon_answers || die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
fi

"$here/seed-images.sh"
