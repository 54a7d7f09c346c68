#!/usr/bin/env bash
# This file contains the test of mentions outside an incident's thread
# (@nightshift in the channel): with no open incident the bot says so under
# the mention; with exactly one, a question goes to that incident's
# follow-up and is answered in its thread; with several, the bot lists them
# (id, environment, alert, age) under the mention and says how to ask, and a
# mention naming one ("#42", "incident 42") or a command with its number
# ("ack 42") acts on that one, for allowed users only. Slack's copy of a
# mention as a plain message is processed once. Every message the bot posts
# in the channel is accounted for.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
esc_setup
start_bot || bail "nightshift starts"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

N=0
# mention USER TEXT [EXTRA_JSON] : an app_mention in C1 outside any thread; sets TS (its ts)
mention() {
	N=$((N + 1))
	TS=1800000000.$(printf '%06d' $N)
	sd_ctl event/app_mention "{\"channel\":\"C1\",\"user\":\"$1\",\"text\":\"<@UBOT> $2\",\"ts\":\"$TS\"${3:-}}"
	check_code "the mention \"$2\" is delivered" 200
}
# under TS : the text (blocks) of the bot's replies in C1 threaded under the message TS
under() {
	sd_get "log?kind=api&method=chat.postMessage"
	jq_sql "$BODY" "SELECT json_extract(k.value,'\$.text.text') FROM json_each(@DOC) AS p,
		json_each(json_extract(p.value,'\$.body.blocks')) AS k
		WHERE json_extract(p.value,'\$.body.thread_ts')='$1' AND json_extract(p.value,'\$.body.channel')='C1'
		AND json_extract(p.value,'\$.response.body.ok')=1"
}
has_under() { [ -n "$(under "$1")" ]; }
in_thread() { [ "$(sd_posts "ok = 1 AND thread_ts = '$1' AND text LIKE '%$2%'" | wc -l)" -ge "${3:-1}" ]; }
has_event() { [ "$(db "SELECT count(*) FROM human_events WHERE $1")" -ge "${2:-1}" ]; }

# ---- nothing open: said under the mention
mention U1ADMIN "anything burning?"
T0=$TS
wait_for 5 has_under "$T0" || not_ok "a reply under the mention" "$(sd_posts)"
check_match "with nothing open, the bot says so under the mention" 'No incident is open right now\.$' "$(under "$T0")"

# ---- one open incident: a question is that incident's follow-up, answered in its thread
escalate MentionOne
A=$INC ROOT_A=$ROOT
mention U1ADMIN "what changed in the last deploy?"
wait_for 10 in_thread "$ROOT_A" "U1ADMIN asked: what changed in the last deploy?" &&
	ok "with one open incident, a mention's question is answered in its thread" || not_ok "follow-up of the only incident" "$(sd_posts)"
check "the follow-up is the incident's" "$A" "$(db "SELECT incident_id FROM followups WHERE question='what changed in the last deploy?'")"
check "nothing is posted under that mention" "" "$(under "$TS")"

# ---- two open incidents: a list under the mention, and how to ask
escalate MentionTwo
B=$INC ROOT_B=$ROOT
mention U1ADMIN "is it still happening?"
T2=$TS
wait_for 5 has_under "$T2" || not_ok "a list under the mention" "$(sd_posts)"
LIST=$(under "$T2")
check_match "it asks which, counting the open ones" 'Which incident\? 2 are open:' "$LIST"
check_match "it lists the newest first with id, environment, alert and age" "• #$B production · MentionTwo · open 1m.*• #$A production · MentionOne · open 1m" "$(echo "$LIST" | tr '\n' ' ')"
check_match "and says how to ask" 'Name one: `@nightshift #42 what changed\?` or `@nightshift ack 42`' "$(echo "$LIST" | tr '\n' ' ')"
check "no follow-up was started for it" 0 "$(db "SELECT count(*) FROM followups WHERE question LIKE '%still happening%'")"

