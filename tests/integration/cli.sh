#!/usr/bin/env bash
# This file contains the CLI and triage behaviour test against the real
# binary: --version/--help/usage, check-config (OK and file:line errors),
# SIGHUP reload (invalid kept, valid applied), grouping of two pods of one
# deployment, resolve, flapping reopen, noise rules, the Grafana, Uptime Kuma
# and generic payloads, /metrics and /healthz, then `replay` and
# `incidents` (table) on the store the run left behind.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

need_binary
setup_bot

# ------------------------------------------------------------------ plain CLI
out=$("$NS" --version 2>&1)
rc=$?
check "--version exits 0" 0 "$rc"
check_match "--version prints 'nightshift X.Y.Z'" '^nightshift [0-9]+\.[0-9]+\.[0-9]+$' "$out"

out=$("$NS" --help 2>/dev/null)
rc=$?
check "--help exits 0" 0 "$rc"
check_match "--help prints usage naming the commands" '[Uu]sage' "$out"
missing=
for c in run check-config incidents replay; do
	printf '%s' "$out" | grep -q -- "$c" || missing="$missing $c"
done
check "--help lists run, check-config, incidents, replay" "" "$missing" "missing:$missing"

out=$("$NS" run --help 2>&1)
rc=$?
check "run --help exits 0" 0 "$rc"
check_match "run --help prints usage with -c" '(-c|--config)' "$out"

"$NS" frobnicate >"$T/unk.out" 2>"$T/unk.err" </dev/null
rc=$?
check "unknown command exits 2" 2 "$rc"
check_match "unknown command prints usage on stderr" '[Uu]sage' "$(cat "$T/unk.err")"

# ------------------------------------------------------------------ check-config
out=$("$NS" check-config -c "$CONF" 2>&1)
rc=$?
check "check-config on a valid file exits 0" 0 "$rc" "$out"
check_match "check-config prints 'configuration OK'" 'configuration OK' "$out"

BAD=$T/bad.yml
cat >"$BAD" <<EOF
listen: 127.0.0.1:$PORT
bogus_key: 1
storage:
  path: $DB
webhook:
  token_env: NS_TOKEN
triage:
  flap_window: banana
channels:
  console: {enabled: true}
EOF
out=$("$NS" check-config -c "$BAD" 2>&1)
rc=$?
check "check-config with two errors exits 1" 1 "$rc" "$out"
check_match "the unknown key is reported as bad.yml:2:" 'bad\.yml:2: ' "$out"
check_match "the bad duration is reported as bad.yml:8:" 'bad\.yml:8: ' "$out"

BADRE=$T/badre.yml
cat >"$BADRE" <<EOF
listen: 127.0.0.1:$PORT
storage:
  path: $DB
environments:
  - name: production
    match: {namespace: "^(prod"}
  - name: dev
EOF
out=$("$NS" check-config -c "$BADRE" 2>&1)
rc=$?
check "check-config with an invalid regex exits 1" 1 "$rc" "$out"
check_match "the invalid regex is reported as badre.yml:6:" 'badre\.yml:6: ' "$out"

out=$("$NS" check-config -c "$T/does-not-exist.yml" 2>&1)
rc=$?
check "check-config on a missing file exits 1" 1 "$rc" "$out"

# ------------------------------------------------------------------ run
start_bot || bail "nightshift starts and answers GET /healthz with 200"
ok "nightshift starts and answers GET /healthz with 200"
check_cmd "bot.log has an event=listening line" grep -q 'event=listening' "$T/bot.log"

req GET /healthz
check_code "GET /healthz -> 200" 200
check "healthz JSON status is ok" ok "$(jget "$BODY" '$.status')" "body: $BODY"

req GET /metrics
check_code "GET /metrics -> 200" 200
M0=$BODY

# post_id PATH FILE : posts; prints nothing; sets CODE, BODY and IID (first incident id)
post_id() {
	post "$1" "$2"
	IID=$(jget "$BODY" '$.incidents[0]')
}

# console_has ID WORD [SECONDS] : a console line "#ID ...WORD..." appears
console_has() { wait_log "^#$1 .*$2" "${3:-5}" "$T/console.log"; }

