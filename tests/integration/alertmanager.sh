#!/usr/bin/env bash
# This file contains the end-to-end test with a real Prometheus Alertmanager
# (Debian's prometheus-alertmanager, installed by contrib/deps.sh): an alert
# fired through Alertmanager's API reaches nightshift's /alerts/alertmanager
# with the configured bearer token, opens an incident, and its resolve closes
# it; the console shows both messages under the incident's id.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

AM_BIN=${ALERTMANAGER:-$(command -v prometheus-alertmanager || true)}
if [ -z "$AM_BIN" ] || [ ! -x "$AM_BIN" ]; then
	bail "prometheus-alertmanager is installed" "install it with: sh contrib/deps.sh"
fi
ok "prometheus-alertmanager is installed ($("$AM_BIN" --version 2>&1 | head -n 1))"

need_binary
setup_bot
start_bot || bail "nightshift starts and answers GET /healthz with 200"
ok "nightshift starts and answers GET /healthz with 200"

AM_PORT=$(free_port) || bail "found a free port for Alertmanager"
AM=http://127.0.0.1:$AM_PORT
mkdir -p "$T/am-data"
cat >"$T/am.yml" <<EOF
route:
  receiver: nightshift
  group_by: [alertname, namespace]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - receiver: nightshift-badtoken
      matchers: ['team="wrong-token"']
receivers:
  - name: nightshift
    webhook_configs:
      - url: $BASE/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: $TOKEN
  - name: nightshift-badtoken
    webhook_configs:
      - url: $BASE/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: not-the-$TOKEN
EOF
if command -v amtool >/dev/null 2>&1; then
	check_cmd "amtool check-config accepts the Alertmanager config" amtool check-config "$T/am.yml"
fi

"$AM_BIN" --config.file="$T/am.yml" --storage.path="$T/am-data" \
	--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
	--log.level=info </dev/null >"$T/am.log" 2>&1 &
AM_PID=$!
n=100
while [ $n -gt 0 ] && [ "$(http_status "$AM/-/ready")" != 200 ]; do
	alive "$AM_PID" || break
	sleep 0.1
	n=$((n - 1))
done
if [ "$(http_status "$AM/-/ready")" != 200 ]; then
	bail "Alertmanager is ready on 127.0.0.1:$AM_PORT" "$(tail -n 10 "$T/am.log")"
fi
ok "Alertmanager is ready on 127.0.0.1:$AM_PORT"

# am_post STATUS : fires (or resolves, with endsAt = now) the test alert via the v2 API
STARTS=$(now_rfc3339)
am_post() {
	local ends=""
	[ "$1" = resolved ] && ends=",\"endsAt\":\"$(now_rfc3339)\""
	printf '[{"labels":{"alertname":"AmE2ECrashLoop","namespace":"prod","pod":"api-7f9c8d-x2k4q","severity":"critical"},"annotations":{"summary":"Pod prod/api-7f9c8d-x2k4q is crash looping"},"startsAt":"%s"%s,"generatorURL":"http://prometheus.test/graph"}]' \
		"$STARTS" "$ends" >"$T/am_api.json"
	curl -sS -o "$T/am_api.out" -w '%{http_code}' --max-time 5 -X POST \
		-H 'Content-Type: application/json' --data-binary @"$T/am_api.json" "$AM/api/v2/alerts" 2>&1
}

check "POST /api/v2/alerts to Alertmanager (firing) -> 200" 200 "$(am_post firing)" "$(cat "$T/am_api.out" 2>/dev/null)"

if wait_inc AmE2ECrashLoop "state NOT IN ('resolved','noise') AND resolved_type='null'" 20; then
	ok "the incident is open in incidents --json"
else
	not_ok "the incident is open in incidents --json (waited 20 s)" "$(inc_dump AmE2ECrashLoop)" \
		"alertmanager log: $(grep -i -E 'error|fail' "$T/am.log" | tail -n 3)"
