#!/usr/bin/env bash
# This file contains the test of follow-up questions (bot/followup.h): it
# starts the simulated cluster (build/simcluster) with the bad-deploy
# scenario and the bot with the console channel pointing at it, fires the
# bad-deploy alert (KubeDeploymentReplicasMismatch for prod/checkout-api),
# waits for its investigation, then asks "what changed in the last deploy?"
# both ways:
#   - `nightshift ask` in the foreground: prints the answer naming the new
#     ReplicaSet's revision, image and age (from the simulator), posts nothing
#     and writes nothing;
#   - `nightshift ask --queue`: only queues the question (followup_request);
#     the running bot answers it in the incident's console thread, logs
#     `event=answered`, and records its tool calls linked to the follow-up.
# Also: the other intents in the thread (status, logs, why, history, help),
# refusals of hostile input (unknown incident, 100 KB question, control
# characters, invalid UTF-8), a follow-up queued while the bot is down is
# answered after the restart, an alert naming a pod that is gone is answered
# from its deployment's current pods, and the simulator saw zero mutating
# requests.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

need_binary
SIM=${SIMCLUSTER:-$(dirname "$NS")/build/simcluster}
[ -x "$SIM" ] || SIM=$(dirname "$NS")/simcluster
[ -x "$SIM" ] || bail "simcluster is built next to $NS" "build it with: make build/simcluster"
SIM_PID=
SPORT=

# start_sim : the simulated cluster with the bad-deploy scenario on a free loopback port
start_sim() {
	sim_start --scenario contrib/simcluster/scenarios/bad-deploy.json --log-level warn
}

# sql QUERY : runs QUERY on the bot's store (read-only)
sql() { sqlite3 -batch -noheader "file:$DB?mode=ro" "$1" 2>/dev/null; }

# wait_sql QUERY EXPECTED SECONDS : polls until QUERY prints EXPECTED
wait_sql() {
	local n=$(($3 * 4))
	while [ $n -gt 0 ]; do
		[ "$(sql "$1")" = "$2" ] && return 0
		sleep 0.25
		n=$((n - 1))
	done
	return 1
}

# ask ARGS... : runs `nightshift ask` (bounded); OUT is its stdout then stderr, RC its status.
# Every stderr is kept in ask.err, checked for sanitizer reports at the end.
ask() {
	OUT=$(timeout 30 "$NS" ask "$@" 2>"$T/ask1.err")
	RC=$?
	cat "$T/ask1.err" >>"$T/ask.err"
	[ -s "$T/ask1.err" ] && OUT="$OUT
$(cat "$T/ask1.err")"
	return 0
}

# thread_lines ID : the console lines of incident ID's thread
thread_lines() { grep -a "^#$1 " "$T/console.log" 2>/dev/null; }

start_sim || bail "the simulated cluster starts"
ok "the simulated cluster starts (port $SPORT)"
setup_bot
write_config "$CONF" "investigations:
  workers: 2
  step_budget: 12
  deadline: 30s
  tool_timeout: 5s
playbooks:
  dir: $PWD/playbooks
kubernetes:
  clusters:
    - name: prod-eu-1
      server: http://127.0.0.1:$SPORT"
start_bot || bail "the bot starts"
ok "the bot starts"

# ------------------------------------------------------------------ the bad deploy
post_am KubeDeploymentReplicasMismatch firing '"namespace":"prod","deployment":"checkout-api","cluster":"prod-eu-1"'
check_code "the bad-deploy alert is accepted" 202
if wait_sql "SELECT count(*) FROM investigations WHERE state = 'done'" 1 30; then
	ok "the investigation finishes"
else
	bail "the investigation finishes" "$(sql "SELECT id, state, error FROM investigations")"
fi
INC=$(sql "SELECT incident_id FROM investigations WHERE state = 'done' LIMIT 1")
check_match "the report is in the thread" 'Real problem' "$(thread_lines "$INC")"
muts_before=$(wc -l <"$T/mutations.jsonl" 2>/dev/null || echo 0)
outbox_before=$(sql "SELECT count(*) FROM outbox")
answered_before=$(sql "SELECT count(*) FROM tool_calls")