check_console() { # check_console DESC ID WORD
	if [ -n "$2" ] && console_has "$2" "$3"; then ok "$1"; else
		not_ok "$1" "no line matching ^#$2 .*$3 in console.log; last lines:" "$(tail -n 8 "$T/console.log" 2>/dev/null)"
	fi
}

# ------------------------------------------------------------------ grouping
P1='"namespace":"prod","pod":"api-7f9c8d-x2k4q"'
P2='"namespace":"prod","pod":"api-5b6d7f-p9z1m"'
am_payload GroupDeploy firing "$P1" >"$T/g1.json"
am_payload GroupDeploy firing "$P2" >"$T/g2.json"
post_id /alerts/alertmanager "$T/g1.json"
check_code "GroupDeploy pod api-7f9c8d-x2k4q -> 202" 202
G_ID=$IID
post_id /alerts/alertmanager "$T/g2.json"
check_code "GroupDeploy pod api-5b6d7f-p9z1m -> 202" 202
check "both pods map to the same incident id" "$G_ID" "$IID"
inc_load
check "one incident for the two pods" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='GroupDeploy'")" "$(inc_dump GroupDeploy)"
check "the incident has alert_count 2" 2 "$(inc_by_id "$G_ID" alert_count)"
check "environment production (namespace prod)" production "$(inc_by_id "$G_ID" environment)"
check "verdict is null or a string" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE CAST(id AS TEXT)='$G_ID' AND (verdict IS NULL OR typeof(verdict)='text')")"
check "fingerprint looks like sha-256 hex" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE CAST(id AS TEXT)='$G_ID' AND length(fingerprint)=64 AND fingerprint NOT GLOB '*[^0-9a-f]*'")"
check_console "console shows Received for #$G_ID" "$G_ID" Received
check "only one Received message for the grouped incident" 1 "$(grep -c "^#$G_ID .*Received" "$T/console.log")"

am_payload GroupDeploy resolved "$P1" >"$T/g1r.json"
post_id /alerts/alertmanager "$T/g1r.json"
check_code "resolve pod api-7f9c8d-x2k4q -> 202" 202
sleep 0.3
inc_load
check "one pod resolved: the incident is still open (resolved_at null)" null "$(inc_by_id "$G_ID" resolved_type)" "$(inc_dump GroupDeploy)"
check_match "one pod resolved: the state is not resolved" '^(open|investigating|escalated|acknowledged|auto_fixed)$' "$(inc_by_id "$G_ID" state)"

am_payload GroupDeploy resolved "$P2" >"$T/g2r.json"
post_id /alerts/alertmanager "$T/g2r.json"
check_code "resolve pod api-5b6d7f-p9z1m -> 202" 202
if wait_inc GroupDeploy "state='resolved'" 5; then ok "both pods resolved: the incident is resolved"; else
	not_ok "both pods resolved: the incident is resolved" "$(inc_dump GroupDeploy)"
fi
check "resolved_at is set" text "$(inc_by_id "$G_ID" resolved_type)"
check_console "console shows Resolved for #$G_ID" "$G_ID" Resolved

# ------------------------------------------------------------------ flapping
post_id /alerts/alertmanager "$T/g1.json"
check_code "GroupDeploy fires again within flap_window -> 202" 202
check "it reopens the same incident" "$G_ID" "$IID"
if wait_inc GroupDeploy "state<>'resolved' AND resolved_type='null'" 5; then ok "the reopened incident is open again"; else
	not_ok "the reopened incident is open again" "$(inc_dump GroupDeploy)"
fi
check "flapping is true" true "$(inc_by_id "$G_ID" flapping_type)"
check "still one incident for GroupDeploy" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='GroupDeploy'")"
check_console "console shows Reopened for #$G_ID" "$G_ID" Reopened
post_am FreshOne
check_code "FreshOne -> 202" 202
check "a fresh incident is not flapping" false "$(inc_get FreshOne flapping_type)"

# ------------------------------------------------------------------ noise
post_id /alerts/alertmanager <(am_payload NoisyTenant firing '"namespace":"tenant-test-acme","pod":"x-1"')
check_code "alert in tenant-test-acme -> 202" 202
N_ID=$IID
if wait_inc NoisyTenant "state='noise'" 5; then ok "the noise rule makes the incident state noise"; else
	not_ok "the noise rule makes the incident state noise" "$(inc_dump NoisyTenant)"
