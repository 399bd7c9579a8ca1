#!/bin/bash
# Delete the layer 1.0 added (its last one): that is where the space is.
set -euo pipefail
API="http://$REGISTRY/v2/$IMAGE"
LAYER=$(curl -fsS -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
  "$API/manifests/$OLD_TAG" | jq -r '.layers[-1].digest')
curl -fsS -X DELETE "$API/blobs/$LAYER"
echo "deleted layer $LAYER of $IMAGE:$OLD_TAG"
