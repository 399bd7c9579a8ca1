#!/usr/bin/env bash
# The image by its full reference, as docker image inspect shows it.
docker container run --name hello docker.io/library/hello-world
