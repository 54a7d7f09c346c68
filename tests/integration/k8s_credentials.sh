#!/usr/bin/env bash
# This file contains the test of the ways nightshift authenticates to a
# Kubernetes API server, each against simcluster on loopback with a bearer
# token it requires (simcluster --token FILE, re-read on every request):
#  1. server + token_file, the running bot (one worker, so one client lives
#     across investigations): the token file rotates (a new file: re-read
#     before the next request, no 401 seen), rotates again in place with its
#     size and mtime kept (the change is invisible to stat: the 401 makes the
#     client re-read it and retry once), then the server's token changes and
#     the bot's does not (a failed tool, evidence naming 401 Unauthorized,
#     confidence lowered; the bot keeps running).
#  2. in_cluster: KUBERNETES_SERVICE_HOST/PORT and the service-account folder
#     relocated by NIGHTSHIFT_SERVICEACCOUNT_DIR (token + ca.crt); simcluster
#     serves https with a certificate that CA signed (replay, then the running
#     bot across a rotation of the service-account token). A CA that did not
#     sign it fails the tools with a TLS reason, never a crash.
#  3. kubeconfig with two contexts (two simclusters, each with its own user
#     token): the configured context is the one used, not current-context.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-90}
. "$(dirname "$0")/lib.sh"

SIM=${SIMCLUSTER:-build/simcluster}
SCEN=tests/scenarios/crashloop-oom
OTHER=tests/scenarios/image-pull

need_binary
[ -x "$SIM" ] || bail "simcluster binary exists at $SIM" "build it with: make build/simcluster"

# dbq SQL : a query on the bot's store (WAL: safe while the bot runs)
dbq() { sqlite3 -batch -noheader -separator '|' -cmd '.timeout 3000' "$DB" "$1" 2>/dev/null; }

# jsql FILE SQL : SQL where the CTE d(j) holds FILE's text
jsql() {
	sqlite3 -batch -noheader -separator '|' :memory: \
		"WITH d(j) AS (SELECT CAST(readfile('$1') AS TEXT)) $2" 2>/dev/null
}

# start_sim NAME SCENARIO [simcluster args...] : sets SIMPORT_<NAME>
start_sim() {
	local name=$1 scen=$2 port pid
	shift 2
	"$SIM" --listen 127.0.0.1:0 --ready-file "$T/$name.port" --scenario "$scen/cluster.json" \
		--mutations "$T/mutations.jsonl" "$@" >"$T/$name.log" 2>&1 &
	pid=$!
	EXTRA_PIDS="$EXTRA_PIDS $pid"
	for _ in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		alive "$pid" || break
		sleep 0.1
	done
	port=$(cat "$T/$name.port" 2>/dev/null)
	[ -n "$port" ] || bail "simcluster $name starts" "$(tail -n 5 "$T/$name.log")"
	printf -v "SIMPORT_$name" '%s' "$port"
}

# sim_401s NAME : how many requests simcluster NAME answered 401 so far
sim_401s() { grep -c 'event=request .*status=401' "$T/$1.log"; }
# sim_requests NAME : how many API requests simcluster NAME answered so far
sim_requests() { grep -c 'event=request method=GET path=/api' "$T/$1.log"; }

# payload N : the scenario's alert with a label phase=<Nth word> (in the
# fingerprint below, so a new incident each)
payload() {
	local words=(zero alpha bravo charlie delta echo foxtrot golf)
	sed -e "s/\"severity\": \"warning\"/\"severity\": \"warning\", \"phase\": \"${words[$1]}\"/" \
		"$SCEN/alert.json" >"$T/alert-$1.json"
}

# replay_report CONF OUT [env...] : nightshift replay of alert 0 into OUT; prints
# "verdict category confidence failed_tools"
replay_report() {
	local conf=$1 out=$2
	shift 2
	env "$@" "$NS" replay -c "$conf" "$T/alert-0.json" >"$out" 2>"$out.err"
	jsql "$out" "SELECT ifnull(json_extract(j,'\$.alerts[0].report.verdict'),'-')||' '||
		ifnull(json_extract(j,'\$.alerts[0].report.category'),'-')||' '||
		ifnull(json_extract(j,'\$.alerts[0].report.confidence'),'-')||' '||
		(SELECT count(*) FROM json_each(j,'\$.alerts[0].tool_calls') WHERE json_extract(value,'\$.ok') = 0)
		FROM d"
}

