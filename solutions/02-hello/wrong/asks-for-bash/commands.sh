#!/usr/bin/env bash
# A shell asked of an image that has none: the container never starts.
docker container run --name hello hello-world bash
