#!/usr/bin/env bash
# This file contains the scenario test: every tests/scenarios/*/ (a simcluster
# scenario, the alert payload as its source sends it, the expected outcome)
# goes through `nightshift replay` and through the running bot (console
# channel, POST to the webhook, then the investigations and tool_calls tables,
# `incidents --json` and the console thread). It asserts the verdict, the
# category, the playbook finding, the confidence, the tools that must have
# been called and the proposed action (none for noise), and that simcluster
# recorded no mutating request. The scenarios share two simclusters (their
# namespaces differ): one for the alerts labelled cluster=prod-eu-1, one for
# the rest (default_cluster); see tests/scenarios/README.md.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-90}
. "$(dirname "$0")/lib.sh"

SIM=${SIMCLUSTER:-build/simcluster}
SCEN_DIR=${SCENARIOS:-tests/scenarios}
SIM_PIDS=

need_binary
[ -x "$SIM" ] || bail "simcluster binary exists at $SIM" "build it with: make build/simcluster"

# ------------------------------------------------------------------ helpers

# jsql FILE SQL : runs SQL where the CTE `d(j)` holds FILE's text; '|' separated
jsql() {
	sqlite3 -batch -noheader -separator '|' :memory: \
		"WITH d(j) AS (SELECT CAST(readfile('$1') AS TEXT)) $2" 2>/dev/null
}

# dbq SQL : a query on the bot's store (WAL: safe while the bot runs)
dbq() { sqlite3 -batch -noheader -separator '|' -cmd '.timeout 3000' "$DB" "$1" 2>/dev/null; }

# expect_load DIR : sets E_VERDICT E_CATEGORY E_FINDING E_CONFIDENCE E_ACTION E_DISMISSED E_TOOLS
# ('-' stands for null)
expect_load() {
	local line
	line=$(jsql "$1/expect.json" "SELECT json_extract(j,'\$.verdict'),
		ifnull(json_extract(j,'\$.category'),'-'), ifnull(json_extract(j,'\$.finding'),'-'),
		ifnull(json_extract(j,'\$.confidence'),'-'), ifnull(json_extract(j,'\$.proposed_action'),'-'),
		ifnull(json_extract(j,'\$.dismissed'),'-'),
		(SELECT group_concat(value,' ') FROM json_each(j,'\$.tools')) FROM d")
	IFS='|' read -r E_VERDICT E_CATEGORY E_FINDING E_CONFIDENCE E_ACTION E_DISMISSED E_TOOLS <<<"$line"
}

# missing_tools "EXPECTED..." "CALLED..." : prints the expected tools never called
missing_tools() {
	local t miss=
	for t in $1; do
		case " $2 " in *" $t "*) ;; *) miss="$miss $t" ;; esac
	done
	printf '%s' "${miss# }"
}

# payload DIR NAME : the alert body with the test's ports filled in
payload() {
	sed -e "s/@UP_PORT@/$SIM_PORT/g" -e "s/@DOWN_PORT@/$DOWN_PORT/g" -e "s/@TLS_PORT@/$TLS_PORT/g" \
		"$1/alert.json" >"$T/payload-$2.json"
}

# start_tls_server : an HTTPS server on loopback whose self-signed certificate
# expires in 12 days (openssl s_server -www); sets TLS_PORT, '' when it cannot
start_tls_server() {
	local pid
	TLS_PORT=
	command -v openssl >/dev/null 2>&1 || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 12 \
		-subj /CN=partner-api.test -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/tls.key" -out "$T/tls.crt" >"$T/tls.log" 2>&1 || return 1
	TLS_PORT=$(free_port) || return 1
	openssl s_server -accept "127.0.0.1:$TLS_PORT" -cert "$T/tls.crt" -key "$T/tls.key" \
		-www -quiet </dev/null >>"$T/tls.log" 2>&1 &
	pid=$!
	EXTRA_PIDS="$EXTRA_PIDS $pid"
	for _ in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null && return 0
		alive "$pid" || break
		sleep 0.1
	done
	TLS_PORT=
	return 1
}

# ------------------------------------------------------------------ scenarios
NAMES=
for d in "$SCEN_DIR"/*/; do
	d=${d%/}
	[ -f "$d/cluster.json" ] && [ -f "$d/alert.json" ] && [ -f "$d/expect.json" ] || continue
	NAMES="$NAMES ${d##*/}"
