#!/bin/sh
# Install the Debian packages named on the command line that are not yet
# installed. Idempotent: does nothing when everything is present, and runs
# `apt-get update` only when a package has no install candidate yet.
set -eu
missing=""
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages:$missing" >&2
	echo "run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
need_update=0
for p in $missing; do
	cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; fi
done
export DEBIAN_FRONTEND=noninteractive
[ "$need_update" -eq 1 ] && apt-get update -q
apt-get install -y -q --no-install-recommends $missing
