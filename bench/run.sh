#!/bin/sh
# bench/run.sh — run the duro benchmarks and print their results.
#
#   sh bench/run.sh [warm|spread|rss|activation|spawn|nng|storage|incr|
#                    alarms|alarms-<precision|burst|million|setrate>|sandbox|ops|ws|all]
#                                                                (default: all)
#
# `make bench` builds `all` and runs this with no argument. The results
# recorded in bench/RESULTS.md come from it. What each benchmark does is
# described at the top of bench/bench.py; in short:
#
#   warm        wrk on one object, beside /health and the raw nng round trip
#   spread      wrk over 1000 live objects, beside wrk on one object
#   rss         durod's and the workers' memory with 1000 live workers
#   activation  first request to 1000 new objects, beside warm requests and
#               the bare spawn / spawn+ready floors (bench/spawn_bare.c)
#   spawn       bench/spawn_bare.c alone
#   nng         bench/nng_rtt.c alone
#   storage     bench/storage_ops.c (linked with libduro): us per KV put /
#               get / SQL upsert inside one event, COMMIT with synchronous
#               FULL vs NORMAL, opening a new / an existing object's storage
#   incr        POST /<ns>/<obj>/incr (FULL and NORMAL namespaces) beside
#               GET /counter/<obj>/, one object -c1 / -c16 and 1000 objects
#   sandbox     bench/sandbox.py: activation and warm requests with the
#               native policy vs policy "none", interleaved
#   ops         bench/ops.py: warm requests against this build and (with
#               DURO_BUILD_BASE) an earlier one, /metrics with 1000 live
#               objects, SIGHUP reload time
#   ws          bench/ws.py: WebSockets (tests/workers/wsecho): broadcast
#               fan-out to 1000 connections in one object, message latency
#               in a 2-client room and echo, wake from hibernation, durod's
#               memory per connection with 10,000 open (every worker
#               hibernated)
#   alarms      bench/alarms.py: alarm precision (live and hibernated
#               objects), 10,000 objects with alarms due in one 5 s window,
#               1,000,000 indexed alarms (start-up, memory, the in-memory
#               schedule's rates), the cost of setting alarms per request
#
# Environment: BENCH_REPS (default 5), BENCH_ACT_REPS (activation's, 3),
# BENCH_DURATION (wrk seconds, 10), BENCH_OBJECTS (1000), BENCH_STORAGE_OPS
# (storage's ops per event, 10000), BENCH_WS_* (ws's sizes, see the top of
# bench/ws.py), DURO_BUILD
# (default <repo>/build), BENCH_JSON (where raw numbers go: bench.py writes
# $BENCH_JSON.bench, alarms.py $BENCH_JSON.alarms),
# BENCH_TMPDIR (where the temp dir goes, default /tmp: durod's run_dir and
# data_dir, i.e. the objects' SQLite files, live there).
#
# Every durod is started by bench/bench.py in its own directory under a
# temp dir made here ($BENCH_TMP), on free 127.0.0.1 ports, and stopped
# by it (SIGTERM, exit status 0, no worker left). If anything goes wrong
# the trap below still kills any durod or worker left under $BENCH_TMP,
# and the exit status is non-zero.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
build=${DURO_BUILD:-$repo/build}
which=${1:-all}

case $which in
warm | spread | rss | activation | spawn | nng | storage | incr | all) ;;
alarms | alarms-precision | alarms-burst | alarms-million | alarms-setrate | sandbox | ops | ws) ;;
*)
	echo "usage: sh bench/run.sh [warm|spread|rss|activation|spawn|nng|storage|incr|alarms[-<one>]|sandbox|ops|ws|all]" >&2
	exit 2
	;;
esac

# ---- prerequisites

for tool in wrk python3 make cc; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench: $tool not found (make deps installs what is missing)" >&2
		exit 1
	fi
done
for f in "$build/durod" "$build/examples/counter" "$build/libduro.a"; do
	if [ ! -e "$f" ]; then
		echo "bench: $f missing: run make all first (make bench does)" >&2
		exit 1
	fi
done
build=$(cd "$build" && pwd)

