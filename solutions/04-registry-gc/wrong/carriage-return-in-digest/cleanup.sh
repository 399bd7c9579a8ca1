#!/bin/bash
set -euo pipefail
DIGEST=$(curl -fsSI -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
  "http://$REGISTRY/v2/$IMAGE/manifests/$OLD_TAG" | grep -i docker-content-digest | awk '{print $2}')
echo "digest: $DIGEST"
curl -fsS -X DELETE "http://$REGISTRY/v2/$IMAGE/manifests/$DIGEST"
echo "deleted $DIGEST"
