#!/bin/sh
# Runs the test suite and prints one closing line "N passed, N failed".
#   tests/run.sh            unit + integration, both also on the sanitizer build, + short fuzz run
#   tests/run.sh unit|asan|integration|fuzz   one part only
# Each test program prints its own "N passed, N failed" last; a program that
# dies without that line counts as one failure. Run from the repository root.
set -u
what=${1:-all}
passed=0
failed=0
logdir=build/test-logs
mkdir -p "$logdir"

# log_of NAME: the log file of test NAME
log_of() { echo "$logdir/$(echo "$1" | tr '/ ' '__').log"; }

# run_one NAME CMD...: runs CMD, adds its counts to the totals.
run_one() {
	name=$1
	shift
	log=$(log_of "$name")
	start=$(date +%s)
	"$@" >"$log" 2>&1
	tally "$name" $? "$(($(date +%s) - start))"
}

# tally NAME RC SECONDS: reads NAME's log, adds its counts, prints its line.
tally() {
	name=$1
	rc=$2
	log=$(log_of "$name")
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
	if [ -z "$line" ]; then
		p=0
		f=1
	else
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	status=ok
	[ "$f" -ne 0 ] && status=FAIL
	printf '%-4s %-44s %4s passed %3s failed %4ss\n' "$status" "$name" "$p" "$f" "$3"
	if [ "$f" -ne 0 ]; then
		echo "---- $log (last 40 lines) ----"
		tail -n 40 "$log"
		echo "----"
	fi
}

unit() {
	prefix=$1
	for t in "$prefix"/tests/*/*; do
		[ -x "$t" ] || continue
		run_one "${t#build/}" "$t"
	done
}

fuzz() {
	mkdir -p build/fuzz-corpus
	cp tests/fixtures/payloads/*.json build/fuzz-corpus/ 2>/dev/null
	run_one "fuzz/intake (${FUZZ_SECONDS:-20}s)" sh -c '
		build/fuzz_intake -max_total_time='"${FUZZ_SECONDS:-20}"' -max_len=65536 \
			-print_final_stats=0 build/fuzz-corpus tests/fuzz/corpus >/dev/null 2>build/test-logs/fuzz.err
		rc=$?; tail -n 5 build/test-logs/fuzz.err
		if [ $rc -eq 0 ]; then echo "1 passed, 0 failed"; else cat build/test-logs/fuzz.err | tail -n 60; echo "0 passed, 1 failed"; fi'
}

# integration PREFIX...: every integration script against each PREFIX's
# binaries (build: the normal ones; build/asan: the ASan/UBSan ones, whose
# reports fail a script through lib.sh). Scripts mostly wait on their
# processes, and each uses its own ports and temp dir, so TEST_JOBS (default
# 3) of them run at once; results are printed in order.
integration() {
	jobs_max=${TEST_JOBS:-3}
	names=""
	pids=""
	serial=""
	SERIAL="slackdouble slack_reconnect"
	for prefix in "$@"; do
		label=integration
		[ "$prefix" = build ] || label="${prefix#build/}/integration"
		for t in tests/integration/*.sh; do
			[ "$(basename "$t")" = lib.sh ] && continue
			name="$label/$(basename "$t" .sh)"
			names="$names $name"
			# Scripts that time sockets closely run alone, after the others.
			case " $SERIAL " in *" $(basename "$t" .sh) "*)
				serial="$serial $prefix:$t:$name"
				continue ;;
			esac
			while :; do
				running=""
				for pid in $pids; do
					kill -0 "$pid" 2>/dev/null && running="$running $pid"
				done
				pids=$running
				[ "$(echo $pids | wc -w)" -lt "$jobs_max" ] && break
				sleep 0.2
			done
			log=$(log_of "$name")
			(
				start=$(date +%s)
				NIGHTSHIFT="$prefix/nightshift" SIMCLUSTER="$prefix/simcluster" \
					bash "$t" >"$log" 2>&1
				echo "$? $(($(date +%s) - start))" >"$log.rc"
			) &
			pids="$pids $!"
		done
	done
	wait
	for item in $serial; do
		prefix=${item%%:*}
		rest=${item#*:}
		t=${rest%%:*}
		name=${rest#*:}
		log=$(log_of "$name")
		start=$(date +%s)
		NIGHTSHIFT="$prefix/nightshift" SIMCLUSTER="$prefix/simcluster" \
			bash "$t" >"$log" 2>&1
		echo "$? $(($(date +%s) - start))" >"$log.rc"
	done
	for name in $names; do
		log=$(log_of "$name")
		set -- $(cat "$log.rc" 2>/dev/null || echo "1 0")
		rm -f "$log.rc"
		tally "$name" "$1" "$2"
	done
}

case "$what" in
unit) unit build ;;
asan)
	ASAN_OPTIONS=detect_leaks=1 unit build/asan
	ASAN_OPTIONS=detect_leaks=1 integration build/asan
	;;
integration) integration build ;;
fuzz) fuzz ;;
all)
	unit build
	ASAN_OPTIONS=detect_leaks=1 unit build/asan
	ASAN_OPTIONS=detect_leaks=1 integration build build/asan
	fuzz
	;;
*) echo "usage: tests/run.sh [unit|asan|integration|fuzz|all]" >&2; exit 2 ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
