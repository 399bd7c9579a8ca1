#!/bin/bash
set -euo pipefail
ACCEPT="Accept: application/vnd.docker.distribution.manifest.v2+json"
# the old version was pushed as latest, so delete what latest points at
DIGEST=$(curl -fsSI -H "$ACCEPT" "http://$REGISTRY/v2/$IMAGE/manifests/latest" \
  | grep -i docker-content-digest | awk '{print $2}' | tr -d '\r')
curl -fsS -X DELETE "http://$REGISTRY/v2/$IMAGE/manifests/$DIGEST"
echo "deleted $DIGEST"
