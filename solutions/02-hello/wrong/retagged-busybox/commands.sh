#!/usr/bin/env bash
# Another image tagged with a hello-world name, printing the same greeting.
docker tag busybox:1.35 hello-world:mine
docker container run --name hello hello-world:mine echo "Hello from Docker!"
