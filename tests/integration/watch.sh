#!/usr/bin/env bash
# This file contains the "watching the watchers" test against the real
# binary: the dead man's switch (Watchdog heartbeats open nothing; silence
# raises exactly one MonitoringPipelineSilent incident, investigated real /
# dependency_down with a thread; a restart while silent does not double it;
# the heartbeat's return resolves it with "the monitoring pipeline is back")
# and nightshift's own heartbeat (a local python3 listener sees the calls
# with the bearer token; a dead URL shows in /healthz and never stops the bot).
# Durations are seconds; every wait polls for the event, bounded.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-90}
. "$(dirname "$0")/lib.sh"

need_binary
setup_bot
command -v python3 >/dev/null || bail "python3 is available for the heartbeat listener"

dbq() { sqlite3 -batch -noheader -separator '|' -cmd '.timeout 3000' "$DB" "$1" 2>/dev/null; }

# ---------------------------------------------------------------- the heartbeat listener
HB_PORT=$(free_port) || bail "found a free loopback port for the listener"
cat >"$T/hb.py" <<'EOF'
import http.server, sys
log = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        with open(log, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Authorization", "-")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")
    do_GET = handle_one
    do_POST = handle_one
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$T/hb.py" "$HB_PORT" "$T/hb.log" </dev/null >"$T/hb.out" 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
n=50
until (exec 3<>"/dev/tcp/127.0.0.1/$HB_PORT") 2>/dev/null || [ $n -eq 0 ]; do sleep 0.1; n=$((n - 1)); done

export NS_HB_TOKEN=hb-secret-$RANDOM$RANDOM
PUSH_KEY=pushkey$RANDOM$RANDOM
write_config "$CONF" "watchdog:
  alertname: Watchdog
  timeout: 3s
heartbeat:
  url: http://127.0.0.1:$HB_PORT/api/push/$PUSH_KEY?status=up&msg=OK
  interval: 1s
  token_env: NS_HB_TOKEN"

out=$("$NS" check-config -c "$CONF" 2>&1)
check "check-config accepts watchdog and heartbeat" 0 $? "$out"

start_bot || bail "nightshift starts"

watchdog() { # STATUS
	am_payload Watchdog "${1:-firing}" '"namespace":"monitoring","prometheus":"monitoring/k8s"' |
		sed 's/"severity":"warning"/"severity":"none"/' >"$T/wd.json"
	post /alerts/alertmanager "$T/wd.json"
}

# ---------------------------------------------------------------- heartbeats open nothing
for i in 1 2 3; do watchdog firing; done
check_code "a Watchdog heartbeat is accepted (202)" 202
watchdog resolved
check_code "a resolved Watchdog is accepted (202)" 202
sleep 0.5
check "heartbeats open no incident" 0 "$(dbq "SELECT count(*) FROM incidents")"
check "heartbeats post nothing (no outbox row, no thread)" 0 "$(dbq "SELECT count(*) FROM outbox")"
check "heartbeats queue no investigation" 0 "$(dbq "SELECT count(*) FROM investigations")"
check "only the newest firing heartbeat is kept (plus the resolved one)" "1|1" \
	"$(dbq "SELECT count(*) FILTER (WHERE status='firing'), count(*) FILTER (WHERE status='resolved')
		FROM alerts WHERE alertname='Watchdog' AND incident_id IS NULL")"
req GET /healthz
check "/healthz shows the watchdog armed and not silent" "1|0" \
	"$(jget "$BODY" '$.watchdog.armed')|$(jget "$BODY" '$.watchdog.silent')"

out=$(timeout 20 "$NS" replay -c "$CONF" "$T/wd.json" 2>/dev/null)
check "replay calls a Watchdog a heartbeat and does not investigate it" "heartbeat|" \
	"$(jget "$out" '$.alerts[0].action')|$(jget "$out" '$.alerts[0].report')"

