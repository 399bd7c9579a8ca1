#!/bin/bash
# curl 7.84 and later print one response header with --write-out '%header{NAME}'.
set -eu
base="http://$REGISTRY/v2/$IMAGE"
digest=$(curl -fsS -o /dev/null -I \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  -w '%header{docker-content-digest}' "$base/manifests/$OLD_TAG")
test -n "$digest"
curl -fsS -X DELETE "$base/manifests/$digest"
printf 'deleted %s:%s (%s)\n' "$IMAGE" "$OLD_TAG" "$digest"
