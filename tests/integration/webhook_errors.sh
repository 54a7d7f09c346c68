#!/usr/bin/env bash
# This file contains the webhook's hostile-input test: every kind of bad
# request gets its specific status code and a JSON error body, stores
# nothing, and leaves the server fully working. Valid alerts (Around<N>) are
# sent before and after every bad request and must all be stored; bodies of
# bad requests carry alertnames Bad<...> and must never be stored. A stalled
# client must not block other connections.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

need_binary
setup_bot
start_bot || bail "nightshift starts and answers GET /healthz with 200"
ok "nightshift starts and answers GET /healthz with 200"

N=0             # valid Around<N> alerts sent
VALID_FAILS=()  # which valid alerts did not get 202
ERR_BODY_FAILS=()

# with_auth HEADER COMMAND... : runs COMMAND with that Authorization header ('' = none)
with_auth() {
	local AUTH_HEADER=$1
	shift
	"$@"
}

# valid CONTEXT : sends the next valid alert; remembers failures
valid() {
	N=$((N + 1))
	post_am "Around$N" firing "\"namespace\":\"dev-apps\",\"pod\":\"web-$N\""
	if [ "$CODE" != 202 ]; then
		VALID_FAILS+=("Around$N ($1): HTTP $CODE $(printf '%s' "$BODY" | head -c 200)")
	fi
}

# bad EXPECTED DESC COMMAND... : valid alert, the bad request, valid alert
bad() {
	local exp=$1 desc=$2
	shift 2
	valid "before: $desc"
	"$@"
	check_code "$desc -> $exp" "$exp"
	if [ "$CODE" = "$exp" ] && ! is_error_json "$BODY"; then
		ERR_BODY_FAILS+=("$desc: body not {\"error\":...}: $(printf '%s' "$BODY" | head -c 200)")
	fi
	valid "after: $desc"
}

# ------------------------------------------------------------------ bodies
am_payload BadAuth >"$T/bad_auth.json"
am_payload Bad405 >"$T/bad_405.json"
am_payload Bad404 >"$T/bad_404.json"
am_payload Bad411 >"$T/bad_411.json"

# 10 MB body (a JSON object with one huge string)
{
	printf '{"version":"4","status":"firing","alerts":[%s],"pad":"' "$(am_alert Bad413Big)"
	head -c 10485760 /dev/zero | tr '\0' a
	printf '"}'
} >"$T/big10m.json"

