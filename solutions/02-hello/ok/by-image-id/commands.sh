#!/usr/bin/env bash
# The image by its id, as docker image ls shows it.
docker container run --name hello "$(docker image inspect -f '{{.Id}}' hello-world)"
