#!/usr/bin/env bash
# -u instead of --user, options in another order, docker run.
docker run -u 1000:1000 --name as-user busybox:1.35 id
