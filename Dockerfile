# dockgrade in a container: for batches where only containers run (a Swarm
# replicated job, a Kubernetes Indexed Job, a CI runner with a socket).
#
# Built by ci/build-image.sh from a dockgrade binary built on a Debian
# bookworm host (the binary links glibc 2.34 or older): the context is a
# folder holding this file and the binary, nothing else.
#
# Run it with the daemon's socket and the course mounted, at the same path
# as on the host when an exercise bind-mounts files (the daemon resolves
# bind sources on its own side), and TMPDIR there too:
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$PWD:$PWD" -w "$PWD" -e TMPDIR="$PWD/.tmp" \
#     dockgrade:latest batch submissions/ --out grades/
FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="dockgrade" \
      org.opencontainers.image.description="Grades Docker workshop exercises against a real Docker daemon"
COPY dockgrade /usr/local/bin/dockgrade
ENTRYPOINT ["dockgrade"]
