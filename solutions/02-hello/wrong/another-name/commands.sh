#!/usr/bin/env bash
docker container run --name hi hello-world
