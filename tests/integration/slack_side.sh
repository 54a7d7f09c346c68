#!/usr/bin/env bash
# This file contains the test of the Slack side effects that go through the
# outbox, against the double: the escalation DM (conversations.open failing
# with 500 once: retried, delivered exactly once, linking the thread; not
# sent again after a restart; stored but not sent at a kill -9: sent once
# after the restart), and the thread header (chat.update and reactions.add
# failing with 500 once: retried, the header ends updated and marked; a
# header update pending at a kill -9 still lands after the restart).
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
start_double --echo-bot-messages
setup_slack_bot "    escalation_users: [U1ADMIN]"
start_bot || bail "nightshift starts with channels.slack"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

# dms NAME : DMs about NAME the double answered ok
dms() { sd_posts "ok = 1 AND channel LIKE 'D%' AND text LIKE '%$1%'" | grep -c . || true; }
has_dm() { [ "$(dms "$1")" -ge 1 ]; }
# dm_state INC : the state of the incident's slack dm row(s)
dm_state() { db "SELECT group_concat(state) FROM outbox WHERE channel='slack' AND kind='dm' AND incident_id=$1"; }
dm_sent() { [ "$(dm_state "$1")" = sent ]; }
# method_statuses METHOD : the HTTP statuses of METHOD's calls since seq $MARK, in order
method_statuses() {
	sd_get "log?kind=api&method=$1"
	jq_sql "$BODY" "SELECT group_concat(s, ' ') FROM (SELECT json_extract(value,'\$.response.status') AS s
		FROM json_each(@DOC) WHERE json_extract(value,'\$.seq') > ${MARK:-0} ORDER BY json_extract(value,'\$.seq'))"
}
mark() { sd_get log; MARK=$(jq_sql "$BODY" "SELECT max(json_extract(value,'\$.seq')) FROM json_each(@DOC)"); }
header_shows() {
	sd_get "messages?channel=C1"
	jq_sql "$BODY" "SELECT json_extract(value,'\$.blocks') FROM json_each(@DOC,'\$.messages') WHERE json_extract(value,'\$.ts')='$1'" | grep -q "$2"
}
# reacted TS NAME : the bot's reaction NAME is on message TS
reacted() {
	sd_get "messages?channel=C1"
	jq_sql "$BODY" "SELECT count(*) FROM json_each(@DOC,'\$.messages') AS m, json_each(json_extract(m.value,'\$.reactions')) AS r
		WHERE json_extract(m.value,'\$.ts')='$1' AND json_extract(r.value,'\$.name')='$2'" | grep -qx 1
}

# ---- the DM: conversations.open answers 500 once, then ok
mark
sd_ctl fail '{"method":"conversations.open","status":500,"times":1}'
escalate SideDmRetry
A=$INC ROOT_A=$ROOT
wait_for 10 dm_sent "$A" && ok "the DM row is marked sent" || not_ok "DM sent" "$(dm_state "$A")"
check "conversations.open: 500, then retried and ok" "500 200" "$(method_statuses conversations.open)"
check "the DM was delivered exactly once" 1 "$(dms SideDmRetry)"
check "it links the incident's thread" 1 \
	"$(sd_posts "ok = 1 AND channel LIKE 'D%' AND text LIKE '%Needs a human: %SideDmRetry%archives/C1/p${ROOT_A/./}|open the thread>'" | wc -l)"
wait_log 'event=slack_retry method=conversations.open outbox=[0-9]+ attempt=1 status=500' 1 &&
	ok "the retry is logged with its method" || not_ok "retry logged"

# ---- a sent DM is not sent again after a restart
stop_bot KILL
start_bot || bail "nightshift restarts"
wait_for 5 bot_ready || bail "reconnects after the restart"
escalate SideAfterRestart
wait_for 10 dm_sent "$INC" || not_ok "the next escalation's DM is sent" "$(dm_state "$INC")"
check "the DM sent before the restart is not sent again" 1 "$(dms SideDmRetry)"

