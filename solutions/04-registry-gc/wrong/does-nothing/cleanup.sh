#!/bin/bash
# TODO: delete the old version
echo "cleaning up $IMAGE:$OLD_TAG on $REGISTRY"
exit 0