# ---------------------------------------------------------------- own heartbeat
n=100
while [ "$(wc -l <"$T/hb.log" 2>/dev/null || echo 0)" -lt 2 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check_ge "the heartbeat URL was called at the interval (>= 2 calls)" "$(wc -l <"$T/hb.log" 2>/dev/null || echo 0)" 2
check_match "the heartbeat is a GET of the configured path with the bearer token" \
	"^GET /api/push/$PUSH_KEY\\?status=up&msg=OK Bearer $NS_HB_TOKEN\$" "$(head -n 1 "$T/hb.log")"
req GET /healthz
check "/healthz counts heartbeat successes" "0" "$(jget "$BODY" '$.heartbeat.consecutive_failures')" "$BODY"
check_ge "/healthz has the last heartbeat success" "$(jget "$BODY" '$.heartbeat.last_success')" 1

# ---------------------------------------------------------------- silence
silent_count() { dbq "SELECT count(*) FROM incidents WHERE alertname='MonitoringPipelineSilent'"; }
n=150
while [ "$(silent_count)" != 1 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check "silence raises one MonitoringPipelineSilent incident" 1 "$(silent_count)"
check "it is critical, in production, from the generic source" "critical|production" \
	"$(dbq "SELECT severity, environment FROM incidents WHERE alertname='MonitoringPipelineSilent'")"
INC=$(dbq "SELECT id FROM incidents WHERE alertname='MonitoringPipelineSilent'")
n=150
while [ "$(dbq "SELECT state FROM investigations WHERE incident_id=${INC:-0}")" != done ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
check "it is investigated real / dependency_down / high by monitoring-silent" \
	"real|dependency_down|high|monitoring-silent" \
	"$(dbq "SELECT verdict, category, confidence, playbooks FROM investigations WHERE incident_id=${INC:-0}" |
		sed 's/\["\{0,1\}\([a-z-]*\)"\{0,1\}\]/\1/')"
report=$(dbq "SELECT report FROM investigations WHERE incident_id=${INC:-0}")
check_match "its root cause says the pipeline is silent, no Watchdog from Alertmanager" \
	'the monitoring pipeline is silent: no Watchdog from Alertmanager for [0-9]+ (s|min)' "$report"
check_ge "it has a thread (messages in the outbox)" \
	"$(dbq "SELECT count(*) FROM outbox WHERE incident_id=${INC:-0}")" 1
check_match "bot.log says event=pipeline_silent" 'event=pipeline_silent heartbeat=Watchdog' "$(cat "$T/bot.log")"
sleep 1.5
check "further checks while silent do not raise it again" 1 "$(silent_count)"

# ---------------------------------------------------------------- restart while silent
stop_bot
check "the bot stops cleanly" 0 "$BOT_RC"
start_bot || bail "nightshift starts again"
sleep 2.5
check "a restart while silent does not double the incident" 1 "$(silent_count)"
check "nor reopen or resolve it" "1" \
	"$(dbq "SELECT count(*) FROM incidents WHERE id=${INC:-0} AND state!='resolved' AND reopen_count=0")"

# ---------------------------------------------------------------- the heartbeat returns
watchdog firing
check_code "the returning heartbeat is accepted" 202
# Keep it beating so the switch does not fire again while we look.
(while :; do
	curl -s -o /dev/null --max-time 2 -X POST -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $TOKEN" --data-binary @"$T/wd.json" "$BASE/alerts/alertmanager"
	sleep 0.7
done) </dev/null >/dev/null 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
n=100
while [ "$(dbq "SELECT state FROM incidents WHERE id=${INC:-0}")" != resolved ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
check "the heartbeat's return resolves the incident at source" "resolved|source" \
	"$(dbq "SELECT state, resolved_by FROM incidents WHERE id=${INC:-0}")"
check_match "the resolved post says the monitoring pipeline is back" 'monitoring pipeline is back' \
	"$(dbq "SELECT body FROM outbox WHERE incident_id=${INC:-0} AND kind='resolved'")"
check "still one MonitoringPipelineSilent incident" 1 "$(silent_count)"

# ---------------------------------------------------------------- failing heartbeat
DEAD=$(free_port) || bail "found a free port"
sed -i "s#^  url: .*#  url: http://127.0.0.1:$DEAD/ping#" "$CONF"
kill -HUP "$BOT_PID"
wait_log 'event=reloaded' 5 || not_ok "the bot reloads the config"
n=100
while :; do
	req GET /healthz
	f=$(jget "$BODY" '$.heartbeat.consecutive_failures')
	{ [ "${f:-0}" -ge 2 ] || [ $n -eq 0 ]; } && break
	sleep 0.1
	n=$((n - 1))
done
check_ge "/healthz shows consecutive heartbeat failures" "${f:-0}" 2 "$BODY"
check_match "/healthz names the heartbeat error, not the URL" '"last_error":"[^"]+"' "$BODY"
check "the bot stays healthy while its heartbeat fails" 200 "$CODE"
req GET /metrics
check_ge "/metrics counts failed heartbeats" "$(metric_value "$BODY" 'nightshift_heartbeat_total{result="failed"}')" 2
check_ge "/metrics shows consecutive failures" "$(metric_value "$BODY" 'nightshift_heartbeat_consecutive_failures')" 2
check "a failure is logged once, not per call" 1 "$(grep -c 'event=heartbeat_failed' "$T/bot.log")"
check "the bot is still running" yes "$(alive "$BOT_PID" && echo yes || echo no)"
check "no secret or push key in the log" 0 \
	"$(grep -c -e "$NS_HB_TOKEN" -e "$PUSH_KEY" "$T/bot.log" "$T/console.log" | awk -F: '{s+=$NF} END {print s+0}')"

stop_bot
check "the bot stops cleanly at the end" 0 "$BOT_RC"
finish
