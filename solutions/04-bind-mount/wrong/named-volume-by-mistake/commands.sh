#!/usr/bin/env bash
docker build -q -f "$COURSE_ROOT/solutions/03-multistage/Dockerfile.03multi" \
  -t docker_intro:v0.1multi "$COURSE_ROOT/exercises/_course" >/dev/null
data=$(mktemp -d)
head -c 1048576 /dev/urandom > "$data/test_data.dat"
# -v with a bare file name: Docker takes test_data.dat for the name of a
# volume and mounts that (an empty folder), not the file. (The volume is
# created first only so that validate's proxy labels it and removes it
# afterwards; docker run would create the same volume itself.)
docker volume create test_data.dat >/dev/null
cd "$data"
docker container run --name bind-demo -v test_data.dat:/software/inside_data.dat:ro \
  docker_intro:v0.1multi ls -l
cd / && rm -rf "$data"
