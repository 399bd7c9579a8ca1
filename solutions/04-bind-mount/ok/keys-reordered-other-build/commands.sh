#!/usr/bin/env bash
# The image built with docker image build from another correct
# Dockerfile.03multi (lowercase, COPY --from=0).
docker image build -q -f "$COURSE_ROOT/solutions/03-multistage/ok/lowercase-copy-from-index/Dockerfile.03multi" \
  --tag docker_intro:v0.1multi "$COURSE_ROOT/exercises/_course" >/dev/null
data=$(mktemp -d)
head -c 1048576 /dev/urandom > "$data/test_data.dat"
# --mount keys in another order, and ls given the folder.
docker container run --mount target=/software/inside_data.dat,readonly,source="$data"/test_data.dat,type=bind \
  --name bind-demo docker_intro:v0.1multi ls -l /software
rm -rf "$data"