done
NAMES=${NAMES# }
# Scenarios probing a TLS server need openssl to run one.
if ! start_tls_server; then
	for n in $NAMES; do
		if grep -q '@TLS_PORT@' "$SCEN_DIR/$n/alert.json"; then
			ok "# SKIP $n: no openssl to run its TLS server ($(tail -n 1 "$T/tls.log" 2>/dev/null))"
			NAMES=$(printf '%s\n' $NAMES | grep -vx "$n" | tr '\n' ' ')
		fi
	done
fi
N_SCEN=$(printf '%s\n' $NAMES | grep -c .)
min=1
[ "$SCEN_DIR" = tests/scenarios ] && min=20 # one per shipped playbook and the noise ones
check_ge "found scenarios in $SCEN_DIR ($N_SCEN)" "$N_SCEN" "$min"
for n in $NAMES; do
	for f in cluster alert expect; do
		if ! jvalid "$(cat "$SCEN_DIR/$n/$f.json")"; then not_ok "$n/$f.json is valid JSON"; fi
	done
done

# ------------------------------------------------------------------ simclusters
# Two simclusters: "prod-eu-1" serves the scenarios whose alert names that
# cluster, "sim" (the default_cluster) all the others. An alert routed to the
# wrong cluster finds nothing there (404s) and its checks fail.

# start_sim NAME FILES... : starts one simcluster; sets SIMPORT_<NAME>
start_sim() {
	local name=$1 f port pid
	shift
	local -a a=()
	for f in "$@"; do a+=(--scenario "$f"); done
	"$SIM" --listen 127.0.0.1:0 --ready-file "$T/$name.port" --mutations "$T/mutations.jsonl" \
		--log-level warn "${a[@]}" >"$T/$name.log" 2>&1 &
	pid=$!
	EXTRA_PIDS="$EXTRA_PIDS $pid"
	SIM_PIDS="$SIM_PIDS $pid"
	for _ in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		alive "$pid" || break
		sleep 0.1
	done
	port=$(cat "$T/$name.port" 2>/dev/null)
	[ -n "$port" ] || bail "simcluster $name starts ($# scenarios)" "$(tail -n 5 "$T/$name.log")"
	printf -v "SIMPORT_$name" '%s' "$port"
	ok "simcluster $name serves $# scenarios merged (port $port)"
}

: >"$T/mutations.jsonl"
files_default=()
files_prod=()
for n in $NAMES; do
	c=$(jsql "$SCEN_DIR/$n/alert.json" "SELECT ifnull(json_extract(j,'\$.alerts[0].labels.cluster'),'') FROM d")
	case $c in
	'') files_default+=("$SCEN_DIR/$n/cluster.json") ;;
	prod-eu-1) files_prod+=("$SCEN_DIR/$n/cluster.json") ;;
	*) not_ok "$n: its cluster label \"$c\" is one the scenario config knows (sim, prod-eu-1)" ;;
	esac
done
check_ge "some scenarios carry no cluster label (default_cluster)" "${#files_default[@]}" 1
start_sim sim "${files_default[@]}"
SIM_PORT=$SIMPORT_sim
PROD_PORT=$SIM_PORT
if [ "${#files_prod[@]}" -gt 0 ]; then
	ok "some scenarios carry cluster=prod-eu-1 (${#files_prod[@]})"
	start_sim prod "${files_prod[@]}"
	PROD_PORT=$SIMPORT_prod
elif [ "$SCEN_DIR" = tests/scenarios ]; then
	not_ok "some scenarios carry cluster=prod-eu-1 (routing by the cluster label is tested)"
fi
# The "up again" target is simcluster's /healthz; the "down" one a port nobody listens on.
check "the probe target that is up answers 200" 200 "$(http_status "http://127.0.0.1:$SIM_PORT/healthz")"
DOWN_PORT=$(free_port) || bail "found a closed loopback port"

# ------------------------------------------------------------------ config
# write_conf : the scenario config on a freshly picked listen PORT. Picked
# again right before the bot starts: the replays' own outgoing connections
# use ephemeral ports and may take one picked earlier.
write_conf() {
	PORT=$(free_port) || bail "found a free loopback port"
	BASE=http://127.0.0.1:$PORT
	sed -e "s#@PORT@#$PORT#" -e "s#@DB@#$DB#" -e "s#@PLAYBOOKS@#$PWD/playbooks#" \
		-e "s#@SIM_PORT@#$SIM_PORT#g" -e "s#@PROD_PORT@#$PROD_PORT#g" "$SCEN_DIR/nightshift.yaml.in" >"$CONF"
}
write_conf
out=$("$NS" check-config -c "$CONF" 2>&1)
check "the scenario config passes check-config" 0 "$?" "$out"
for n in $NAMES; do payload "$SCEN_DIR/$n" "$n"; done

