#!/bin/bash
set -euo pipefail
DIGEST=$(curl -fsSI "http://$REGISTRY/v2/$IMAGE/manifests/$OLD_TAG" \
  | grep -i docker-content-digest | awk '{print $2}' | tr -d '\r')
echo "digest of $IMAGE:$OLD_TAG: $DIGEST"
curl -fsS -X DELETE "http://$REGISTRY/v2/$IMAGE/manifests/$DIGEST"
echo "deleted $DIGEST"
