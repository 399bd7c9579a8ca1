#!/usr/bin/env bash
docker build -q -f "$COURSE_ROOT/solutions/03-multistage/Dockerfile.03multi" \
  -t docker_intro:v0.1multi "$COURSE_ROOT/exercises/_course" >/dev/null
data=$(mktemp -d)
head -c 1048576 /dev/urandom > "$data/test_data.dat"
docker container run --name bind-demo \
  --mount type=bind,source="$data"/test_data.dat,target=/software/inside_data.dat,readonly \
  docker_intro:v0.1multi ls -l /nowhere
rm -rf "$data"