# ---- kill -9 with the escalation stored and its DM not sent: sent once after the restart
sd_ctl fail '{"method":"conversations.open","status":503,"times":0}'
escalate SideDmCrash
C=$INC
opened() { [ "$(sd_count api conversations.open)" -ge 1 ] && [ -n "$(db "SELECT 1 FROM outbox WHERE channel='slack' AND kind='dm' AND incident_id=$C AND state='pending'")" ]; }
wait_for 10 opened || not_ok "the DM waits in the outbox" "$(dm_state "$C")"
stop_bot KILL
check "at the kill the DM is stored, not sent" "pending|0" "$(dm_state "$C")|$(dms SideDmCrash)"
sd_ctl fail '{"clear":true}'
start_bot || bail "nightshift restarts after kill -9"
wait_for 10 dm_sent "$C" && ok "after the restart the DM is sent" || not_ok "DM after restart" "$(dm_state "$C")"
sleep 1
check "... once" 1 "$(dms SideDmCrash)"

# ---- the header: chat.update and reactions.add answer 500 once
mark
sd_ctl fail '{"method":"chat.update","status":500,"times":1}'
sd_ctl fail '{"method":"reactions.add","status":500,"times":1}'
sd_ctl action/block_actions "{\"user\":\"U1ADMIN\",\"channel\":\"C1\",\"message_ts\":\"$ROOT_A\",\"action_id\":\"ack\",\"value\":\"$A\"}"
wait_for 10 header_shows "$ROOT_A" Acknowledged && ok "after a 500 the header ends showing Acknowledged" || not_ok "header Acknowledged" "$(method_statuses chat.update)"
check_match "chat.update: 500, then retried and ok" '^500 200' "$(method_statuses chat.update)"
wait_for 10 reacted "$ROOT_A" eyes && ok "after a 500 the eyes reaction is added" || not_ok "eyes" "$(method_statuses reactions.add)"
check "reactions.add: 500, then ok" "500 200" "$(method_statuses reactions.add)"
header_done() { [ "$(db "SELECT group_concat(state) FROM outbox WHERE channel='slack' AND kind='header' AND incident_id=$A AND id > (SELECT max(id) FROM outbox WHERE kind='dm')")" = sent ]; }
wait_for 5 header_done && ok "the header row is marked sent" || not_ok "header row" "$(db "SELECT id, state, body FROM outbox WHERE kind='header'")"

# ---- a header update pending at a kill -9 lands after the restart
sd_ctl fail '{"method":"chat.update","status":503,"times":0}'
sd_ctl command/slash "{\"command\":\"/nightshift\",\"text\":\"resolve $A\",\"user_id\":\"U1ADMIN\",\"channel_id\":\"C1\"}"
pending_header() { [ -n "$(db "SELECT 1 FROM outbox WHERE channel='slack' AND kind='header' AND incident_id=$A AND state='pending' AND body LIKE '%resolved%'")" ]; }
wait_for 10 pending_header || not_ok "a resolved header waits in the outbox" "$(db "SELECT id, state, body FROM outbox WHERE kind='header'")"
stop_bot KILL
if header_shows "$ROOT_A" Resolved; then not_ok "the header is not updated before the kill"; else ok "the header is not updated before the kill"; fi
sd_ctl fail '{"clear":true}'
start_bot || bail "nightshift restarts after kill -9"
wait_for 10 header_shows "$ROOT_A" Resolved && ok "after the restart the header shows Resolved" || not_ok "header Resolved after restart" "$(db "SELECT id, state, body FROM outbox WHERE kind='header'")"
wait_for 10 reacted "$ROOT_A" white_check_mark && ok "... with the check mark" || not_ok "check mark"
none_pending() { [ "$(db "SELECT count(*) FROM outbox WHERE channel='slack' AND state='pending'")" = 0 ]; }
wait_for 10 none_pending && ok "nothing is left pending" || not_ok "nothing pending" "$(db "SELECT id, kind, state FROM outbox WHERE state='pending'")"
check "no side row failed" 0 "$(db "SELECT count(*) FROM outbox WHERE kind IN ('dm','header') AND state='failed'")"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
finish
