#!/usr/bin/env bash
# The right user, but the Debian image instead of busybox.
docker container run --name as-user --user 1000:1000 debian:bookworm-slim id
