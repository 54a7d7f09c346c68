#!/bin/sh
# This file contains the benchmark driver (`make bench`): webhook ingest of
# nightshift vs Prometheus Alertmanager's own POST /api/v2/alerts, both with
# wrk at 1 and 10 connections and a label set never seen before on every
# request; latency percentiles, idle and peak RSS of the bot, and a check
# that every request answered 2xx was durably stored. It reports; it never
# fails the build (exit 0 unless the script itself is broken).
#
# Environment: BENCH_SECONDS (default 10) per run, BENCH_THREADS (wrk
# threads, default 1), NIGHTSHIFT (binary, default ./nightshift),
# ALERTMANAGER (default prometheus-alertmanager), KEEP_TMP=1.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 0

SECS=${BENCH_SECONDS:-10}
WRK_THREADS=${BENCH_THREADS:-1}
NS=${NIGHTSHIFT:-./nightshift}
case $NS in /*) ;; *) NS=$PWD/${NS#./} ;; esac
AM_BIN=${ALERTMANAGER:-$(command -v prometheus-alertmanager || true)}
TOKEN=bench-$RANDOM$RANDOM
export NS_TOKEN=$TOKEN
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-bench.XXXXXX") || exit 0
BOT_PID=
AM_PID=

cleanup() {
	local p
	for p in $BOT_PID $AM_PID; do
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 50); do [ -d "/proc/$p" ] || break; grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf 'bench: %s\n' "$*"; }

alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

free_port() {
	local p
	for _ in $(seq 1 300); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		[ "$p" = "${NS_PORT:-}" ] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}

http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true; }

wait_http() { # URL SECONDS PID
	local n=$(($2 * 10))
	while [ $n -gt 0 ]; do
		[ "$(http_status "$1")" = 200 ] && return 0
		alive "$3" || return 1
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

kb_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# field LINE KEY : value of key=value in a BENCH line
field() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# run_wrk NAME CONNS SCRIPT URL [ARGS...] : runs wrk, keeps its output, sets BENCH_LINE
run_wrk() {
	local name=$1 conns=$2 script=$3 url=$4 threads=$WRK_THREADS
	shift 4
	[ "$threads" -gt "$conns" ] && threads=$conns
	say "wrk $name: $conns connection(s), ${SECS}s"
	timeout $((SECS + 30)) wrk -t"$threads" -c"$conns" -d"${SECS}s" --timeout 5s --latency \
		-s "$script" "$url" ${1:+--} "$@" >"$T/wrk-$name.txt" 2>&1
	BENCH_LINE=$(grep '^BENCH ' "$T/wrk-$name.txt" | tail -n 1)
	if [ -z "$BENCH_LINE" ]; then
		say "wrk $name produced no result:"
		sed 's/^/    /' "$T/wrk-$name.txt" | head -n 20
	fi
}

# rate LINE : 2xx responses per second
rate() {
	local r d e
	r=$(field "$1" requests)
	d=$(field "$1" duration_us)
	e=$(field "$1" non2xx)
	[ -n "$r" ] && [ -n "$d" ] && [ "$d" -gt 0 ] || { echo ""; return; }
	awk -v r="$r" -v e="$e" -v d="$d" 'BEGIN { printf "%.0f", (r - e) / (d / 1e6) }'
}
num() { local v; v=$(field "$1" "$2"); echo "${v:-0}"; }
ms() { [ -n "$1" ] && awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
verdict() { # CONDITION_AWK VALUE
	[ -n "$2" ] || { echo "n/a"; return; }
	awk -v v="$2" "BEGIN { exit !($1) }" && echo "ok" || echo "MISSED"
}

# ------------------------------------------------------------------ preflight
for tool in wrk curl sqlite3; do
	command -v "$tool" >/dev/null 2>&1 || { say "$tool is not installed (sh contrib/deps.sh --bench); no benchmark"; exit 0; }
done
if [ ! -x "$NS" ]; then
	say "no binary at $NS (make nightshift); no benchmark"
	exit 0
fi
say "$("$NS" --version 2>&1 | head -n 1), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(nproc) cores, $(uname -r)"

# ------------------------------------------------------------------ nightshift
NS_PORT=$(free_port)
cat >"$T/ns.yml" <<EOF
listen: 127.0.0.1:$NS_PORT
storage:
  path: $T/ns.db
webhook:
  token_env: NS_TOKEN
  max_body_bytes: 1048576
environments:
  - name: production
    match: {namespace: "^prod"}
  - name: dev
noise:
  - reason: test tenants
    match: {namespace: "^tenant-test-"}
triage:
  flap_window: 30m
channels:
  console: {enabled: true}
EOF
"$NS" run -c "$T/ns.yml" >"$T/console.log" 2>"$T/bot.log" </dev/null &
BOT_PID=$!
NS_C1= NS_C10= IDLE_KB= PEAK_KB= STORED= ACKED=
if ! wait_http "http://127.0.0.1:$NS_PORT/healthz" 10 "$BOT_PID"; then
	say "nightshift did not become healthy; bot.log:"
	tail -n 20 "$T/bot.log" | sed 's/^/    /'
else
	sleep 2
	IDLE_KB=$(kb_of "$BOT_PID" VmRSS)
	say "idle RSS after 2 s: $(mb "$IDLE_KB")"
	run_wrk ns-c1 1 bench/nightshift_ingest.lua "http://127.0.0.1:$NS_PORT/alerts/alertmanager" "$TOKEN"
	NS_C1=$BENCH_LINE
	run_wrk ns-c10 10 bench/nightshift_ingest.lua "http://127.0.0.1:$NS_PORT/alerts/alertmanager" "$TOKEN"
	NS_C10=$BENCH_LINE
	PEAK_KB=$(kb_of "$BOT_PID" VmHWM)
	LOAD_KB=$(kb_of "$BOT_PID" VmRSS)
	say "peak RSS (VmHWM): $(mb "$PEAK_KB"), RSS after load: $(mb "$LOAD_KB")"
	curl -s --max-time 5 "http://127.0.0.1:$NS_PORT/metrics" >"$T/metrics.txt"
	kill -TERM "$BOT_PID"
	for _ in $(seq 1 150); do alive "$BOT_PID" || break; sleep 0.1; done
	alive "$BOT_PID" && { say "nightshift did not stop within 15 s of SIGTERM; killing it"; kill -KILL "$BOT_PID"; }
	wait "$BOT_PID" 2>/dev/null
	say "nightshift exit status after SIGTERM: $?"
	BOT_PID=

	# durability: stored alerts >= 2xx answers
	ACKED=0
	for l in "$NS_C1" "$NS_C10"; do
		[ -n "$l" ] && ACKED=$((ACKED + $(field "$l" requests) - $(field "$l" non2xx)))
	done
	if [ "$(sqlite3 "file:$T/ns.db?mode=ro" "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='alerts'" 2>/dev/null)" = 1 ]; then
		STORED=$(sqlite3 "file:$T/ns.db?mode=ro" "SELECT count(*) FROM alerts" 2>/dev/null)
		STORED_HOW="rows in the alerts table"
	else
		timeout 30 "$NS" incidents -c "$T/ns.yml" --json >"$T/inc.json" 2>/dev/null
		STORED=$(sqlite3 :memory: "SELECT sum(json_extract(value,'\$.alert_count')) FROM json_each(CAST(readfile('$T/inc.json') AS TEXT))" 2>/dev/null)
		STORED_HOW="sum of alert_count in incidents --json"
	fi
	say "stored: ${STORED:-?} ($STORED_HOW); answered 2xx: $ACKED"
fi

# ------------------------------------------------------------------ Alertmanager
AM_C1= AM_C10=
if [ -z "$AM_BIN" ] || [ ! -x "$AM_BIN" ]; then
	say "prometheus-alertmanager is not installed (sh contrib/deps.sh); no comparison"
else
	AM_PORT=$(free_port)
	mkdir -p "$T/am-data"
	cat >"$T/am.yml" <<EOF
route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: blackhole
EOF
	"$AM_BIN" --config.file="$T/am.yml" --storage.path="$T/am-data" \
		--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
		--log.level=warn </dev/null >"$T/am.log" 2>&1 &
	AM_PID=$!
	if ! wait_http "http://127.0.0.1:$AM_PORT/-/ready" 10 "$AM_PID"; then
		say "Alertmanager did not become ready:"
		tail -n 10 "$T/am.log" | sed 's/^/    /'
	else
		say "$("$AM_BIN" --version 2>&1 | head -n 1)"
		run_wrk am-c1 1 bench/alertmanager_ingest.lua "http://127.0.0.1:$AM_PORT/api/v2/alerts"
		AM_C1=$BENCH_LINE
		run_wrk am-c10 10 bench/alertmanager_ingest.lua "http://127.0.0.1:$AM_PORT/api/v2/alerts"
		AM_C10=$BENCH_LINE
		AM_KB=$(kb_of "$AM_PID" VmHWM)
	fi
	kill -TERM "$AM_PID" 2>/dev/null
	wait "$AM_PID" 2>/dev/null
	AM_PID=
fi

# ------------------------------------------------------------------ summary
R_NS1=$(rate "$NS_C1") R_NS10=$(rate "$NS_C10") R_AM1=$(rate "$AM_C1") R_AM10=$(rate "$AM_C10")
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" -gt 0 ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
RATIO1=$(ratio "$R_NS1" "$R_AM1")
RATIO10=$(ratio "$R_NS10" "$R_AM10")
P99_10=$(field "$NS_C10" p99_us)
P99_1=$(field "$NS_C1" p99_us)

echo
echo "nightshift benchmark — ${SECS}s per run, wrk -t$WRK_THREADS, loopback, $(nproc) cores"
printf '%-50s %-22s %-12s %s\n' "measure" "value" "target" "result"
printf '%-50s %-22s %-12s %s\n' "-------" "-----" "------" "------"
row() { printf '%-50s %-22s %-12s %s\n' "$1" "${2:-n/a}" "${3:-}" "${4:-}"; }
row "nightshift ingest c=1   alerts/s (2xx)" "$R_NS1"
row "nightshift ingest c=1   p50 / p99" "$(ms "$(field "$NS_C1" p50_us)") / $(ms "$P99_1")" "p99 < 5 ms" "$(verdict 'v < 5000' "$P99_1")"
row "nightshift ingest c=10  alerts/s (2xx)" "$R_NS10" ">= 20000" "$(verdict 'v >= 20000' "$R_NS10")"
row "nightshift ingest c=10  p50 / p99" "$(ms "$(field "$NS_C10" p50_us)") / $(ms "$P99_10")" "p99 < 5 ms" "$(verdict 'v < 5000' "$P99_10")"
row "nightshift non-2xx / socket errors (both runs)" "$(($(num "$NS_C1" non2xx) + $(num "$NS_C10" non2xx))) / $(($(num "$NS_C1" read_errors) + $(num "$NS_C10" read_errors) + $(num "$NS_C1" timeouts) + $(num "$NS_C10" timeouts)))" "0 / 0"
row "alertmanager POST /api/v2/alerts c=1 /s" "$R_AM1"
row "alertmanager POST /api/v2/alerts c=10 /s" "$R_AM10"
row "alertmanager c=10 p50 / p99" "$(ms "$(field "$AM_C10" p50_us)") / $(ms "$(field "$AM_C10" p99_us)")"
row "ratio nightshift/alertmanager c=1" "${RATIO1:+${RATIO1}x}"
row "ratio nightshift/alertmanager c=10" "${RATIO10:+${RATIO10}x}" ">= 2x" "$(verdict 'v >= 2' "$RATIO10")"
row "nightshift idle RSS (VmRSS after 2 s)" "$(mb "$IDLE_KB")" "<= 8 MB" "$(verdict 'v <= 8192' "$IDLE_KB")"
row "nightshift peak RSS under load (VmHWM)" "$(mb "$PEAK_KB")"
row "alertmanager peak RSS (VmHWM)" "$(mb "${AM_KB:-}")"
if [ -n "$STORED" ] && [ -n "$ACKED" ]; then
	row "stored alerts >= 2xx answers" "$STORED >= $ACKED" "durable" "$(verdict 'v >= 0' "$((STORED - ACKED))")"
else
	row "stored alerts >= 2xx answers" "" "durable" "n/a"
fi

# Slack: alert -> first post latency through the Slack double, idle RSS connected.
echo
NIGHTSHIFT=$NS bash bench/slack.sh
exit 0
