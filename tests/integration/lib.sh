# This file contains the helpers every integration test sources: a temp dir
# with cleanup, free loopback ports, a config writer, starting and stopping
# the real binary, HTTP helpers (curl and raw /dev/tcp), JSON queries without
# jq (sqlite3's JSON1 is a declared dependency, jq is not), and the
# ok / not ok counting that ends with "N passed, N failed" on the last line.
#
# Usage, from the repo root:   . tests/integration/lib.sh
# Environment: NIGHTSHIFT (binary, default ./nightshift), KEEP_TMP=1 keeps the
# temp dir, SCRIPT_TIMEOUT (seconds, default 110) bounds the whole script.
# Every wait here is bounded; nothing listens on anything but 127.0.0.1.

case ${0##*/} in lib.sh)
	echo "lib.sh holds helpers sourced by the integration tests; run those instead"
	echo "0 passed, 0 failed"
	exit 0
	;;
esac
if [ -z "${BASH_VERSION:-}" ]; then
	echo "lib.sh needs bash" >&2
	exit 2
fi

set -u
export LC_ALL=C

NS=${NIGHTSHIFT:-./nightshift}
case $NS in /*) ;; *) NS=$PWD/${NS#./} ;; esac
TOKEN=${NS_TEST_TOKEN:-it-secret-$RANDOM$RANDOM}
export NS_TOKEN=$TOKEN
PASS=0
FAIL=0
BOT_PID=
AM_PID=
EXTRA_PIDS=
PORT=
BASE=
CODE=
BODY=
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-it.XXXXXX") || { echo "mktemp failed" >&2; exit 1; }
CONF=$T/ns.yml
DB=$T/ns.db
SCRIPT_NAME=$(basename "$0" .sh)

# ---------------------------------------------------------------- reporting

# diag LINE... : "# "-prefixed diagnostics; bytes outside printable ASCII become '?'
# so that logs stay plain text (no NULs, no UTF-8 cut in half by head -c)
diag() { printf '%s\n' "$@" | LC_ALL=C tr -c '\11\12\40-\176' '?' | sed 's/^/# /'; }

ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}

# not_ok DESC [diagnostic lines...]
not_ok() {
	local d=$1
	shift
	FAIL=$((FAIL + 1))
	echo "not ok - $d"
	[ $# -gt 0 ] && diag "$@"
	return 0
}

# check DESC EXPECTED ACTUAL [diagnostic lines...]
check() {
	local d=$1 e=$2 a=$3
	shift 3
	if [ "$e" = "$a" ]; then ok "$d"; else not_ok "$d" "expected: $e" "got:      $a" "$@"; fi
}

# check_match DESC ERE TEXT [diag...]
check_match() {
	local d=$1 re=$2 a=$3
	shift 3
	if printf '%s' "$a" | grep -Eq -- "$re"; then ok "$d"; else
		not_ok "$d" "expected to match: $re" "got: $(printf '%s' "$a" | head -c 600)" "$@"
	fi
}

# check_cmd DESC command... : ok when the command exits 0
check_cmd() {
	local d=$1
	shift
	if "$@" >"$T/check_cmd.out" 2>&1; then ok "$d"; else
		not_ok "$d" "command failed: $*" "$(head -c 600 "$T/check_cmd.out")"
	fi
}

# check_code DESC EXPECTED_CODE : uses CODE/BODY from the last request
check_code() {
	if [ "$CODE" = "$2" ]; then ok "$1"; else
		not_ok "$1" "expected HTTP $2, got $CODE" "body: $(printf '%s' "$BODY" | head -c 400)" \
			"$(tail -n 3 "$T/curl.err" 2>/dev/null)"
	fi
}

# check_lt DESC A B : ok when integer A < B
check_lt() {
	if [ "$2" -lt "$3" ] 2>/dev/null; then ok "$1"; else not_ok "$1" "expected $2 < $3"; fi
}

# check_ge DESC A B : ok when integer A >= B
check_ge() {
	if [ "$2" -ge "$3" ] 2>/dev/null; then ok "$1"; else not_ok "$1" "expected $2 >= $3"; fi
}

# bail DESC [diag...] : a fatal failure; reports and ends the script.
bail() {
	not_ok "$@"
	finish
}

finish() {
	trap - USR1
	# With NIGHTSHIFT=build/asan/nightshift, sanitizer reports land in bot.log.
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/bot.log" 2>/dev/null; then
		not_ok "no sanitizer reports in bot.log" \
			"$(grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/bot.log" | head -n 30)"
	fi
	if [ "$FAIL" -gt 0 ] && [ -s "$T/bot.log" ]; then
		diag "--- last lines of bot.log ($T/bot.log) ---"
		diag "$(tail -n 15 "$T/bot.log" | cut -c1-300)"
	fi
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------- processes

# alive PID : true while PID exists and is not a zombie
alive() {
	[ -n "${1:-}" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# sim_start ARGS... : simcluster ($SIM) on 127.0.0.1:${SPORT:-0} (0: a free port) with
# ARGS, recording mutations in $T/mutations.jsonl; waits (bounded) for its port and
# sets SIM_PID and SPORT
sim_start() {
	local n=100
	rm -f "$T/sim.port"
	"$SIM" --listen "127.0.0.1:${SPORT:-0}" --ready-file "$T/sim.port" \
		--mutations "$T/mutations.jsonl" "$@" </dev/null >>"$T/sim.out" 2>>"$T/sim.log" &
	SIM_PID=$!
	EXTRA_PIDS="$EXTRA_PIDS $SIM_PID"
	while [ $n -gt 0 ]; do
		if [ -s "$T/sim.port" ]; then
			SPORT=$(cat "$T/sim.port")
			return 0
		fi
		alive "$SIM_PID" || break
		sleep 0.1
		n=$((n - 1))
	done
	diag "simcluster did not write its port within 10 s" "$(tail -n 5 "$T/sim.log")"
	return 1
}

# wait_gone PID SECONDS : waits (bounded) until PID has exited; 0 if gone
wait_gone() {
	local pid=$1 n=$(($2 * 10))
	while [ $n -gt 0 ]; do
		alive "$pid" || return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# reap PID : exit status of a child that has already exited (never blocks long)
reap() {
	local rc=0
	if alive "$1"; then return 255; fi
	wait "$1" 2>/dev/null || rc=$?
	return $rc
}

# stop_pid PID [SIG] [SECONDS] : signal, wait bounded, then SIGKILL
stop_pid() {
	local pid=$1 sig=${2:-TERM} secs=${3:-5}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || true
	wait_gone "$pid" "$secs" || { kill -KILL "$pid" 2>/dev/null; wait_gone "$pid" 2; }
	wait "$pid" 2>/dev/null || true
}

# child_pids PID : the direct children of PID (e.g. a worker's curl)
child_pids() {
	awk -v p="$1" '$4 == p { print $1 }' /proc/[0-9]*/stat 2>/dev/null
}

