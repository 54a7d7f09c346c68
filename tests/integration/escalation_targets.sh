#!/usr/bin/env bash
# This file contains the test of an environment's escalation targets: a
# production incident's report and its nags mention exactly the
# environment's targets (and not channels.slack.escalation_users); an
# environment without targets mentions the escalation users instead. The
# mentions are read from what the Slack double recorded.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
esc_setup
sed -i '/match: {namespace: "^prod"}/a\    targets: [U2ONCALL, U3SRE]\n  - name: staging\n    match: {namespace: "^stg"}\n    nag_interval: 10m' "$CONF"
grep -q 'U3SRE' "$CONF" || bail "the config has the targets" "$(cat "$CONF")"
start_bot || bail "nightshift starts"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

# bell ROOT : the mentions section of the report in thread ROOT (in the channel)
bell() {
	sd_get "log?kind=api&method=chat.postMessage"
	jq_sql "$BODY" "SELECT json_extract(k.value,'\$.text.text') FROM json_each(@DOC) AS p,
		json_each(json_extract(p.value,'\$.body.blocks')) AS k
		WHERE json_extract(p.value,'\$.body.thread_ts')='$1' AND json_extract(p.value,'\$.body.channel')='C1'
		AND json_extract(p.value,'\$.body.text') LIKE '%Real problem%'
		AND json_extract(k.value,'\$.text.text') LIKE '🔔%'"
}
nags() { sd_posts "ok = 1 AND channel = 'C1' AND thread_ts = '$1' AND text LIKE '%Still unacknowledged%'" | cut -d'|' -f3; }
has_nags() { [ "$(nags "$1" | grep -c .)" -ge "$2" ]; }
# mentioned ROOT : every user mentioned in the channel thread ROOT, sorted, one line
mentioned() {
	sd_posts "ok = 1 AND channel = 'C1' AND thread_ts = '$1'" | grep -o '<@[A-Z0-9]*>' | sort -u | tr '\n' ' '
}

escalate TgtProd prod-api
P=$INC ROOT_P=$ROOT
escalate TgtStaging stg-api
S=$INC ROOT_S=$ROOT
check "the production report mentions its targets, in order" "🔔 <@U2ONCALL> <@U3SRE>" "$(bell "$ROOT_P")"
check "the staging report (no targets) mentions the escalation users" "🔔 <@U1ADMIN>" "$(bell "$ROOT_S")"
check "the rows record the targets" "U2ONCALL U3SRE|U1ADMIN" \
	"$(db "SELECT targets FROM escalations WHERE incident_id=$P")|$(db "SELECT targets FROM escalations WHERE incident_id=$S")"

clock_at 10
wait_for 5 has_nags "$ROOT_P" 1 || not_ok "production nag #1" "$(sd_posts)"
wait_for 5 has_nags "$ROOT_S" 1 || not_ok "staging nag #1" "$(sd_posts)"
check_match "the production nag mentions its targets" '^⏰ <@U2ONCALL> <@U3SRE> Still unacknowledged — nag #1, open 10 min\.' "$(nags "$ROOT_P" | sed -n 1p | sed 's/^.* — ⏰/⏰/')"
check_match "the staging nag mentions the escalation users" '^⏰ <@U1ADMIN> Still unacknowledged — nag #1, open 10 min\.' "$(nags "$ROOT_S" | sed -n 1p | sed 's/^.* — ⏰/⏰/')"
check "nobody else is mentioned in the production thread" "<@U2ONCALL> <@U3SRE> " "$(mentioned "$ROOT_P")"
check "nobody else is mentioned in the staging thread" "<@U1ADMIN> " "$(mentioned "$ROOT_S")"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"
finish
