#!/usr/bin/env bash
# This file contains the test of the per-environment escalation policy with
# the test-only escalation clock: widen_after (after N nags a nag asks the
# whole channel with <!here>), a reply that is not an ack postpones the next
# nag by one interval, and ack_timeout (acknowledged, then nothing for the
# timeout: escalated again, saying so; a reply in the thread restarts the
# timeout). Every message the bot posts in the channel is accounted for.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
setup_clock_bot "    escalation_users: [U1ADMIN]"
echo 'ack_words: [ack, "on it", "taking (it|this)"]' >>"$CONF"
sed -i '/match: {namespace: "^prod"}/a\    nag_interval: 10m\n    widen_after: 2\n    ack_timeout: 30m' "$CONF"
grep -q 'widen_after: 2' "$CONF" || bail "the config has the policy" "$(cat "$CONF")"
start_bot || bail "nightshift starts"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

post_am PolicyTest firing '"namespace":"prod-api","pod":"PolicyTest-1"'
INC=$(jget "$BODY" '$.incidents[0]')
esc_row() { [ "$(db "SELECT state FROM escalations WHERE incident_id=$INC")" = active ]; }
wait_for 15 esc_row || bail "the incident is escalated" "$(db "SELECT id, state FROM incidents")"
ROOT=$(root_ts PolicyTest)
say() { sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"U1ADMIN\",\"text\":\"$1\",\"thread_ts\":\"$ROOT\"}"; }
in_thread() { [ "$(sd_posts "ok = 1 AND thread_ts = '$ROOT' AND text LIKE '%$1%'" | wc -l)" -ge "${2:-1}" ]; }
nag_count() { sd_posts "ok = 1 AND thread_ts = '$ROOT' AND text LIKE '%Still unacknowledged%'" | grep -c . || true; }
has_nags() { [ "$(nag_count)" -ge "$1" ]; }

# ---- widening: nags 1 and 2 mention the target, nag 3 the whole channel
clock_at 10
wait_for 5 has_nags 1 || not_ok "nag #1" "$(sd_posts)"
clock_at 20
wait_for 5 has_nags 2 || not_ok "nag #2" "$(sd_posts)"
clock_at 30
wait_for 5 has_nags 3 || not_ok "nag #3" "$(sd_posts)"
check_match "nags before widen_after mention the target only" '^⏰ <@U1ADMIN> Still' "$(nag_block 2)"
check_match "after widen_after nags, the nag asks the channel (<!here>, kept as a real mention)" '^<!here> ⏰ <@U1ADMIN> Still unacknowledged — nag #3' "$(nag_block 3)"

# ---- a reply that is not an ack postpones the next nag by one interval
clock_at 35
say "anyone seen this before?"
postponed() { [ "$(db "SELECT next_nag_at - updated_at FROM escalations WHERE incident_id=$INC")" = 600000 ]; }
wait_for 5 postponed || not_ok "the reply moved the next nag" "$(db "SELECT * FROM escalations")"
clock_at 41
sleep 2.5
check "no nag at 41 min: the reply at 35 postponed it to 45" 3 "$(nag_count)"
clock_at 45
wait_for 5 has_nags 4 && ok "the nag comes one interval after the reply" || not_ok "nag #4 at 45" "$(sd_posts)"

# ---- ack timeout: acknowledged, then silence for 30 min -> escalated again
clock_at 46
say "on it"
acked() { [ "$(db "SELECT state FROM escalations WHERE incident_id=$INC")" = acked ]; }
wait_for 5 acked || not_ok "acknowledged" "$(db "SELECT * FROM human_events")"
check "the ack timeout is 30 min after the ack" 1800000 "$(db "SELECT next_nag_at - acked_at FROM escalations WHERE incident_id=$INC")"
clock_at 70
say "still digging, the db looks fine"
moved() { [ "$(db "SELECT next_nag_at - updated_at FROM escalations WHERE incident_id=$INC")" = 1800000 ] && [ "$(db "SELECT updated_at - acked_at FROM escalations WHERE incident_id=$INC")" -gt 60000 ]; }
wait_for 5 moved || not_ok "a reply restarts the ack timeout" "$(db "SELECT * FROM escalations")"
clock_at 80
sleep 2.5
check "no re-escalation 10 min after the reply" "acked|acknowledged" "$(db "SELECT e.state || '|' || i.state FROM escalations e JOIN incidents i ON i.id = e.incident_id WHERE i.id=$INC")"
clock_at 101
wait_for 5 in_thread "Acknowledged by <@U1ADMIN> 55 min ago, but not resolved or updated since — escalating again" &&
	ok "30 min after the last reply, the acknowledged incident is escalated again, saying so" || not_ok "ack timeout" "$(sd_posts "thread_ts = '$ROOT'")"
check "escalated and nagging again" "active|escalated" "$(db "SELECT e.state || '|' || i.state FROM escalations e JOIN incidents i ON i.id = e.incident_id WHERE i.id=$INC")"
clock_at 111
wait_for 5 has_nags 5 && ok "the nags resume at the interval" || not_ok "nag #5" "$(sd_posts)"
say "looking"
say "Taking this!"
wait_for 5 acked && ok "a new ack (a configured ack_words pattern) stops them again" || not_ok "second ack"
check "\"looking\" is not an ack word here (ack_words replaces the defaults)" "" "$(db "SELECT action FROM human_events WHERE text='looking'")"

UNEXPECTED=$(sd_posts "ok = 1 AND channel = 'C1'" | cut -d'|' -f3 |
	grep -v -E ' — .{0,8}(Received|Real problem · )|— .{0,40}Still unacknowledged — nag #[1-5],|— .{0,8}U1ADMIN asked: (anyone seen this before\?|still digging, the db looks fine|looking)$|— .{0,8}Acknowledged by <@U1ADMIN> (after|55 min ago)' || true)
check "no message the test did not expect" "" "$UNEXPECTED"
check "five nags in all" 5 "$(nag_count)"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
finish