cleanup() {
	local p
	trap - EXIT INT TERM USR1
	[ -n "${WATCHDOG_SLEEP:-}" ] && kill "$WATCHDOG_SLEEP" 2>/dev/null
	[ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
	for p in $EXTRA_PIDS; do
		disown "$p" 2>/dev/null # no "Killed" job messages after the summary line
		kill -KILL $(child_pids "$p") "$p" 2>/dev/null
	done
	[ -n "$BOT_PID" ] && stop_pid "$BOT_PID" TERM 3
	[ -n "$AM_PID" ] && stop_pid "$AM_PID" TERM 3
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A watchdog bounds the whole script; on expiry it reports and finishes.
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-110}
(
	sleep "$SCRIPT_TIMEOUT" &
	echo $! >"$T/watchdog.sleep"
	wait $! && kill -USR1 $$
) </dev/null >/dev/null 2>&1 &
WATCHDOG=$!
sleep 0.05
WATCHDOG_SLEEP=$(cat "$T/watchdog.sleep" 2>/dev/null || true)
trap 'not_ok "$SCRIPT_NAME exceeded its ${SCRIPT_TIMEOUT}s time limit"; finish' USR1

# ---------------------------------------------------------------- ports

PICKED_PORTS=" "
# free_port : prints a loopback TCP port nobody listens on (bounded tries)
free_port() {
	local p i
	for i in $(seq 1 300); do
		# Below the kernel's ephemeral range (32768-60999), where outgoing
		# connections of this very suite would otherwise take a picked port.
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		case $PICKED_PORTS in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			PICKED_PORTS="$PICKED_PORTS$p "
			echo "$p"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- config

# write_config [FILE] [EXTRA_YAML] : the minimal test config on $PORT and $DB
write_config() {
	local f=${1:-$CONF}
	cat >"$f" <<EOF
listen: 127.0.0.1:$PORT
storage:
  path: $DB
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
${2:-}
EOF
}

# setup_bot : picks a port and writes the default config (does not start it)
setup_bot() {
	PORT=$(free_port) || bail "found a free loopback port"
	BASE=http://127.0.0.1:$PORT
	write_config
}

# need_binary : the first assertion of every script
need_binary() {
	if [ ! -x "$NS" ]; then
		bail "nightshift binary exists at $NS" "build it with: make nightshift"
	fi
}

# ---------------------------------------------------------------- the bot

# http_status URL : prints the status code of a GET (000 when unreachable)
http_status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# start_bot [SECONDS] : starts `nightshift run` in the background and waits
# (bounded, default 10 s) for /healthz 200. stdout >> console.log, stderr >> bot.log.
start_bot() {
	local secs=${1:-10} n lines rc
	lines=$(cat "$T/bot.log" 2>/dev/null | wc -l)
	"$NS" run -c "$CONF" >>"$T/console.log" 2>>"$T/bot.log" </dev/null &
	BOT_PID=$!
	n=$((secs * 10))
	while [ $n -gt 0 ]; do
		if ! alive "$BOT_PID"; then
			wait "$BOT_PID" 2>/dev/null
			rc=$?
			# Another program took the picked port between the pick and the
			# bind: pick again, once, before anything else was told the port.
			if [ -z "${START_BOT_RETRIED:-}" ] && [ -n "$PORT" ] &&
				tail -n +"$((lines + 1))" "$T/bot.log" | grep -q 'event=listen_failed address=127.0.0.1:'"$PORT"'$' &&
				grep -q "^listen: 127.0.0.1:$PORT\$" "$CONF"; then
				START_BOT_RETRIED=1
				local old=$PORT
				PORT=$(free_port) || bail "found a free loopback port"
				BASE=http://127.0.0.1:$PORT
				sed -i "s/^listen: 127.0.0.1:$old\$/listen: 127.0.0.1:$PORT/" "$CONF"
				diag "port $old was taken; starting again on $PORT"
				start_bot "$secs"
				return $?
			fi
			diag "nightshift exited during start-up (status $rc)"
			diag "$(tail -n 20 "$T/bot.log")"
			BOT_PID=
			return 1
		fi
		[ "$(http_status "$BASE/healthz")" = 200 ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	diag "nightshift did not answer /healthz 200 within ${secs}s"
	diag "$(tail -n 20 "$T/bot.log")"
	return 1
}

# stop_bot [SIG] [SECONDS] : stops the bot; BOT_RC is its exit status
# (or 'killed' when it had to be SIGKILLed after SECONDS).
stop_bot() {
	local sig=${1:-TERM} secs=${2:-10}
	BOT_RC=
	[ -n "$BOT_PID" ] || return 0
	kill -"$sig" "$BOT_PID" 2>/dev/null
	if wait_gone "$BOT_PID" "$secs"; then
		wait "$BOT_PID" 2>/dev/null
		BOT_RC=$?
	else
		kill -KILL "$BOT_PID" 2>/dev/null
		wait_gone "$BOT_PID" 3
		wait "$BOT_PID" 2>/dev/null
		BOT_RC=killed
	fi
	BOT_PID=
}

# wait_log PATTERN [SECONDS] [FILE] : waits until FILE (bot.log) has a line matching ERE
wait_log() {
	local re=$1 secs=${2:-5} f=${3:-$T/bot.log} n
	n=$((secs * 10))
	while [ $n -gt 0 ]; do
		grep -Eq -- "$re" "$f" 2>/dev/null && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# ---------------------------------------------------------------- HTTP

# post PATH FILE|- [curl args...] : POST with the bearer token; sets CODE, BODY.
# AUTH_HEADER overrides the Authorization header; set it empty to send none.
post() {
	local path=$1 src=$2 data
	shift 2
	if [ "$src" = - ]; then data=@-; else data=@$src; fi
	local auth=${AUTH_HEADER-Authorization: Bearer $TOKEN}
	local -a args=(-sS -o "$T/resp.body" -w '%{http_code}' --max-time "${CURL_TIMEOUT:-10}"
		-X POST -H 'Content-Type: application/json' --data-binary "$data")
	[ -n "$auth" ] && args+=(-H "$auth")
	CODE=$(curl "${args[@]}" "$@" "$BASE$path" 2>"$T/curl.err") || true
	[ -n "$CODE" ] || CODE=000
	BODY=$(cat "$T/resp.body" 2>/dev/null || true)
	rm -f "$T/resp.body"
}

# req METHOD PATH [curl args...] : any request; sets CODE, BODY
req() {
	local m=$1 path=$2
	shift 2
	local auth=${AUTH_HEADER-Authorization: Bearer $TOKEN}
	local -a args=(-sS -o "$T/resp.body" -w '%{http_code}' --max-time "${CURL_TIMEOUT:-10}" -X "$m")
	[ -n "$auth" ] && args+=(-H "$auth")
	CODE=$(curl "${args[@]}" "$@" "$BASE$path" 2>"$T/curl.err") || true
	[ -n "$CODE" ] || CODE=000
	BODY=$(cat "$T/resp.body" 2>/dev/null || true)
	rm -f "$T/resp.body"
}

# raw_http FILE : writes FILE's bytes to a fresh connection, reads the
# response (bounded); sets CODE (from the status line) and BODY (the rest).
raw_http() {
	local fd line= l=
	CODE=000
	BODY=
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	cat "$1" >&"$fd" 2>/dev/null
	if IFS= read -r -t 5 line <&"$fd"; then
		CODE=$(printf '%s' "$line" | awk '{print $2}')
		# headers up to the empty line, then the body until EOF or 1 s idle
		while IFS= read -r -t 2 l <&"$fd"; do
			l=${l%$'\r'}
			[ -z "$l" ] && break
		done
		l=
		while IFS= read -r -t 1 l <&"$fd"; do BODY+="$l"$'\n'; l=; done
		BODY+="$l"
	fi
	exec {fd}>&-
	[ -n "$CODE" ] || CODE=000
}

# ---------------------------------------------------------------- JSON (sqlite3 JSON1)

# jget JSON_TEXT PATH : prints json_extract(text, path); '' for NULL
jget() {
	printf '%s' "$1" >"$T/jget.json"
	sqlite3 -batch -noheader :memory: \
		"SELECT json_extract(CAST(readfile('$T/jget.json') AS TEXT), '$2');" 2>/dev/null
}

# jlen JSON_TEXT PATH : json_array_length at PATH ('' when not an array)
jlen() {
	printf '%s' "$1" >"$T/jget.json"
	sqlite3 -batch -noheader :memory: \
		"SELECT CASE json_type(CAST(readfile('$T/jget.json') AS TEXT), '$2') WHEN 'array'
		 THEN json_array_length(CAST(readfile('$T/jget.json') AS TEXT), '$2') END;" 2>/dev/null
}

# jvalid JSON_TEXT : true when the text is valid JSON
jvalid() {
	printf '%s' "$1" >"$T/jget.json"
	[ "$(sqlite3 -batch -noheader :memory: \
		"SELECT json_valid(CAST(readfile('$T/jget.json') AS TEXT));" 2>/dev/null)" = 1 ]
}

# is_error_json JSON_TEXT : true when it is an object with a string "error"
is_error_json() {
	jvalid "$1" && [ "$(jget "$1" '$.error' | head -c 1)" != "" ]
}

# inc_load : runs `incidents --json` into $T/inc.json; 0 when it worked and is a JSON array
inc_load() {
	if ! timeout 10 "$NS" incidents -c "${INC_CONF:-$CONF}" --json >"$T/inc.json" 2>"$T/inc.err"; then
		return 1
	fi
	[ "$(sqlite3 -batch -noheader :memory: \
		"SELECT json_type(CAST(readfile('$T/inc.json') AS TEXT));" 2>/dev/null)" = array ]
}

# inc_sql SQL : runs SQL with a CTE `inc` over the last inc_load
# (columns id, fingerprint, alertname, environment, severity, state, verdict,
#  alert_count, opened_at, resolved_at, resolved_type, flapping, flapping_type)
inc_sql() {
	sqlite3 -batch -noheader -separator '|' :memory: "WITH inc AS (SELECT
		json_extract(value,'\$.id') AS id,
		json_extract(value,'\$.fingerprint') AS fingerprint,
		json_extract(value,'\$.alertname') AS alertname,
		json_extract(value,'\$.environment') AS environment,
		json_extract(value,'\$.severity') AS severity,
		json_extract(value,'\$.state') AS state,
		json_extract(value,'\$.verdict') AS verdict,
		json_extract(value,'\$.alert_count') AS alert_count,
		json_extract(value,'\$.opened_at') AS opened_at,
		json_extract(value,'\$.resolved_at') AS resolved_at,
		json_type(value,'\$.resolved_at') AS resolved_type,
		json_extract(value,'\$.flapping') AS flapping,
		json_type(value,'\$.flapping') AS flapping_type
		FROM json_each(CAST(readfile('$T/inc.json') AS TEXT)))
		$1;"
}

# inc_get ALERTNAME FIELD : FIELD of the newest incident with that alertname (fresh load)
inc_get() {
	inc_load || return 1
	inc_sql "SELECT $2 FROM inc WHERE alertname = '$1' ORDER BY id DESC LIMIT 1"
}

# inc_by_id ID FIELD : FIELD of incident ID (uses the last inc_load)
inc_by_id() {
	inc_sql "SELECT $2 FROM inc WHERE CAST(id AS TEXT) = '$1' LIMIT 1"
}

# inc_count_names LIKE : distinct alertnames LIKE pattern (fresh load); '' on error
inc_count_names() {
	inc_load || { echo "error"; return 1; }
	inc_sql "SELECT count(DISTINCT alertname) FROM inc WHERE alertname LIKE '$1'"
}

# wait_inc ALERTNAME SQL_CONDITION SECONDS : polls incidents until the newest
# incident of ALERTNAME satisfies the condition (e.g. "state='resolved'")
wait_inc() {
	local name=$1 cond=$2 n=$(($3 * 4))
	while [ $n -gt 0 ]; do
		if inc_load && [ "$(inc_sql "SELECT count(*) FROM (SELECT * FROM inc WHERE alertname='$name'
			ORDER BY id DESC LIMIT 1) WHERE $cond")" = 1 ]; then
			return 0
		fi
		sleep 0.25
		n=$((n - 1))
	done
	return 1
}

# inc_dump ALERTNAME : diagnostic lines for the incidents of ALERTNAME
inc_dump() {
	inc_load 2>/dev/null
	inc_sql "SELECT 'incident '||id||' state='||ifnull(state,'?')||' alert_count='||ifnull(alert_count,'?')
		||' resolved_at='||ifnull(resolved_at,'null')||' flapping='||ifnull(flapping,'?')
		FROM inc WHERE alertname='$1'" 2>/dev/null
}

# ---------------------------------------------------------------- payloads

now_rfc3339() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# am_alert NAME [STATUS] [EXTRA_LABELS] : one Alertmanager v4 alert object.
# EXTRA_LABELS is a JSON fragment like '"namespace":"prod","pod":"api-1"';
# default namespace dev-apps.
am_alert() {
	local name=$1 status=${2:-firing} extra=${3:-'"namespace":"dev-apps"'} ends fp
	ends=0001-01-01T00:00:00Z
	[ "$status" = resolved ] && ends=$(now_rfc3339)
	fp=$(printf '%s|%s' "$name" "$extra" | sha256sum | cut -c1-16)
	printf '{"status":"%s","labels":{"alertname":"%s",%s,"severity":"warning"},' "$status" "$name" "$extra"
	printf '"annotations":{"summary":"%s is happening","description":"integration test"},' "$name"
	printf '"startsAt":"2026-11-25T12:00:00.000Z","endsAt":"%s",' "$ends"
	printf '"generatorURL":"http://prometheus.test/graph","fingerprint":"%s"}' "$fp"
}

# am_wrap ALERT_JSON... : an Alertmanager v4 webhook body around alert objects
am_wrap() {
	local alerts status=firing
	alerts=$(
		IFS=,
		echo "$*"
	)
	case $alerts in *'"status":"firing"'*) ;; *) status=resolved ;; esac
	printf '{"receiver":"nightshift","status":"%s","alerts":[%s],' "$status" "$alerts"
	printf '"groupLabels":{},"commonLabels":{},"commonAnnotations":{},'
	printf '"externalURL":"http://alertmanager.test:9093","version":"4",'
	printf '"groupKey":"{}:{}","truncatedAlerts":0}\n'
}

# am_payload NAME [STATUS] [EXTRA_LABELS] : a one-alert webhook body
am_payload() { am_wrap "$(am_alert "$@")"; }

# post_am NAME [STATUS] [EXTRA_LABELS] : POSTs a one-alert body to /alerts/alertmanager
post_am() {
	am_payload "$@" >"$T/am_payload.json"
	post /alerts/alertmanager "$T/am_payload.json"
}

# metric_value TEXT NAME_WITH_LABELS : the value of one exposition line ('' if absent)
metric_value() {
	printf '%s\n' "$1" | awk -v k="$2" 'index($0, k" ") == 1 { print $2; exit }'
}

# metric_sum TEXT NAME [SUBSTRING] : sum of the samples of NAME{...} whose labels contain SUBSTRING
metric_sum() {
	printf '%s\n' "$1" | awk -v n="$2" -v s="${3:-}" '
		index($0, n"{") == 1 || index($0, n" ") == 1 { if (s == "" || index($1, s) > 0) { t += $NF; f = 1 } }
		END { if (f) printf "%.0f\n", t }'
}
