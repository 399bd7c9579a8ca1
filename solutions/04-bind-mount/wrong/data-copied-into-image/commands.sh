#!/usr/bin/env bash
docker build -q -f "$COURSE_ROOT/solutions/03-multistage/Dockerfile.03multi" \
  -t docker_intro:v0.1multi "$COURSE_ROOT/exercises/_course" >/dev/null
data=$(mktemp -d)
head -c 1048576 /dev/urandom > "$data/test_data.dat"
printf "FROM docker_intro:v0.1multi\nCOPY test_data.dat /software/test_data.dat\n" > "$data/Dockerfile"
docker build -q -t docker_intro:v0.1multi "$data" >/dev/null
docker container run --name bind-demo docker_intro:v0.1multi ls -l
rm -rf "$data"