fi
inc_load
ID=$(inc_sql "SELECT id FROM inc WHERE alertname='AmE2ECrashLoop' ORDER BY id DESC LIMIT 1")
check "exactly one incident for the alert" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='AmE2ECrashLoop'")"
check "environment is production (namespace prod)" production "$(inc_by_id "$ID" environment)"
check "severity is critical" critical "$(inc_by_id "$ID" severity)"
check "resolved_at is null while open" null "$(inc_by_id "$ID" resolved_type)"
check "alert_count is 1" 1 "$(inc_by_id "$ID" alert_count)"

check "POST /api/v2/alerts to Alertmanager (endsAt now) -> 200" 200 "$(am_post resolved)" "$(cat "$T/am_api.out" 2>/dev/null)"
if wait_inc AmE2ECrashLoop "state='resolved'" 30; then
	ok "the incident is resolved after Alertmanager sends the resolve"
else
	not_ok "the incident is resolved after Alertmanager sends the resolve (waited 30 s)" "$(inc_dump AmE2ECrashLoop)"
fi
inc_load
check "it is the same incident" "$ID" "$(inc_sql "SELECT id FROM inc WHERE alertname='AmE2ECrashLoop' ORDER BY id DESC LIMIT 1")"
check "resolved_at is set" text "$(inc_by_id "$ID" resolved_type)"

if [ -n "$ID" ] && wait_log "^#$ID .*Received" 5 "$T/console.log"; then
	ok "console shows the Received message for #$ID"
else
	not_ok "console shows the Received message for #$ID" "$(tail -n 10 "$T/console.log" 2>/dev/null)"
fi
if [ -n "$ID" ] && wait_log "^#$ID .*Resolved" 5 "$T/console.log"; then
	ok "console shows the Resolved message for #$ID"
else
	not_ok "console shows the Resolved message for #$ID" "$(tail -n 10 "$T/console.log" 2>/dev/null)"
fi

# Alertmanager saw only 2xx answers on the right token (a 4xx shows up as a notify error)
if grep -E 'nightshift/webhook' "$T/am.log" | grep -Eqi 'fail|error|unexpected status'; then
	not_ok "Alertmanager logged no notification errors for the receiver with the token" \
		"$(grep -E 'nightshift/webhook' "$T/am.log" | tail -n 3)"
else
	ok "Alertmanager logged no notification errors for the receiver with the token"
fi

# the same route with a wrong token: nightshift answers 401, nothing is stored
printf '[{"labels":{"alertname":"AmE2EWrongToken","namespace":"prod","team":"wrong-token","severity":"critical"},"annotations":{"summary":"sent with a wrong token"},"startsAt":"%s"}]' \
	"$(now_rfc3339)" >"$T/am_wrong.json"
check "POST /api/v2/alerts (wrong-token route) -> 200" 200 \
	"$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' \
		--data-binary @"$T/am_wrong.json" "$AM/api/v2/alerts" 2>&1)"
if wait_log 'nightshift-badtoken/webhook.*401' 15 "$T/am.log"; then
	ok "Alertmanager reports 401 from nightshift for the wrong token"
else
	not_ok "Alertmanager reports 401 from nightshift for the wrong token" "$(tail -n 3 "$T/am.log")"
fi
inc_load
check "the wrong-token alert is not stored" 0 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='AmE2EWrongToken'")"
req GET /metrics
v=$(metric_sum "$BODY" nightshift_alerts_received_total 'source="alertmanager"')
if [ -n "$v" ] && [ "$v" -ge 2 ]; then
	ok "metrics count the firing and the resolved alert from Alertmanager ($v)"
else
	not_ok "metrics count the firing and the resolved alert from Alertmanager" \
		"sum of nightshift_alerts_received_total{source=\"alertmanager\",...} = '$v', expected >= 2" \
		"$(printf '%s\n' "$BODY" | grep nightshift_alerts_received_total | head -n 6)"
fi

stop_bot TERM 10
check "nightshift exits 0 on SIGTERM" 0 "$BOT_RC"
finish