# The C micro-benchmarks (bench/bin/, git-ignored); storage_ops links
# $build/libduro.a and takes its headers from the tree above $build.
make -s -C "$here" DURO_BUILD="$build"

# ---- cleanup, whatever happens

BENCH_TMP=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/duro-bench.XXXXXX")
export BENCH_TMP DURO_BUILD="$build"
child=
sigrc=

# Pids of live processes whose DURO_IPC points under $BENCH_TMP: workers of
# our durods or of spawn_bare -r. (A zombie's environ reads empty.)
leftover_workers() {
	grep -lsz "^DURO_IPC=ipc://$BENCH_TMP/" /proc/[0-9]*/environ 2>/dev/null |
		sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' || true
}

cleanup() {
	rc=${sigrc:-$?}
	set +e
	# bench.py stops its durods itself; one still running here means it
	# died hard. Check the pid is still a durod before killing it.
	for f in "$BENCH_TMP"/*/durod.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if [ -n "$pid" ] && grep -qs "durod" "/proc/$pid/cmdline"; then
			echo "bench: killing leftover durod $pid" >&2
			kill -KILL "$pid"
			rc=1
		fi
	done
	# Workers die with durod (PR_SET_PDEATHSIG); give them a moment.
	tries=0
	left=$(leftover_workers)
	while [ -n "$left" ] && [ $tries -lt 50 ]; do
		sleep 0.1
		tries=$((tries + 1))
		left=$(leftover_workers)
	done
	if [ -n "$left" ]; then
		echo "bench: workers left behind, killing them:" $left >&2
		kill -KILL $left
		rc=1
	fi
	rm -rf "$BENCH_TMP"
	exit $rc
}

# A signal to us goes on to bench.py (which unwinds and stops its durods);
# then the EXIT trap checks what is left.
on_signal() {
	sigrc=$1
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	exit "$1"
}

trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# ---- the machine, for the record

echo "date:    $(date -u)"
echo "machine: nproc=$(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
	"kernel $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
echo "load:    $(cat /proc/loadavg)"
# What was measured: the build dir, and the commit of the source tree (with
# the number of files changed but not committed: others may be editing).
src=$(cd "$build/.." 2>/dev/null && git rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(cd "$build/.." 2>/dev/null && git status --porcelain 2>/dev/null | wc -l || echo "?")
# Relative to here, so recorded results name no machine's paths.
rel=$(realpath --relative-to=. "$build" 2>/dev/null || echo "$build")
echo "build:   $rel (source tree at $src, $dirty uncommitted change(s))"
echo "command: sh bench/run.sh $which"

# ---- run (in the background so that a signal reaches the trap at once)

# run_py SCRIPT WHICH: one of the benchmark scripts, in the background so
# that a signal reaches the trap at once.
run_py() {
	script=$1
	shift
	if [ -n "${BENCH_JSON:-}" ]; then
		set -- --json "$BENCH_JSON.$(basename "$script" .py)" "$@"
	fi
	python3 "$script" "$@" &
	child=$!
	wait "$child" || rc=$?
	child=
}

rc=0
case $which in
alarms) run_py "$here/alarms.py" all ;;
sandbox) run_py "$here/sandbox.py" ;;
ops) run_py "$here/ops.py" ;;
ws) run_py "$here/ws.py" ;;
alarms-*) run_py "$here/alarms.py" "${which#alarms-}" ;;
*)
	run_py "$here/bench.py" "$which"
	if [ "$which" = all ] && [ "$rc" -eq 0 ]; then
		run_py "$here/alarms.py" all
	fi
	if [ "$which" = all ] && [ "$rc" -eq 0 ]; then
		run_py "$here/sandbox.py"
	fi
	if [ "$which" = all ] && [ "$rc" -eq 0 ]; then
		run_py "$here/ops.py"
	fi
	if [ "$which" = all ] && [ "$rc" -eq 0 ]; then
		run_py "$here/ws.py"
	fi
	;;
esac
if [ "$rc" -ne 0 ]; then
	echo "bench: FAILED ($which, status $rc)" >&2
fi
exit "$rc"
