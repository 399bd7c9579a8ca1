#!/usr/bin/env bash
# --opt=value forms, the image by its full reference, id -u as the command.
docker container run --name=as-user --user=1000:1000 docker.io/library/busybox:1.35 id -u