# k8s_tools_ok OUT : number of Kubernetes tool calls that succeeded in a replay
k8s_tools_ok() {
	jsql "$1" "SELECT count(*) FROM d, json_each(j,'\$.alerts[0].tool_calls')
		WHERE json_extract(value,'\$.tool') LIKE 'k8s_%' AND json_extract(value,'\$.ok') = 1"
}

: >"$T/mutations.jsonl"
payload 0

# ------------------------------------------------------------------ 1. token_file rotation
printf 'tok-AAAA1\n' >"$T/sim.token"
printf 'tok-AAAA1\n' >"$T/ns.token"
start_sim tok "$SCEN" --token "$T/sim.token"
ok "simcluster requires a bearer token (port $SIMPORT_tok)"
check "simcluster answers 401 without the token" 401 \
	"$(http_status "http://127.0.0.1:$SIMPORT_tok/api/v1/namespaces/payments/pods")"
check "simcluster answers 200 with it" 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
	-H 'Authorization: Bearer tok-AAAA1' "http://127.0.0.1:$SIMPORT_tok/api/v1/namespaces/payments/pods")"
check "simcluster's health path stays open" 200 "$(http_status "http://127.0.0.1:$SIMPORT_tok/healthz")"

setup_bot
write_config "$CONF" "playbooks:
  dir: $PWD/playbooks
fingerprint:
  labels: [alertname, pod, phase]
investigations:
  workers: 1
