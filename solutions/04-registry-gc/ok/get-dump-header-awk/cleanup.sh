#!/bin/bash
# GET the manifest, throw the body away, keep the headers (-D -) and let awk
# find the digest.
set -euo pipefail
url="http://$REGISTRY/v2/$IMAGE/manifests"
digest=$(curl --fail --silent --show-error \
    --header 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    --dump-header - --output /dev/null "$url/$OLD_TAG" \
  | awk 'tolower($1) == "docker-content-digest:" { sub(/\r$/, "", $2); print $2 }')
echo "old manifest: $digest"
status=$(curl --silent --output /dev/null --write-out '%{http_code}' --request DELETE "$url/$digest")
if [ "$status" != 202 ]; then
  echo "DELETE $url/$digest answered $status" >&2
  exit 1
fi
echo "deleted $IMAGE:$OLD_TAG"
