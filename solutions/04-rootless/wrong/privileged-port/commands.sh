#!/usr/bin/env bash
# Rootless mode is set up, but the web server is published on port 80: the
# rootless daemon creates the container and cannot start it ("cannot expose
# privileged port 80"), so nothing runs.
docker info --format '{{.SecurityOptions}}'
docker run --rm busybox:1.35 cat /proc/self/uid_map
docker run -d --name web -p 80:80 busybox:1.35 httpd -f -p 80 || true