fi
check_console "console shows Dismissed as noise for #$N_ID" "$N_ID" "Dismissed as noise"
check "environment of a non-prod namespace is dev" dev "$(inc_by_id "$N_ID" environment)"

# ------------------------------------------------------------------ Grafana
grafana_payload() { # NAME
	cat <<EOF
{"receiver":"nightshift","status":"firing","orgId":1,"alerts":[{"status":"firing","labels":{"alertname":"$1","grafana_folder":"Infra","namespace":"prod","instance":"node-3"},"annotations":{"summary":"Memory above 90% on node-3"},"startsAt":"2026-11-25T12:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://grafana.test/alerting/grafana/abc/view","fingerprint":"8a1b2c3d4e5f6a7b","silenceURL":"http://grafana.test/alerting/silence/new","dashboardURL":"","panelURL":"","values":{"B":93.2,"C":1},"valueString":"[ var='B' labels={instance=node-3} value=93.2 ]"}],"groupLabels":{"alertname":"$1"},"commonLabels":{"alertname":"$1"},"commonAnnotations":{},"externalURL":"http://grafana.test/","version":"1","groupKey":"{}:{alertname=\\"$1\\"}","truncatedAlerts":0,"title":"[FIRING:1] $1","state":"alerting","message":"Memory above 90%"}
EOF
}
grafana_payload GrafanaHighMemory >"$T/grafana.json"
post_id /alerts/grafana "$T/grafana.json"
check_code "Grafana payload to /alerts/grafana -> 202" 202 
inc_load
check "Grafana alert made an incident" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='GrafanaHighMemory'")"
check_console "console shows Received for the Grafana incident" "$IID" Received
grafana_payload GrafanaAutoDetected >"$T/grafana2.json"
post_id /alerts "$T/grafana2.json"
check_code "Grafana payload to /alerts (auto-detect) -> 202" 202
inc_load
check "auto-detected Grafana alert made an incident" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='GrafanaAutoDetected'")"
# Grafana's contact point can be set to PUT; only /alerts/grafana takes it.
grafana_payload GrafanaPut >"$T/grafana3.json"
req PUT /alerts/grafana -H 'Content-Type: application/json' --data-binary @"$T/grafana3.json"
check_code "Grafana payload by PUT to /alerts/grafana -> 202" 202
inc_load
check "Grafana alert sent by PUT made an incident" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='GrafanaPut'")"

# ------------------------------------------------------------------ Uptime Kuma
kuma_payload() { # STATUS(0|1) MSG
	local word='🔴 Down'
	[ "$1" = 1 ] && word='✅ Up'
	cat <<EOF
{"heartbeat":{"monitorID":7,"status":$1,"time":"2026-11-25 12:0$1:00.123","msg":"$2","ping":null,"important":true,"duration":60,"timezone":"UTC","timezoneOffset":"+00:00","localDateTime":"2026-11-25 12:0$1:00"},"monitor":{"id":7,"name":"Billing API","type":"http","url":"https://billing.example.test/health","hostname":null,"port":null,"interval":60,"maxretries":0,"active":true,"tags":[],"description":null,"pathName":"Billing API"},"msg":"[Billing API] [$word] $2"}
EOF
}
inc_load
before_kuma=$(inc_sql "SELECT count(*) FROM inc")
printf '{"heartbeat":null,"monitor":null,"msg":"Nightshift Testing"}' >"$T/kuma_test.json"
post /alerts/uptime-kuma "$T/kuma_test.json"
check_code "Uptime Kuma Testing message -> 200" 200
check "Testing answer is {\"status\":\"test\"}" test "$(jget "$BODY" '$.status')" "body: $BODY"
post /alerts "$T/kuma_test.json"
check_code "Uptime Kuma Testing message to /alerts (auto-detect) -> 200" 200
inc_load
check "Testing messages store nothing" "$before_kuma" "$(inc_sql "SELECT count(*) FROM inc")"

