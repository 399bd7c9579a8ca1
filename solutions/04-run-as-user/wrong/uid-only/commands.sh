#!/usr/bin/env bash
docker container run --name as-user --user 1000 busybox:1.35 id