# ------------------------------------------------------------------ replay
for n in $NAMES; do
	expect_load "$SCEN_DIR/$n"
	"$NS" replay -c "$CONF" "$T/payload-$n.json" >"$T/replay-$n.json" 2>"$T/replay-$n.err"
	rc=$?
	if [ "$rc" -ne 0 ] || ! jvalid "$(cat "$T/replay-$n.json")"; then
		not_ok "replay $n exits 0 with JSON" "exit $rc" "$(head -c 400 "$T/replay-$n.err")"
		continue
	fi
	IFS='|' read -r action verdict category finding confidence act tools <<<"$(jsql "$T/replay-$n.json" \
		"SELECT json_extract(j,'\$.alerts[0].action'),
		ifnull(json_extract(j,'\$.alerts[0].report.verdict'),'-'),
		ifnull(json_extract(j,'\$.alerts[0].report.category'),'-'),
		ifnull(json_extract(j,'\$.alerts[0].report.finding'),'-'),
		ifnull(json_extract(j,'\$.alerts[0].report.confidence'),'-'),
		ifnull(json_extract(j,'\$.alerts[0].report.proposed_action.type'),'-'),
		ifnull((SELECT group_concat(json_extract(value,'\$.tool'),' ')
		        FROM json_each(j,'\$.alerts[0].tool_calls')),'') FROM d")"
	diagline="replay: action=$action finding=$finding confidence=$confidence tools=$tools"
	if [ "$E_DISMISSED" = noise_rule ]; then
		check "replay $n: dismissed by a noise rule before any investigation" "dismissed -" "$action $verdict" "$diagline"
		check "replay $n: no tool was called" "" "$tools"
		continue
	fi
	check "replay $n: verdict $E_VERDICT" "$E_VERDICT" "$verdict" "$diagline"
	check "replay $n: category $E_CATEGORY" "$E_CATEGORY" "$category" "$diagline"
	check "replay $n: finding $E_FINDING, confidence $E_CONFIDENCE" "$E_FINDING $E_CONFIDENCE" "$finding $confidence" \
		"$(jsql "$T/replay-$n.json" "SELECT json_extract(j,'\$.alerts[0].report.evidence') FROM d")"
	check "replay $n: tools called include $E_TOOLS" "" "$(missing_tools "$E_TOOLS" "$tools")" "called: $tools"
	check "replay $n: proposed action $E_ACTION" "$E_ACTION" "$act"
done

# ------------------------------------------------------------------ the running bot
write_conf
start_bot || { write_conf && start_bot; } || bail "nightshift run starts with the scenario config"
ok "nightshift run starts with the scenario config (console channel)"
declare -A IID
for n in $NAMES; do
	path=/alerts/alertmanager
	[ "$(jsql "$T/payload-$n.json" "SELECT json_type(j,'\$.heartbeat') FROM d")" = object ] && path=/alerts/uptime-kuma
	post "$path" "$T/payload-$n.json"
	IID[$n]=$(jget "$BODY" '$.incidents[0]')
	if [ "$CODE" != 202 ] || [ -z "${IID[$n]}" ]; then
		not_ok "POST $n to $path -> 202 with an incident" "HTTP $CODE: $(printf '%s' "$BODY" | head -c 300)"
	fi
done
ok "posted $N_SCEN payloads to the webhook"

# Every incident settles: an investigation done (or failed), or dismissed at triage.
settled() {
	local n id
	for n in $NAMES; do
		id=${IID[$n]:-}
		[ -n "$id" ] || continue
		[ "$(dbq "SELECT (SELECT count(*) FROM investigations WHERE incident_id=$id AND state IN ('done','failed'))
			+ (SELECT count(*) FROM incidents WHERE id=$id AND state='noise'
			   AND NOT EXISTS (SELECT 1 FROM investigations WHERE incident_id=$id))")" -ge 1 ] 2>/dev/null || return 1
	done
	return 0
}
for _ in $(seq 1 150); do settled && break; sleep 0.2; done
if settled; then ok "every incident settled (investigated or dismissed) within 30 s"; else
	not_ok "every incident settled within 30 s" \
		"$(dbq "SELECT 'incident '||id||' '||alertname||' state='||state FROM incidents WHERE state IN ('open','investigating')")"
fi
inc_load || not_ok "incidents --json loads" "$(head -c 300 "$T/inc.err")"

