#!/usr/bin/env bash
# This file contains the test of quiet hours in a named time zone, with the
# test-only escalation clock set to chosen dates: production is quiet
# 22:00-07:00 Europe/Berlin; an escalated warning gets no nag inside the
# window, one nag when it ends (07:00 Berlin, 05:00 UTC in summer) and then
# the usual interval; a critical one nags right through the night. Every
# message the bot posts in the channel is accounted for.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_slack.bash"

need_binary
esc_setup
# utc_ms DATE : ms since the epoch of a UTC date like 2026-01-15T21:30:00Z
utc_ms() { echo $(($(date -u -d "$1" +%s) * 1000)); }
# clock_to DATE : the escalation clock reads DATE (+ 1 s) from now on, as time goes on
# (the test clock only moves forward, so the dates are in next year's summer)
Y=$(($(date -u +%Y) + 1))
clock_to() { echo $(($(utc_ms "$1") + 1000 - $(date +%s%3N))) >"$CLOCK.tmp" && mv "$CLOCK.tmp" "$CLOCK"; }

sed -i '/match: {namespace: "^prod"}/a\    nag_interval: 10m\n    quiet_hours: "22:00-07:00 Europe/Berlin"' "$CONF"
grep -q 'Europe/Berlin' "$CONF" || bail "the config has the quiet hours" "$(cat "$CONF")"
start_bot || bail "nightshift starts with quiet hours in Europe/Berlin"
wait_for 5 bot_ready || bail "the Socket Mode connection says hello" "$(slack_health)"

nag_count() { sd_posts "ok = 1 AND thread_ts = '$1' AND text LIKE '%Still unacknowledged%'" | grep -c . || true; }
has_nags() { [ "$(nag_count "$1")" -ge "$2" ]; }
next_nag() { db "SELECT next_nag_at FROM escalations WHERE incident_id=$1"; }

# ---- 22:30 in Berlin on a summer night (20:30 UTC, CEST): both escalate
clock_to $Y-07-15T20:30:00Z
escalate QuietWarn prod-api warning
W=$INC ROOT_W=$ROOT
escalate QuietCrit prod-api critical
C=$INC ROOT_C=$ROOT
check "the escalation row keeps the zone and the window" "1320|420|Europe/Berlin" \
	"$(db "SELECT quiet_from, quiet_to, quiet_zone FROM escalations WHERE incident_id=$W")"

# ---- 22:41 Berlin: the critical one nags, the warning waits for 07:00 Berlin (05:00 UTC)
clock_to $Y-07-15T20:41:00Z
wait_for 5 has_nags "$ROOT_C" 1 && ok "a critical incident nags during quiet hours" || not_ok "critical nag #1" "$(sd_posts)"
held() { [ "$(next_nag "$W")" = "$(utc_ms $Y-07-16T05:00:00Z)" ]; }
wait_for 5 held && ok "the warning's nag is held until 07:00 Europe/Berlin (05:00 UTC in summer, not 06:00 as a fixed +01:00 would say)" ||
	not_ok "warning held" "$(db "SELECT * FROM escalations WHERE incident_id=$W")"
check "no nag for the warning inside the window" 0 "$(nag_count "$ROOT_W")"
check "the log says why" 1 "$(grep -c "event=nag_quiet_hours incident=$W " "$T/bot.log")"

# ---- 03:00 Berlin: the critical one again (once, however overdue), the warning still waits
clock_to $Y-07-16T01:00:00Z
wait_for 5 has_nags "$ROOT_C" 2 || not_ok "critical nag #2" "$(sd_posts)"
check "the warning is still held for 07:00 Berlin" "$(utc_ms $Y-07-16T05:00:00Z)|0" \
	"$(next_nag "$W")|$(db "SELECT nags FROM escalations WHERE incident_id=$W")"

# ---- 07:00 Berlin: the window ends, exactly one nag for the warning, then the interval
clock_to $Y-07-16T05:00:00Z
wait_for 5 has_nags "$ROOT_W" 1 && ok "when the window ends the warning nags" || not_ok "warning nag #1" "$(sd_posts)"
rescheduled() { [ "$(db "SELECT next_nag_at - last_nag_at FROM escalations WHERE incident_id=$W")" = 600000 ]; }
wait_for 5 rescheduled || not_ok "the warning's next nag is one interval later" "$(db "SELECT * FROM escalations WHERE incident_id=$W")"
check "exactly one nag for the warning (nag #1), the next one 10 min on" "1|1" \
	"$(db "SELECT nags FROM escalations WHERE incident_id=$W")|$(nag_count "$ROOT_W")"
wait_for 5 has_nags "$ROOT_C" 3 || not_ok "critical nag #3" "$(sd_posts)"

UNEXPECTED=$(sd_posts "ok = 1 AND channel = 'C1'" | cut -d'|' -f3 |
	grep -v -E ' — .{0,8}(Received|Real problem · )|— .{0,40}Still unacknowledged — nag #[1-3],' || true)
check "no message the test did not expect" "" "$UNEXPECTED"
check "nags in all: three critical, one warning" "3|1" "$(nag_count "$ROOT_C")|$(nag_count "$ROOT_W")"

stop_bot
check "SIGTERM stops the bot cleanly" 0 "$BOT_RC"

# ---- an unknown zone is refused at load, naming file:line
sed -i 's|Europe/Berlin|Europe/Atlantis|' "$CONF"
OUT=$("$NS" check-config -c "$CONF" 2>&1) && not_ok "check-config refuses an unknown zone" || ok "check-config refuses an unknown zone"
check_match "... with file:line and the zone" "$(basename "$CONF"):[0-9]+: environments\[0\]\.quiet_hours: bad time range .*unknown time zone \"Europe/Atlantis\"" "$OUT"
finish
