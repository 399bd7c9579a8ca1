#!/bin/sh
# As the official registry:2 image's entrypoint: a config file path means
# `registry serve PATH`; a registry subcommand or flag is run by `registry`;
# anything else (sh, cat ...) is run as given.
set -e

case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac

exec "$@"
