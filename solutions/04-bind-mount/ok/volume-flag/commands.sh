#!/usr/bin/env bash
docker build -q -f "$COURSE_ROOT/solutions/03-multistage/Dockerfile.03multi" \
  -t docker_intro:v0.1multi "$COURSE_ROOT/exercises/_course" >/dev/null
data=$(mktemp -d)
head -c 1048576 /dev/urandom > "$data/test_data.dat"
# -v host:container:ro instead of --mount, and docker run.
docker run --name bind-demo -v "$data/test_data.dat:/software/inside_data.dat:ro" \
  docker_intro:v0.1multi ls -l
rm -rf "$data"
