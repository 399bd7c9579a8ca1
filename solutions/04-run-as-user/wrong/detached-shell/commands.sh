#!/usr/bin/env bash
# -dit with no command: busybox's shell keeps running in the background.
docker container run -dit --name as-user --user 1000:1000 busybox:1.35
