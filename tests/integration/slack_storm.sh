#!/usr/bin/env bash
# This file contains the alert-storm test against the Slack double: with
# posts paced to one per second, eight new incidents from one Alertmanager
# group do not become eight thread openers in a row: the ones waiting for
# the pacing go out as one summary message whose thread they share, and an
# incident that needs a human (escalated) gets a thread of its own, opened
# with its headline.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
start_double --pacing-ms 900
SLACK_INTERVAL_MS=1000 setup_slack_bot
sed -i 's/match: {namespace: "^tenant-test-"}/match: {alertname: "^StormNoise"}/' "$CONF"
start_bot || bail "nightshift starts with channels.slack"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

sd_get log
MARK=$(jq_sql "$BODY" "SELECT max(json_extract(value,'\$.seq')) FROM json_each(@DOC)")
ALERTS=
for n in 1 2 3 4 5 6; do ALERTS="$ALERTS $(am_alert "StormNoise$n" firing "\"namespace\":\"prod-api\",\"pod\":\"s-$n\"")"; done
for n in 1 2; do ALERTS="$ALERTS $(am_alert "StormReal$n" firing "\"namespace\":\"prod-api\",\"pod\":\"r-$n\"")"; done
# shellcheck disable=SC2086
am_wrap $ALERTS >"$T/storm.json"
post /alerts/alertmanager "$T/storm.json"
check_code "a storm of 8 alerts from one group is accepted" 202
pending() { db "SELECT count(*) FROM outbox WHERE channel='slack' AND state='pending'"; }
drained() { [ "$(pending)" = 0 ] && [ "$(db "SELECT count(*) FROM outbox WHERE channel='slack'")" -ge 10 ]; }
wait_for 40 drained || not_ok "everything is delivered" "$(pending) pending"
SUMMARY=$(sd_posts "ok = 1 AND seq > $MARK AND text LIKE '%new incidents at once%'")
check "one summary message was posted" 1 "$(printf '%s\n' "$SUMMARY" | grep -c .)"
SUMMARY_TS=$(sd_posts "ok = 1 AND seq > $MARK AND text LIKE '%new incidents at once%'" | head -n1 | cut -d'|' -f1)
sd_get "log?kind=api&method=chat.postMessage"
SUMMARY_TS=$(jq_sql "$BODY" "SELECT json_extract(value,'\$.response.body.ts') FROM json_each(@DOC) WHERE json_extract(value,'\$.seq')=$SUMMARY_TS")
N=$(db "SELECT count(*) FROM outbox WHERE channel='slack' AND kind='noise' AND remote_ref LIKE '%:$SUMMARY_TS'")
check_ge "the summary stands for several new incidents ($N)" "$N" 2
OPENERS=$(sd_posts "ok = 1 AND seq > $MARK AND thread_ts IS NULL AND text LIKE '%Storm%'" | wc -l)
check_lt "fewer thread openers than incidents ($OPENERS < 8)" "$OPENERS" 8
check "the dismissed (noise) incidents of the summary keep its thread" 0 \
	"$(db "SELECT count(*) FROM threads t JOIN incidents i ON i.id = t.incident_id WHERE i.alertname LIKE 'StormNoise%' AND t.channel='slack' AND i.id IN (SELECT incident_id FROM outbox WHERE channel='slack' AND remote_ref LIKE '%:$SUMMARY_TS') AND t.thread_ref <> '$SUMMARY_TS'")"
ESC_SHARED=$(db "SELECT count(*) FROM threads t JOIN incidents i ON i.id = t.incident_id WHERE i.state='escalated' AND t.channel='slack' AND t.thread_ref = '$SUMMARY_TS'")
check "an incident that needs a human has a thread of its own" 0 "$ESC_SHARED"
OWN=$(sd_posts "ok = 1 AND seq > $MARK AND thread_ts IS NULL AND text LIKE '%StormReal1%Real problem%'" | head -n1 | cut -d'|' -f1)
sd_get "log?kind=api&method=chat.postMessage"
check_match "its own thread opens with the headline" '^\*.*StormReal1.*\*$' \
	"$(jq_sql "$BODY" "SELECT json_extract(value,'\$.body.blocks[0].text.text') FROM json_each(@DOC) WHERE json_extract(value,'\$.seq')=${OWN:-0}")"
check "every incident has a thread" 8 "$(db "SELECT count(*) FROM threads t JOIN incidents i ON i.id = t.incident_id WHERE i.alertname LIKE 'Storm%' AND t.channel='slack'")"
check "the double never had to refuse a post for pacing" 0 "$(sd_posts "status = 429" | wc -l)"
stop_bot
finish
