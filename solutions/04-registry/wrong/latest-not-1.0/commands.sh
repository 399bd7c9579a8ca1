#!/usr/bin/env bash
docker container run -d -p 5000:5000 --name registry registry:2 >/dev/null
docker image tag hello-world localhost:5000/course/hello
docker image push localhost:5000/course/hello >/dev/null
docker image rm localhost:5000/course/hello >/dev/null
docker image pull localhost:5000/course/hello >/dev/null