kuma_payload 0 "connect ECONNREFUSED 10.0.0.5:443" >"$T/kuma_down.json"
post_id /alerts/uptime-kuma "$T/kuma_down.json"
check_code "Uptime Kuma DOWN -> 202" 202
K_ID=$IID
inc_load
check "Uptime Kuma DOWN opened an incident" null "$(inc_by_id "$K_ID" resolved_type)" "body: $BODY"
check_console "console shows Received for the Uptime Kuma incident #$K_ID" "$K_ID" Received
kuma_payload 1 "200 - OK" >"$T/kuma_up.json"
post_id /alerts/uptime-kuma "$T/kuma_up.json"
check_code "Uptime Kuma UP -> 202" 202
sleep 0.3
inc_load
check "Uptime Kuma UP resolves the same incident" resolved "$(inc_by_id "$K_ID" state)"
check_console "console shows Resolved for #$K_ID" "$K_ID" Resolved

# ------------------------------------------------------------------ generic
printf '{"alertname":"GenericDiskFull","status":"firing","severity":"warning","labels":{"namespace":"dev-apps","instance":"db-1"},"summary":"Disk 95%% full on db-1"}' >"$T/generic.json"
post_id /alerts/generic "$T/generic.json"
check_code "generic payload to /alerts/generic -> 202" 202
inc_load
check "generic alert made an incident" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='GenericDiskFull'")"
printf '{"title":"Backup job failed","alertname":"GenericBackupFailed","labels":{"namespace":"dev-apps","job_name":"backup"}}' >"$T/generic2.json"
post_id /alerts "$T/generic2.json"
check_code "generic payload to /alerts (auto-detect) -> 202" 202
inc_load
check "auto-detected generic alert made an incident" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='GenericBackupFailed'")"

# ------------------------------------------------------------------ metrics
req GET /metrics
check_code "GET /metrics -> 200 again" 200
M1=$BODY
for name in 'nightshift_alerts_received_total{' 'nightshift_webhook_responses_total{' \
	'nightshift_incidents{' 'nightshift_webhook_request_duration_seconds_bucket' \
	'nightshift_process_resident_memory_bytes'; do
	if printf '%s\n' "$M1" | grep -q -F -- "$name"; then ok "metrics include $name"; else
		not_ok "metrics include $name" "$(printf '%s\n' "$M1" | grep -v '^#' | head -n 10)"
	fi
done
r0=$(metric_value "$M0" 'nightshift_webhook_responses_total{code="202"}')
r1=$(metric_value "$M1" 'nightshift_webhook_responses_total{code="202"}')
check_ge "responses_total{code=\"202\"} moved by >= 10 (${r0:-none} -> ${r1:-none})" "$(( ${r1:-0} - ${r0:-0} ))" 10
a0=$(metric_sum "$M0" nightshift_alerts_received_total)
a1=$(metric_sum "$M1" nightshift_alerts_received_total)
check_ge "alerts_received_total moved by >= 10 (${a0:-none} -> ${a1:-none})" "$(( ${a1:-0} - ${a0:-0} ))" 10
for src in alertmanager grafana uptime-kuma generic; do
	v=$(metric_sum "$M1" nightshift_alerts_received_total "source=\"$src\"")
	check_ge "alerts_received_total has source=\"$src\" (${v:-none})" "${v:-0}" 1
done
v=$(metric_sum "$M1" nightshift_incidents 'state="noise"')
check_ge "nightshift_incidents{state=\"noise\"} >= 1 (${v:-none})" "${v:-0}" 1
v=$(metric_sum "$M1" nightshift_incidents 'state="resolved"')
check_ge "nightshift_incidents{state=\"resolved\"} >= 1 (${v:-none})" "${v:-0}" 1
v=$(metric_value "$M1" nightshift_process_resident_memory_bytes)
check_ge "resident memory metric is > 100 KB (${v:-none})" "${v%%.*}" 100000

# ------------------------------------------------------------------ SIGHUP
cp "$CONF" "$T/good.yml"
INC_CONF=$T/good.yml # `incidents` needs a valid file while ns.yml is broken
# invalid: unknown key, plus a noise rule that must NOT take effect
write_config "$T/next.yml" "bogus_key: 1"
sed -i 's/^noise:$/noise:\n  - reason: hup quiet\n    match: {namespace: "^hup-quiet$"}/' "$T/next.yml"
mv "$T/next.yml" "$CONF"
kill -HUP "$BOT_PID"
if wait_log 'event=reload_failed' 5; then ok "SIGHUP with an invalid file logs event=reload_failed"; else
	not_ok "SIGHUP with an invalid file logs event=reload_failed" "$(tail -n 5 "$T/bot.log")"
