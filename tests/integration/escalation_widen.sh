#!/usr/bin/env bash
# This file contains the test of escalation widening against the Slack
# double, with the test-only escalation clock: an environment with
# widen_after: 2 and widen_to: [U0SECOND, U0CTO]. Nags 1-2 mention the
# target; nag 3 also the channel (<!here>) and the second target, who gets
# one DM; a kill -9 and restart keep the level (nag 4 still mentions both,
# no second DM); nag 5 reaches the third target (one DM); an ack stops it
# all (an allowed user acks): no nag and no DM after it.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
setup_clock_bot
sed -i '/match: {namespace: "^prod"}/a\    targets: [U1ADMIN]\n    nag_interval: 10m\n    widen_after: 2\n    widen_to: [U0SECOND, U0CTO]' "$CONF"
grep -q 'widen_to: \[U0SECOND, U0CTO\]' "$CONF" || bail "the config has the policy" "$(cat "$CONF")"
OUT=$("$NS" check-config -c "$CONF" 2>&1) && ok "check-config accepts widen_to" || not_ok "check-config accepts widen_to" "$OUT"
start_bot || bail "nightshift starts"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

escalate WidenTest
nag_count() { sd_posts "ok = 1 AND thread_ts = '$ROOT' AND text LIKE '%Still unacknowledged%'" | grep -c . || true; }
has_nags() { [ "$(nag_count)" -ge "$1" ]; }
# opens USER : conversations.open calls for USER answered ok
opens() {
	sd_get "log?kind=api&method=conversations.open"
	jq_sql "$BODY" "SELECT count(*) FROM json_each(@DOC) WHERE json_extract(value,'\$.body.users')='$1'
		AND json_extract(value,'\$.response.body.ok')=1"
}
# dms_to USER : DMs (chat.postMessage in a D… conversation) about WidenTest to USER
dms_to() {
	local ch
	sd_get "log?kind=api&method=conversations.open"
	ch=$(jq_sql "$BODY" "SELECT json_extract(value,'\$.response.body.channel.id') FROM json_each(@DOC)
		WHERE json_extract(value,'\$.body.users')='$1' AND json_extract(value,'\$.response.body.ok')=1 LIMIT 1")
	[ -n "$ch" ] || { echo 0; return; }
	sd_posts "ok = 1 AND channel = '$ch' AND text LIKE '%WidenTest%'" | grep -c . || true
}
has_dm() { [ "$(dms_to "$1")" -ge 1 ]; }
# dm_rows USER : the bot's outbox rows of kind dm to USER (slack)
dm_rows() { db "SELECT count(*) FROM outbox WHERE channel='slack' AND kind='dm' AND json_extract(body,'\$.user')='$1'"; }

check "no DM at the escalation (no escalation_users)" 0 "$(db "SELECT count(*) FROM outbox WHERE kind='dm'")"

# ---- nags 1 and 2: the target only
clock_at 10
wait_for 5 has_nags 1 || not_ok "nag #1" "$(sd_posts)"
clock_at 20
wait_for 5 has_nags 2 || not_ok "nag #2" "$(sd_posts)"
check_match "nag #2 mentions the target only" '^⏰ <@U1ADMIN> Still unacknowledged — nag #2,' "$(nag_block 2)"
check "no widening yet (level 0, no DM)" "0|0" "$(db "SELECT level FROM escalations WHERE incident_id=$INC")|$(db "SELECT count(*) FROM outbox WHERE kind='dm'")"

# ---- nag 3: level 1 — the channel and the second target, who gets a DM
clock_at 30
wait_for 5 has_nags 3 || not_ok "nag #3" "$(sd_posts)"
check_match "nag #3 mentions the channel, the target and the second target" \
	'^<!here> ⏰ <@U1ADMIN> <@U0SECOND> Still unacknowledged — nag #3,' "$(nag_block 3)"
wait_for 5 has_dm U0SECOND && ok "the second target gets a DM" || not_ok "DM to U0SECOND" "$(sd_count api conversations.open) conversations.open"
sd_get "log?kind=api&method=conversations.open"
check "... through conversations.open with the second target only" "U0SECOND" \
	"$(jq_sql "$BODY" "SELECT group_concat(DISTINCT json_extract(value,'\$.body.users')) FROM json_each(@DOC)")"
check "the level and the targets reached are stored" "1|U1ADMIN U0SECOND" "$(db "SELECT level || '|' || targets FROM escalations WHERE incident_id=$INC")"
check "the DM names the incident and links its thread" 1 \
	"$(sd_posts "ok = 1 AND channel LIKE 'D%' AND text LIKE '%unacknowledged after 2 nags%WidenTest%archives/C1/p${ROOT/./}|open the thread>%'" | wc -l)"

# ---- kill -9 and a restart: the level is kept, the DM is not sent again
stop_bot KILL
clock_at 40
start_bot || bail "nightshift restarts after kill -9"
wait_for 5 bot_ready || bail "reconnects after the restart"
wait_for 5 has_nags 4 || not_ok "nag #4 after the restart" "$(sd_posts)"
check_match "nag #4 (after the restart) still mentions the channel and both" \
	'^<!here> ⏰ <@U1ADMIN> <@U0SECOND> Still unacknowledged — nag #4,' "$(nag_block 4)"
check "one DM to the second target in all (one outbox row, one post)" "1|1" "$(dm_rows U0SECOND)|$(dms_to U0SECOND)"

# ---- nag 5: level 2 — the third target
clock_at 50
wait_for 5 has_nags 5 || not_ok "nag #5" "$(sd_posts)"
check_match "nag #5 reaches the third target too" \
	'^<!here> ⏰ <@U1ADMIN> <@U0SECOND> <@U0CTO> Still unacknowledged — nag #5,' "$(nag_block 5)"
wait_for 5 has_dm U0CTO && ok "the third target gets a DM" || not_ok "DM to U0CTO" "$(sd_count api conversations.open) conversations.open"
check "level 2" 2 "$(db "SELECT level FROM escalations WHERE incident_id=$INC")"

# ---- an ack stops it all
sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"ack\",\"thread_ts\":\"$ROOT\"}"
acked() { [ "$(db "SELECT state FROM escalations WHERE incident_id=$INC")" = acked ]; }
wait_for 5 acked && ok "an ack stops the escalation" || not_ok "ack" "$(db "SELECT * FROM human_events")"
clock_at 200
sleep 2.5
check "no nag and no DM after the ack" "5|1|1|2" "$(nag_count)|$(dms_to U0SECOND)|$(dms_to U0CTO)|$(db "SELECT count(*) FROM outbox WHERE channel='slack' AND kind='dm'")"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
finish
