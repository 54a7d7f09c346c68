#!/usr/bin/env bash
# This file contains the Slack benchmark (run by bench/run.sh): nightshift
# with only the Slack channel, pointed at the Slack double on loopback
# (pacing off in the double and in nightshift), idle RSS once Socket Mode is
# connected (and, for comparison, of the same bot without Slack), then 1,000 alerts with distinct names posted one after another,
# and the latency from each POST /alerts (and from its 2xx answer) to the
# first chat.postMessage of its thread as the double recorded it (p50 / p99).
# It reports; it never fails.
#
# Environment: NIGHTSHIFT (default ./nightshift), SLACKDOUBLE (default
# build/slackdouble/slackdouble), POST_ALERTS (build/helpers/post_alerts), BENCH_SLACK_ALERTS (default 1000), KEEP_TMP=1.
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 0

NS=${NIGHTSHIFT:-./nightshift}
SD=${SLACKDOUBLE:-build/slackdouble/slackdouble}
POST=${POST_ALERTS:-build/helpers/post_alerts}
N=${BENCH_SLACK_ALERTS:-1000}
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-bench-slack.XXXXXX") || exit 0
BOT_PID=
SD_PID=
export NS_TOKEN=bench-$RANDOM NS_SLACK_APP=xapp-bench NS_SLACK_BOT=xoxb-bench

say() { printf 'bench-slack: %s\n' "$*"; }
cleanup() {
	for p in $BOT_PID $SD_PID; do
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 50); do [ -d "/proc/$p" ] || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench-slack: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$NS" ] && [ -x "$SD" ] && [ -x "$POST" ] || { say "needs $NS, $SD and $POST (make nightshift test-bins); skipped"; exit 0; }
for tool in curl sqlite3; do
	command -v "$tool" >/dev/null 2>&1 || { say "$tool is not installed; skipped"; exit 0; }
done

free_port() {
	local p
	for _ in $(seq 1 300); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}
kb_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

"$SD" --listen 127.0.0.1:0 --ready-file "$T/sd.port" --log "$T/sd.jsonl" --app-token xapp-bench \
	--bot-token xoxb-bench --channels C1 --pacing-ms 0 >"$T/sd.out" 2>"$T/sd.err" &
SD_PID=$!
for _ in $(seq 1 100); do [ -s "$T/sd.port" ] && break; sleep 0.05; done
[ -s "$T/sd.port" ] || { say "the Slack double did not start"; exit 0; }
SD_BASE=http://127.0.0.1:$(cat "$T/sd.port")
PORT=$(free_port)
cat >"$T/ns.yml" <<YAML
listen: 127.0.0.1:$PORT
log_level: warn
storage:
  path: $T/ns.db
webhook:
  token_env: NS_TOKEN
playbooks:
  dir: $PWD/playbooks
channels:
  slack:
    api_url: $SD_BASE/api/
    app_token_env: NS_SLACK_APP
    bot_token_env: NS_SLACK_BOT
    channel: C1
    allowed_users: [U1]
    post_interval_ms: 0
YAML
# The same bot without Slack first: what Slack adds to the idle RSS.
sed -e '/^channels:/,$d' -e "s#$T/ns.db#$T/base.db#" "$T/ns.yml" >"$T/base.yml"
printf 'channels:\n  console: {enabled: true}\n' >>"$T/base.yml"
"$NS" run -c "$T/base.yml" >/dev/null 2>"$T/base.log" &
BOT_PID=$!
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/healthz")" = 200 ] && break
	sleep 0.1
done
sleep 2
BASE_KB=$(kb_of "$BOT_PID" VmRSS)
kill -TERM "$BOT_PID" 2>/dev/null
wait "$BOT_PID" 2>/dev/null

