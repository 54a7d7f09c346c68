#!/usr/bin/env bash
# This file contains the escalation test against the Slack double, with the
# test-only escalation clock (testing.clock_file) fast-forwarding hours of
# nags: an escalated report mentions the escalation users; a nag every
# nag_interval (production: 10 min) says which nag it is, how long the
# incident is open and what changed; acknowledgements by a reply matching the
# ack words, the button, an :eyes: reaction and /nightshift ack stop them and
# say who and after how long (a second ack is harmless; "ack" inside a
# sentence is not one; an unauthorised "ack" is refused); resolve at source
# stops them; kill -9 mid-escalation and a restart much later give exactly
# one overdue nag, then the schedule goes on. Every message the bot posts is
# accounted for at the end.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
setup_clock_bot "    escalation_users: [U1ADMIN]"
start_bot || bail "nightshift starts with testing.clock_file"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"
check_cmd "the test clock is announced in the log" grep -q 'event=test_clock_enabled' "$T/bot.log"

# escalate_reported NAME : escalate (lib_slack.bash), then waits for the report in the thread
escalate_reported() {
	escalate "$1"
	report() { [ "$(sd_posts "ok = 1 AND thread_ts = '$ROOT' AND text LIKE '%Real problem%'" | wc -l)" -ge 1 ]; }
	wait_for 10 report || not_ok "the report of $1 is posted in its thread" "$(sd_posts)"
}
# nags TS : the nag messages in thread TS, one per line
nags() { sd_posts "ok = 1 AND thread_ts = '$1' AND text LIKE '%Still unacknowledged%'" | cut -d'|' -f3; }
nag_count() { nags "$1" | grep -c . || true; }
has_nags() { [ "$(nag_count "$1")" -ge "$2" ]; }
in_thread() { [ "$(sd_posts "ok = 1 AND thread_ts = '$1' AND text LIKE '%$2%'" | wc -l)" -ge "${3:-1}" ]; }

