#!/usr/bin/env bash
# This file contains the Slack thread test against the Slack double: an
# alert opens a thread (first message with environment · severity · alert,
# buttons carrying the incident id), later messages are replies in it, a
# resolve updates the header; what people do comes back as human events —
# replies in the thread, mentions, reactions, button clicks (refused for a
# user not in allowed_users), the slash command — each stored once, even
# when Slack redelivers it, and also after a crash between the ack and the
# work; the bot's own messages and hostile frames are skipped and the
# connection stays up.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
start_double --echo-bot-messages --ack-timeout-ms 1500
setup_slack_bot "    escalation_users: [U1ADMIN]"
start_bot || bail "nightshift starts with channels.slack"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"
ok "the bot connects over Socket Mode (healthz slack: ok)"
check "it opened one connection with a fresh URL" 1 "$(sd_count api apps.connections.open)"
check "auth.test ran at start" 1 "$(sd_count api auth.test)"

# ---- alert -> thread -> replies
post_am SlackThreadTest firing '"namespace":"prod-api","pod":"api-7f9c"'
check_code "the alert is accepted" 202
INC=$(jget "$BODY" '$.incidents[0]')
two_posts() { [ "$(sd_posts | grep -c 'SlackThreadTest')" -ge 2 ]; }
wait_for 10 two_posts || not_ok "two messages are posted (received, report)" "$(sd_posts)"
ROOT=$(sd_posts | grep 'SlackThreadTest' | head -n1)
ROOT_SEQ=${ROOT%%|*}
sd_get "log?kind=api&method=chat.postMessage"
ROOT_TS=$(jq_sql "$BODY" "SELECT json_extract(value,'\$.response.body.ts') FROM json_each(@DOC) WHERE json_extract(value,'\$.seq')=$ROOT_SEQ")
check "the first message opens the thread (no thread_ts)" "" "$(echo "$ROOT" | cut -d'|' -f2)"
check_match "its fallback text starts with environment · severity · alert" \
	'^.+ production · warning · SlackThreadTest · prod-api/api-7f9c — Received' "$(echo "$ROOT" | cut -d'|' -f3)"
