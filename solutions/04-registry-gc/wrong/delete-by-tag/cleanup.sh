#!/bin/bash
# Delete the old version by its tag.
curl -X DELETE "http://$REGISTRY/v2/$IMAGE/manifests/$OLD_TAG"
echo "deleted $IMAGE:$OLD_TAG"
