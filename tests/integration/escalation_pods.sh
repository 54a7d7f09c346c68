#!/usr/bin/env bash
# This file contains the test of nags with a fresh look at the pods
# (README "Escalation"): the simulated cluster (build/simcluster) serves
# prod-shop/cart with one of its two pods crash looping; the bot, with the
# Slack double, the test escalation clock and Kubernetes configured,
# escalates a KubePodCrashLooping alert of that pod. Fast-forwarded to nag 1,
# the nag names the crash-looping pod, its restarts and how many pods are
# ready; the simulated cluster is then restarted with the pod running and
# ready, and nag 2 says the pods recovered, compared with nag 1's look. With
# the cluster gone, nag 3 still goes out and says it could not look. Every
# nag is posted once (kill -9 and a restart included), the look is a
# worker's followups row of kind 'nag', and the simulator saw no mutation.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
SIM=${SIMCLUSTER:-$(dirname "$NS")/build/simcluster}
[ -x "$SIM" ] || SIM=$(dirname "$NS")/simcluster
[ -x "$SIM" ] || bail "simcluster is built next to $NS" "build it with: make build/simcluster"
SCENARIO=tests/fixtures/nag-pods/crashloop.json
POD=cart-7f9c6d5b8-x2k4q
SIM_PID=
SPORT=

# start_sim FILE : simcluster serving FILE, on the same port after the first time
start_sim() { sim_start --scenario "$1" --log-level warn; }
# stop_sim : stops the simcluster started last, and waits for it
stop_sim() {
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	SIM_PID=
}

# nags : the nag messages in thread ROOT, one per line
nags() { sd_posts "ok = 1 AND thread_ts = '$ROOT' AND text LIKE '%Still unacknowledged%'" | cut -d'|' -f3; }
has_nags() { [ "$(nags | grep -c .)" -ge "$1" ]; }
# last_look : the escalation's summary of the last look at the pods
last_look() { db "SELECT last_pods FROM escalations WHERE incident_id = $INC"; }

start_sim "$SCENARIO" || bail "the simulated cluster starts"
ok "the simulated cluster starts (port $SPORT)"
esc_setup "investigations:
  workers: 2
  step_budget: 12
  deadline: 30s
  tool_timeout: 3s
kubernetes:
  clusters:
    - name: sim
      server: http://127.0.0.1:$SPORT"
start_bot || bail "nightshift starts with kubernetes and testing.clock_file"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

escalate KubePodCrashLooping prod-shop warning \
	'"namespace":"prod-shop","pod":"'"$POD"'","container":"cart","reason":"CrashLoopBackOff"'
[ -n "$ROOT" ] || bail "the incident is escalated with its report in a thread" "$(sd_posts)"

# ---- nag 1: the crash-looping pod, its restarts, ready/total
clock_at 10
wait_for 15 has_nags 1 || not_ok "nag #1 after 10 min" "$(sd_posts) $(db "SELECT id, kind, state, error FROM followups")"
check_match "nag #1 is the usual nag, then names the crash-looping pod, its restarts and the ready pods" \
	"nag #1, open 10 min\. .*Still firing\. Pods: $POD CrashLoopBackOff \(restarts 14\); 1/2 ready\.\$" "$(nags | sed -n 1p)"
check "the look was a worker's nag row, done" "nag|done|nag" \
	"$(db "SELECT kind, state, intent FROM followups WHERE incident_id = $INC")"
check "the escalation keeps the look for the next nag" "ready=1 total=2 pod=$POD restarts=14" \
	"$(last_look)"
check_match "the look's tool calls are recorded with the nag row" '^[1-9]' \
	"$(db "SELECT count(*) FROM tool_calls WHERE followup_id = (SELECT id FROM followups WHERE incident_id = $INC)")"

# ---- the pod recovers (the same scenario, its container running and ready): nag 2 says so
jq_sql "$(cat "$SCENARIO")" "SELECT json_set(@DOC,
	'\$.pods[0].status.containerStatuses[0].ready', json('true'),
	'\$.pods[0].status.containerStatuses[0].started', json('true'),
	'\$.pods[0].status.containerStatuses[0].state', json('{\"running\":{\"startedAt\":\"\${now-2m}\"}}'))" \
	>"$T/healthy.json"
check_cmd "the recovered scenario is written" grep -q '"running"' "$T/healthy.json"
stop_sim
start_sim "$T/healthy.json" || bail "the simulated cluster restarts with the pod ready"
clock_at 20
wait_for 15 has_nags 2 || not_ok "nag #2 after 20 min" "$(sd_posts)"
check_match "nag #2 says the pods recovered since nag #1's look" \
	'nag #2, open 20 min\. .* Pods recovering: 2/2 ready now \(1/2 at the last nag\)\.$' "$(nags | sed -n 2p)"
check "the escalation keeps the new look" "ready=2 total=2 restarts=0" \
	"$(last_look)"

# ---- the cluster is gone: the nag still goes out, saying it could not look
stop_sim
clock_at 30
wait_for 20 has_nags 3 || not_ok "nag #3 after 30 min" "$(sd_posts)"
check_match "nag #3 says it could not look at the pods" \
	'nag #3, open 30 min\. .* Pods: could not look \(.+\)\.$' "$(nags | sed -n 3p)"
check "a failed look keeps the previous one as the reference" "ready=2 total=2 restarts=0" \
	"$(last_look)"

# ---- kill -9 and a restart: the next nag once, none doubled
stop_bot KILL
start_sim "$T/healthy.json" || bail "the simulated cluster starts again"
start_bot || bail "nightshift restarts after kill -9"
wait_for 5 bot_ready || bail "reconnects after the restart"
clock_at 40
wait_for 15 has_nags 4 || not_ok "nag #4 after the restart" "$(sd_posts)"
check_match "nag #4 compares with the last look that succeeded" \
	'nag #4, open 40 min\. .* Pods: 2/2 ready, as at the last nag\.$' "$(nags | sed -n 4p)"
check "each nag was posted once, in order" "1 2 3 4" \
	"$(nags | sed 's/.*nag #\([0-9]*\),.*/\1/' | tr '\n' ' ' | sed 's/ $//')"
check "four nag rows, all done" "4|4" \
	"$(db "SELECT count(*), sum(state = 'done') FROM followups WHERE kind = 'nag'")"
check "the simulator saw no mutating request" 0 "$(cat "$T/mutations.jsonl" 2>/dev/null | wc -l)"
stop_bot TERM
finish
