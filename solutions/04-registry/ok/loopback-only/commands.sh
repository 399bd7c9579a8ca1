#!/usr/bin/env bash
# The registry published on the loopback only, long options.
docker container run --detach --publish 127.0.0.1:5000:5000 --name registry registry:2 >/dev/null
docker tag hello-world:latest localhost:5000/course/hello:1.0
docker push localhost:5000/course/hello:1.0 >/dev/null
docker rmi localhost:5000/course/hello:1.0 >/dev/null
docker pull localhost:5000/course/hello:1.0 >/dev/null
