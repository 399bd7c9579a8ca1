#!/bin/sh
# Prints the course's protected data, given the course's token (in the file
# named by $1). A stand-in for a download that needs credentials (a private
# repository, a package registry): without the right token, nothing.
token=$(cat "$1" 2>/dev/null) || {
  echo "fetch.sh: cannot read the token file ${1:-(none given)}" >&2
  exit 1
}
sum=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
if [ "$sum" != "18266b82d52164af78807f82ae4e67501c42adc7f5d7fbce4229d93e9f9e210d" ]; then
  echo "fetch.sh: that is not the course's token" >&2
  exit 1
fi
printf 'protected data: %s\n' "$(printf 'data:%s' "$token" | sha256sum | cut -d' ' -f1)"
