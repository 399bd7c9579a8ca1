#!/bin/bash
# Checks the tag exists with jq, shows which layers the deletion will let
# garbage collection free (those no other tag's manifest uses), then deletes.
set -euo pipefail
R="http://${REGISTRY}"
ACCEPT="Accept: application/vnd.docker.distribution.manifest.v2+json"

curl -fsS "$R/v2/$IMAGE/tags/list" | jq -e --arg t "$OLD_TAG" '.tags | index($t)' >/dev/null \
  || { echo "$IMAGE has no tag $OLD_TAG" >&2; exit 1; }

old_layers=$(curl -fsS -H "$ACCEPT" "$R/v2/$IMAGE/manifests/$OLD_TAG" | jq -r '.layers[].digest')
new_layers=$(curl -fsS -H "$ACCEPT" "$R/v2/$IMAGE/manifests/latest" | jq -r '.layers[].digest')
for l in $old_layers; do
  if ! grep -qx "$l" <<<"$new_layers"; then echo "will be freed by GC: $l"; fi
done

digest=$(curl -fsS -I -H "$ACCEPT" "$R/v2/$IMAGE/manifests/$OLD_TAG" | grep -i docker-content-digest | awk '{print $2}' | tr -d $'\r')
curl -fsS -X DELETE "$R/v2/$IMAGE/manifests/$digest"
echo "deleted $IMAGE:$OLD_TAG ($digest)"
