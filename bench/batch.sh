#!/usr/bin/env bash
# Batch grading benchmarks (docs/bench.md, "Batch grading"). Needs a daemon
# and the base images (ci/docker-up.sh), GNU time, and a release build.
#
#   bench/batch.sh [course] [scale] [validate]     (default: all three)
#
# course   40 submissions (COURSE_STUDENTS) made from the course's solutions, other correct
#          solutions and known-wrong cases (the exercises that grade files,
#          not live containers), graded against those exercises: a
#          sequential shell loop of `dockgrade check` vs `dockgrade batch
#          --jobs 4`, after one untimed batch (WARM=0 skips it) that warms
#          the package mirror's and the machine's own caches for both. No
#          build cache outlives a command: `check` removes every layer it
#          built, and `batch` shares its layers between its students only
#          while it runs (docs/batch.md).
# scale    a quick busybox exercise, 100 then 1000 submissions: wall time and
#          the grader's peak RSS for each.
# validate `dockgrade validate` over the whole course, cases --jobs at a time
#          (the default) and one at a time.
#
# Results go to stdout and to target/bench-batch/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(course scale validate)

cargo build --release --locked --quiet
dg=$PWD/target/release/dockgrade
out=$PWD/target/bench-batch
rm -rf "$out"
mkdir -p "$out"
results=$out/results.txt
: >"$results"
say() { printf '%s\n' "$*" | tee -a "$results"; }

# Wall seconds and peak RSS (MB) of a command: "SECONDS MB".
measure() {
  local log=$out/time.log
  /usr/bin/time -f '%e %M' -o "$log" "$@" >/dev/null 2>"$out/stderr.log" || {
    local rc=$?
    # batch and validate exit 1 when a check fails: not an error here.
    [ "$rc" -le 1 ] || { tail -20 "$out/stderr.log" >&2; exit "$rc"; }
  }
  # GNU time writes "Command exited with non-zero status N" first then.
  tail -1 "$log" | awk '{ printf "%s %.1f\n", $1, $2 / 1024 }'
}

# The exercises whose checks read images, not containers a student started.
graded_exercises() {
  for spec in exercises/*.toml; do
    grep -qE '^\s*container\s*=\s*"' "$spec" && continue
    basename "$spec" .toml
  done
}

# Student i takes, for each exercise, one of: the reference solution, an
# ok/ case, a wrong/ case (in turn, so that every case appears). Files of
# later exercises win when two share a name (Dockerfile.02 is both
# 02-first-image's and 03-build-context's, as in the tutorial).
make_course_submissions() {
  local subs=$1 count=$2
  local -a exercises
  mapfile -t exercises < <(graded_exercises)
  for i in $(seq 1 "$count"); do
    local dir
    dir=$subs/$(printf 'student-%02d' "$i")
    mkdir -p "$dir"
    for ex in "${exercises[@]}"; do
      local -a variants=("solutions/$ex")
      for case in solutions/"$ex"/ok/*/ solutions/"$ex"/wrong/*/; do
        [ -d "$case" ] && variants+=("${case%/}")
      done
      local pick=${variants[$(( (i * 7 + ${#ex}) % ${#variants[@]} ))]}
      # Half the class hands in the reference answer.
      (( i % 2 == 0 )) && pick=solutions/$ex
      find "$pick" -maxdepth 1 -type f ! -name about.toml ! -name expect.toml \
        -exec cp -p {} "$dir/" \;
    done
  done
}

course() {
  local subs=$out/course-subs n=${COURSE_STUDENTS:-40}
  make_course_submissions "$subs" "$n"
  local -a exercises
  mapfile -t exercises < <(graded_exercises)
  say "== course: $n submissions x ${#exercises[@]} exercises (${exercises[*]})"
  # Both remove what they built, layers included, when they end: the
  # warm-up only fills the mirror's and the machine's other caches.
  if [ "${WARM:-1}" != 0 ]; then
    measure "$dg" batch "$subs" --out "$out/warm" --jobs 4 --quiet "${exercises[@]}" >/dev/null
  fi
  local seq
  seq=$(measure bash -c '
    dg=$1; subs=$2; shift 2
    for s in "$subs"/*/; do "$dg" check --submission "$s" "$@" >/dev/null || true; done
  ' _ "$dg" "$subs" "${exercises[@]}")
  say "sequential loop of check: ${seq% *} s (peak RSS of one check ${seq#* } MB)"
  local par
  par=$(measure "$dg" batch "$subs" --out "$out/course" --jobs 4 --force --quiet "${exercises[@]}")
  say "batch --jobs 4:           ${par% *} s (peak RSS ${par#* } MB)"
  say "speed-up: $(awk -v a="${seq% *}" -v b="${par% *}" 'BEGIN { printf "%.2fx", a / b }')"
  awk -F, 'NR > 1 { n[$(NF-1)]++ } END { for (s in n) printf "  %s: %d\n", s, n[s] }' \
    "$out/course/grades.csv" | tee -a "$results"
}

scale() {
  local ex=$out/scale-exercises
  mkdir -p "$ex"
  cat >"$ex/hello.toml" <<'EOF'
id = "hello"
title = "Say hello"
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none" }
[[steps]]
name = "run"
run = { image = "image", timeout = "30s" }
[[checks]]
name = "builds"
step = "image"
build = "succeeds"
[[checks]]
name = "says hello"
step = "run"
stdout = { contains = "hello" }
EOF
  for n in 100 1000; do
    local subs=$out/scale-$n
    for i in $(seq 1 "$n"); do
      mkdir -p "$subs/s$i"
      printf 'FROM busybox:1.35\nCMD ["echo", "hello from %s"]\n' "$i" >"$subs/s$i/Dockerfile"
    done
    local r
    r=$(measure "$dg" batch "$subs" --out "$out/scale-$n-out" --exercises-dir "$ex" --jobs 4 --quiet)
    local graded
    graded=$(grep -c ',graded,' "$out/scale-$n-out/grades.csv" || true)
    say "== scale: $n submissions: ${r% *} s, peak RSS ${r#* } MB, $graded rows graded"
    rm -rf "$subs"
  done
}

validate() {
  say "== validate: the whole course"
  local r1 rn
  rn=$(measure "$dg" validate --json "$out/validate.json")
  say "cases --jobs (default): ${rn% *} s (peak RSS ${rn#* } MB)"
  r1=$(measure "$dg" validate --jobs 1)
  say "cases one at a time:    ${r1% *} s"
  say "speed-up: $(awk -v a="${r1% *}" -v b="${rn% *}" 'BEGIN { printf "%.2fx", a / b }')"
}

for part in "${parts[@]}"; do
  case "$part" in
    course | scale | validate) "$part" ;;
    *) echo "bench/batch.sh: unknown part $part (course, scale, validate)" >&2; exit 2 ;;
  esac
done
