# This file contains the helpers the Slack integration tests source after
# lib.sh: starting the Slack double (build/slackdouble/slackdouble) on a free
# loopback port, a config with channels.slack pointing at it, the double's
# control API, and queries over what it recorded. (Named .bash so that
# tests/run.sh does not run it as a test.)

SD_BIN=${SLACKDOUBLE:-build/slackdouble/slackdouble}
case $SD_BIN in /*) ;; *) SD_BIN=$PWD/$SD_BIN ;; esac
SD_PID=
SD_BASE=
export NS_SLACK_APP=xapp-1-test NS_SLACK_BOT=xoxb-test

# start_double [ARGS...] : starts the double (extra args after the defaults); sets SD_BASE
start_double() {
	local n=100
	[ -x "$SD_BIN" ] || bail "slackdouble is built at $SD_BIN" "build it with: make test-bins"
	rm -f "$T/sd.port"
	"$SD_BIN" --listen 127.0.0.1:0 --ready-file "$T/sd.port" --log "$T/sd.jsonl" \
		--app-token "$NS_SLACK_APP" --bot-token "$NS_SLACK_BOT" --channels C1,C2 \
		--ping-ms 2000 "$@" >>"$T/sd.out" 2>>"$T/sd.err" </dev/null &
	SD_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $SD_PID"
	while [ $n -gt 0 ] && [ ! -s "$T/sd.port" ]; do
		sleep 0.05
		n=$((n - 1))
	done
	[ -s "$T/sd.port" ] || bail "the Slack double starts" "$(tail -n 5 "$T/sd.err")"
	SD_BASE=http://127.0.0.1:$(cat "$T/sd.port")
}

# slack_yaml [EXTRA_KEYS] : the channels.slack section (indented under channels:)
slack_yaml() {
	cat <<EOF2
  slack:
    api_url: $SD_BASE/api/
    app_token_env: NS_SLACK_APP
    bot_token_env: NS_SLACK_BOT
    channel: C1
    allowed_users: [U1ADMIN]
    post_interval_ms: ${SLACK_INTERVAL_MS:-0}
${1:-}
playbooks:
  dir: $PWD/playbooks
EOF2
}

# setup_slack_bot [EXTRA_SLACK_KEYS] : port, double and config (does not start the bot)
setup_slack_bot() {
	PORT=$(free_port) || bail "found a free loopback port"
	BASE=http://127.0.0.1:$PORT
	[ -n "$SD_BASE" ] || start_double
	write_config "$CONF" "$(slack_yaml "${1:-}")"
}

# sd_ctl ROUTE [JSON] : POST /_control/ROUTE on the double; sets CODE, BODY
sd_ctl() {
	CODE=$(curl -sS -o "$T/sd.body" -w '%{http_code}' --max-time 5 -X POST \
		-H 'Content-Type: application/json' --data-binary "${2:-{\}}" "$SD_BASE/_control/$1" 2>"$T/curl.err") || true
	BODY=$(cat "$T/sd.body" 2>/dev/null || true)
}
# sd_get ROUTE : GET /_control/ROUTE; sets CODE, BODY
sd_get() {
	CODE=$(curl -sS -o "$T/sd.body" -w '%{http_code}' --max-time 5 "$SD_BASE/_control/$1" 2>"$T/curl.err") || true
	BODY=$(cat "$T/sd.body" 2>/dev/null || true)
}

# jq_sql JSON SQL : runs SQL where @DOC is the JSON document (sqlite3 JSON1)
jq_sql() {
	local doc="CAST(readfile('$T/jq.json') AS TEXT)"
	printf '%s' "$1" >"$T/jq.json"
	sqlite3 -batch -noheader -separator '|' :memory: "${2//@DOC/$doc}" 2>/dev/null
}

# sd_posts [SQL_WHERE] : chat.postMessage calls the double answered ok, as lines
# "seq|thread_ts|text" in order (WHERE over columns seq, ok, ts, thread_ts, text, channel, status)
sd_posts() {
	sd_get "log?kind=api&method=chat.postMessage"
	jq_sql "$BODY" "SELECT seq, ifnull(thread_ts,''), text FROM (SELECT
		json_extract(value,'\$.seq') AS seq,
		json_extract(value,'\$.response.body.ok') AS ok,
		json_extract(value,'\$.response.status') AS status,
		json_extract(value,'\$.response.body.ts') AS ts,
		json_extract(value,'\$.body.thread_ts') AS thread_ts,
		json_extract(value,'\$.body.channel') AS channel,
		json_extract(value,'\$.body.text') AS text
		FROM json_each(@DOC)) WHERE ${1:-ok = 1} ORDER BY seq"
}

# sd_count KIND [METHOD] : records of KIND (and METHOD) in the double's log
sd_count() {
	if [ -n "${2:-}" ]; then sd_get "log?kind=$1&method=$2"; else sd_get "log?kind=$1"; fi
	jq_sql "$BODY" "SELECT count(*) FROM json_each(@DOC)"
}

# wait_for SECONDS CMD... : polls CMD every 100 ms until it succeeds (bounded)
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# ready_sockets : how many Socket Mode connections the double sees open
ready_sockets() {
	sd_get connections
	jq_sql "$BODY" "SELECT count(*) FROM json_each(@DOC) WHERE json_extract(value,'\$.state')='open'"
}
# slack_health : the slack entry of /healthz
slack_health() {
	req GET /healthz
	jget "$BODY" '$.channels.slack'
}
# bot_ready : the bot's Socket Mode connection said hello (healthz slack "ok")
bot_ready() { [ "$(slack_health)" = ok ]; }

# db SQL : a query over the bot's database
db() { sqlite3 -batch -noheader -separator '|' "$DB" "$1" 2>/dev/null; }

# start_bot_any [SECONDS] : like start_bot, but any /healthz answer will do
# (for tests where Slack is meant to end up degraded)
start_bot_any() {
	local n=$((${1:-10} * 10))
	"$NS" run -c "$CONF" >>"$T/console.log" 2>>"$T/bot.log" </dev/null &
	BOT_PID=$!
	while [ $n -gt 0 ]; do
		alive "$BOT_PID" || { BOT_PID=; return 1; }
		[ "$(http_status "$BASE/healthz")" != 000 ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# thread_message PREFIX I : a human reply in the thread $ROOT_TS
thread_message() {
	sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"$1-$2\",\"thread_ts\":\"$ROOT_TS\"}"
}

# root_ts NAME : the ts of the first message the bot posted about alert NAME ('' if none)
root_ts() {
	sd_get "log?kind=api&method=chat.postMessage"
	jq_sql "$BODY" "SELECT json_extract(value,'\$.response.body.ts') FROM json_each(@DOC)
		WHERE json_extract(value,'\$.body.text') LIKE '%$1%' AND json_extract(value,'\$.response.body.ok')=1
		AND json_extract(value,'\$.body.thread_ts') IS NULL ORDER BY json_extract(value,'\$.seq') LIMIT 1"
}

# post_attempts NAME : "at_ms|status|ok" of every chat.postMessage about alert NAME, in order
post_attempts() {
	sd_get "log?kind=api&method=chat.postMessage"
	jq_sql "$BODY" "SELECT json_extract(value,'\$.at_ms') || '|' || json_extract(value,'\$.response.status') || '|' ||
		ifnull(json_extract(value,'\$.response.body.ok'),'') FROM json_each(@DOC)
		WHERE json_extract(value,'\$.body.text') LIKE '%$1%' ORDER BY json_extract(value,'\$.seq')"
}

# ---- the test-only escalation clock (testing.clock_file) and escalations

# clock_setup : CLOCK (offset 0) and the environment variable that allows it
clock_setup() {
	export NIGHTSHIFT_ALLOW_TEST_CLOCK=1
	CLOCK=$T/clock
	echo 0 >"$CLOCK"
}
# clock_at MINUTES : the escalation clock runs MINUTES (+ 1 s) ahead of the wall clock
clock_at() { echo $(($1 * 60000 + 1000)) >"$CLOCK.tmp" && mv "$CLOCK.tmp" "$CLOCK"; }

# esc_setup [TOP_LEVEL_YAML] : setup_clock_bot with U1ADMIN as escalation user
# (plus TOP_LEVEL_YAML); the caller edits $CONF and starts the bot
esc_setup() { setup_clock_bot "    escalation_users: [U1ADMIN]" "${1:-}"; }

# escalate NAME [NAMESPACE] [SEVERITY] [LABELS] : posts an alert (prod-api, warning;
# labels namespace and pod NAME-1, or LABELS), waits for its escalation and for its
# report in its thread; sets INC and ROOT
escalate() {
	local labels='"namespace":"'"${2:-prod-api}"'","pod":"'"$1"'-1"'
	am_payload "$1" firing "${4:-$labels}" |
		sed "s/\"severity\":\"warning\"/\"severity\":\"${3:-warning}\"/" >"$T/am_$1.json"
	post /alerts/alertmanager "$T/am_$1.json"
	check_code "alert $1 is accepted" 202
	INC=$(jget "$BODY" '$.incidents[0]')
	esc_row() { [ "$(db "SELECT state FROM escalations WHERE incident_id=$INC")" = active ]; }
	wait_for 15 esc_row || not_ok "incident $INC ($1) is escalated" "$(db "SELECT id, state FROM incidents")"
	report() { ROOT=$(root_ts "$1") && [ -n "$ROOT" ] && [ "$(sd_posts "ok = 1 AND thread_ts = '$ROOT' AND text LIKE '%Real problem%'" | wc -l)" -ge 1 ]; }
	wait_for 10 report "$1" || not_ok "the report of $1 is posted in its thread" "$(sd_posts)"
}

# setup_clock_bot [EXTRA_SLACK_KEYS] [TOP_LEVEL_YAML] : the test clock, the
# double, a port and a config with the test clock (plus the extra keys of
# channels.slack and TOP_LEVEL_YAML); does not start the bot
setup_clock_bot() {
	clock_setup
	start_double --echo-bot-messages
	PORT=$(free_port) || bail "found a free loopback port"
	BASE=http://127.0.0.1:$PORT
	write_config "$CONF" "$(slack_yaml "${1:-}")
testing:
  clock_file: $CLOCK${2:+
$2}"
}

# nag_block N : the first block's text of the Nth nag
nag_block() {
	sd_get "log?kind=api&method=chat.postMessage"
	jq_sql "$BODY" "SELECT json_extract(value,'\$.body.blocks[0].text.text') FROM json_each(@DOC)
		WHERE json_extract(value,'\$.body.text') LIKE '%nag #$1,%' AND json_extract(value,'\$.body.channel')='C1'"
}
