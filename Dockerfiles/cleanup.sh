#!/bin/bash
# Exercise 04-registry-gc (dockgrade show 04-registry-gc).
# dockgrade runs this script as `bash cleanup.sh` in a container built from
# Dockerfile.tools (bash, curl, jq), with:
#   REGISTRY=registry:5000   the course's private registry (plain http)
#   IMAGE=course/app         the repository
#   OLD_TAG=1.0              the version to delete
# Version 1.0 was pushed as 1.0 and latest, then version 2.0 as 2.0 and
# latest. After your script, dockgrade runs the registry's garbage
# collection, then checks that 1.0's layer is gone, its space freed, and
# that latest and 2.0 are untouched.
#
# To try it by hand (in this folder; `dockgrade check 04-registry-gc` does
# all of it for you):
#   docker network create gc
#   docker run -d --name registry --network gc -p 127.0.0.1:5000:5000 \
#     -e REGISTRY_STORAGE_DELETE_ENABLED=true registry:2
#   docker build -t 127.0.0.1:5000/course/app:1.0 -f Dockerfile.v1 .
#   docker push 127.0.0.1:5000/course/app:1.0    (and so on: :latest, then v2)
#   docker build -t gc-tools -f Dockerfile.tools .
#   docker run --rm --network gc -e REGISTRY=registry:5000 -e IMAGE=course/app \
#     -e OLD_TAG=1.0 -v "$PWD/cleanup.sh:/submission/cleanup.sh:ro" \
#     gc-tools bash /submission/cleanup.sh
#   docker exec registry registry garbage-collect /etc/docker/registry/config.yml
set -eu -o pipefail

api="http://$REGISTRY/v2/$IMAGE"

# TODO 1: find the digest of the manifest that $IMAGE:$OLD_TAG points at.
#   - Ask for $api/manifests/$OLD_TAG (a HEAD request is enough: curl -I)
#     and read the Docker-Content-Digest header of the answer.
#   - Say which manifest format you accept, the one `docker push` uploaded:
#       Accept: application/vnd.docker.distribution.manifest.v2+json
#     Without it the registry converts the manifest to an older format and
#     tells you the digest of that, which it never stored.
#   - HTTP header lines end in "\r\n": do not keep the "\r".
digest=""

# TODO 2: delete that manifest: a DELETE request to $api/manifests/<digest>.
#   By digest, not by tag: the API deletes manifests, and a tag is only a
#   name that points at one. Make a failed request fail the script (curl -f).

if [ -z "$digest" ]; then
  echo "cleanup.sh: TODO: find the digest of $IMAGE:$OLD_TAG, then delete it" >&2
  exit 1
fi
echo "deleted $IMAGE:$OLD_TAG ($digest)"
