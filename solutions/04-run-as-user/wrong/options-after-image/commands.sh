#!/usr/bin/env bash
# Everything after the image is the container's command: "--user" is taken
# for a program to run, and the container runs as root, if at all.
docker container run --name as-user busybox:1.35 --user 1000:1000 id
