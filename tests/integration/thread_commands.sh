#!/usr/bin/env bash
# This file contains the test of commands typed in an incident's Slack
# thread (with the test-only escalation clock): help and status for anyone;
# resolve refused for a user not in allowed_users; a bad duration explained;
# snooze pauses the nags without acknowledging; silence 2h holds the nags and
# lets a new alert join quietly, and the nags come back when it expires;
# unsilence; a human "noise" verdict is stored, stops the nags, and the next
# incident's history tool counts it; resolve by a reply; hostile replies
# (control characters, 100 KB) get a clear refusal and are kept. Every message the
# bot posts in the channel is accounted for at the end.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
setup_clock_bot "    escalation_users: [U1ADMIN]"
sed -i 's/flap_window: 30m/flap_window: 1s/' "$CONF"
start_bot || bail "nightshift starts"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

say() { sd_ctl event/message "{\"channel\":\"C1\",\"user\":\"$1\",\"text\":\"$2\",\"thread_ts\":\"$3\"}"; }
in_thread() { [ "$(sd_posts "ok = 1 AND thread_ts = '$1' AND text LIKE '%$2%'" | wc -l)" -ge "${3:-1}" ]; }
nag_count() { sd_posts "ok = 1 AND thread_ts = '$1' AND text LIKE '%Still unacknowledged%'" | grep -c . || true; }
posts_in() { sd_posts "ok = 1 AND thread_ts = '$1'" | grep -c . || true; }

# ---- help and status: anyone may ask
escalate CmdStatus
S=$INC ROOT_S=$ROOT
say U2OTHER help "$ROOT_S"
wait_for 5 in_thread "$ROOT_S" "Commands in this thread: ack" && ok "help lists the commands (anyone may ask)" || not_ok "help" "$(sd_posts)"
say U2OTHER "  STATUS " "$ROOT_S"
wait_for 5 in_thread "$ROOT_S" "#$S is escalated · 1 alert · unacknowledged, 0 nags, next nag in 10 min" &&
	ok "status says the state, the alerts and the next nag" || not_ok "status" "$(sd_posts "thread_ts = '$ROOT_S'")"
say U2OTHER resolve "$ROOT_S"
wait_for 5 in_thread "$ROOT_S" "not allowed to resolve" && ok "resolve by a user not in allowed_users is refused" || not_ok "refused resolve"
check "... and changes nothing" escalated "$(db "SELECT state FROM incidents WHERE id=$S")"
say U1ADMIN "silence forever" "$ROOT_S"
wait_for 5 in_thread "$ROOT_S" "silence needs a duration like 2h (at most 7d)" && ok "a bad duration is explained" || not_ok "bad duration" "$(sd_posts "thread_ts = '$ROOT_S'")"

# ---- snooze: no nag while snoozed, not acknowledged, nags come back
say U1ADMIN "snooze 30m" "$ROOT_S"
wait_for 5 in_thread "$ROOT_S" "Nags snoozed for 30m by <@U1ADMIN> (not acknowledged)" && ok "snooze 30m pauses the nags" || not_ok "snooze" "$(sd_posts "thread_ts = '$ROOT_S'")"
clock_at 12
sleep 2.5
check "no nag at 12 min while snoozed; still escalated" "0|escalated|active" \
	"$(nag_count "$ROOT_S")|$(db "SELECT i.state || '|' || e.state FROM incidents i JOIN escalations e ON e.incident_id = i.id WHERE i.id=$S")"
clock_at 31
wait_for 5 in_thread "$ROOT_S" "nag #1, open 31 min" && ok "the nag comes when the snooze ends" || not_ok "nag after snooze" "$(sd_posts "thread_ts = '$ROOT_S'")"
say U1ADMIN "resolve" "$ROOT_S"
wait_for 5 in_thread "$ROOT_S" "Resolved by <@U1ADMIN>" && ok "resolve in the thread resolves" || not_ok "resolve reply"
check "resolved by the human, nags stopped" "resolved|U1ADMIN|resolved" \
	"$(db "SELECT i.state || '|' || i.resolved_by || '|' || e.state FROM incidents i JOIN escalations e ON e.incident_id = i.id WHERE i.id=$S")"

# ---- silence 2h: no nags, a new alert joins quietly, and it expires
clock_at 40
escalate CmdSilence
Q=$INC ROOT_Q=$ROOT
say U1ADMIN "silence 2h" "$ROOT_Q"
wait_for 5 in_thread "$ROOT_Q" "Silenced for 2h by <@U1ADMIN>: new alerts join quietly" && ok "silence 2h says what it does" || not_ok "silence" "$(sd_posts "thread_ts = '$ROOT_Q'")"
post_am CmdSilence resolved '"namespace":"prod-api","pod":"CmdSilence-1"'
wait_for 5 in_thread "$ROOT_Q" "Resolved at source — stopping nags" || not_ok "resolved at source while silenced" "$(sd_posts "thread_ts = '$ROOT_Q'")"
BEFORE=$(posts_in "$ROOT_Q")
sleep 1.2 # past the flap window: without the silence this would be a new incident
post_am CmdSilence firing '"namespace":"prod-api","pod":"CmdSilence-1"'
check "a new alert of the silenced fingerprint joins the silenced incident" "$Q" "$(jget "$BODY" '$.incidents[0]')"
sleep 1.5
check "... quietly: nothing posted" "$BEFORE" "$(posts_in "$ROOT_Q")"
check "one incident for the fingerprint, two alerts" "1|2" "$(db "SELECT count(*), max(alert_count) FROM incidents WHERE alertname='CmdSilence'")"
clock_at 170 # the silence expired
sleep 1.2
post_am CmdSilence firing '"namespace":"prod-api","pod":"CmdSilence-1"'
NEW=$(jget "$BODY" '$.incidents[0]')
[ "$NEW" != "$Q" ] && ok "after the silence expires, the next alert is a new incident again" || not_ok "silence expiry" "$NEW"

