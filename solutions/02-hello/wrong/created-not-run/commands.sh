#!/usr/bin/env bash
docker container create --name hello hello-world