"$NS" run -c "$T/ns.yml" >"$T/console.log" 2>"$T/bot.log" &
BOT_PID=$!
for _ in $(seq 1 100); do
	[ "$(curl -s --max-time 1 "http://127.0.0.1:$PORT/healthz" | sed -n 's/.*"slack":"\([^"]*\)".*/\1/p')" = ok ] && break
	sleep 0.1
done
sleep 2
IDLE_KB=$(kb_of "$BOT_PID" VmRSS)
say "idle with Slack connected: RSS $(mb "$IDLE_KB")"

# One alert per request over one keep-alive connection, distinct names (one
# incident and one thread each); post_alerts prints "NAME SEND_US STATUS".
start=$EPOCHREALTIME
"$POST" "http://127.0.0.1:$PORT/alerts/alertmanager" "$NS_TOKEN" "$N" BenchSlack >"$T/sent.txt"
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
say "$N alerts posted in ${elapsed}s"

# Wait until every thread has its first message (bounded).
roots() { grep -c '"method":"chat.postMessage".*Received: bench' "$T/sd.jsonl" 2>/dev/null || echo 0; }
for _ in $(seq 1 600); do [ "$(roots)" -ge "$N" ] && break; sleep 0.1; done
LOAD_KB=$(kb_of "$BOT_PID" VmRSS)
PEAK_KB=$(kb_of "$BOT_PID" VmHWM)

# Latency: the double's at_ms of the root post minus the send time (same clock).
grep '"method":"chat.postMessage"' "$T/sd.jsonl" | grep 'Received: bench' |
	sed -n 's/^{"seq":[0-9]*,"at_ms":\([0-9]*\),.*"text":"[^"]*\(BenchSlack[0-9]*\) .*/\2 \1/p' |
	sort -u -k1,1 >"$T/posted.txt"
awk '$3 >= 200 && $3 < 300 { print $1, $2 }' "$T/sent.txt" | sort -k1,1 | join - "$T/posted.txt" |
	awk '{ printf "%.3f\n", $3 - $2 / 1000 }' |
	sort -n >"$T/lat.txt"
awk '$3 >= 200 && $3 < 300 { print $1, $4 }' "$T/sent.txt" | sort -k1,1 | join - "$T/posted.txt" |
	awk '{ printf "%.3f\n", $3 - $2 / 1000 }' | sort -n >"$T/lat2.txt"
COUNT=$(wc -l <"$T/lat.txt")
pct() { awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.1f ms", a[i] }' "${2:-$T/lat.txt}"; }
P50=$(pct 50)
P99=$(pct 99)
MAX=$(pct 100)
P99_NUM=$(awk '{ a[NR] = $1 } END { i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; print (NR ? a[i] : "") }' "$T/lat.txt")

echo
echo "nightshift Slack benchmark — $N alerts, Slack double on loopback, pacing off"
printf '%-50s %-22s %-12s %s\n' "measure" "value" "target" "result"
printf '%-50s %-22s %-12s %s\n' "-------" "-----" "------" "------"
row() { printf '%-50s %-22s %-12s %s\n' "$1" "${2:-n/a}" "${3:-}" "${4:-}"; }
row "alerts with a thread in Slack" "$COUNT / $N" "all" "$([ "$COUNT" -eq "$N" ] && echo ok || echo MISSED)"
row "alert -> first Slack post p50 / p99" "$P50 / $P99" "p99 < 50 ms" "$(awk -v v="${P99_NUM:-999999}" 'BEGIN { print (v < 50) ? "ok" : "MISSED" }')"
row "alert -> first Slack post max" "$MAX"
row "2xx answer -> first Slack post p50 / p99" "$(pct 50 "$T/lat2.txt") / $(pct 99 "$T/lat2.txt")"
row "idle RSS of the same bot without Slack" "$(mb "$BASE_KB")"
row "idle RSS, Slack connected (VmRSS after 2 s)" "$(mb "$IDLE_KB")" "<= 10 MB" "$(awk -v v="${IDLE_KB:-999999}" 'BEGIN { print (v <= 10240) ? "ok" : "MISSED" }')"
row "RSS after the $N alerts / peak (VmHWM)" "$(mb "$LOAD_KB") / $(mb "$PEAK_KB")"
exit 0
