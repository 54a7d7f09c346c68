#!/usr/bin/env bash
# This file contains the Slack delivery test against the double: a 429 with
# Retry-After pauses posting for that long; 500s are retried with backoff
# and the message lands once; a non-retryable {ok:false} error fails the
# message and shows in /healthz until a post works again; a restart with a
# pending outbox delivers every message once, in order per thread; posts
# are paced to about one per second per channel.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
start_double
setup_slack_bot
start_bot || bail "nightshift starts with channels.slack"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"
pending() { db "SELECT count(*) FROM outbox WHERE channel='slack' AND state='pending'"; }
none_pending() { [ "$(pending)" = 0 ]; }

# ---- 429 with Retry-After: 2
sd_ctl fail '{"method":"chat.postMessage","status":429,"retry_after":2,"times":1}'
post_am RateLimitTest firing '"namespace":"prod-api","pod":"rl-1"'
delivered() { post_attempts "$1" | grep -q '|200|1$'; }
wait_for 10 delivered RateLimitTest || not_ok "the rate-limited message is delivered" "$(post_attempts RateLimitTest)"
A=$(post_attempts RateLimitTest)
T0=$(echo "$A" | sed -n 1p | cut -d'|' -f1)
T1=$(echo "$A" | sed -n 2p | cut -d'|' -f1)
check "the first try got 429, the second went through" "429 200" "$(echo "$A" | sed -n 1p | cut -d'|' -f2) $(echo "$A" | sed -n 2p | cut -d'|' -f2)"
check_ge "the retry waited Retry-After (2 s): $((T1 - T0)) ms" $((T1 - T0)) 1950
wait_log 'event=slack_rate_limited method=chat.postMessage retry_after_s=2' 1 && ok "the 429 is logged with its Retry-After" || not_ok "429 logged"

# ---- 500, 500, then ok
sd_ctl fail '{"method":"chat.postMessage","status":500,"times":2}'
post_am ServerErrorTest firing '"namespace":"prod-api","pod":"se-1"'
wait_for 15 delivered ServerErrorTest || not_ok "the message is delivered after two 500s" "$(post_attempts ServerErrorTest)"
A=$(post_attempts ServerErrorTest)
check "500, 500, then 200: retried, delivered" "500 500 200" "$(echo "$A" | head -n3 | cut -d'|' -f2 | tr '\n' ' ' | sed 's/ $//')"
T0=$(echo "$A" | sed -n 1p | cut -d'|' -f1)
T1=$(echo "$A" | sed -n 2p | cut -d'|' -f1)
T2=$(echo "$A" | sed -n 3p | cut -d'|' -f1)
check_ge "the first retry backs off (~1 s): $((T1 - T0)) ms" $((T1 - T0)) 700
check_ge "the second backs off longer (~2 s): $((T2 - T1)) ms" $((T2 - T1)) 1500
check "it was posted once" 1 "$(sd_posts "ok = 1 AND text LIKE '%ServerErrorTest%Received%'" | wc -l)"

# ---- a non-retryable error: the message fails, /healthz says why, a later post clears it
wait_for 10 none_pending
sd_ctl fail '{"method":"chat.postMessage","ok_false":"channel_not_found","times":1}'
post_am NotFoundTest firing '"namespace":"prod-api","pod":"nf-1"'
nf() { slack_health | grep -q channel_not_found; }
failed_row() { [ "$(db "SELECT count(*) FROM outbox WHERE channel='slack' AND state='failed' AND error='channel_not_found'")" = 1 ]; }
wait_for 5 failed_row && ok "channel_not_found fails the message (outbox state failed)" || not_ok "failed row" "$(db "SELECT id,kind,state,error FROM outbox WHERE channel='slack'")"
wait_log 'event=slack_api_error method=chat.postMessage outbox=[0-9]+ status=200 error=channel_not_found' 2 &&
	ok "the error is logged by its code" || not_ok "error logged by code"
REPORT_SENT=0
healthy_again() { [ "$(slack_health)" = ok ]; }
if nf; then ok "/healthz shows channel_not_found"; else
	# the incident's next message may already have cleared it
	wait_for 1 healthy_again && ok "/healthz showed it until the next post worked" || not_ok "/healthz shows channel_not_found" "$(slack_health)"
