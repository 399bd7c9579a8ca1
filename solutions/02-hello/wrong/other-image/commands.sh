#!/usr/bin/env bash
docker container run --name hello busybox:1.35 sh -c 'exit 3'
