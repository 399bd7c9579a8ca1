#!/usr/bin/env bash
docker container run -d -p 5000:5000 --name registry registry:2 >/dev/null
docker image tag hello-world localhost:5000/course/hello:1.0
docker image push localhost:5000/course/hello:1.0 >/dev/null
docker image rm localhost:5000/course/hello:1.0 >/dev/null
docker image pull localhost:5000/course/hello:1.0 >/dev/null
docker container stop registry >/dev/null
