#!/usr/bin/env bash
# This file contains the test of a full investigation queue: one worker, a
# slow cluster (a simcluster failure rule delays every single-pod GET), and
# more new incidents than workers in one webhook body. The "received"
# message of each waiting incident says it is queued and how many are ahead
# of it; the bot is killed (SIGKILL) while one investigation runs and others
# wait; after the restart every investigation is done exactly once (one row,
# one report in the store, one report in the console thread), in the order
# they came, and one more alert posted right after the restart is told it
# waits behind the resumed ones.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-90}
. "$(dirname "$0")/lib.sh"

SIM=${SIMCLUSTER:-build/simcluster}
SCEN=tests/scenarios/crashloop-oom
N=5          # alerts in the first body
DELAY_MS=700 # each single-pod GET; an investigation makes one or more

need_binary
[ -x "$SIM" ] || bail "simcluster binary exists at $SIM" "build it with: make build/simcluster"

dbq() { sqlite3 -batch -noheader -separator '|' -cmd '.timeout 3000' "$DB" "$1" 2>/dev/null; }

# ------------------------------------------------------------------ simcluster
"$SIM" --listen 127.0.0.1:0 --ready-file "$T/sim.port" --scenario "$SCEN/cluster.json" \
	--log-level warn >"$T/sim.log" 2>&1 &
EXTRA_PIDS="$EXTRA_PIDS $!"
for _ in $(seq 1 100); do [ -s "$T/sim.port" ] && break; sleep 0.1; done
SIM_PORT=$(cat "$T/sim.port" 2>/dev/null)
[ -n "$SIM_PORT" ] || bail "simcluster starts" "$(tail -n 5 "$T/sim.log")"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST -H 'Content-Type: application/json' \
	--data "{\"method\":\"GET\",\"path\":\"^/api/v1/namespaces/payments/pods/[^/]+\$\",\"status\":0,\"delay_ms\":$DELAY_MS}" \
	"http://127.0.0.1:$SIM_PORT/_sim/failures")
check_match "simcluster takes a delay rule for single-pod GETs (${DELAY_MS} ms)" '^2[0-9][0-9]$' "$CODE"

# ------------------------------------------------------------------ the bot
setup_bot
write_config "$CONF" "playbooks:
  dir: $PWD/playbooks
fingerprint:
  labels: [alertname, pod, phase]
investigations:
  workers: 1
kubernetes:
  clusters:
    - {name: prod-eu-1, server: \"http://127.0.0.1:$SIM_PORT\"}"
start_bot || bail "nightshift run starts with one worker"

# body FIRST LAST FILE : the scenario's alert once per phase FIRST..LAST (each a new incident)
body() {
	local i alerts=
	for i in $(seq "$1" "$2"); do alerts="$alerts, json_set(value, '\$.labels.phase', 'p$i')"; done
	sqlite3 -batch -noheader :memory: "SELECT json_set(j, '\$.alerts', json_array(${alerts#, }))
		FROM (SELECT CAST(readfile('$SCEN/alert.json') AS TEXT) AS j),
		json_each(j, '\$.alerts')" >"$3"
}

body 1 "$N" "$T/first.json"
post /alerts/alertmanager "$T/first.json"
check_code "POST $N new alerts in one body -> 202" 202
check "$N incidents, $N investigations queued" "$N $N" \
	"$(dbq "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM investigations)" | tr '|' ' ')"

# The received messages: the first starts at once, each later one is queued behind the others.
for _ in $(seq 1 50); do
	[ "$(grep -c 'investigation queued: ' "$T/console.log" 2>/dev/null)" -ge $((N - 1)) ] && break
	sleep 0.1
done
check "incident #1's received message says investigating" 1 "$(grep -c '^#1 .*investigating' "$T/console.log")" \
	"$(grep '^#1 ' "$T/console.log" | head -n 5)"
for i in $(seq 2 "$N"); do
	check_match "incident #$i's received message: queued, $((i - 1)) ahead, all 1 workers busy" \
		"^#$i .*investigation queued: $((i - 1)) ahead of it, all 1 workers busy" \
		"$(grep "^#$i " "$T/console.log")"
