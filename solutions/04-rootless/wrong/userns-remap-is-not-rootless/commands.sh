#!/usr/bin/env bash
# The system daemon, run as root with --userns-remap=default: containers get
# a user namespace (uid 0 is 165536 on the host), but the daemon is not
# rootless, and it refuses --privileged rather than confining it.
docker info --format '{{.SecurityOptions}}'
docker run --rm busybox:1.35 cat /proc/self/uid_map
docker run -d --name web -p 8080:80 busybox:1.35 httpd -f -p 80