# ---- escalate: the report mentions the target, the row schedules a nag in 10 min
escalate_reported EscReply
A=$INC ROOT_A=$ROOT
sd_get "log?kind=api&method=chat.postMessage"
MENTION=$(jq_sql "$BODY" "SELECT group_concat(json_extract(k.value,'\$.text.text'), ' ') FROM json_each(@DOC) AS p,
	json_each(json_extract(p.value,'\$.body.blocks')) AS k
	WHERE json_extract(p.value,'\$.body.thread_ts')='$ROOT_A' AND json_extract(p.value,'\$.body.text') LIKE '%Real problem%'")
check_match "the escalated report mentions the escalation user" '<@U1ADMIN>' "$MENTION"
check "the escalation row: 0 nags, first one 10 min after the start" "0|600000|active" \
	"$(db "SELECT nags, next_nag_at - started_at, state FROM escalations WHERE incident_id=$A")"
sleep 1.5
check "no nag before the interval" 0 "$(nag_count "$ROOT_A")"

# ---- fast-forward: a nag per interval, each one different
clock_at 10
wait_for 5 has_nags "$ROOT_A" 1 || not_ok "nag #1 after 10 min" "$(sd_posts)"
check_match "nag #1 says which nag, how long, and mentions the target" \
	'<@U1ADMIN> Still unacknowledged — nag #1, open 10 min\. No new alerts since the last message \(1 in all\)\. Still firing\.' "$(nags "$ROOT_A" | sed -n 1p)"
post_am EscReply firing '"namespace":"prod-api","pod":"EscReply-2"'
joined() { [ "$(db "SELECT alert_count FROM incidents WHERE id=$A")" -ge 2 ]; }
wait_for 5 joined || not_ok "a second alert joins the incident" "$(db "SELECT id, alert_count FROM incidents")"
clock_at 20
wait_for 5 has_nags "$ROOT_A" 2 || not_ok "nag #2 after 20 min" "$(sd_posts)"
check_match "nag #2 says what changed: a new alert joined" 'nag #2, open 20 min\. Since the last message: 1 new alert joined \(2 in all\)' "$(nags "$ROOT_A" | sed -n 2p)"
check "two nags, never the same text twice" 2 "$(nags "$ROOT_A" | sort -u | wc -l)"

# ---- kill -9 mid-escalation; restart 35 min later: one overdue nag, then the schedule goes on
stop_bot KILL
clock_at 55
start_bot || bail "nightshift restarts after kill -9"
wait_for 5 bot_ready || bail "reconnects after the restart"
wait_for 5 has_nags "$ROOT_A" 3 || not_ok "the overdue nag fires after the restart" "$(sd_posts)"
sleep 2
check "exactly one overdue nag (no burst for the missed intervals)" 3 "$(nag_count "$ROOT_A")"
check_match "it is nag #3, open 55 min" 'nag #3, open 55 min' "$(nags "$ROOT_A" | sed -n 3p)"
clock_at 65
wait_for 5 has_nags "$ROOT_A" 4 || not_ok "the schedule goes on 10 min after the overdue nag" "$(sd_posts)"
check "the store counts 4 nags" 4 "$(db "SELECT nags FROM escalations WHERE incident_id=$A")"

# ---- replies: a sentence with "ack" in it is not an ack; an unauthorised ack is refused; "Ack." acks
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"I will ack this after lunch\",\"thread_ts\":\"$ROOT_A\"}"
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U2OTHER\",\"text\":\"ack\",\"thread_ts\":\"$ROOT_A\"}"
has_event() { [ "$(db "SELECT count(*) FROM human_events WHERE $1")" -ge 1 ]; }
wait_for 5 has_event "user='U2OTHER' AND text='ack'" || not_ok "the unauthorised ack is recorded"
wait_for 5 in_thread "$ROOT_A" "not allowed to ack" && ok "an unauthorised ack is refused in the thread" || not_ok "refusal" "$(sd_posts)"
wait_for 10 in_thread "$ROOT_A" "U1ADMIN asked: I will ack this after lunch" && ok "the sentence is a question, answered in the thread" || not_ok "question answered" "$(sd_posts)"
check "neither acknowledged the incident" "escalated|active" \
	"$(db "SELECT i.state, e.state FROM incidents i JOIN escalations e ON e.incident_id=i.id WHERE i.id=$A")"
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"  Ack. \",\"thread_ts\":\"$ROOT_A\"}"
acked() { [ "$(db "SELECT state FROM escalations WHERE incident_id=$1")" = acked ]; }
wait_for 5 acked "$A" && ok "a reply matching the ack words acknowledges" || not_ok "ack by reply" "$(db "SELECT * FROM human_events")"
wait_for 5 in_thread "$ROOT_A" "Acknowledged by <@U1ADMIN> after 65 min" && ok "the thread says who acknowledged and after how long" || not_ok "ack reply" "$(sd_posts)"
check "the store says who and when" "acknowledged|U1ADMIN|U1ADMIN" \
	"$(db "SELECT i.state, i.acknowledged_by, e.acked_by FROM incidents i JOIN escalations e ON e.incident_id=i.id WHERE i.id=$A")"
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"on it\",\"thread_ts\":\"$ROOT_A\"}"
wait_for 5 has_event "text='on it'" || not_ok "the second ack is recorded"
check "a second ack is harmless: recorded as already acknowledged" "already acknowledged" "$(db "SELECT result FROM human_events WHERE text='on it'")"

# ---- the button
escalate_reported EscButton
B=$INC ROOT_B=$ROOT
sd_ctl action/block_actions "{\"user\":\"U1ADMIN\",\"channel\":\"C1\",\"message_ts\":\"$ROOT_B\",\"action_id\":\"ack\",\"value\":\"$B\"}"
wait_for 5 acked "$B" && ok "the Acknowledge button stops the nags" || not_ok "ack by button"
sd_ctl action/block_actions "{\"user\":\"U1ADMIN\",\"channel\":\"C1\",\"message_ts\":\"$ROOT_B\",\"action_id\":\"ack\",\"value\":\"$B\"}"

# ---- a reaction
escalate_reported EscReaction
C=$INC ROOT_C=$ROOT
sd_ctl event/reaction_added "{\"user\":\"U1ADMIN\",\"reaction\":\"thumbsup\",\"item\":{\"channel\":\"C1\",\"ts\":\"$ROOT_C\"}}"
sd_ctl event/reaction_added "{\"user\":\"U1ADMIN\",\"reaction\":\"eyes\",\"item\":{\"channel\":\"C1\",\"ts\":\"$ROOT_C\"}}"
wait_for 5 acked "$C" && ok "an :eyes: reaction on the bot's message acknowledges" || not_ok "ack by reaction"
check "a :thumbsup: does not" "" "$(db "SELECT action FROM human_events WHERE text='thumbsup'")"

# ---- the slash command
escalate_reported EscSlash
D=$INC ROOT_D=$ROOT
sd_ctl command/slash "{\"command\":\"/nightshift\",\"text\":\"ack $D\",\"user_id\":\"U1ADMIN\",\"channel_id\":\"C1\"}"
wait_for 5 acked "$D" && ok "/nightshift ack N acknowledges" || not_ok "ack by slash"

# ---- resolve at source
escalate_reported EscSource
E=$INC ROOT_E=$ROOT
post_am EscSource resolved '"namespace":"prod-api","pod":"EscSource-1"'
wait_for 5 in_thread "$ROOT_E" "Resolved at source — stopping nags" && ok "resolve at source stops the nags and says so" || not_ok "resolved at source" "$(sd_posts)"
check "its escalation is resolved" resolved "$(db "SELECT state FROM escalations WHERE incident_id=$E")"

# ---- much later: no acknowledged or resolved incident is nagged again
clock_at 200
sleep 2.5
check "no nag after an ack or a resolve" "4|0|0|0|0" \
	"$(nag_count "$ROOT_A")|$(nag_count "$ROOT_B")|$(nag_count "$ROOT_C")|$(nag_count "$ROOT_D")|$(nag_count "$ROOT_E")"
for r in "$ROOT_A" "$ROOT_B" "$ROOT_C" "$ROOT_D" "$ROOT_E"; do
	n=$(sd_posts "ok = 1 AND thread_ts = '$r' AND text LIKE '%Acknowledged by%'" | wc -l)
	[ "$r" = "$ROOT_E" ] && want=0 || want=1
	check "thread $r: one acknowledgement message (a second ack says nothing)" "$want" "$n"
done

# ---- every message the bot posted in the channel is one we expect
UNEXPECTED=$(sd_posts "ok = 1 AND channel = 'C1'" | cut -d'|' -f3 |
	grep -v -E ' — .{0,8}(Received|Real problem · |Resolved at source after )|— .{0,40}Still unacknowledged — nag #|— .{0,8}Acknowledged by <@U1ADMIN>|— .{0,8}Sorry <@U2OTHER>, you are not allowed to ack|— .{0,8}Resolved at source — stopping nags$|— .{0,8}U1ADMIN asked: I will ack this after lunch$' || true)
check "no message the test did not expect" "" "$UNEXPECTED"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"

# ---- the test clock is refused without NIGHTSHIFT_ALLOW_TEST_CLOCK=1
unset NIGHTSHIFT_ALLOW_TEST_CLOCK
OUT=$("$NS" check-config -c "$CONF" 2>&1) && not_ok "check-config refuses testing.clock_file" || ok "check-config refuses testing.clock_file"
check_match "... saying it is test-only, with file:line" "$(basename "$CONF"):[0-9]+: testing.clock_file: a test-only setting" "$OUT"
finish
