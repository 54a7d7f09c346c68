#!/usr/bin/env bash
# This file contains the test of one dead man's switch per Alertmanager
# (watchdog.match + watchdog.group_by: cluster) against the real binary, with
# a 3 s timeout: heartbeats of prod-a and prod-b open nothing; a Watchdog of
# a cluster the matchers leave out is an ordinary alert; when prod-b falls
# silent while prod-a keeps beating, exactly one MonitoringPipelineSilent
# incident is raised, naming prod-b; prod-b's return resolves it, and prod-a
# never raised one. Every wait polls for the event, bounded.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-90}
. "$(dirname "$0")/lib.sh"

need_binary
setup_bot
dbq() { sqlite3 -batch -noheader -separator '|' -cmd '.timeout 3000' "$DB" "$1" 2>/dev/null; }
write_config "$CONF" 'watchdog:
  timeout: 3s
  match: {alertname: "^Watchdog$", cluster: "^prod-"}
  group_by: cluster'
out=$("$NS" check-config -c "$CONF" 2>&1)
check "check-config accepts watchdog.match and group_by" 0 $? "$out"
start_bot || bail "nightshift starts"

beat() { # CLUSTER [STATUS]
	am_payload Watchdog "${2:-firing}" '"namespace":"monitoring","cluster":"'"$1"'"' |
		sed 's/"severity":"warning"/"severity":"none"/' >"$T/wd-$1.json"
	post /alerts/alertmanager "$T/wd-$1.json"
}
silent() { dbq "SELECT count(*) FROM incidents WHERE alertname='MonitoringPipelineSilent' ${1:-}"; }

beat prod-a
check_code "prod-a's heartbeat is accepted" 202
beat prod-b
beat dev-1
check "heartbeats of the matched clusters open nothing; dev-1's Watchdog is an ordinary alert" \
	"0|1|dev-1" "$(silent)|$(dbq "SELECT count(*) FROM incidents WHERE alertname='Watchdog'")|$(dbq "SELECT cluster FROM incidents WHERE alertname='Watchdog'")"
check "each matched heartbeat is stored as its cluster's switch" "prod-a|prod-b" \
	"$(dbq "SELECT group_concat(heartbeat, '|') FROM (SELECT heartbeat FROM alerts WHERE heartbeat IS NOT NULL ORDER BY heartbeat)")"

# prod-a keeps beating (each poll), prod-b is silent
prod_b_raised() { beat prod-a; [ "$(silent)" -ge 1 ]; }
wait_for() { local n=$(($1 * 10)); shift; while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }
wait_for 20 prod_b_raised && ok "prod-b's silence raises an incident" || not_ok "prod-b silent" "$(dbq "SELECT * FROM alerts")"
for i in 1 2 3 4 5 6 7 8 9 10; do beat prod-a; sleep 0.1; done
check "exactly one, and it names prod-b (prod-a kept beating)" "1|prod-b" \
	"$(silent)|$(dbq "SELECT json_extract(labels, '\$.cluster') FROM alerts WHERE alertname='MonitoringPipelineSilent' ORDER BY id LIMIT 1")"
check_match "its summary says which Alertmanager" 'no Watchdog from Alertmanager \(cluster=prod-b\)' \
	"$(dbq "SELECT summary FROM incidents WHERE alertname='MonitoringPipelineSilent'")"
check_match "bot.log names the switch" 'event=pipeline_silent heartbeat=Watchdog switch="prod-b"' "$(cat "$T/bot.log")"

beat prod-b
back() { [ "$(silent "AND state='resolved'")" = 1 ]; }
wait_for 10 back && ok "prod-b's return resolves its incident" || not_ok "prod-b back" "$(dbq "SELECT id, state FROM incidents")"
check "no incident for prod-a" 1 "$(silent)"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
finish