# ------------------------------------------------------------------ nightshift ask (foreground)
ask -c "$CONF" "$INC" "what changed in the last deploy?"
out=$OUT
check "ask exits 0" 0 "$RC" "$(cat "$T/ask1.err")"
check "ask writes nothing on stderr" "" "$(cat "$T/ask1.err")"
check_match "ask names the new ReplicaSet's revision, image and age" \
	'checkout-api rev 7 \(registry\.example\.com/acme/checkout-api:1\.42\.0, (19|20|21)m ago\) replaced rev 6 \(…:1\.41\.2, [0-9]+[dhm] ago\)' "$out"
check_match "ask shows the change cause" 'change cause: deploy checkout-api 1\.42\.0' "$out"
check_match "ask shows a top warning event of the deployment's pods" '• BackOff .*checkout-api-84c6f7b9d5' "$out"
check_match "ask gives the command" '\$ kubectl -n prod rollout history deployment/checkout-api' "$out"
check_match "ask says which intent and how many tool calls" '\(intent what_changed, 2 tool calls' "$out"
check "ask posts nothing" "$outbox_before" "$(sql "SELECT count(*) FROM outbox")"
check "ask writes no follow-up and no tool call" "0 $answered_before" \
	"$(sql "SELECT count(*) FROM followups") $(sql "SELECT count(*) FROM tool_calls")"
nlines=$(printf '%s\n' "$out" | wc -l)
check_lt "the answer fits a phone (${nlines} lines <= 12)" "$nlines" 13

ask -c "$CONF" "$INC" "still broken?"
out=$OUT
check_match "status: still failing with the pods' reason and restarts" \
	'^Still failing: [23]/3 pods CrashLoopBackOff, [0-9]+ restarts\.' "$out"
ask -c "$CONF" "$INC" "logs pls"
out=$OUT
check_match "logs: the previous instance's panic" \
	'Logs of checkout-api-84c6f7b9d5-[a-z0-9]+ \(checkout-api, previous instance\)' "$out"
check_match "logs: the panic line" '• panic: runtime error: invalid memory address' "$out"
ask -c "$CONF" "$INC" "whats the root cause"
out=$OUT
check_match "why: the stored root cause, no tool call" 'Root cause \(.*\(intent root_cause, 0 tool calls' "$(printf '%s' "$out" | tr '\n' ' ')"
ask -c "$CONF" "$INC" "seen this before?"
out=$OUT
check_match "history: first time" 'First time: no earlier incident of KubeDeploymentReplicasMismatch' "$out"
ask -c "$CONF" "$INC" "can you order pizza"
out=$OUT
check_match "anything else: what it can answer" 'I can answer these here' "$out"

# ------------------------------------------------------------------ refusals
ask -c "$CONF" 999999 "what changed?"
out=$OUT
check "an unknown incident is refused (exit 1)" 1 "$RC"
check_match "... saying so" 'no incident 999999' "$out"
ask -c "$CONF" 12abc "what changed?"
out=$OUT
check "a malformed incident id is a usage error (exit 2)" 2 "$RC"
ask -c "$CONF" "$INC" "$(head -c 100000 /dev/zero | tr '\0' a)"
out=$OUT
check "a 100 KB question is refused (exit 2)" 2 "$RC"
check_match "... saying it is too long" 'too long \(100000 bytes, at most 2000\)' "$out"
ask -c "$CONF" "$INC" "$(printf 'what\033[2Jchanged')"
out=$OUT
check_match "control characters are refused" 'contains control characters' "$out"
ask -c "$CONF" "$INC" "$(printf 'what \xff\xfe changed')"
out=$OUT
check_match "invalid UTF-8 is refused" 'not valid UTF-8' "$out"
ask -c "$CONF" --queue "$INC" "   "
out=$OUT
check_match "an empty question is refused" 'the question is empty' "$out"
check "nothing refused was queued" 0 "$(sql "SELECT count(*) FROM followups")"

# ------------------------------------------------------------------ the durable path
ask -c "$CONF" --queue --user alice "$INC" "what changed in the last deploy?"
out=$OUT
check_match "ask --queue queues one follow-up" "^queued follow-up 1 for incident $INC" "$out"
if wait_log "incident=$INC event=answered followup=1 intent=what_changed" 15; then
	ok "the bot answers it (event=answered followup=1 intent=what_changed)"
else
	not_ok "the bot answers it (event=answered followup=1 intent=what_changed)" \
		"$(sql "SELECT id, state, error FROM followups")"
