#!/usr/bin/env bash
# What a student types for exercise 04-run-as-user.
docker container run --name as-user --user 1000:1000 busybox:1.35 id