# ---- unsilence brings the nags back
escalate CmdUnsilence
U=$INC ROOT_U=$ROOT
say U1ADMIN "silence 6h" "$ROOT_U"
wait_for 5 in_thread "$ROOT_U" "Silenced for 6h" || not_ok "silence 6h"
say U1ADMIN unsilence "$ROOT_U"
wait_for 5 in_thread "$ROOT_U" "Unsilenced by <@U1ADMIN>" && ok "unsilence says so" || not_ok "unsilence"
check "the silence is gone and the next nag is one interval away" "1|600000" \
	"$(db "SELECT i.silenced_until IS NULL, e.next_nag_at - e.updated_at FROM incidents i JOIN escalations e ON e.incident_id = i.id WHERE i.id=$U")"

# ---- hostile text in the thread: a clear refusal to the asker, the event is kept
say U1ADMIN 'ack\u0007' "$ROOT_U"
wait_for 5 in_thread "$ROOT_U" "the question contains control characters" && ok "a reply with control characters is not an ack; it is refused clearly" || not_ok "control characters" "$(sd_posts "thread_ts = '$ROOT_U'")"
LONG=$(head -c 100000 /dev/zero | tr '\0' a)
say U1ADMIN "$LONG" "$ROOT_U"
wait_for 5 in_thread "$ROOT_U" "the question is too long (4000 bytes, at most 2000)" && ok "a 100 KB reply (kept: its first 4000 bytes) is refused as too long" || not_ok "long reply" "$(sd_posts "thread_ts = '$ROOT_U'" | cut -c1-300)"
check "none of them acted: still escalated and active" "escalated|active" "$(db "SELECT i.state || '|' || e.state FROM incidents i JOIN escalations e ON e.incident_id = i.id WHERE i.id=$U")"
has_event() { [ "$(db "SELECT count(*) FROM human_events WHERE incident_id=$U AND kind='message'")" -ge "$1" ]; }
wait_for 5 has_event 4 && ok "each hostile reply is stored as a human event" || not_ok "hostile events stored" "$(db "SELECT id, result FROM human_events WHERE incident_id=$U")"

# ---- a human "noise" verdict: stored, nags stop, and history counts it next time
escalate CmdNoise
N=$INC ROOT_N=$ROOT
say U1ADMIN noise "$ROOT_N"
wait_for 5 in_thread "$ROOT_N" "Marked as noise by <@U1ADMIN>" && ok "noise: the verdict is acknowledged in the thread" || not_ok "noise reply"
check "the verdict is stored, with who said so; nags stopped" "noise|marked noise by U1ADMIN|stopped" \
	"$(db "SELECT i.verdict || '|' || i.verdict_reason || '|' || e.state FROM incidents i JOIN escalations e ON e.incident_id = i.id WHERE i.id=$N")"
post_am CmdNoise resolved '"namespace":"prod-api","pod":"CmdNoise-1"'
sleep 1.2
post_am CmdNoise firing '"namespace":"prod-api","pod":"CmdNoise-1"'
N2=$(jget "$BODY" '$.incidents[0]')
hist() { db "SELECT t.excerpt FROM tool_calls t JOIN investigations v ON v.id = t.investigation_id WHERE v.incident_id=$N2 AND t.tool='history'"; }
has_hist() { [ -n "$(hist)" ]; }
wait_for 10 has_hist || not_ok "the next incident's investigation ran history" "$(db "SELECT * FROM investigations")"
check_match "history counts the human's noise verdict" 'history incidents=1 noise=1 real=0.*last_verdict=noise' "$(hist)"

# ---- every message the bot posted in the channel is one we expect
UNEXPECTED=$(sd_posts "ok = 1 AND channel = 'C1'" | cut -d'|' -f3 |
	grep -v -E ' — .{0,8}(Received|Real problem · |Resolved at source after |Reopened|Resolved by <@U1ADMIN>$)|— .{0,40}Still unacknowledged — nag #1, open 31 min|— .{0,8}Commands in this thread|— .{0,8}#[0-9]+ is escalated|— .{0,8}Sorry <@U2OTHER>, you are not allowed to resolve|— .{0,12}<@U1ADMIN>: silence needs a duration|— .{0,8}Nags snoozed for 30m|— .{0,8}Silenced for (2h|6h) by|— .{0,8}Resolved at source — stopping nags$|— .{0,8}Unsilenced by|— .{0,8}Marked as noise by|Dismissed as noise|— .{0,12}<@U1ADMIN>: the question (contains control characters|is too long \(4000 bytes, at most 2000\)|is not valid UTF-8)$' || true)
check "no message the test did not expect" "" "$UNEXPECTED"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
finish
