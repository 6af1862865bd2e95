#!/bin/sh
# run.sh SECONDS BIN... — run each libFuzzer binary for SECONDS.
#
# Each binary build-fuzz/fuzz_<name> works on the corpus directory
# build-fuzz/corpus/<name>, seeded from tests/fuzz/seeds/<name>/, with the
# dictionary tests/fuzz/<name>.dict when there is one. Crash inputs land in
# build-fuzz/artifacts/<name>/, the full log in build-fuzz/<name>.log.
# Prints one line per target; exits non-zero if any target failed.
set -u
if [ $# -lt 2 ]; then
	echo "usage: $0 SECONDS BIN..." >&2
	exit 2
fi
secs=$1
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for bin in "$@"; do
	case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
	name=$(basename "$bin")
	name=${name#fuzz_}
	corpus=$top/build-fuzz/corpus/$name
	artifacts=$top/build-fuzz/artifacts/$name/
	log=$top/build-fuzz/$name.log
	mkdir -p "$corpus" "$artifacts"
	if [ -d "$top/tests/fuzz/seeds/$name" ]; then
		cp -n "$top/tests/fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null
	fi
	set -- -max_total_time="$secs" -timeout=25 -print_final_stats=1 \
	    -artifact_prefix="$artifacts"
	if [ -f "$top/tests/fuzz/$name.dict" ]; then
		set -- "$@" -dict="$top/tests/fuzz/$name.dict"
	fi
	start=$(date +%s)
	"$bin" "$@" "$corpus" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	# UBSan reports without stopping unless built to; count them too.
	if [ "$rc" -eq 0 ] && grep -q 'runtime error:' "$log"; then
		rc=1
	fi
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc, see $log and $artifacts)"
		status=1
	fi
	echo "fuzz $name: ${took}s, ${execs:-?} execs, $result"
done
exit $status