fi
wait_log "^#$INC .*replaced rev 6" 10 "$T/console.log"
thread=$(thread_lines "$INC")
check_match "the answer quotes the question in the thread" "^#$INC ┃ ↪ alice asked: what changed in the last deploy\\?" "$thread"
check_match "the answer in the thread names the new ReplicaSet's image and age" \
	"^#$INC ┃ checkout-api rev 7 \\(registry\\.example\\.com/acme/checkout-api:1\\.42\\.0, (19|20|21)m ago\\) replaced rev 6" "$thread"
check_match "the command in the thread" "^#$INC ┃  \\\$ kubectl -n prod rollout history deployment/checkout-api" "$thread"
check "the follow-up row is done with its intent and answer" "done|what_changed|1" \
	"$(sql "SELECT state, intent, answer LIKE '%rev 7%' FROM followups WHERE id = 1")"
check "its tool calls are linked to it" "k8s_rollout_history,k8s_events" \
	"$(sql "SELECT group_concat(tool) FROM (SELECT tool FROM tool_calls WHERE followup_id = 1 ORDER BY seq)")"
check "the answer went through the outbox (kind answer)" 1 \
	"$(sql "SELECT count(*) FROM outbox WHERE kind = 'answer' AND incident_id = $INC")"

# Several intents at once: each answered once.
for q in "is it still happening" "show logs" "why"; do
	"$NS" ask -c "$CONF" --queue --user bob "$INC" "$q" >/dev/null 2>&1
done
if wait_sql "SELECT count(*) FROM followups WHERE state = 'done'" 4 20; then
	ok "three more queued questions are all answered"
else
	not_ok "three more queued questions are all answered" "$(sql "SELECT id, state, intent, error FROM followups")"
fi
check "their intents" "status,logs,root_cause" \
	"$(sql "SELECT group_concat(intent) FROM (SELECT intent FROM followups WHERE id > 1 ORDER BY id)")"

# ------------------------------------------------------------------ restart-safe
stop_bot TERM 10
check "the bot stops cleanly" 0 "$BOT_RC"
"$NS" ask -c "$CONF" --queue --user carol "$INC" "wat changed" >/dev/null 2>&1
check "a question asked while the bot is down waits in the store" pending \
	"$(sql "SELECT state FROM followups WHERE id = 5")"
start_bot || bail "the bot restarts"
if wait_log "incident=$INC event=answered followup=5 intent=what_changed" 15; then
	ok "after the restart the bot answers it"
else
	not_ok "after the restart the bot answers it" "$(sql "SELECT id, state, error FROM followups")"
fi

# A crash-loop alert for a pod that is gone: the logs of a current pod of its deployment.
post_am KubePodCrashLooping firing '"namespace":"prod","pod":"checkout-api-84c6f7b9d5-zzzzz","container":"checkout-api","cluster":"prod-eu-1"'
check_code "an alert for a replaced pod is accepted" 202
if wait_sql "SELECT count(*) FROM investigations WHERE state = 'done'" 2 30; then
	INC2=$(sql "SELECT max(incident_id) FROM investigations")
	ask -c "$CONF" "$INC2" "logs?"
	check_match "logs of a replaced pod come from a current pod of its deployment" \
		'^Logs of checkout-api-84c6f7b9d5-(2xkfp|9hqzt|t4mwc) \(checkout-api, previous instance\)' "$OUT"
	ask -c "$CONF" "$INC2" "still happening?"
	check_match "status of a replaced pod looks at its deployment's pods" \
		'^Still failing: [23]/3 pods CrashLoopBackOff' "$OUT"
else
	not_ok "the second investigation finishes" "$(sql "SELECT id, state, error FROM investigations")"
fi

if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/ask.err"; then
	not_ok "no sanitizer reports from nightshift ask" "$(grep -E -A12 'ERROR: |runtime error:' "$T/ask.err" | head -n 30)"
else ok "no sanitizer reports from nightshift ask"; fi

# ------------------------------------------------------------------ read-only
muts_after=$(wc -l <"$T/mutations.jsonl" 2>/dev/null || echo 0)
check "zero mutating requests reached the simulated cluster" "0 0" "$muts_before $muts_after"
stop_bot TERM 10
check "the bot exits 0" 0 "$BOT_RC"
finish
