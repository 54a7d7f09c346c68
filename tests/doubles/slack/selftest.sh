#!/usr/bin/env bash
# This file contains the self-test of slackdouble (tests/doubles/README.md):
# it builds the double and wsclient if needed, starts the double on a free
# loopback port, and drives it with curl (Web API, control API) and wsclient
# (Socket Mode). Prints "ok - …" / "not ok - …" and, alone on the last line,
# "N passed, N failed"; exits 1 on any failure.
#
# Run from the repo root:   bash tests/doubles/slack/selftest.sh
# Environment:
#   SD_ASAN=1     build the double with -fsanitize=address,undefined (into
#                 build/slackdouble-asan) and fail on any sanitizer report or leak
#   SD_BUILD=1    rebuild even when the binaries exist
#   SD_BIN_DIR    where the binaries are/go (default build/slackdouble)
#   KEEP_TMP=1    keep the temp dir;  SCRIPT_TIMEOUT (default 120 s) bounds the run
# Needs: cc, pkg-config, curl, sqlite3 (JSON1, for JSON queries). Loopback only.

set -u
export LC_ALL=C
cd "$(dirname "$0")/../../.." || exit 2

PASS=0
FAIL=0
SD_PID=
CLIENT_PIDS=
T=$(mktemp -d "${TMPDIR:-/tmp}/sd-selftest.XXXXXX") || exit 2

ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}
not_ok() {
	local d=$1
	shift
	FAIL=$((FAIL + 1))
	echo "not ok - $d"
	for l in "$@"; do printf '# %s\n' "$l" | cut -c1-400; done
	return 0
}
# check DESC EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "got:      $3"; fi
}
# check_match DESC ERE TEXT
check_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else
		not_ok "$1" "expected to match: $2" "got: $(printf '%s' "$3" | head -c 400)"
	fi
}

