#!/bin/sh
# This file contains the benchmark driver (`make bench`): webhook ingest of
# nightshift vs Prometheus Alertmanager's own POST /api/v2/alerts, both with
# wrk at 1 and 10 connections and a label set never seen before on every
# request; latency percentiles, idle and peak RSS of the bot, and a check
# that every request answered 2xx was durably stored; then bench/diagnosis.sh
# (diagnosis accuracy and investigation time over tests/scenarios). It
# reports; it never fails the build (exit 0 unless the script itself is
# broken).
#
# Environment: BENCH_SECONDS (default 10) per run, BENCH_BATCHES (alerts per
# request body, default "1 10": each size is run at c=1 and c=10 against both
# servers), BENCH_THREADS (wrk
# threads, default 1), NIGHTSHIFT (binary, default ./nightshift),
# ALERTMANAGER (default prometheus-alertmanager), KEEP_TMP=1.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 0

SECS=${BENCH_SECONDS:-10}
BATCHES=${BENCH_BATCHES:-1 10}
declare -A LINES
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

# rate LINE [B] : alerts per second in 2xx-answered bodies of B alerts (default 1)
rate() {
	local r d e b=${2:-1}
	r=$(field "$1" requests)
	d=$(field "$1" duration_us)
	e=$(field "$1" non2xx)
	[ -n "$r" ] && [ -n "$d" ] && [ "$d" -gt 0 ] || { echo ""; return; }
	awk -v r="$r" -v e="$e" -v d="$d" -v b="$b" 'BEGIN { printf "%.0f", b * (r - e) / (d / 1e6) }'
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
	command -v "$tool" >/dev/null 2>&1 || { say "$tool is not installed (sh contrib/deps.sh --bench); no ingest benchmark"; bash bench/diagnosis.sh; exit 0; }
done
if [ ! -x "$NS" ]; then
	say "no binary at $NS (make nightshift); no benchmark"
	exit 0
fi
say "$("$NS" --version 2>&1 | head -n 1), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(nproc) cores, $(uname -r)"

# ------------------------------------------------------------------ memory floor
# What loading nightshift's libraries costs before it does anything (shared
# library pages, most of them libcurl's dependencies: GnuTLS, Kerberos, LDAP…).
FLOOR_LINE=
if cc -std=c11 -D_GNU_SOURCE -O2 -o "$T/floor" bench/floor.c \
	$(pkg-config --cflags --libs libwebsockets libcurl libcjson sqlite3 libpcre2-8 yaml-0.1 libcrypto) \
	-pthread >"$T/floor.log" 2>&1; then
	FLOOR_LINE=$("$T/floor" 2>/dev/null | grep '^FLOOR ')
fi

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
IDLE_KB= IDLE_ANON= IDLE_PSS= PEAK_KB= STORED= ACKED=
if ! wait_http "http://127.0.0.1:$NS_PORT/healthz" 10 "$BOT_PID"; then
	say "nightshift did not become healthy; bot.log:"
	tail -n 20 "$T/bot.log" | sed 's/^/    /'
else
	sleep 2
	IDLE_KB=$(kb_of "$BOT_PID" VmRSS)
	IDLE_ANON=$(kb_of "$BOT_PID" RssAnon)
	IDLE_PSS=$(awk '$1 == "Pss:" { print $2 }' "/proc/$BOT_PID/smaps_rollup" 2>/dev/null)
	say "idle RSS after 2 s: $(mb "$IDLE_KB") (anonymous $(mb "$IDLE_ANON"), PSS $(mb "$IDLE_PSS"))"
	for b in $BATCHES; do
		for c in 1 10; do
			BENCH_BATCH=$b run_wrk "ns-b$b-c$c" "$c" bench/nightshift_ingest.lua \
				"http://127.0.0.1:$NS_PORT/alerts/alertmanager" "$TOKEN"
			LINES["ns-b$b-c$c"]=$BENCH_LINE
		done
	done
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
	for b in $BATCHES; do
		for c in 1 10; do
			l=${LINES["ns-b$b-c$c"]:-}
			[ -n "$l" ] && ACKED=$((ACKED + b * ($(field "$l" requests) - $(field "$l" non2xx))))
		done
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
AM_KB=
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
		for b in $BATCHES; do
			for c in 1 10; do
				BENCH_BATCH=$b run_wrk "am-b$b-c$c" "$c" bench/alertmanager_ingest.lua \
					"http://127.0.0.1:$AM_PORT/api/v2/alerts"
				LINES["am-b$b-c$c"]=$BENCH_LINE
			done
		done
		AM_KB=$(kb_of "$AM_PID" VmHWM)
	fi
	kill -TERM "$AM_PID" 2>/dev/null
	wait "$AM_PID" 2>/dev/null
	AM_PID=
fi

# ------------------------------------------------------------------ summary
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" -gt 0 ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "nightshift benchmark — ${SECS}s per run, wrk -t$WRK_THREADS, loopback, $(nproc) cores"
echo "(alerts/s counts alerts in 2xx-answered bodies; a body holds B alerts, as Alertmanager groups them)"
printf '%-50s %-22s %-12s %s\n' "measure" "value" "target" "result"
printf '%-50s %-22s %-12s %s\n' "-------" "-----" "------" "------"
row() { printf '%-50s %-22s %-12s %s\n' "$1" "${2:-n/a}" "${3:-}" "${4:-}"; }
ERRS=0
for b in $BATCHES; do
	for c in 1 10; do
		l=${LINES["ns-b$b-c$c"]:-}
		a=${LINES["am-b$b-c$c"]:-}
		r=$(rate "$l" "$b") ra=$(rate "$a" "$b") p99=$(field "$l" p99_us)
		tgt_r= res_r= tgt_p= res_p= tgt_x= res_x=
		if [ "$c" = 10 ]; then
			tgt_r=">= 20000"; res_r=$(verdict 'v >= 20000' "$r")
			tgt_x=">= 2x"; res_x=$(verdict 'v >= 2' "$(ratio "$r" "$ra")")
		fi
		tgt_p="p99 < 5 ms"; res_p=$(verdict 'v < 5000' "$p99")
		row "nightshift B=$b c=$c  alerts/s" "$r" "$tgt_r" "$res_r"
		row "nightshift B=$b c=$c  p50 / p99" "$(ms "$(field "$l" p50_us)") / $(ms "$p99")" "$tgt_p" "$res_p"
		row "alertmanager B=$b c=$c  alerts/s, p50 / p99" "$ra, $(ms "$(field "$a" p50_us)") / $(ms "$(field "$a" p99_us)")"
		x=$(ratio "$r" "$ra")
		row "ratio nightshift/alertmanager B=$b c=$c" "${x:+${x}x}" "$tgt_x" "$res_x"
		ERRS=$((ERRS + $(num "$l" non2xx) + $(num "$l" read_errors) + $(num "$l" timeouts)))
	done
done
row "nightshift non-2xx / socket errors (all runs)" "$ERRS" "0"
row "nightshift idle RSS (VmRSS after 2 s)" "$(mb "$IDLE_KB")" "<= 8 MB" "$(verdict 'v <= 8192' "$IDLE_KB")"
row "floor: a no-op linking the same libraries" "$(mb "$(field "$FLOOR_LINE" started_kb)")"
row "nightshift idle anonymous RSS (its own memory)" "$(mb "$IDLE_ANON")"
row "nightshift idle PSS (shared libraries split)" "$(mb "$IDLE_PSS")"
row "nightshift peak RSS under load (VmHWM)" "$(mb "$PEAK_KB")"
row "alertmanager peak RSS (VmHWM)" "$(mb "${AM_KB:-}")"
if [ -n "$STORED" ] && [ -n "$ACKED" ]; then
	row "stored alerts >= 2xx answers" "$STORED >= $ACKED" "durable" "$(verdict 'v >= 0' "$((STORED - ACKED))")"
else
	row "stored alerts >= 2xx answers" "" "durable" "n/a"
fi

# ------------------------------------------------------------------ diagnosis
# Diagnosis accuracy and investigation time over tests/scenarios (its own report).
bash bench/diagnosis.sh || true
# Slack: alert -> first post latency through the Slack double, idle RSS connected.
echo
NIGHTSHIFT=$NS bash bench/slack.sh
exit 0
