#!/usr/bin/env bash
# Two steps: create with the user, then start attached.
docker container create --name as-user --user 1000:1000 busybox:1.35 id
docker container start -a as-user