finish() {
	trap - USR1
	if [ "$FAIL" -gt 0 ] && [ -s "$T/sd.err" ]; then
		echo "# --- last lines of the double's stderr ---"
		tail -n 15 "$T/sd.err" | cut -c1-300 | sed 's/^/# /'
	fi
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ] && exit 0
	exit 1
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# wait_gone PID SECONDS: 0 once PID has exited
wait_gone() {
	local n=$(($2 * 20))
	while [ $n -gt 0 ]; do
		alive "$1" || return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

cleanup() {
	trap - EXIT INT TERM USR1
	[ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
	[ -n "${WATCHDOG_SLEEP:-}" ] && kill "$WATCHDOG_SLEEP" 2>/dev/null
	for p in $CLIENT_PIDS; do kill -KILL "$p" 2>/dev/null; done
	if [ -n "$SD_PID" ]; then
		kill -TERM "$SD_PID" 2>/dev/null
		wait_gone "$SD_PID" 3 || kill -KILL "$SD_PID" 2>/dev/null
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-120}
(
	sleep "$SCRIPT_TIMEOUT" &
	echo $! >"$T/watchdog.sleep"
	wait $! && kill -USR1 $$
) </dev/null >/dev/null 2>&1 &
WATCHDOG=$!
sleep 0.05
WATCHDOG_SLEEP=$(cat "$T/watchdog.sleep" 2>/dev/null || true)
trap 'not_ok "selftest exceeded its ${SCRIPT_TIMEOUT}s limit"; finish' USR1

# ------------------------------------------------------------------ build

SD_SRC="main http params webapi fail slack socketmode envelope control control_read events record"
PKG="$(pkg-config --cflags --libs libwebsockets libcjson libcrypto 2>/dev/null)"
WARN="-Wall -Wextra -Wformat=2 -Wshadow -Werror"
if [ "${SD_ASAN:-0}" = 1 ]; then
	BIN=${SD_BIN_DIR:-build/slackdouble-asan}
	SAN="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
else
	BIN=${SD_BIN_DIR:-build/slackdouble}
	SAN="-O2 -g"
fi
SD=$BIN/slackdouble
WSC=$BIN/wsclient
if [ "${SD_BUILD:-0}" = 1 ] || [ ! -x "$SD" ] || [ ! -x "$WSC" ]; then
	mkdir -p "$BIN"
	srcs=
	for f in $SD_SRC; do srcs="$srcs tests/doubles/slack/$f.c"; done
	# shellcheck disable=SC2086
	if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE $SAN $WARN -Ibot -o "$SD" $srcs bot/util.c bot/log.c \
		$PKG -pthread >"$T/build.log" 2>&1 ||
		! ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g $WARN -o "$WSC" tests/doubles/slack/wsclient.c \
			$PKG >>"$T/build.log" 2>&1; then
		not_ok "slackdouble and wsclient build" "$(head -c 1500 "$T/build.log")"
		finish
	fi
fi
ok "slackdouble and wsclient are built ($BIN)"

# ------------------------------------------------------------------ helpers

CODE=
BODY=
HDRS=
# api METHOD [curl args...]: POST /api/METHOD with the bot token (AUTH overrides
# the whole header; AUTH= sends none). Sets CODE, BODY, HDRS.
api() {
	local m=$1
	shift
	local auth=${AUTH-Authorization: Bearer xoxb-test}
	local -a args=(-sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' --max-time "${CURL_TIMEOUT:-5}")
	[ -n "$auth" ] && args+=(-H "$auth")
	CODE=$(curl "${args[@]}" "$@" "$BASE/api/$m" 2>"$T/curl.err") || true
	[ -n "$CODE" ] || CODE=000
	BODY=$(cat "$T/body" 2>/dev/null || true)
	HDRS=$(tr -d '\r' <"$T/hdrs" 2>/dev/null || true)
	rm -f "$T/body" "$T/hdrs"
}
# json_post METHOD JSON: chat.* style JSON call
json_post() { api "$1" -X POST -H 'Content-Type: application/json; charset=utf-8' --data-binary "$2"; }
# form_post METHOD FORM
form_post() { api "$1" -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data "$2"; }
# ctl ROUTE [JSON]: POST /_control/ROUTE; ctl_get ROUTE[?query]: GET. Set CODE, BODY.
ctl() {
	CODE=$(curl -sS -o "$T/body" -w '%{http_code}' --max-time 5 -X POST \
		-H 'Content-Type: application/json' --data-binary "${2:-{\}}" "$BASE/_control/$1" 2>"$T/curl.err") || true
	BODY=$(cat "$T/body" 2>/dev/null || true)
}
ctl_get() {
	CODE=$(curl -sS -o "$T/body" -w '%{http_code}' --max-time 5 "$BASE/_control/$1" 2>"$T/curl.err") || true
	BODY=$(cat "$T/body" 2>/dev/null || true)
}

# jq-free JSON queries with sqlite3's JSON1 (as tests/integration/lib.sh does).
# jget JSON PATH: json_extract; jsql JSON SQL: SQL in which @DOC stands for the document
jget() {
	printf '%s' "$1" >"$T/j.json"
	sqlite3 -batch -noheader :memory: \
		"SELECT json_extract(CAST(readfile('$T/j.json') AS TEXT), '$2');" 2>/dev/null
}
jsql() {
	# the replacement goes through a variable: bash 5.2 removes quotes in a literal one
	local doc="CAST(readfile('$T/j.json') AS TEXT)"
	printf '%s' "$1" >"$T/j.json"
	sqlite3 -batch -noheader :memory: "${2//@DOC/$doc}" 2>/dev/null
}

# wait_until SECONDS CMD...: polls CMD every 50 ms (bounded); 0 when it succeeded
wait_until() {
	local n=$(($1 * 20))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}
lines_match() { [ "$(grep -Ec -- "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ]; }

# new_url: a fresh Socket Mode URL from apps.connections.open
new_url() {
	AUTH='Authorization: Bearer xapp-test' api apps.connections.open -X POST \
		-H 'Content-Type: application/x-www-form-urlencoded' --data ''
	jget "$BODY" '$.url'
}
# start_client NAME URL [wsclient args...]: wsclient in the background; stdout in $T/NAME.out
start_client() {
	local name=$1 url=$2
	shift 2
	"$WSC" --url "$url" --timeout 30 "$@" >"$T/$name.out" 2>"$T/$name.err" &
	eval "PID_$name=$!"
	CLIENT_PIDS="$CLIENT_PIDS $!"
}
# client_rc NAME SECONDS: waits for the client to end; prints its exit status (or "running")
client_rc() {
	local pid
	eval "pid=\$PID_$1"
	if wait_gone "$pid" "$2"; then
		wait "$pid" 2>/dev/null
		echo $?
	else
		echo running
	fi
}

# ------------------------------------------------------------------ start

if timeout 5 "$SD" --listen 0.0.0.0:0 >/dev/null 2>&1; then rc=0; else rc=$?; fi
check "refuses a non-loopback --listen (exit 2)" 2 "$rc"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
"$SD" --listen 127.0.0.1:0 --ready-file "$T/port" --log "$T/log.jsonl" --ack-timeout-ms 400 \
	--ping-ms 300 --max-retries 3 >"$T/sd.out" 2>"$T/sd.err" </dev/null &
SD_PID=$!
if ! wait_until 10 test -s "$T/port"; then
	not_ok "the double writes its port to --ready-file" "$(tail -n 5 "$T/sd.err")"
	finish
fi
PORT=$(cat "$T/port")
BASE=http://127.0.0.1:$PORT
check_match "the ready file holds the port" '^[0-9]+$' "$PORT"
if command -v ss >/dev/null; then
	check_match "it listens on 127.0.0.1 only" "^127\.0\.0\.1:$PORT\$" \
		"$(ss -Hltn "sport = :$PORT" | awk '{print $4}')"
fi

# ------------------------------------------------------------------ Web API basics

api auth.test -X POST
check "auth.test with the bot token: ok, user_id UBOT, bot_id BBOT" "200 1 UBOT BBOT" \
	"$CODE $(jget "$BODY" '$.ok') $(jget "$BODY" '$.user_id') $(jget "$BODY" '$.bot_id')"
AUTH= api auth.test -X POST
check "no token: HTTP 200, ok:false not_authed" "200 0 not_authed" \
	"$CODE $(jget "$BODY" '$.ok') $(jget "$BODY" '$.error')"
AUTH='Authorization: Bearer xoxb-wrong' api auth.test -X POST
check "wrong token: ok:false invalid_auth" "200 invalid_auth" "$CODE $(jget "$BODY" '$.error')"
api no.such.method -X POST
check "unknown method: unknown_method" "unknown_method" "$(jget "$BODY" '$.error')"
form_post apps.connections.open ''
check "apps.connections.open with the bot token: not_allowed_token_type" "not_allowed_token_type" \
	"$(jget "$BODY" '$.error')"
URL1=$(new_url)
check_match "apps.connections.open with the app token gives a ws:// URL with a ticket" \
	"^ws://127\.0\.0\.1:$PORT/link/\?ticket=[0-9a-f-]{36}" "$URL1"

# ------------------------------------------------------------------ Socket Mode

start_client A "$URL1" --exit-on-disconnect
if wait_until 5 lines_match "$T/A.out" '"type":"hello"'; then
	HELLO=$(grep -m1 '"type":"hello"' "$T/A.out")
	check "hello arrives first, with num_connections 1 and approximate_connection_time" \
		"1 1 3600" "$(grep -c . "$T/A.out") $(jget "$HELLO" '$.num_connections') $(jget "$HELLO" '$.debug_info.approximate_connection_time')"
else
	not_ok "hello arrives" "$(cat "$T/A.err")"
fi

ctl event/message '{"channel":"C1","user":"U1","text":"api is down"}'
ENV1=$(jget "$BODY" '$.envelope_id')
EV1=$(jget "$BODY" '$.event_id')
check_match "POST /_control/event/message returns envelope_id and event_id" "^[0-9a-f-]{36} Ev" "$ENV1 $EV1"
if wait_until 5 lines_match "$T/A.out" "$ENV1"; then
	F=$(grep -m1 "$ENV1" "$T/A.out")
	check "the injected message arrives as an events_api event_callback" \
		"events_api event_callback message api is down 0 $EV1" \
		"$(jget "$F" '$.type') $(jget "$F" '$.payload.type') $(jget "$F" '$.payload.event.type') $(jget "$F" '$.payload.event.text') $(jget "$F" '$.retry_attempt') $(jget "$F" '$.payload.event_id')"
else
	not_ok "the injected message arrives" "$(cat "$T/A.out")"
fi
acked() {
	ctl_get envelopes
	[ "$(jsql "$BODY" "SELECT json_extract(value,'\$.acked') FROM json_each(@DOC) WHERE json_extract(value,'\$.envelope_id')='$1';")" = 1 ]
}
if wait_until 5 acked "$ENV1"; then ok "its ack is recorded (GET /_control/envelopes: acked)"; else
	not_ok "its ack is recorded" "$BODY"; fi
ctl_get "log?kind=ws_in"
check "the log has the ack frame as ws_in with ack:true" "1" \
	"$(jsql "$BODY" "SELECT count(*) FROM json_each(@DOC) WHERE json_extract(value,'\$.envelope_id')='$ENV1' AND json_extract(value,'\$.ack')=1;")"

# a used ticket
"$WSC" --url "$URL1" --timeout 5 >"$T/reuse.out" 2>"$T/reuse.err"
check "a used ticket is refused (wsclient cannot connect)" 2 "$?"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
	-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "${URL1/ws:/http:}")
check "the refusal is HTTP 401" 401 "$CODE"
"$WSC" --url "ws://127.0.0.1:$PORT/link/?ticket=00000000-0000-4000-8000-000000000000" --timeout 5 \
	>/dev/null 2>&1
check "an unknown ticket is refused" 2 "$?"

# disconnect
ctl disconnect '{"reason":"refresh_requested"}'
check "POST /_control/disconnect answers ok" "200 1" "$CODE $(jget "$BODY" '$.ok')"
if wait_until 5 lines_match "$T/A.out" '"type":"disconnect","reason":"refresh_requested"'; then
	ok "disconnect refresh_requested arrives"
else
	not_ok "disconnect refresh_requested arrives" "$(tail -n 2 "$T/A.out")"
fi
check "the client closes after the disconnect (exit 0)" 0 "$(client_rc A 5)"

# redelivery of an un-acked envelope
start_client B "$(new_url)" --no-ack
wait_until 5 lines_match "$T/B.out" '"type":"hello"' || not_ok "client B gets hello" "$(cat "$T/B.err")"
ctl event/message '{"channel":"C1","user":"U2","text":"nobody acks this"}'
ENV2=$(jget "$BODY" '$.envelope_id')
EV2=$(jget "$BODY" '$.event_id')
if wait_until 5 lines_match "$T/B.out" "$ENV2" 2; then
	F=$(grep "$ENV2" "$T/B.out" | sed -n 2p)
	check "an un-acked envelope is redelivered: retry_attempt 1, reason timeout, same event_id" \
		"1 timeout $EV2" "$(jget "$F" '$.retry_attempt') $(jget "$F" '$.retry_reason') $(jget "$F" '$.payload.event_id')"
else
	not_ok "an un-acked envelope is redelivered" "$(cat "$T/B.out")"
fi
expired() {
	ctl_get envelopes
	[ "$(jsql "$BODY" "SELECT json_extract(value,'\$.expired') || ' ' || json_extract(value,'\$.delivery_count') FROM json_each(@DOC) WHERE json_extract(value,'\$.envelope_id')='$1';")" = "1 4" ]
}
if wait_until 5 expired "$ENV2"; then ok "after 3 redeliveries it stops (delivery_count 4, expired)"; else
	not_ok "redelivery stops after 3 retries" "$BODY"; fi
check "it was sent 4 times in all, never more" 4 "$(grep -c "$ENV2" "$T/B.out")"
ctl redeliver "{\"envelope_id\":\"$ENV2\"}"
check "POST /_control/redeliver sends it again with retry_attempt + 1" "200 4" \
	"$CODE $(jget "$BODY" '$.retry_attempt')"

# pings and pongs (the double pings every 300 ms here)
pongs() { ctl_get "log?kind=pong"; [ "$(jsql "$BODY" 'SELECT count(*) FROM json_each(@DOC);')" -ge 2 ]; }
if wait_until 5 pongs; then ok "server pings are answered and the pongs recorded"; else not_ok "pongs recorded" "$BODY"; fi

# malformed frames for robustness tests
ctl raw '{"text":"{not json"}'
if wait_until 5 lines_match "$T/B.out" '^\{not json$'; then ok "POST /_control/raw sends an arbitrary text frame"; else
	not_ok "raw frame arrives" "$(tail -n 2 "$T/B.out")"; fi
ctl raw '{"text":"{\"type\":\"fragmented\",\"pad\":\"0123456789012345678901234567890123456789\"}","fragment_bytes":10}'
if wait_until 5 lines_match "$T/B.out" '"type":"fragmented"'; then ok "a frame sent in 10-byte fragments arrives whole"; else
	not_ok "fragmented frame arrives" "$(tail -n 2 "$T/B.out")"; fi

# drop: TCP closed with no close frame
ctl drop
check "POST /_control/drop answers ok" "200" "$CODE"
check "after a drop the client sees the connection end (exit 4)" 4 "$(client_rc B 5)"
if grep -q 'peer close' "$T/B.err"; then not_ok "a drop sends no close frame" "$(cat "$T/B.err")"; else
	ok "a drop sends no close frame"; fi
ctl_get "log?kind=ws_close"
check_match "the log records the drop as ws_close how=server_drop" '"how":"server_drop"' "$BODY"

# fragmented acks from the client are reassembled
start_client C "$(new_url)" --ack-fragment-bytes 7
wait_until 5 lines_match "$T/C.out" '"type":"hello"' || not_ok "client C gets hello" "$(cat "$T/C.err")"
ctl event/app_mention '{"channel":"C1","user":"U1","text":"<@UBOT> status?"}'
ENV3=$(jget "$BODY" '$.envelope_id')
if wait_until 5 acked "$ENV3"; then ok "an ack sent in 7-byte fragments is reassembled and recorded"; else
	not_ok "fragmented ack recorded" "$BODY" "$(cat "$T/C.out")"; fi

# the connection limit
ctl config '{"max_connections":1}'
start_client D "$(new_url)" --exit-on-disconnect
if wait_until 5 lines_match "$T/D.out" '"reason":"too_many_websockets"'; then
	check "a connection past the limit gets disconnect too_many_websockets (and no hello)" 0 \
		"$(grep -c '"type":"hello"' "$T/D.out")"
else
	not_ok "too_many_websockets arrives" "$(cat "$T/D.out" "$T/D.err")"
fi
client_rc D 5 >/dev/null
ctl config '{"max_connections":10}'

# interactive and slash envelopes
ctl action/block_actions '{"user":"U1","channel":"C1","message_ts":"1712345678.000100","action_id":"ack_incident","value":"inc-42"}'
ENV4=$(jget "$BODY" '$.envelope_id')
if wait_until 5 lines_match "$T/C.out" "$ENV4"; then
	F=$(grep -m1 "$ENV4" "$T/C.out")
	check "block_actions arrives as an interactive envelope" "interactive block_actions ack_incident inc-42" \
		"$(jget "$F" '$.type') $(jget "$F" '$.payload.type') $(jget "$F" '$.payload.actions[0].action_id') $(jget "$F" '$.payload.actions[0].value')"
else
	not_ok "block_actions arrives" "$(tail -n 2 "$T/C.out")"
fi
ctl command/slash '{"command":"/nightshift","text":"status","user_id":"U1","channel_id":"C1"}'
ENV5=$(jget "$BODY" '$.envelope_id')
if wait_until 5 lines_match "$T/C.out" "$ENV5"; then
	F=$(grep -m1 "$ENV5" "$T/C.out")
	check "a slash command arrives as slash_commands with accepts_response_payload" "slash_commands 1 /nightshift" \
		"$(jget "$F" '$.type') $(jget "$F" '$.accepts_response_payload') $(jget "$F" '$.payload.command')"
else
	not_ok "slash command arrives" "$(tail -n 2 "$T/C.out")"
fi

# ------------------------------------------------------------------ Web API methods

json_post chat.postMessage '{"channel":"C1","text":"CPU high on api-1","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*CPU high* on api-1"}}]}'
TS1=$(jget "$BODY" '$.ts')
check_match "chat.postMessage (JSON, blocks) returns ok, channel and a Slack-style ts" \
	'^200 1 C1 [0-9]{10}\.[0-9]{6} BBOT$' "$CODE $(jget "$BODY" '$.ok') $(jget "$BODY" '$.channel') $TS1 $(jget "$BODY" '$.message.bot_id')"
json_post chat.postMessage "{\"channel\":\"C1\",\"text\":\"looking into it\",\"thread_ts\":\"$TS1\"}"
TS2=$(jget "$BODY" '$.ts')
check "a thread reply echoes thread_ts in message" "1 $TS1" "$(jget "$BODY" '$.ok') $(jget "$BODY" '$.message.thread_ts')"
check "ts values strictly increase" 1 "$(awk -v a="$TS1" -v b="$TS2" 'BEGIN{split(a,x,".");split(b,y,".");print (y[1]>x[1]||(y[1]==x[1]&&y[2]>x[2]))?1:0}')"
json_post chat.postMessage '{"channel":"C1","text":"orphan reply","thread_ts":"1000000000.000100"}'
check "a thread_ts with no parent is accepted, as Slack does" 1 "$(jget "$BODY" '$.ok')"
ctl_get "log?kind=api&method=chat.postMessage"
check "the log records chat.postMessage bodies with thread_ts and blocks" "$TS1 section application/json; charset=utf-8" \
	"$(jget "$BODY" '$[1].body.thread_ts') $(jget "$BODY" '$[0].body.blocks[0].type') $(jget "$BODY" '$[0].headers.content_type')"
ctl_get "messages?channel=C1"
check "GET /_control/messages shows the thread: parent with its reply" "1 looking into it" \
	"$(jsql "$BODY" "SELECT json_extract(value,'\$.reply_count') FROM json_each(@DOC,'\$.messages') WHERE json_extract(value,'\$.ts')='$TS1';") $(jsql "$BODY" "SELECT json_extract(value,'\$.replies[0].text') FROM json_each(@DOC,'\$.messages') WHERE json_extract(value,'\$.ts')='$TS1';")"
json_post chat.postMessage '{"channel":"C999","text":"x"}'
check "an unknown channel: channel_not_found" "channel_not_found" "$(jget "$BODY" '$.error')"
json_post chat.postMessage '{"channel":"C1"}'
check "no text and no blocks: no_text" "no_text" "$(jget "$BODY" '$.error')"
form_post chat.postMessage "channel=C2&text=hello+form&thread_ts=$TS1"
check "chat.postMessage also takes a form body" "1 hello form" "$(jget "$BODY" '$.ok') $(jget "$BODY" '$.message.text')"

json_post chat.update "{\"channel\":\"C1\",\"ts\":\"$TS1\",\"text\":\"CPU high on api-1 (resolved)\",\"blocks\":[]}"
check "chat.update of an existing message" "1 CPU high on api-1 (resolved)" "$(jget "$BODY" '$.ok') $(jget "$BODY" '$.text')"
json_post chat.update '{"channel":"C1","ts":"1.000001","text":"x"}'
check "chat.update of a missing ts: message_not_found" "message_not_found" "$(jget "$BODY" '$.error')"

form_post reactions.add "channel=C1&timestamp=$TS1&name=eyes"
check "reactions.add (form) is ok" "1" "$(jget "$BODY" '$.ok')"
ctl_get "log?method=reactions.add"
check "the form body is parsed into the log as JSON" "eyes C1 $TS1 application/x-www-form-urlencoded" \
	"$(jget "$BODY" '$[0].body.name') $(jget "$BODY" '$[0].body.channel') $(jget "$BODY" '$[0].body.timestamp') $(jget "$BODY" '$[0].headers.content_type')"
form_post reactions.add "channel=C1&timestamp=$TS1&name=eyes"
check "the same reaction again: already_reacted" "already_reacted" "$(jget "$BODY" '$.error')"

form_post conversations.open "users=U1"
DM=$(jget "$BODY" '$.channel.id')
check_match "conversations.open (form) returns a D… channel" '^D' "$DM"
form_post conversations.open "users=U1"
check "opening it again gives the same id, already_open" "$DM 1" "$(jget "$BODY" '$.channel.id') $(jget "$BODY" '$.already_open')"
json_post chat.postMessage "{\"channel\":\"$DM\",\"text\":\"dm\"}"
check "the DM can be posted to" "1" "$(jget "$BODY" '$.ok')"

api "users.info?user=U1"
check "users.info (GET with a query)" "200 U1 0" "$CODE $(jget "$BODY" '$.user.id') $(jget "$BODY" '$.user.is_bot')"

# ------------------------------------------------------------------ failure scripting

ctl fail '{"method":"chat.postMessage","status":429,"retry_after":2,"times":1}'
check "POST /_control/fail accepts a rule" "200" "$CODE"
json_post chat.postMessage '{"channel":"C1","text":"rate limited"}'
check "a scripted 429 carries Retry-After: 2 and error ratelimited" "429 2 ratelimited" \
	"$CODE $(printf '%s\n' "$HDRS" | sed -n 's/^[Rr]etry-[Aa]fter: *//p') $(jget "$BODY" '$.error')"
json_post chat.postMessage '{"channel":"C1","text":"after the limit"}'
check "the rule is used up after times:1" "200 1" "$CODE $(jget "$BODY" '$.ok')"

ctl fail '{"method":"apps.connections.open","ok_false":"invalid_auth"}'
AUTH='Authorization: Bearer xapp-test' api apps.connections.open -X POST
check "scripted ok_false on apps.connections.open" "200 invalid_auth" "$CODE $(jget "$BODY" '$.error')"
ctl fail '{"method":"chat.update","status":500}'
json_post chat.update "{\"channel\":\"C1\",\"ts\":\"$TS1\",\"text\":\"x\"}"
check "scripted HTTP 500" 500 "$CODE"
ctl fail '{"method":"auth.test","delay_ms":700}'
START=$(date +%s%N)
api auth.test -X POST
MS=$((($(date +%s%N) - START) / 1000000))
if [ "$CODE" = 200 ] && [ "$MS" -ge 650 ]; then ok "scripted delay_ms 700 (answered after ${MS} ms)"; else
	not_ok "scripted delay" "code $CODE after $MS ms"; fi
ctl fail '{"method":"auth.test","drop":true}'
api auth.test -X POST
check "scripted drop: the connection closes with no answer" 000 "$CODE"
ctl fail '{"method":"socket_mode.connect","status":503}'
"$WSC" --url "$(new_url)" --timeout 5 >/dev/null 2>&1
check "scripted failure of the WebSocket upgrade" 2 "$?"

ctl config '{"pacing_ms":1000}'
json_post chat.postMessage '{"channel":"C3","text":"one"}'
json_post chat.postMessage '{"channel":"C3","text":"two"}'
check "pacing: a second post within 1 s gets 429 with Retry-After 1" "429 1" \
	"$CODE $(printf '%s\n' "$HDRS" | sed -n 's/^[Rr]etry-[Aa]fter: *//p')"
ctl config '{"pacing_ms":0}'

# ------------------------------------------------------------------ control odds and ends

ctl_get connections
check "GET /_control/connections lists the open connection" "1 open" \
	"$(jsql "$BODY" 'SELECT count(*) FROM json_each(@DOC);') $(jget "$BODY" '$[0].state')"
ctl_get nope
check "an unknown control route is 404" 404 "$CODE"
ctl event/message '{"channel":"C1","text":"x","connection":99}'
check "an envelope for a connection that is not open is 404" 404 "$CODE"
ctl reset
ctl_get log
# (a pong of the 300 ms pings may land between the reset and the read)
check "POST /_control/reset empties the log" "0" \
	"$(jsql "$BODY" "SELECT count(*) FROM json_each(@DOC) WHERE json_extract(value,'\$.kind') NOT IN ('ping','pong');")"
test -s "$T/log.jsonl" && check "--log wrote JSONL with one record per line" 0 \
	"$(sqlite3 -batch -noheader :memory: "SELECT count(*) FROM (SELECT 1);" >/dev/null; grep -vc '^{"seq":' "$T/log.jsonl")"

# ------------------------------------------------------------------ stop

kill -TERM "$SD_PID"
if wait_gone "$SD_PID" 5; then
	wait "$SD_PID"
	check "SIGTERM stops the double cleanly (exit 0)" 0 "$?"
else
	not_ok "SIGTERM stops the double within 5 s"
fi
SD_PID=
check "wsclient C saw the connection end" 4 "$(client_rc C 5)"
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$T/sd.err"; then
	not_ok "no sanitizer reports" "$(grep -E -m3 'Sanitizer|runtime error' "$T/sd.err")"
elif [ "${SD_ASAN:-0}" = 1 ]; then
	ok "no sanitizer reports and no leaks at exit (ASan/UBSan/LSan)"
fi
finish