for n in $NAMES; do
	id=${IID[$n]:-}
	[ -n "$id" ] || continue
	expect_load "$SCEN_DIR/$n"
	inc_verdict=$(inc_by_id "$id" verdict)
	if [ "$E_DISMISSED" = noise_rule ]; then
		check "bot $n: incident #$id dismissed as noise at triage" "noise noise 0" \
			"$(inc_by_id "$id" state) $inc_verdict $(dbq "SELECT count(*) FROM investigations WHERE incident_id=$id")"
		if wait_log "^#$id .*Dismissed as noise: " 5 "$T/console.log"; then ok "bot $n: console thread #$id says dismissed as noise"; else
			not_ok "bot $n: console thread #$id says dismissed as noise" "$(grep "^#$id " "$T/console.log" | tail -n 5)"
		fi
		continue
	fi
	IFS='|' read -r inv verdict category finding confidence act <<<"$(dbq "SELECT id, ifnull(verdict,'-'),
		ifnull(category,'-'), ifnull(json_extract(report,'\$.finding'),'-'), ifnull(confidence,'-'),
		ifnull(json_extract(report,'\$.proposed_action.type'),'-')
		FROM investigations WHERE incident_id=$id AND state='done' ORDER BY id DESC LIMIT 1")"
	if [ -z "$inv" ]; then
		not_ok "bot $n: incident #$id has a finished investigation" \
			"$(dbq "SELECT state||' '||ifnull(error,'') FROM investigations WHERE incident_id=$id")"
		continue
	fi
	tools=$(dbq "SELECT group_concat(tool,' ') FROM (SELECT tool FROM tool_calls WHERE investigation_id=$inv ORDER BY seq)")
	check "bot $n: verdict $E_VERDICT (investigations and incidents --json)" "$E_VERDICT $E_VERDICT" "$verdict $inc_verdict"
	check "bot $n: category $E_CATEGORY" "$E_CATEGORY" "$category"
	check "bot $n: finding $E_FINDING, confidence $E_CONFIDENCE" "$E_FINDING $E_CONFIDENCE" "$finding $confidence"
	check "bot $n: tool_calls include $E_TOOLS" "" "$(missing_tools "$E_TOOLS" "$tools")" "called: $tools"
	check "bot $n: proposed action $E_ACTION" "$E_ACTION" "$act"
	if [ "$E_VERDICT" = noise ]; then re="^#$id .*Dismissed as noise \\($E_CATEGORY, "; else
		re="^#$id .*Real problem .* $E_CATEGORY .* confidence"; fi
	if wait_log "$re" 5 "$T/console.log"; then ok "bot $n: console thread #$id shows the $E_VERDICT verdict and $E_CATEGORY"; else
		not_ok "bot $n: console thread #$id shows the $E_VERDICT verdict and $E_CATEGORY" "$(grep "^#$id " "$T/console.log" | tail -n 6)"
	fi
done

# kube-state-metrics alerts carry the exporter's own pod; it must not name the incident.
check "no incident is named after kube-state-metrics' own pod" "" \
	"$(inc_sql "SELECT group_concat(alertname, ' ') FROM inc, json_each(CAST(readfile('$T/inc.json') AS TEXT)) e
		WHERE json_extract(e.value,'\$.id') = inc.id AND json_extract(e.value,'\$.workload') LIKE '%kube-state-metrics%'")"

# Every real report says what to run and shows evidence; no bullet is empty.
check "every real report has a recommended command and evidence" "" \
	"$(dbq "SELECT group_concat(incident_id, ' ') FROM investigations WHERE verdict='real' AND
		(json_extract(report,'\$.recommended_command') IS NULL OR json_array_length(report,'\$.evidence') = 0)")"
check "no evidence line is empty (a source and nothing after it)" "" \
	"$(dbq "SELECT group_concat(e.value, ' | ') FROM investigations, json_each(report,'\$.evidence') e
		WHERE trim(substr(e.value, instr(e.value, ': ') + 2)) = ''")"

# Noise must never come with a fix, whichever way it was reached.
check "no noise verdict in the store carries a proposed action" 0 \
	"$(dbq "SELECT count(*) FROM investigations WHERE verdict='noise' AND json_extract(report,'\$.proposed_action') IS NOT NULL")"

stop_bot TERM 10
check "nightshift exits 0 on SIGTERM" 0 "$BOT_RC"

# ------------------------------------------------------------------ mutations
for port in $(printf '%s\n' "$SIM_PORT" "$PROD_PORT" | sort -u); do
	req_sim=$(curl -s --max-time 2 "http://127.0.0.1:$port/_sim/mutations" 2>/dev/null)
	check "simcluster :$port recorded no mutating request (GET /_sim/mutations)" 0 "$(jget "$req_sim" '$.count')" \
		"$(printf '%s' "$req_sim" | head -c 400)"
done
check "the --mutations file is empty" 0 "$(wc -c <"$T/mutations.jsonl" | tr -d ' ')" "$(head -c 400 "$T/mutations.jsonl")"
finish