# ---- naming one: "#N" and "incident N"
mention U1ADMIN "#$A is it still happening?"
wait_for 10 in_thread "$ROOT_A" "asked: #$A is it still happening?" && ok "\"#N\" routes the question to that incident's thread" || not_ok "#N" "$(sd_posts)"
mention U1ADMIN "logs of incident $B please"
wait_for 10 in_thread "$ROOT_B" "asked: logs of incident $B please" && ok "\"incident N\" routes it too" || not_ok "incident N" "$(sd_posts)"
mention U1ADMIN "status #999999"
T9=$TS
wait_for 5 has_under "$T9" || not_ok "a reply for an unknown number" "$(sd_posts)"
check_match "an unknown number is said so, with the list" '^.*I know no incident #999999\. Which incident\? 2 are open:' "$(under "$T9" | head -n1)"

# ---- commands with a number: for allowed users only
mention U2OTHER "ack $B"
wait_for 5 in_thread "$ROOT_B" "not allowed to ack" && ok "an unauthorised \"ack N\" is refused in that incident's thread" || not_ok "refusal" "$(sd_posts)"
check "and changes nothing" escalated "$(db "SELECT state FROM incidents WHERE id=$B")"
mention U1ADMIN "ack $B" ',"also_message":true'
acked() { [ "$(db "SELECT state FROM incidents WHERE id=$1")" = acknowledged ]; }
wait_for 5 acked "$B" && ok "\"@nightshift ack N\" acknowledges incident N" || not_ok "ack N" "$(db "SELECT * FROM human_events")"
wait_for 5 in_thread "$ROOT_B" "Acknowledged by <@U1ADMIN>" || not_ok "the ack is said in its thread" "$(sd_posts)"
check "A is untouched" escalated "$(db "SELECT state FROM incidents WHERE id=$A")"
wait_for 5 has_event "text LIKE '%ack $B' AND user='U1ADMIN'" || not_ok "the ack is recorded"
check "the mention and Slack's message copy of it are one event" 1 "$(db "SELECT count(*) FROM human_events WHERE text LIKE '%ack $B' AND user='U1ADMIN'")"
mention U1ADMIN "resolve #$A"
resolved() { [ "$(db "SELECT state FROM incidents WHERE id=$1")" = resolved ]; }
wait_for 5 resolved "$A" && ok "\"resolve #N\" resolves incident N" || not_ok "resolve #N" "$(db "SELECT * FROM human_events")"

# ---- one left open (B, acknowledged): a plain mention goes to it
mention U1ADMIN "status"
wait_for 5 has_event "text LIKE '%> status' AND action='status'" && ok "with one open incident, \"@nightshift status\" is its status" || not_ok "status of the only one" "$(db "SELECT incident_id, text, action, result FROM human_events")"
check "... of that incident" "$B" "$(db "SELECT incident_id FROM human_events WHERE text LIKE '%> status'")"
wait_for 5 in_thread "$ROOT_B" "#$B is acknowledged · 1 alert" || not_ok "the status is said in its thread" "$(sd_posts)"

# ---- a mention in somebody else's thread: answered in that thread, not under the mention
OTHER=1799999999.000001
mention U1ADMIN "#999998 which one is worst?" ",\"thread_ts\":\"$OTHER\""
wait_for 5 has_under "$OTHER" || not_ok "a reply in the thread the mention was in" "$(sd_posts)"
check_match "a mention in a thread the bot did not open is answered in that thread" \
	'^I know no incident #999998\. Which incident\? 1 is open:' "$(under "$OTHER")"
check "nothing is threaded under the mention itself" "" "$(under "$TS")"

UNEXPECTED=$(sd_posts "ok = 1 AND channel = 'C1'" | cut -d'|' -f3 |
	grep -v -E ' — .{0,8}(Received|Real problem · |Acknowledged by <@U1ADMIN>|Resolved by <@U1ADMIN>|Sorry <@U2OTHER>, you are not allowed to ack)|U1ADMIN asked: | — .{0,8}#[0-9]+ is acknowledged · 1 alert · acknowledged by <@U1ADMIN>|^nightshift — (No incident is open right now\.|(I know no incident #999999\. )?Which incident\? 2 are open:|I know no incident #999998\. Which incident\? 1 is open:)$' || true)
check "no message the test did not expect" "" "$UNEXPECTED"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
finish
