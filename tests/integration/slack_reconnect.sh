#!/usr/bin/env bash
# This file contains the Socket Mode connection test against the Slack
# double: disconnect refresh_requested and warning while events keep coming
# lose and duplicate nothing (the new connection opens before the old one
# closes, unacked envelopes are redelivered and deduplicated); an abrupt TCP
# drop reconnects with backoff and a fresh apps.connections.open; events
# sent while no socket is open arrive after the reconnect; a stale
# connection (no pongs for 30 s) is replaced; link_disabled
# and a fatal token error stop retrying with a clear message and /healthz
# degraded.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
start_double --ack-timeout-ms 700 --max-retries 6
setup_slack_bot
start_bot || bail "nightshift starts with channels.slack"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

post_am ReconnectTest firing '"namespace":"prod-api","pod":"api-1"'
has_root() { ROOT_TS=$(root_ts ReconnectTest); [ -n "$ROOT_TS" ]; }
wait_for 10 has_root || bail "the incident's thread is opened"
count_prefix() { db "SELECT count(*) || '|' || count(DISTINCT text) FROM human_events WHERE text LIKE '$1-%'"; }
all_in() { [ "$(count_prefix "$1")" = "$2|$2" ]; }
opens() { sd_count api apps.connections.open; }

# ---- refresh_requested and warning, with events before, during and after
for reason in refresh_requested warning; do
	before=$(opens)
	for i in 1 2 3 4 5; do thread_message "$reason" "$i"; done
	sd_ctl disconnect "{\"reason\":\"$reason\"}"
	for i in 6 7 8 9 10 11 12 13 14 15; do thread_message "$reason" "$i"; done
	wait_for 15 all_in "$reason" 15
	check "$reason: all 15 events are processed, each once" "15|15" "$(count_prefix "$reason")"
	check "$reason: one fresh apps.connections.open for the new connection" $((before + 1)) "$(opens)"
	one_open() { [ "$(ready_sockets)" = 1 ]; }
	wait_for 5 one_open && ok "$reason: the old connection is closed, one stays open" || not_ok "$reason: one connection left" "$BODY"
	check "$reason: the bot stays healthy" ok "$(slack_health)"
done
check_match "the replacement opened before the old connection closed" 'event=slack_socket_ready connection=2' \
	"$(grep -E 'slack_socket_ready|slack_socket_closed' "$T/bot.log" | sed -n 2p)"

# ---- warning, and the replacement's handshake fails once: retried, nothing lost
before=$(opens)
sd_ctl fail '{"method":"socket_mode.connect","status":503,"times":1}'
for i in 1 2 3; do thread_message failover "$i"; done
sd_ctl disconnect '{"reason":"warning"}'
for i in 4 5 6; do thread_message failover "$i"; done
twice() { [ "$(opens)" -ge $((before + 2)) ] && [ "$(ready_sockets)" = 1 ] && bot_ready; }
wait_for 15 twice && ok "a failed replacement is retried and replaces the old connection" ||
	not_ok "replacement retried" "$(opens) opens, $(ready_sockets) open"
wait_for 10 all_in failover 6
check "events around the failed replacement are processed once each" "6|6" "$(count_prefix failover)"

# ---- an abrupt drop (no close frame): reconnect with backoff
before=$(opens)
sd_ctl drop
for i in 1 2 3 4 5; do thread_message drop "$i"; done
reopened() { [ "$(opens)" -gt "$before" ] && bot_ready; }
wait_for 10 reopened && ok "after an abrupt drop the bot reconnects with a fresh URL" || not_ok "reconnect after drop" "$(slack_health)"
wait_log 'event=slack_reconnect reason="closed" attempt=1 delay_ms=[0-9]+' 2 &&
	ok "the reconnect waits a backoff delay (logged)" || not_ok "backoff logged" "$(grep slack_reconnect "$T/bot.log")"
wait_for 10 all_in drop 5
check "events sent while no socket was open arrive after the reconnect, once each" "5|5" "$(count_prefix drop)"

# ---- a stale connection (the double stops reading: no pongs, no acks) is dropped and replaced
before=$(opens)
sd_ctl stall '{}'
replaced() { [ "$(opens)" -gt "$before" ] && bot_ready; }
wait_for 45 replaced && ok "a stale connection is detected (ping, no answer) and replaced" || not_ok "stale connection replaced" "$(slack_health)"

# ---- link_disabled: stop, say why, degraded
before=$(opens)
sd_ctl disconnect '{"reason":"link_disabled"}'
degraded() { slack_health | grep -q 'link_disabled'; }
wait_for 5 degraded && ok "link_disabled: /healthz says why" || not_ok "link_disabled in healthz" "$(slack_health)"
req GET /healthz
check "link_disabled: /healthz is 503 degraded" "503 degraded" "$CODE $(jget "$BODY" '$.status')"
sleep 3
check "link_disabled: no reconnect attempts" "$before" "$(opens)"
wait_log 'error event=slack_socket_stopped reason="link_disabled' 1 && ok "link_disabled is logged as an error" || not_ok "link_disabled logged"
stop_bot
check "the bot still stops cleanly" 0 "$BOT_RC"

# ---- a fatal token error on apps.connections.open: no retry loop
sd_ctl fail '{"method":"apps.connections.open","ok_false":"invalid_auth","times":100}'
before=$(opens)
start_bot_any || bail "nightshift restarts"
auth_degraded() { slack_health | grep -q 'invalid_auth'; }
wait_for 5 auth_degraded && ok "invalid_auth on apps.connections.open: /healthz degraded with the reason" || not_ok "invalid_auth in healthz" "$(slack_health)"
sleep 2
check "invalid_auth: tried once, no retry loop" $((before + 1)) "$(opens)"
check_match "the message says which token to check" 'app-level token' "$(slack_health)"
if grep -q 'xapp-1-test\|xoxb-test' "$T/bot.log"; then not_ok "tokens never appear in the log"; else ok "tokens never appear in the log"; fi
stop_bot
finish
