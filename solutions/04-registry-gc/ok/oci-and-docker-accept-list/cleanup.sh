#!/bin/bash
# The Accept header docker and containerd send: every manifest format the
# client understands, OCI and Docker, images and lists. The registry answers
# in the format it stored (here Docker schema 2), so the digest is the stored one.
set -eu
ACCEPT='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'
REPO="http://${REGISTRY}/v2/${IMAGE}"
HEADERS=$(curl -fsS -I -H "Accept: ${ACCEPT}" "${REPO}/manifests/${OLD_TAG}")
DIGEST=$(echo "$HEADERS" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *\(sha256:[0-9a-f]*\).*/\1/p')
if [ -z "$DIGEST" ]; then
  echo "could not find the digest of ${IMAGE}:${OLD_TAG}" >&2
  exit 1
fi
curl -fsS -X DELETE "${REPO}/manifests/${DIGEST}"
echo "deleted manifest ${DIGEST} (${IMAGE}:${OLD_TAG})"