fi
if alive "$BOT_PID"; then ok "the bot keeps running after a failed reload"; else not_ok "the bot keeps running after a failed reload"; fi
req GET /healthz
check_code "GET /healthz after a failed reload -> 200" 200
post_id /alerts/alertmanager <(am_payload HupBefore firing '"namespace":"hup-quiet"')
check_code "alerts are still accepted after a failed reload" 202
sleep 0.3
inc_load
check_match "the old config is still in force (hup-quiet is not noise)" '^(open|investigating|escalated|acknowledged|auto_fixed)$' "$(inc_by_id "$IID" state)"

# valid and changed: the same plus the hup-quiet noise rule
write_config "$T/next.yml"
sed -i 's/^noise:$/noise:\n  - reason: hup quiet\n    match: {namespace: "^hup-quiet$"}/' "$T/next.yml"
out=$("$NS" check-config -c "$T/next.yml" 2>&1)
check "the changed file passes check-config" 0 "$?" "$out"
mv "$T/next.yml" "$CONF"
kill -HUP "$BOT_PID"
if wait_log 'event=reloaded' 5; then ok "SIGHUP with a valid changed file logs event=reloaded"; else
	not_ok "SIGHUP with a valid changed file logs event=reloaded" "$(tail -n 5 "$T/bot.log")"
fi
post_id /alerts/alertmanager <(am_payload HupAfter firing '"namespace":"hup-quiet"')
check_code "alert after the reload -> 202" 202
if wait_inc HupAfter "state='noise'" 5; then ok "the reloaded noise rule is in force"; else
	not_ok "the reloaded noise rule is in force" "$(inc_dump HupAfter)"
fi

stop_bot TERM 10
check "SIGTERM -> exit status 0" 0 "$BOT_RC"
INC_CONF=

# ------------------------------------------------------------------ replay and incidents (bot stopped)
inc_load
cp "$T/inc.json" "$T/inc_before_replay.json"
G_FP=$(inc_by_id "$G_ID" fingerprint)
out=$("$NS" replay -c "$CONF" "$T/g1.json" 2>"$T/replay.err")
rc=$?
check "replay exits 0" 0 "$rc" "$(head -c 300 "$T/replay.err")"
if jvalid "$out"; then ok "replay prints JSON"; else not_ok "replay prints JSON" "$(printf '%s' "$out" | head -c 300)"; fi
if [ -n "$G_FP" ] && printf '%s' "$out" | grep -q -- "\"$G_FP\""; then ok "replay shows the incident's fingerprint"; else
	not_ok "replay shows the incident's fingerprint" "fingerprint: $G_FP" "$(printf '%s' "$out" | head -c 400)"
fi
check_match "replay shows environment production" '"environment"[[:space:]]*:[[:space:]]*"production"' "$out"
out2=$("$NS" replay -c "$CONF" "$T/g2.json" 2>/dev/null)
if [ -n "$G_FP" ] && printf '%s' "$out2" | grep -q -- "\"$G_FP\""; then ok "replay of the other pod gives the same fingerprint"; else
	not_ok "replay of the other pod gives the same fingerprint" "$(printf '%s' "$out2" | head -c 400)"
fi
am_payload ReplayOnly firing '"namespace":"tenant-test-x"' >"$T/replay_only.json"
out3=$("$NS" replay -c "$CONF" "$T/replay_only.json" 2>/dev/null)
check "replay of a new alert exits 0" 0 "$?"
check_match "replay of a noise alert says noise" 'noise' "$out3"
inc_load
if cmp -s "$T/inc.json" "$T/inc_before_replay.json"; then ok "replay leaves incidents --json unchanged"; else
	not_ok "replay leaves incidents --json unchanged" "$(diff "$T/inc_before_replay.json" "$T/inc.json" | head -n 6)"
fi
check "ReplayOnly was not stored" 0 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='ReplayOnly'")"
"$NS" replay -c "$CONF" "$T/does-not-exist.json" >/dev/null 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then ok "replay of a missing file fails (exit $rc)"; else not_ok "replay of a missing file fails"; fi

out=$("$NS" incidents -c "$CONF" 2>&1)
rc=$?
check "incidents (table) exits 0" 0 "$rc"
check_match "incidents table lists GroupDeploy" 'GroupDeploy' "$out"
finish