# padded_payload NAME SIZE : a valid payload of exactly SIZE bytes
padded_payload() {
	local head tail fill
	head=$(printf '{"version":"4","status":"firing","receiver":"x","alerts":[%s],"pad":"' "$(am_alert "$1")")
	tail='"}'
	fill=$(($2 - ${#head} - ${#tail}))
	{
		printf '%s' "$head"
		head -c "$fill" /dev/zero | tr '\0' ' '
		printf '%s' "$tail"
	} >"$T/$1.json"
}
padded_payload Bad413Plus1 1048577
padded_payload AtLimit 1048576

# valid payload + trailing garbage, and two documents back to back
{ am_payload BadTrailing | tr -d '\n'; printf ' garbage'; } >"$T/trailing.json"
{ am_payload BadTwoDocs; am_payload BadTwoDocs; } >"$T/twodocs.json"

# invalid UTF-8 inside a label value: a lone 0xFF, an overlong '/', a surrogate
printf '%s' "$(am_payload BadUtf8Ff firing '"namespace":"dev-apps","note":"FFHERE"')" |
	sed 's/FFHERE/abc\xffdef/' >"$T/utf8_ff.json"
printf '%s' "$(am_payload BadUtf8Overlong firing '"namespace":"dev-apps","note":"OVERLONG"')" |
	sed 's/OVERLONG/\xc0\xaf/' >"$T/utf8_overlong.json"
printf '%s' "$(am_payload BadUtf8Surrogate firing '"namespace":"dev-apps","note":"SURR"')" |
	sed 's/SURR/\xed\xa0\x80/' >"$T/utf8_surrogate.json"
# a raw NUL byte inside a string (not JSON: control characters must be escaped)
printf '%s' "$(am_payload BadNul firing '"namespace":"dev-apps","note":"NULHERE"')" |
	sed 's/NULHERE/a\x00b/' >"$T/nul.json"
# valid UTF-8 (positive control): 2-, 3- and 4-byte sequences
am_payload Utf8Ok firing '"namespace":"dev-apps","note":"caf\u00e9 é € 🔥"' >"$T/utf8_ok.json"

# nesting: 70 levels inside an otherwise valid payload; 100k-deep arrays
deep_payload() { # deep_payload NAME DEPTH
	printf '{"version":"4","status":"firing","alerts":[%s],"x":' "$(am_alert "$1")"
	head -c "$2" /dev/zero | tr '\0' '['
	printf '1'
	head -c "$2" /dev/zero | tr '\0' ']'
	printf '}\n'
}
deep_payload BadDeep70 70 >"$T/deep70.json"
deep_payload ShallowOk 8 >"$T/shallow.json"
{ head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; } >"$T/deep100k.json"
head -c 100000 /dev/zero | tr '\0' '[' >"$T/deep100k_open.json"
head -c 65536 /dev/urandom >"$T/random.bin"

# 422 shapes
printf '{}' >"$T/obj.json"
printf '[]' >"$T/arr.json"
printf '"BadJustAString"' >"$T/str.json"
printf '42' >"$T/num.json"
printf 'null' >"$T/null.json"
printf '{"foo":"BadUnknownShape"}' >"$T/unknown.json"
printf '{"version":"4","status":"firing","receiver":"x","alerts":[]}' >"$T/am_empty.json"
printf '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"namespace":"prod"}}]}' >"$T/am_noname.json"
printf '{"version":"4","status":"firing","alerts":"BadAlertsString"}' >"$T/am_alerts_str.json"
printf '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":["alertname","BadLabelsArray"]}]}' >"$T/am_labels_arr.json"

# a huge (900 KB) label value, under the body limit
{
	printf '{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HugeLabel","namespace":"dev-apps","blob":"'
	head -c 900000 /dev/zero | tr '\0' b
	printf '"},"annotations":{},"startsAt":"2026-11-25T12:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}'
} >"$T/huge_label.json"

# raw requests without Content-Length
printf 'POST /alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n' \
	"$TOKEN" >"$T/nolen_empty.http"
{
	printf 'POST /alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n' "$TOKEN"
	am_payload Bad411Raw
} >"$T/nolen_body.http"
{
	printf 'POST /alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' "$TOKEN"
	am_payload Bad411Chunk | tr -d '\n' >"$T/chunk_body"
	printf '%x\r\n' "$(wc -c <"$T/chunk_body")"
	cat "$T/chunk_body"
	printf '\r\n0\r\n\r\n'
} >"$T/chunked_raw.http"

# ------------------------------------------------------------------ 401
bad 401 "no Authorization header" with_auth "" post /alerts/alertmanager "$T/bad_auth.json"
bad 401 "wrong bearer token" with_auth "Authorization: Bearer wrong-$TOKEN" post /alerts/alertmanager "$T/bad_auth.json"
bad 401 "empty bearer token" with_auth "Authorization: Bearer " post /alerts/alertmanager "$T/bad_auth.json"
bad 401 "token with an extra suffix" with_auth "Authorization: Bearer ${TOKEN}x" post /alerts/alertmanager "$T/bad_auth.json"
bad 401 "token prefix only" with_auth "Authorization: Bearer ${TOKEN%?}" post /alerts/alertmanager "$T/bad_auth.json"
bad 401 "Basic auth instead of Bearer" with_auth "Authorization: Basic $(printf 'x:%s' "$TOKEN" | base64 -w0)" post /alerts/alertmanager "$T/bad_auth.json"
bad 401 "no token on POST /alerts" with_auth "" post /alerts "$T/bad_auth.json"
bad 401 "no token on POST /alerts/grafana" with_auth "" post /alerts/grafana "$T/bad_auth.json"

# ------------------------------------------------------------------ 413
bad 413 "10 MB body" post /alerts/alertmanager "$T/big10m.json"
bad 413 "body of max_body_bytes + 1" post /alerts/alertmanager "$T/Bad413Plus1.json"
valid "before: body of exactly max_body_bytes"
post /alerts/alertmanager "$T/AtLimit.json"
check_code "body of exactly max_body_bytes (1048576) is accepted" 202
valid "after: body of exactly max_body_bytes"

# ------------------------------------------------------------------ 411
bad 411 "POST without Content-Length (no body)" raw_http "$T/nolen_empty.http"
bad 411 "POST without Content-Length (body, connection close)" raw_http "$T/nolen_body.http"
bad 411 "Transfer-Encoding: chunked (curl)" post /alerts/alertmanager "$T/bad_411.json" -H 'Transfer-Encoding: chunked'
bad 411 "Transfer-Encoding: chunked (raw)" raw_http "$T/chunked_raw.http"

# ------------------------------------------------------------------ 400
printf 'hello, this is not json' >"$T/notjson.txt"
bad 400 "not JSON" post /alerts/alertmanager "$T/notjson.txt"
bad 400 "empty body (Content-Length: 0)" post /alerts/alertmanager /dev/null
bad 400 "trailing garbage after a valid payload" post /alerts/alertmanager "$T/trailing.json"
bad 400 "two JSON documents back to back" post /alerts/alertmanager "$T/twodocs.json"
bad 400 "invalid UTF-8 (0xFF) in a label" post /alerts/alertmanager "$T/utf8_ff.json"
bad 400 "invalid UTF-8 (overlong) in a label" post /alerts/alertmanager "$T/utf8_overlong.json"
bad 400 "invalid UTF-8 (surrogate) in a label" post /alerts/alertmanager "$T/utf8_surrogate.json"
bad 400 "raw NUL byte inside a JSON string" post /alerts/alertmanager "$T/nul.json"
bad 400 "nesting 70 deep" post /alerts/alertmanager "$T/deep70.json"
bad 400 "100k-deep [[[...]]]" post /alerts/alertmanager "$T/deep100k.json"
bad 400 "100k-deep unterminated [[[[" post /alerts/alertmanager "$T/deep100k_open.json"
bad 400 "64 KB of random bytes" post /alerts/alertmanager "$T/random.bin"
bad 400 "random bytes to auto-detect POST /alerts" post /alerts "$T/random.bin"
bad 400 "100k-deep [[[ to generic" post /alerts/generic "$T/deep100k.json"

valid "before: valid UTF-8"
post /alerts/alertmanager "$T/utf8_ok.json"
check_code "valid multi-byte UTF-8 in labels is accepted" 202
post /alerts/alertmanager "$T/shallow.json"
check_code "an unknown field nested 8 deep is accepted" 202
valid "after: shallow nesting"

# ------------------------------------------------------------------ 422
bad 422 "{} to /alerts/alertmanager" post /alerts/alertmanager "$T/obj.json"
bad 422 "{} to auto-detect /alerts" post /alerts "$T/obj.json"
bad 422 "[] to /alerts" post /alerts "$T/arr.json"
bad 422 "[] to /alerts/generic" post /alerts/generic "$T/arr.json"
bad 422 "a JSON string" post /alerts "$T/str.json"
bad 422 "a JSON number" post /alerts/alertmanager "$T/num.json"
bad 422 "JSON null" post /alerts/alertmanager "$T/null.json"
bad 422 "object of no known shape" post /alerts "$T/unknown.json"
bad 422 "Alertmanager payload with no alerts" post /alerts/alertmanager "$T/am_empty.json"
bad 422 "Alertmanager alert without alertname" post /alerts/alertmanager "$T/am_noname.json"
bad 422 "Alertmanager alerts is a string" post /alerts/alertmanager "$T/am_alerts_str.json"
bad 422 "Alertmanager labels is an array" post /alerts/alertmanager "$T/am_labels_arr.json"
bad 422 "{} to /alerts/grafana" post /alerts/grafana "$T/obj.json"
bad 422 "{} to /alerts/uptime-kuma" post /alerts/uptime-kuma "$T/obj.json"

# ------------------------------------------------------------------ 405 / 404
bad 405 "GET /alerts" req GET /alerts
bad 405 "DELETE /alerts" req DELETE /alerts
bad 405 "PUT /alerts/alertmanager with a valid body" req PUT /alerts/alertmanager \
	-H 'Content-Type: application/json' --data-binary @"$T/bad_405.json"
bad 405 "GET /alerts/alertmanager" req GET /alerts/alertmanager
bad 405 "POST /healthz" post /healthz "$T/bad_405.json"
bad 404 "POST /nope" post /nope "$T/bad_404.json"
bad 404 "GET /nope" req GET /nope
bad 404 "POST /alerts/unknown-source" post /alerts/unknown-source "$T/bad_404.json"
bad 404 "POST /alerts/alertmanager/extra" post /alerts/alertmanager/extra "$T/bad_404.json"
bad 404 "POST /alertsalertmanager" post /alertsalertmanager "$T/bad_404.json"

# ------------------------------------------------------------------ a mixed batch
am_wrap "$(am_alert PartialGood)" \
	'{"status":"firing","labels":{"namespace":"partial-bad"},"annotations":{}}' >"$T/partial.json"
post /alerts/alertmanager "$T/partial.json"
check_code "batch with one valid and one invalid alert -> 202" 202
check "batch: accepted is 1" 1 "$(jget "$BODY" '$.accepted')" "body: $BODY"
check "batch: status is accepted" accepted "$(jget "$BODY" '$.status')"
check "batch: one incident id returned" 1 "$(jlen "$BODY" '$.incidents')" "body: $BODY"
check "batch: rejected[0].index is 1" 1 "$(jget "$BODY" '$.rejected[0].index')" "body: $BODY"
check "batch: rejected has one entry" 1 "$(jlen "$BODY" '$.rejected')"

# the 202 body of a plain valid alert
post_am ShapeCheck
check_code "a valid alert -> 202" 202
check "202 body: status accepted, accepted 1, rejected []" "accepted|1|[]" \
	"$(jget "$BODY" '$.status')|$(jget "$BODY" '$.accepted')|$(jget "$BODY" '$.rejected')" "body: $BODY"

# ------------------------------------------------------------------ connection reuse after an error
am_payload KeepAliveAfterError >"$T/ka_ok.json"
codes=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} ' -X POST \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary @"$T/obj.json" "$BASE/alerts/alertmanager" \
	--next -o /dev/null -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary @"$T/ka_ok.json" "$BASE/alerts/alertmanager" 2>"$T/curl.err")
check "422 then a valid alert on one keep-alive client" "422 202" "$codes"

# ------------------------------------------------------------------ huge label value
valid "before: huge label"
post /alerts/alertmanager "$T/huge_label.json"
check_match "900 KB label value -> 202 or 422 (not a crash)" '^(202|422)$' "$CODE" "body: $(printf '%s' "$BODY" | head -c 200)"
HUGE_CODE=$CODE
valid "after: huge label"

# ------------------------------------------------------------------ stalled clients
# 10 connections send headers and half a body, 5 send half the headers; all stall.
slow_fds=()
half=$(am_payload BadSlowPartial | head -c 150)
for i in $(seq 1 10); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || continue
	slow_fds+=("$fd")
	printf 'POST /alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n%s' \
		"$TOKEN" "$half" >&"$fd"
done
for i in $(seq 1 5); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || continue
	slow_fds+=("$fd")
	printf 'POST /alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthor' >&"$fd"
done
check "15 stalled connections opened" 15 "${#slow_fds[@]}"
sleep 0.3
am_payload WhileStalled >"$T/while_stalled.json"
t0=$(date +%s%N)
CURL_TIMEOUT=5 post /alerts/alertmanager "$T/while_stalled.json"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check_code "a valid alert while 15 clients stall -> 202" 202
check_lt "it is answered promptly (${ms} ms < 2000 ms)" "$ms" 2000
req GET /healthz
check_code "GET /healthz while clients stall -> 200" 200
for fd in "${slow_fds[@]}"; do exec {fd}>&-; done

# a client that announces 2000 bytes, sends 150 and closes
exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /alerts/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n%s' \
	"$TOKEN" "$(am_payload BadClosedEarly | head -c 150)" >&"$fd"
exec {fd}>&-
sleep 0.2
valid "after: stalled and closed clients"

# ------------------------------------------------------------------ results
if [ ${#VALID_FAILS[@]} -eq 0 ]; then
	ok "all $N valid alerts sent around bad requests got 202"
else
	not_ok "all $N valid alerts sent around bad requests got 202" "${VALID_FAILS[@]}"
fi
if [ ${#ERR_BODY_FAILS[@]} -eq 0 ]; then
	ok "every error response had a JSON {\"error\":...} body"
else
	not_ok "every error response had a JSON {\"error\":...} body" "${ERR_BODY_FAILS[@]}"
fi

if inc_load; then
	ok "incidents --json prints a JSON array"
	stored=$(inc_sql "SELECT count(DISTINCT alertname) FROM inc WHERE alertname LIKE 'Around%'")
	check "all $N valid alerts are stored (distinct Around* alertnames)" "$N" "$stored" \
		"missing: $(for i in $(seq 1 "$N"); do
			[ "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='Around$i'")" = 0 ] && printf 'Around%s ' "$i"
		done)"
	badn=$(inc_sql "SELECT count(*) FROM inc WHERE alertname LIKE 'Bad%'")
	check "no alert from a rejected request is stored" 0 "$badn" \
		"$(inc_sql "SELECT alertname FROM inc WHERE alertname LIKE 'Bad%'")"
	for name in AtLimit Utf8Ok ShallowOk PartialGood ShapeCheck KeepAliveAfterError WhileStalled; do
		check "$name is stored" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='$name'")"
	done
	if [ "$HUGE_CODE" = 202 ]; then
		check "HugeLabel (answered 202) is stored" 1 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='HugeLabel'")"
	else
		check "HugeLabel (answered $HUGE_CODE) is not stored" 0 "$(inc_sql "SELECT count(*) FROM inc WHERE alertname='HugeLabel'")"
	fi
else
	not_ok "incidents --json prints a JSON array" "$(head -c 300 "$T/inc.err")" "$(head -c 300 "$T/inc.json")"
fi

# ------------------------------------------------------------------ still healthy
if alive "$BOT_PID"; then ok "nightshift is still running"; else not_ok "nightshift is still running"; fi
req GET /healthz
check_code "GET /healthz -> 200 at the end" 200
check "healthz status is ok" ok "$(jget "$BODY" '$.status')" "body: $BODY"
req GET /metrics
check_code "GET /metrics -> 200 at the end" 200
METRICS=$BODY
for c in 202 400 401 404 405 411 413 422; do
	v=$(metric_value "$METRICS" "nightshift_webhook_responses_total{code=\"$c\"}")
	if [ -n "$v" ] && awk -v v="$v" 'BEGIN{exit !(v+0 > 0)}'; then
		ok "metrics count $c responses ($v)"
	else
		not_ok "metrics count $c responses" "got '${v}' for nightshift_webhook_responses_total{code=\"$c\"}" \
			"$(printf '%s\n' "$METRICS" | grep nightshift_webhook_responses_total | head -n 12)"
	fi
done

stop_bot TERM 10
check "SIGTERM -> exit status 0" 0 "$BOT_RC"
finish
