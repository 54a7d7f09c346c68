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

# run_one NAME CMD...: runs CMD, adds its counts to the totals.
run_one() {
	name=$1
	shift
	log="$logdir/$(echo "$name" | tr '/ ' '__').log"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
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
	printf '%-4s %-44s %4s passed %3s failed %4ss\n' "$status" "$name" "$p" "$f" "$(($(date +%s) - start))"
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

# integration [PREFIX]: every integration script, against PREFIX's binaries
# (build: the normal ones; build/asan: the ASan/UBSan ones, whose reports
# fail the script through lib.sh).
integration() {
	prefix=${1:-build}
	label=integration
	[ "$prefix" = build ] || label="${prefix#build/}/integration"
	for t in tests/integration/*.sh; do
		[ "$(basename "$t")" = lib.sh ] && continue
		NIGHTSHIFT="$prefix/nightshift" SIMCLUSTER="$prefix/simcluster" \
			run_one "$label/$(basename "$t" .sh)" bash "$t"
	done
}

case "$what" in
unit) unit build ;;
asan)
	ASAN_OPTIONS=detect_leaks=1 unit build/asan
	ASAN_OPTIONS=detect_leaks=1 integration build/asan
	;;
integration) integration ;;
fuzz) fuzz ;;
all)
	unit build
	ASAN_OPTIONS=detect_leaks=1 unit build/asan
	integration
	ASAN_OPTIONS=detect_leaks=1 integration build/asan
	fuzz
	;;
*) echo "usage: tests/run.sh [unit|asan|integration|fuzz|all]" >&2; exit 2 ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
