#!/usr/bin/env bash
# The image by its id; the command through a shell.
docker container run --user 1000:1000 --name as-user "$(docker image inspect -f '{{.Id}}' busybox:1.35)" sh -c 'id'
