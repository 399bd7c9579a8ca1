#!/usr/bin/env bash
# The CLI still talks to the system daemon, which runs as root.
docker info --format '{{.SecurityOptions}}'
docker run --rm busybox:1.35 cat /proc/self/uid_map
docker run -d --name web -p 8080:80 busybox:1.35 httpd -f -p 80
