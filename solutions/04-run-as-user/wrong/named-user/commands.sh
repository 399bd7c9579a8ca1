#!/usr/bin/env bash
# A non-root user, but busybox's nobody (65534), not 1000:1000.
docker container run --name as-user --user nobody busybox:1.35 id
