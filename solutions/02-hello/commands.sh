#!/usr/bin/env bash
# What a student types for exercise 02-hello.
docker container run --name hello hello-world
