#!/usr/bin/env bash
docker build -q -f "$COURSE_ROOT/solutions/03-multistage/Dockerfile.03multi" \
  -t docker_intro:v0.1multi "$COURSE_ROOT/exercises/_course" >/dev/null
data=$(mktemp -d)
head -c 1048576 /dev/urandom > "$data/test_data.dat"
# Run from the data's folder with $(pwd), as the course does; the
# destination= key and readonly=true.
cd "$data"
docker container run --name bind-demo \
  --mount type=bind,source="$(pwd)"/test_data.dat,destination=/software/inside_data.dat,readonly=true \
  docker_intro:v0.1multi ls -l
cd / && rm -rf "$data"
