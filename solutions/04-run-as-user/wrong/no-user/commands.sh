#!/usr/bin/env bash
docker container run --name as-user busybox:1.35 id
