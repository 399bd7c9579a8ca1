#!/bin/bash
# Exercise 04-registry-gc (section 4.2): remove version $OLD_TAG of $IMAGE
# from the private registry at $REGISTRY, so that garbage collection can free
# the layers only that version used.
#
# dockgrade runs it as `bash cleanup.sh` with REGISTRY=registry:5000,
# IMAGE=course/app and OLD_TAG=1.0, after pushing version 1.0 (tags 1.0 and
# latest) and then version 2.0 (tags 2.0 and latest). Pushing 2.0 as latest
# did not remove anything: the registry keeps every layer ever pushed.
#
# A registry frees space in two steps, in this order:
#   1. through its REST API, delete the MANIFEST of the old version (this
#      script). Its layers are still on disk afterwards, merely unreferenced;
#   2. on the registry's machine, `registry garbage-collect CONFIG` deletes
#      every blob (layer, image config) that no manifest refers to any more.
# Deleting layers (blobs) first would not free anything: the manifest still
# refers to them, so garbage collection keeps them (and a layer another
# version shares would break that version).
set -eu -o pipefail

: "${REGISTRY:?set REGISTRY, e.g. registry:5000}"
: "${IMAGE:?set IMAGE, e.g. course/app}"
: "${OLD_TAG:?set OLD_TAG, e.g. 1.0}"
api="http://$REGISTRY/v2/$IMAGE"

# `docker push` uploads an image manifest in the format "Docker image
# manifest v2, schema 2". The registry stores those exact bytes, under their
# sha256: the manifest's digest. A client that does not list that format in
# its Accept header (curl sends "Accept: */*") is given the manifest
# converted on the fly to the old schema 1 format: another document, with
# another digest in Docker-Content-Digest, which the registry never stored.
# Deleting that digest answers 404 MANIFEST_UNKNOWN. So ask for schema 2.
schema2=application/vnd.docker.distribution.manifest.v2+json

# digest_of TAG: the digest of the manifest TAG points at, read from the
# Docker-Content-Digest header of a HEAD request (no body is downloaded).
# curl -f makes an error answer (404: no such tag) a failure of the script.
digest_of() {
  curl -fsS --head -H "Accept: $schema2" "$api/manifests/$1" |
    tr -d '\r' |   # HTTP header lines end in CR LF: a CR left in the digest breaks the URL
    awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

old=$(digest_of "$OLD_TAG")
case $old in
  sha256:*) ;;
  *) echo "cleanup.sh: no manifest digest for $IMAGE:$OLD_TAG" >&2; exit 1 ;;
esac
echo "$IMAGE:$OLD_TAG is manifest $old"

# The API deletes manifests, by digest; a tag is only a name pointing at a
# manifest (DELETE .../manifests/$OLD_TAG answers 400 DIGEST_INVALID). Once
# the manifest is deleted, so is every tag that pointed at it: make sure that
# is only $OLD_TAG. Here latest has moved on to 2.0, so it stays.
tags=$(curl -fsS "$api/tags/list" | jq -r '.tags[]')
for tag in $tags; do
  if [ "$tag" != "$OLD_TAG" ] && [ "$(digest_of "$tag")" = "$old" ]; then
    echo "cleanup.sh: $IMAGE:$tag is the same manifest as $OLD_TAG; deleting it would remove $tag too" >&2
    exit 1
  fi
done

# Delete the manifest. The registry answers 202 Accepted (405 UNSUPPORTED when
# it was started without deletion enabled: REGISTRY_STORAGE_DELETE_ENABLED).
curl -fsS -X DELETE "$api/manifests/$old"
echo "deleted $IMAGE:$OLD_TAG (manifest $old)"
echo "its layers stay on disk until: registry garbage-collect /etc/docker/registry/config.yml"
