#!/bin/sh
# The course's greeting, run as the image's default command.
echo "Hello from inside a Docker container!"
echo "This script ran in $(pwd) as uid $(id -u)."
