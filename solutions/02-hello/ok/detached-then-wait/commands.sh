#!/usr/bin/env bash
# Started in the background, then waited for and its output read.
docker run -d --name hello hello-world
docker container wait hello
docker container logs hello