done

# Kill -9 while one runs and the others wait.
for _ in $(seq 1 100); do
	[ "$(dbq "SELECT count(*) FROM investigations WHERE state='running'")" = 1 ] &&
		[ "$(dbq "SELECT count(*) FROM investigations WHERE state='pending'")" -ge 2 ] && break
	sleep 0.05
done
before=$(dbq "SELECT group_concat(id||':'||state, ' ') FROM investigations")
stop_bot KILL 5
check "SIGKILL while one investigation runs and others wait" "killed 1" \
	"$([ "$BOT_RC" = 137 ] && echo killed) $(printf '%s' "$before" | grep -o ':running' | wc -l)" "$before"
waiting=$(dbq "SELECT count(*) FROM investigations WHERE state IN ('pending','running')")
check_ge "after the kill, investigations still wait in the store ($before)" "$waiting" 2
check "after the kill, none is lost ($N rows)" "$N" "$(dbq "SELECT count(*) FROM investigations")"

# Restart; one more alert right away waits behind the resumed ones.
start_bot || bail "nightshift starts again on the same store"
body $((N + 1)) $((N + 1)) "$T/late.json"
post /alerts/alertmanager "$T/late.json"
check_code "POST one more alert after the restart -> 202" 202
late=$(jget "$BODY" '$.incidents[0]')
wait_log "^#$late .*(investigating|investigation queued)" 5 "$T/console.log"
check_match "the late incident #$late is told it is queued behind the resumed ones" \
	"^#$late .*investigation queued: [1-9][0-9]* ahead of it, all 1 workers busy" \
	"$(grep "^#$late " "$T/console.log")"

TOTAL=$((N + 1))
for _ in $(seq 1 200); do
	[ "$(dbq "SELECT count(*) FROM investigations WHERE state='done'")" = "$TOTAL" ] && break
	sleep 0.1
done
check "every investigation is done ($TOTAL), none failed or left waiting" "$TOTAL 0" \
	"$(dbq "SELECT count(*) FILTER (WHERE state='done'), count(*) FILTER (WHERE state<>'done') FROM investigations" | tr '|' ' ')" \
	"$(dbq "SELECT group_concat(id||':'||state, ' ') FROM investigations")"
check "exactly one investigation per incident" "$TOTAL $TOTAL" \
	"$(dbq "SELECT count(*), count(DISTINCT incident_id) FROM investigations" | tr '|' ' ')"
check "each investigation found the OOM kill (the slow cluster only delayed it)" "$TOTAL" \
	"$(dbq "SELECT count(*) FROM investigations WHERE verdict='real' AND category='oom_killed'")"
check "the interrupted one ran again (attempts 2), the others once" "1 $((TOTAL - 1))" \
	"$(dbq "SELECT count(*) FILTER (WHERE attempts=2), count(*) FILTER (WHERE attempts=1) FROM investigations" | tr '|' ' ')"
check "one report per incident in the store's outbox" "" \
	"$(dbq "SELECT group_concat(id, ' ') FROM incidents i WHERE (SELECT count(*) FROM outbox o
		WHERE o.incident_id = i.id AND o.kind = 'report') <> 1")"
check "the queue is first in, first out (finished in the order they came)" \
	"$(dbq "SELECT group_concat(id, ' ') FROM (SELECT id FROM investigations ORDER BY id)")" \
	"$(dbq "SELECT group_concat(id, ' ') FROM (SELECT id FROM investigations ORDER BY finished_at, id)")"
for _ in $(seq 1 50); do
	[ "$(grep -c 'Real problem' "$T/console.log")" -ge "$TOTAL" ] && break
	sleep 0.1
done
bad=
for i in $(seq 1 "$TOTAL"); do
	c=$(grep -c "^#$i .*Real problem" "$T/console.log")
	[ "$c" = 1 ] || bad="$bad #$i:$c"
done
check "the console thread of each incident shows its report exactly once" "" "${bad# }"
check "the bot is up after the restart" 200 "$(http_status "$BASE/healthz")"
stop_bot TERM 10
check "nightshift exits 0 on SIGTERM" 0 "$BOT_RC"
finish