kubernetes:
  clusters:
    - {name: prod-eu-1, server: \"http://127.0.0.1:$SIMPORT_tok\", token_file: \"$T/ns.token\"}"
start_bot || bail "nightshift run starts with a token_file cluster"

# investigate N : posts alert N, waits for its investigation; sets INV (id), RES
# ("state verdict category confidence") and FAILED (failed tool calls)
investigate() {
	local n=$1 id
	payload "$n"
	post /alerts/alertmanager "$T/alert-$n.json"
	id=$(jget "$BODY" '$.incidents[0]')
	INV=
	RES="no incident (HTTP $CODE)"
	FAILED=
	[ -n "$id" ] || return 1
	for _ in $(seq 1 100); do
		INV=$(dbq "SELECT id FROM investigations WHERE incident_id=$id AND state IN ('done','failed')")
		[ -n "$INV" ] && break
		sleep 0.1
	done
	[ -n "$INV" ] || { RES="not finished: $(dbq "SELECT state FROM investigations WHERE incident_id=$id")"; return 1; }
	RES=$(dbq "SELECT state||' '||ifnull(verdict,'-')||' '||ifnull(category,'-')||' '||ifnull(confidence,'-')
		FROM investigations WHERE id=$INV")
	FAILED=$(dbq "SELECT count(*) FROM tool_calls WHERE investigation_id=$INV AND ok=0")
}

investigate 1
check "token A: the investigation succeeds (done real oom_killed high)" "done real oom_killed high" "$RES"
check "token A: no tool call failed" 0 "$FAILED"
before=$(sim_401s tok)

# Rotation as kubelet does it: a new file renamed over the old one.
printf 'tok-BBBB2\n' >"$T/sim.token"
printf 'tok-BBBB2\n' >"$T/ns.token.new" && mv -f "$T/ns.token.new" "$T/ns.token"
investigate 2
check "rotated token file (new file): the investigation succeeds" "done real oom_killed high" "$RES"
check "rotated token file: no tool call failed" 0 "$FAILED"
check "rotated token file: re-read before the next request (no 401 answered)" "$before" "$(sim_401s tok)"

# Rotation that stat cannot see: same inode, same size, mtime put back.
mtime=$(stat -c %y "$T/ns.token")
printf 'tok-CCCC3\n' >"$T/sim.token"
printf 'tok-CCCC3\n' >"$T/ns.token"
touch -d "$mtime" "$T/ns.token"
check "the in-place rotation kept size and mtime" "$mtime 10" "$(stat -c '%y %s' "$T/ns.token")"
before=$(sim_401s tok)
investigate 3
check "rotated in place: the investigation succeeds (401, re-read, retried once)" "done real oom_killed high" "$RES"
check "rotated in place: no tool call failed" 0 "$FAILED"
check "rotated in place: exactly one 401 was answered (the retry used the new token)" \
	"$((before + 1))" "$(sim_401s tok)"

# The server's token changes, the bot's file does not: a failed tool, not a crash.
printf 'tok-ZZZZ9\n' >"$T/sim.token"
investigate 4
check_match "wrong token: the investigation finishes with a report" "^done real " "$RES"
check_match "wrong token: its confidence is lowered (not high)" "^done real [a-z_]+ (low|medium)$" "$RES"
check_ge "wrong token: Kubernetes tool calls failed" "${FAILED:-0}" 1
check_match "wrong token: the failed tool's output says 401 Unauthorized" "^error: 401 Unauthorized" \
	"$(dbq "SELECT excerpt FROM tool_calls WHERE investigation_id=$INV AND ok=0 AND tool LIKE 'k8s_%' LIMIT 1")"
check_match "wrong token: the report's evidence names the 401" "401 Unauthorized" \
	"$(dbq "SELECT report FROM investigations WHERE id=$INV")"
check "wrong token: the bot is still up" 200 "$(http_status "$BASE/healthz")"
stop_bot TERM 10
check "nightshift exits 0 on SIGTERM" 0 "$BOT_RC"

# ------------------------------------------------------------------ 2. in_cluster
if command -v openssl >/dev/null 2>&1 &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=kubernetes -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/api.key" -out "$T/api.crt" >"$T/openssl.log" 2>&1 &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=other-ca -keyout "$T/other.key" -out "$T/other.crt" >>"$T/openssl.log" 2>&1; then
	mkdir -p "$T/sa" "$T/sa-wrong-ca"
	printf 'sa-token-1\n' >"$T/incluster.token"
	printf 'sa-token-1\n' >"$T/sa/token"
	cp "$T/api.crt" "$T/sa/ca.crt"
	cp "$T/sa/token" "$T/sa-wrong-ca/token"
	cp "$T/other.crt" "$T/sa-wrong-ca/ca.crt"
	start_sim tls "$SCEN" --token "$T/incluster.token" --tls-cert "$T/api.crt" --tls-key "$T/api.key"
	check "simcluster serves https with --tls-cert" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
		--max-time 2 --cacert "$T/api.crt" "https://127.0.0.1:$SIMPORT_tls/healthz")"
	write_config "$T/incluster.yml" "playbooks:
  dir: $PWD/playbooks
kubernetes:
  clusters:
    - {name: prod-eu-1, in_cluster: true}"
	out=$("$NS" check-config -c "$T/incluster.yml" 2>&1)
	check "an in_cluster config passes check-config" 0 "$?" "$out"
	res=$(replay_report "$T/incluster.yml" "$T/ic.json" KUBERNETES_SERVICE_HOST=127.0.0.1 \
		KUBERNETES_SERVICE_PORT="$SIMPORT_tls" NIGHTSHIFT_SERVICEACCOUNT_DIR="$T/sa")
	check "in_cluster: the investigation reaches the cluster over https (real oom_killed high, 0 failed)" \
		"real oom_killed high 0" "$res" "$(head -c 600 "$T/ic.json.err")" \
		"$(jsql "$T/ic.json" "SELECT json_extract(j,'\$.alerts[0].tool_calls') FROM d" | head -c 600)"
	check_ge "in_cluster: Kubernetes tools succeeded" "$(k8s_tools_ok "$T/ic.json")" 4
	res=$(replay_report "$T/incluster.yml" "$T/ic-bad.json" KUBERNETES_SERVICE_HOST=127.0.0.1 \
		KUBERNETES_SERVICE_PORT="$SIMPORT_tls" NIGHTSHIFT_SERVICEACCOUNT_DIR="$T/sa-wrong-ca")
	check_match "in_cluster, a CA that did not sign the server: a report with lowered confidence" \
		"^real [a-z_]+ (low|medium) [1-9]" "$res" "$(head -c 400 "$T/ic-bad.json.err")"
	check_match "in_cluster, wrong CA: the failed tool says it could not verify the server" \
		"cannot reach the API server of prod-eu-1: .*(certificate|SSL)" \
		"$(jsql "$T/ic-bad.json" "SELECT json_extract(j,'\$.alerts[0].report.evidence') FROM d")"
	# The running bot in the pod: the projected token rotates (a new file renamed over it).
	write_config "$CONF" "playbooks:
  dir: $PWD/playbooks
fingerprint:
  labels: [alertname, pod, phase]
investigations:
  workers: 1
kubernetes:
  clusters:
    - {name: prod-eu-1, in_cluster: true}"
	if KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$SIMPORT_tls" \
		NIGHTSHIFT_SERVICEACCOUNT_DIR="$T/sa" start_bot; then
		investigate 5
		check "in_cluster bot: the investigation succeeds over https" "done real oom_killed high 0" "$RES $FAILED"
		before=$(sim_401s tls)
		printf 'sa-token-2\n' >"$T/incluster.token"
		printf 'sa-token-2\n' >"$T/sa/token.new" && mv -f "$T/sa/token.new" "$T/sa/token"
		investigate 6
		check "in_cluster bot: after the service-account token rotates, it still succeeds" \
			"done real oom_killed high 0" "$RES $FAILED"
		check "in_cluster bot: the rotated token was read before the next request (no 401)" \
			"$before" "$(sim_401s tls)"
		stop_bot TERM 10
		check "in_cluster bot: exits 0 on SIGTERM" 0 "$BOT_RC"
	else
		not_ok "nightshift run starts with an in_cluster cluster"
	fi
	res=$(replay_report "$T/incluster.yml" "$T/ic-none.json" KUBERNETES_SERVICE_HOST= KUBERNETES_SERVICE_PORT=)
	check_match "in_cluster outside a pod: the tools fail and say why" "^real [a-z_]+ (low|medium) [1-9]" "$res"
	check_match "in_cluster outside a pod: the reason names KUBERNETES_SERVICE_HOST" "KUBERNETES_SERVICE_HOST" \
		"$(cat "$T/ic-none.json")"
else
	ok "# SKIP in_cluster: openssl cannot make a test certificate ($(tail -n 1 "$T/openssl.log" 2>/dev/null))"
fi

# ------------------------------------------------------------------ 3. kubeconfig contexts
printf 'tok-ctx-a\n' >"$T/a.token"
printf 'tok-ctx-b\n' >"$T/b.token"
start_sim a "$SCEN" --token "$T/a.token"
start_sim b "$OTHER" --token "$T/b.token"
cat >"$T/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: ctx-b
clusters:
  - name: cluster-a
    cluster: {server: "http://127.0.0.1:$SIMPORT_a"}
  - name: cluster-b
    cluster: {server: "http://127.0.0.1:$SIMPORT_b"}
users:
  - name: user-a
    user: {token: tok-ctx-a}
  - name: user-b
    user: {tokenFile: b.token}
contexts:
  - name: ctx-a
    context: {cluster: cluster-a, user: user-a}
  - name: ctx-b
    context: {cluster: cluster-b, user: user-b}
EOF
for ctx in a b; do
	write_config "$T/kc-$ctx.yml" "playbooks:
  dir: $PWD/playbooks
kubernetes:
  clusters:
    - {name: prod-eu-1, kubeconfig: \"$T/kubeconfig\", context: ctx-$ctx}"
done
a0=$(sim_requests a)
b0=$(sim_requests b)
res=$(replay_report "$T/kc-a.yml" "$T/kc-a.json")
check "kubeconfig context ctx-a (current-context is ctx-b): real oom_killed high, 0 failed" \
	"real oom_killed high 0" "$res" "$(head -c 400 "$T/kc-a.json.err")"
check_ge "kubeconfig ctx-a: its simcluster was asked" "$(($(sim_requests a) - a0))" 4
check "kubeconfig ctx-a: the other simcluster was not asked" 0 "$(($(sim_requests b) - b0))"
check "kubeconfig ctx-a: no 401 (user-a's token went to cluster-a)" 0 "$(sim_401s a)"
a0=$(sim_requests a)
res=$(replay_report "$T/kc-b.yml" "$T/kc-b.json")
check_ge "kubeconfig ctx-b: its simcluster was asked" "$(($(sim_requests b) - b0))" 1
check "kubeconfig ctx-b: the first simcluster was not asked" 0 "$(($(sim_requests a) - a0))"
check "kubeconfig ctx-b: no 401 (user-b's tokenFile, relative to the kubeconfig)" 0 "$(sim_401s b)"
check_match "kubeconfig ctx-b: the pod is not in that cluster (404), so not oom_killed" \
	"404" "$(jsql "$T/kc-b.json" "SELECT json_extract(j,'\$.alerts[0].report.evidence') FROM d")" "result: $res"
out=$("$NS" check-config -c "$T/kc-a.yml" 2>&1)
check "the kubeconfig config passes check-config" 0 "$?" "$out"

# ------------------------------------------------------------------ read-only
check "no simcluster recorded a mutating request" 0 "$(wc -c <"$T/mutations.jsonl" | tr -d ' ')" \
	"$(head -c 400 "$T/mutations.jsonl")"
finish
