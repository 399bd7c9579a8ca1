#!/bin/bash
# Delete 1.0's manifest, then every blob it lists, to be thorough.
set -euo pipefail
API="http://$REGISTRY/v2/$IMAGE"
ACCEPT="application/vnd.docker.distribution.manifest.v2+json"
MANIFEST=$(curl -fsS -H "Accept: $ACCEPT" "$API/manifests/$OLD_TAG")
DIGEST=$(curl -fsSI -H "Accept: $ACCEPT" "$API/manifests/$OLD_TAG" \
  | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }')
curl -fsS -X DELETE "$API/manifests/$DIGEST"
for layer in $(echo "$MANIFEST" | jq -r '.layers[].digest'); do
  curl -fsS -X DELETE "$API/blobs/$layer"
done
echo "deleted $IMAGE@$DIGEST and its layers"