FIRST_BLOCK=$(jq_sql "$BODY" "SELECT json_extract(value,'\$.body.blocks[0].text.text') FROM json_each(@DOC) WHERE json_extract(value,'\$.seq')=$ROOT_SEQ")
check_match "its first block is the bold headline" '^\*.*SlackThreadTest.*\*$' "$FIRST_BLOCK"
BUTTONS=$(jq_sql "$BODY" "SELECT group_concat(json_extract(b.value,'\$.action_id') || '=' || json_extract(b.value,'\$.value'), ',')
	FROM json_each(@DOC) AS p, json_each(json_extract(p.value,'\$.body.blocks')) AS k, json_each(json_extract(k.value,'\$.elements')) AS b
	WHERE json_extract(p.value,'\$.seq')=$ROOT_SEQ AND json_extract(k.value,'\$.type')='actions'")
check "buttons Acknowledge / Resolve / Silence 1h carry the incident id" "ack=$INC,resolve=$INC,silence_1h=$INC" "$BUTTONS"
check "the thread ts is stored in threads" "$ROOT_TS" "$(db "SELECT thread_ref FROM threads WHERE incident_id=$INC AND channel='slack'")"
check "every later message of the incident is a reply in that thread" 0 \
	"$(sd_posts "ok = 1 AND channel = 'C1' AND text LIKE '%SlackThreadTest%' AND seq > $ROOT_SEQ AND ifnull(thread_ts,'') <> '$ROOT_TS'" | wc -l)"
check_ge "there is at least one reply" "$(sd_posts "ok = 1 AND thread_ts = '$ROOT_TS'" | wc -l)" 1

# ---- escalation: a direct message to escalation_users (conversations.open)
dm_sent() { [ "$(sd_posts "ok = 1 AND channel LIKE 'D%' AND text LIKE '%SlackThreadTest%'" | wc -l)" -ge 1 ]; }
wait_for 5 dm_sent && ok "the escalation is sent as a DM to escalation_users (conversations.open)" ||
	not_ok "escalation DM" "$(sd_count api conversations.open) conversations.open"
sd_get "log?kind=api&method=conversations.open"
check "conversations.open named the escalation user" U1ADMIN "$(jq_sql "$BODY" "SELECT json_extract(value,'\$.body.users') FROM json_each(@DOC) LIMIT 1")"

# ---- the bot's own messages (echoed by the double as message events) are ignored
check "no human event comes from the bot's own messages" 0 "$(db "SELECT count(*) FROM human_events WHERE user='UBOT'")"

# ---- people in the thread
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"looking at it\",\"thread_ts\":\"$ROOT_TS\"}"
EV_ENV=$(jget "$BODY" '$.envelope_id')
has_event() { [ "$(db "SELECT count(*) FROM human_events WHERE $1")" -ge "${2:-1}" ]; }
wait_for 5 has_event "kind='message' AND text='looking at it'" || not_ok "a reply in the thread becomes a human event"
check "a reply in the thread is a human event of the incident" "$INC|U1ADMIN|message" \
	"$(db "SELECT incident_id, user, kind FROM human_events WHERE text='looking at it'")"
sd_ctl redeliver "{\"envelope_id\":\"$EV_ENV\"}"
acks_of() { sd_get envelopes; jq_sql "$BODY" "SELECT json_extract(value,'\$.acks') FROM json_each(@DOC) WHERE json_extract(value,'\$.envelope_id')='$1'"; }
two_acks() { [ "$(acks_of "$1")" -ge 2 ]; }
wait_for 5 two_acks "$EV_ENV" || not_ok "the redelivered envelope is acked again" "$(acks_of "$EV_ENV")"
check "a redelivered envelope is processed once" 1 "$(db "SELECT count(*) FROM human_events WHERE text='looking at it'")"
sd_ctl event/message '{"channel":"C1","user":"U1ADMIN","text":"unrelated chatter"}'
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"subtype\":\"message_changed\",\"text\":\"edited\",\"thread_ts\":\"$ROOT_TS\"}"
sd_ctl event/app_mention "{\"channel\":\"C1\",\"user\":\"U2OTHER\",\"text\":\"<@UBOT> why?\",\"thread_ts\":\"$ROOT_TS\"}"
wait_for 5 has_event "kind='mention'" || not_ok "a mention becomes a human event"
check "a mention in the thread is a human event of the incident" "$INC|U2OTHER" "$(db "SELECT incident_id, user FROM human_events WHERE kind='mention'")"
check "channel chatter and edits are not human events" 0 "$(db "SELECT count(*) FROM human_events WHERE text IN ('unrelated chatter','edited')")"
sd_ctl event/reaction_added "{\"user\":\"U2OTHER\",\"reaction\":\"eyes\",\"item\":{\"channel\":\"C1\",\"ts\":\"$ROOT_TS\"}}"
wait_for 5 has_event "kind='reaction'" || not_ok "a reaction on the bot's message becomes a human event" "$BODY"
check "a reaction on the thread's message is a human event" "$INC|eyes" "$(db "SELECT incident_id, text FROM human_events WHERE kind='reaction'")"

# ---- buttons: checked against the store, refused for users not in allowed_users
sd_ctl action/block_actions "{\"user\":\"U2OTHER\",\"channel\":\"C1\",\"message_ts\":\"$ROOT_TS\",\"action_id\":\"ack\",\"value\":\"$INC\"}"
wait_for 5 has_event "kind='action' AND user='U2OTHER'" || not_ok "the click is recorded"
check "an unauthorised click is refused and changes nothing" "0|not allowed|$(db "SELECT state FROM incidents WHERE id=$INC")" \
	"$(db "SELECT allowed, result FROM human_events WHERE kind='action' AND user='U2OTHER'")|$(db "SELECT state FROM incidents WHERE id=$INC")"
refusal() { [ "$(sd_posts "ok = 1 AND thread_ts = '$ROOT_TS' AND text LIKE '%not allowed%'" | wc -l)" -ge 1 ]; }
wait_for 5 refusal && ok "the user gets a short reply in the thread saying so" || not_ok "refusal reply" "$(sd_posts)"
sd_ctl action/block_actions "{\"user\":\"U1ADMIN\",\"channel\":\"C1\",\"message_ts\":\"$ROOT_TS\",\"action_id\":\"ack\",\"value\":\"999999\"}"
wait_for 5 has_event "kind='action' AND user='U1ADMIN'" || not_ok "the forged click is recorded"
check_match "a button value naming no incident is not trusted" "unknown incident" "$(db "SELECT result FROM human_events WHERE kind='action' AND user='U1ADMIN'")"
sd_ctl action/block_actions "{\"user\":\"U1ADMIN\",\"channel\":\"C1\",\"message_ts\":\"$ROOT_TS\",\"action_id\":\"ack\",\"value\":\"$INC\"}"
acked() { [ "$(db "SELECT state FROM incidents WHERE id=$INC")" = acknowledged ]; }
wait_for 5 acked && ok "an allowed user's Acknowledge click acknowledges the incident" || not_ok "ack by click" "$(db "SELECT * FROM human_events")"
header_shows() {
	sd_get "messages?channel=C1"
	jq_sql "$BODY" "SELECT json_extract(value,'\$.blocks') FROM json_each(@DOC,'\$.messages') WHERE json_extract(value,'\$.ts')='$ROOT_TS'" | grep -q "$1"
}
wait_for 5 header_shows Acknowledged && ok "the thread's first message now shows Acknowledged" || not_ok "header shows Acknowledged" "$BODY"
ack_reply() { sd_get "log?kind=api&method=chat.postMessage"; jq_sql "$BODY" "SELECT json_extract(value,'\$.body.blocks[0].text.text') FROM json_each(@DOC) WHERE json_extract(value,'\$.body.text') LIKE '%Acknowledged by%'" | grep -q 'Acknowledged by <@U1ADMIN>'; }
wait_for 5 ack_reply && ok "the thread says who acknowledged, as a real mention" || not_ok "ack reply with mention" "$BODY"

# ---- resolve at the source updates the header
post_am SlackThreadTest resolved '"namespace":"prod-api","pod":"api-7f9c"'
check_code "the resolve is accepted" 202
wait_for 10 header_shows Resolved && ok "resolve updates the header to Resolved" || not_ok "header shows Resolved" "$BODY"
header_has_buttons() { header_shows '"actions"'; }
if header_has_buttons; then not_ok "a resolved header has no buttons left"; else ok "a resolved header has no buttons left"; fi
reacted() { [ "$(sd_count api reactions.add)" -ge 2 ]; }
wait_for 5 reacted && ok "reactions.add marks the thread (eyes on ack, check mark on resolve)" || not_ok "reactions.add" "$(sd_count api reactions.add)"

# ---- the slash command
post_am SlackSlashTest firing '"namespace":"prod-api","pod":"web-1"'
INC2=$(jget "$BODY" '$.incidents[0]')
sd_ctl command/slash "{\"command\":\"/nightshift\",\"text\":\"resolve $INC2\",\"user_id\":\"U1ADMIN\",\"channel_id\":\"C1\"}"
resolved2() { [ "$(db "SELECT state || '|' || resolved_by FROM incidents WHERE id=$INC2")" = "resolved|U1ADMIN" ]; }
wait_for 5 resolved2 && ok "/nightshift resolve N by an allowed user resolves the incident" || not_ok "slash resolve" "$(db "SELECT * FROM human_events WHERE kind='command'")"

# ---- hostile frames: logged, skipped, the connection stays
sd_ctl raw '{"text":"{not json"}'
sd_ctl raw '{"text":"[1,2,3]"}'
sd_ctl raw '{"text":"{\"type\":\"events_api\",\"payload\":{}}"}'
sd_ctl raw '{"text":"{\"type\":\"mystery\",\"envelope_id\":\"x-1\"}"}'
sd_ctl raw '{"text":"{\"type\":\"events_api\",\"envelope_id\":\"x-2\",\"payload\":{\"event\":{\"type\":\"message\",\"user\":[1],\"ts\":{}}}}"}'
{ printf '{"text":"{\\"type\\":\\"hello\\",\\"pad\\":\\"'; head -c 300000 /dev/zero | tr '\0' x; printf '\\"}"}'; } >"$T/big.json"
curl -s -o /dev/null --max-time 5 -H 'Content-Type: application/json' --data-binary @"$T/big.json" "$SD_BASE/_control/raw"
wait_log 'event=slack_frame_skipped.*not a JSON object' 5 || not_ok "a non-JSON frame is logged"
wait_log 'slack_frame_skipped.*larger than' 5 && ok "an oversized frame is skipped and logged" || not_ok "oversized frame skipped"
check "malformed frames are logged and skipped" 1 "$(grep -c 'event=slack_frame_skipped.*envelope without' "$T/bot.log" | awk '{print ($1 >= 1)}')"
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"after the junk\",\"thread_ts\":\"$ROOT_TS\"}"
wait_for 5 has_event "text='after the junk'" && ok "the connection stays up: a later event is still handled" || not_ok "event after junk"
check "the process is still alive and healthy" "ok" "$(slack_health)"
req GET /metrics
check "/metrics: connected, envelopes, duplicates and malformed frames are counted" "1 1 1" \
	"$(metric_value "$BODY" nightshift_slack_connected) $(metric_value "$BODY" 'nightshift_slack_envelopes_total{result="duplicate"}') $(awk '$1 == "nightshift_slack_malformed_frames_total" { print ($2 >= 4) }' <<<"$BODY")"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
check "every envelope recorded in the inbox was processed" 0 "$(db "SELECT count(*) FROM inbox WHERE processed_at IS NULL")"

# ---- an envelope recorded and acked, but not processed (a crash in between): done at the next start
db "INSERT INTO inbox (channel, envelope_id, payload, received_at) VALUES ('slack', 'crash-1',
	'{\"envelope_id\":\"crash-1\",\"type\":\"events_api\",\"payload\":{\"event_id\":\"EvCrash1\",\"event\":{\"type\":\"message\",\"user\":\"U1ADMIN\",\"channel\":\"C1\",\"text\":\"recorded before a crash\",\"ts\":\"9.000001\",\"thread_ts\":\"$ROOT_TS\"}}}', 0)"
start_bot || bail "nightshift restarts"
wait_for 5 has_event "text='recorded before a crash'" && ok "an envelope left unprocessed by a crash is processed at the next start" ||
	not_ok "inbox replay" "$(db "SELECT * FROM inbox WHERE envelope_id='crash-1'")"
check "... once, for its incident, and marked processed" "1|$INC|1" \
	"$(db "SELECT count(*), max(incident_id) FROM human_events WHERE text='recorded before a crash'")|$(db "SELECT count(*) FROM inbox WHERE envelope_id='crash-1' AND processed_at IS NOT NULL")"
stop_bot
finish
