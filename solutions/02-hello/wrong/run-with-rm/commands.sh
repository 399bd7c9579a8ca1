#!/usr/bin/env bash
# --rm, as later sections of the course use: the container removes itself.
docker container run --rm --name hello hello-world
