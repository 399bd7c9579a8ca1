#!/bin/bash
# A manifest's digest is the sha256 of its exact bytes: download the schema 2
# manifest (never reformat it: no jq in between) and hash it.
set -euo pipefail
manifest_url="http://$REGISTRY/v2/$IMAGE/manifests"
sum=$(curl -sSf -H "Accept: application/vnd.docker.distribution.manifest.v2+json" "$manifest_url/$OLD_TAG" | sha256sum | cut -d' ' -f1)
digest="sha256:$sum"
echo "DELETE $manifest_url/$digest"
curl -sSf -X DELETE "$manifest_url/$digest"
echo "done: $IMAGE:$OLD_TAG deleted"
