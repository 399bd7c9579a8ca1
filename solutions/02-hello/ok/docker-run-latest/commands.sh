#!/usr/bin/env bash
# The short form of the command, the tag written out, --name=value.
docker run --name=hello hello-world:latest
