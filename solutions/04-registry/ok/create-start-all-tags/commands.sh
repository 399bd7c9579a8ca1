#!/usr/bin/env bash
# Created, then started; every tag of the repository pushed at once.
docker container create -p 5000:5000 --restart unless-stopped --name registry registry:2 >/dev/null
docker container start registry >/dev/null
docker image tag "$(docker image inspect -f '{{.Id}}' hello-world)" localhost:5000/course/hello:1.0
docker image push --all-tags localhost:5000/course/hello >/dev/null
docker image rm localhost:5000/course/hello:1.0 >/dev/null
docker image pull localhost:5000/course/hello:1.0 >/dev/null
