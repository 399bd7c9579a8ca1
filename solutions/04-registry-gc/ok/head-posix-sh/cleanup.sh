#!/bin/sh
# POSIX sh: HEAD with curl -I, the header picked out with grep and cut.
set -eu
ACCEPT="Accept: application/vnd.docker.distribution.manifest.v2+json"
DIGEST=$(curl -sfI -H "$ACCEPT" "http://${REGISTRY}/v2/${IMAGE}/manifests/${OLD_TAG}" \
  | grep -i '^docker-content-digest:' | cut -d' ' -f2 | tr -d '\r')
[ -n "$DIGEST" ] || { echo "no digest for ${IMAGE}:${OLD_TAG}" >&2; exit 1; }
curl -sf -X DELETE "http://${REGISTRY}/v2/${IMAGE}/manifests/${DIGEST}"
echo "Deleted ${IMAGE}:${OLD_TAG} = ${DIGEST}"
