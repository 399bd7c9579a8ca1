#!/usr/bin/env bash
# Two steps: create the container, then start it attached.
docker container create --name hello hello-world
docker container start --attach hello