fi
wait_for 10 healthy_again && ok "a later successful post clears the degraded state" || not_ok "healthy again" "$(slack_health)"

# ---- restart with a pending outbox
wait_for 10 none_pending
sd_ctl fail '{"method":"chat.postMessage","status":500,"times":10000}'
for n in 1 2 3; do post_am "PendingTest$n" firing "\"namespace\":\"prod-api\",\"pod\":\"p-$n\""; done
six_pending() { [ "$(pending)" -ge 6 ]; }
wait_for 10 six_pending || not_ok "six messages wait in the outbox" "$(pending)"
post_am PendingTest1 resolved '"namespace":"prod-api","pod":"p-1"'
seven_pending() { [ "$(pending)" -ge 7 ]; }
wait_for 10 seven_pending || not_ok "seven messages wait in the outbox" "$(pending)"
PENDING_BEFORE=$(pending)
stop_bot
check "the bot stops with messages pending" 0 "$BOT_RC"
sd_ctl fail '{"clear":true}'
sd_get log
MARK=$(jq_sql "$BODY" "SELECT max(json_extract(value,'\$.seq')) FROM json_each(@DOC)")
start_bot || bail "nightshift restarts"
wait_for 20 none_pending && ok "after the restart every pending message is delivered" || not_ok "pending delivered" "$(pending)"
check "each once: $PENDING_BEFORE messages, $PENDING_BEFORE successful posts" "$PENDING_BEFORE" \
	"$(sd_posts "ok = 1 AND seq > $MARK AND text LIKE '%PendingTest%'" | wc -l)"
check "no message posted twice" "$PENDING_BEFORE" \
	"$(sd_posts "ok = 1 AND seq > $MARK AND text LIKE '%PendingTest%'" | cut -d'|' -f2,3 | sort -u | wc -l)"
check "in order per thread: within each incident, outbox order is post order (messages; header and dm rows are side effects)" 0 \
	"$(db "SELECT count(*) FROM outbox a JOIN outbox b ON a.incident_id = b.incident_id AND a.channel = b.channel
		WHERE a.channel='slack' AND a.id < b.id AND a.kind NOT IN ('header','dm') AND b.kind NOT IN ('header','dm')
		AND substr(a.remote_ref, instr(a.remote_ref, ':') + 1) > substr(b.remote_ref, instr(b.remote_ref, ':') + 1)")"
check "each incident has one thread, and its replies went into it" 0 \
	"$(sd_posts "ok = 1 AND seq > $MARK AND text LIKE '%PendingTest%' AND thread_ts = ''" | awk -F'|' '{print $3}' | sed 's/ —.*//' | sort | uniq -d | wc -l)"
check "three threads were opened" 3 "$(db "SELECT count(*) FROM threads t JOIN incidents i ON i.id = t.incident_id WHERE t.channel='slack' AND i.alertname LIKE 'PendingTest%'")"
stop_bot

# ---- pacing: about one post per second per channel
write_config "$CONF" "$(SLACK_INTERVAL_MS=1000 slack_yaml)"
start_bot || bail "nightshift restarts with pacing"
wait_for 5 bot_ready
sd_get log
MARK=$(jq_sql "$BODY" "SELECT max(json_extract(value,'\$.seq')) FROM json_each(@DOC)")
for n in 1 2; do post_am "PacingTest$n" firing "\"namespace\":\"prod-api\",\"pod\":\"q-$n\""; done
four() { [ "$(sd_posts "ok = 1 AND seq > $MARK AND text LIKE '%PacingTest%'" | wc -l)" -ge 4 ]; }
wait_for 15 four || not_ok "four paced posts" "$(sd_posts "seq > $MARK")"
sd_get "log?kind=api&method=chat.postMessage"
GAP=$(jq_sql "$BODY" "WITH p AS (SELECT json_extract(value,'\$.at_ms') AS t FROM json_each(@DOC)
	WHERE json_extract(value,'\$.seq') > $MARK AND json_extract(value,'\$.body.text') LIKE '%PacingTest%')
	SELECT min(b.t - a.t) FROM p a JOIN p b ON b.t > a.t AND NOT EXISTS (SELECT 1 FROM p c WHERE c.t > a.t AND c.t < b.t)")
check_ge "posts are at least ~1 s apart (smallest gap $GAP ms)" "${GAP:-0}" 900
stop_bot
finish
