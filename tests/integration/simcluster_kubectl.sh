#!/usr/bin/env bash
# This file contains the kubectl conformance test of contrib/simcluster: it
# starts the simulated API server on a free loopback port with the
# crashloop-oom and bad-deploy scenarios (merged) plus a small inline one
# (a two-container pod and a PVC), runs this machine's kubectl against it for
# every read command nightshift's tools and the demo rely on, and asserts what
# a human would look for in the output. Then: no mutation was recorded by
# all that reading; one `kubectl delete pod` and one `kubectl rollout
# restart` are applied and recorded; with --read-only both are refused with
# 403 and still recorded; failure rules make kubectl fail (500, malformed
# JSON, a delay past the client timeout). The simulator's stderr must stay
# free of sanitizer reports (run it with SIMCLUSTER=an ASan build).
#
# Run from the repository root. SIMCLUSTER (default build/simcluster) is the
# binary; when missing it is built with the command in contrib/simcluster/README.md.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

SIM=${SIMCLUSTER:-build/simcluster}
SCEN=contrib/simcluster/scenarios
SIM_PID=
SPORT=
mkdir -p "$T/home"

# ------------------------------------------------------------------ helpers

# build_sim : builds $SIM with the README's command (only when missing)
build_sim() {
	mkdir -p "$(dirname "$SIM")"
	# shellcheck disable=SC2046
	cc -std=c11 -D_GNU_SOURCE -O2 -Ibot -o "$SIM" contrib/simcluster/*.c bot/util.c bot/log.c \
		$(pkg-config --cflags --libs libwebsockets libcjson libcrypto libpcre2-8) -pthread \
		>"$T/build.log" 2>&1
}

# start_sim ARGS... : starts simcluster on a free loopback port and waits (bounded) for it
start_sim() {
	SPORT=
	sim_start "$@"
}

# stop_sim : SIGTERM, bounded wait; sets SIM_RC
stop_sim() {
	SIM_RC=
	[ -n "$SIM_PID" ] || return 0
	kill -TERM "$SIM_PID" 2>/dev/null
	if wait_gone "$SIM_PID" 5; then
		wait "$SIM_PID" 2>/dev/null
		SIM_RC=$?
	else
		kill -KILL "$SIM_PID" 2>/dev/null
		wait_gone "$SIM_PID" 2
		SIM_RC=killed
	fi
	SIM_PID=
}

# kc ARGS... : kubectl against the simulator; sets OUT (stdout+stderr) and KRC
kc() {
	OUT=$(KUBECONFIG=/dev/null HOME=$T/home timeout 20 kubectl \
		--server="http://127.0.0.1:$SPORT" --request-timeout=5s "$@" 2>&1)
	KRC=$?
}

# kc_check DESC ERE ARGS... : runs kubectl, expects exit 0 and output matching ERE
kc_check() {
	local d=$1 re=$2
	shift 2
	kc "$@"
	if [ "$KRC" -eq 0 ] && printf '%s' "$OUT" | grep -Eq -- "$re"; then
		ok "$d"
	else
		not_ok "$d" "kubectl $* (exit $KRC)" "expected to match: $re" \
			"got: $(printf '%s' "$OUT" | head -c 800)"
	fi
}

# kc_fails DESC ERE ARGS... : expects kubectl to fail with output matching ERE
kc_fails() {
	local d=$1 re=$2
	shift 2
	kc "$@"
	if [ "$KRC" -ne 0 ] && printf '%s' "$OUT" | grep -Eq -- "$re"; then
		ok "$d"
	else
		not_ok "$d" "kubectl $* (exit $KRC)" "expected a failure matching: $re" \
			"got: $(printf '%s' "$OUT" | head -c 800)"
	fi
}

# sim_get PATH : GET on the simulator; sets CODE and BODY
sim_get() {
	CODE=$(curl -sS -o "$T/resp" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$SPORT$1" \
		2>"$T/curl.err") || true
	[ -n "$CODE" ] || CODE=000
	BODY=$(cat "$T/resp" 2>/dev/null || true)
}

# sim_post PATH JSON : POST to the simulator; sets CODE and BODY
sim_post() {
	CODE=$(curl -sS -o "$T/resp" -w '%{http_code}' --max-time 5 -X POST \
		-H 'Content-Type: application/json' --data-binary "$2" \
		"http://127.0.0.1:$SPORT$1" 2>"$T/curl.err") || true
	[ -n "$CODE" ] || CODE=000
	BODY=$(cat "$T/resp" 2>/dev/null || true)
}

# mutations : GET /_sim/mutations into BODY; MCOUNT is its .count ('' on error)
mutations() {
	sim_get /_sim/mutations
	MCOUNT=$(jget "$BODY" '$.count')
}

# no_sanitizer_reports DESC : the simulator's stderr has no ASan/UBSan/LSan report
no_sanitizer_reports() {
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/sim.log" 2>/dev/null; then
		not_ok "$1" "$(grep -E -A 12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/sim.log" | head -n 30)"
	else
		ok "$1"
	fi
}

# ------------------------------------------------------------------ preconditions

if ! command -v kubectl >/dev/null 2>&1; then
	bail "kubectl is on PATH" "kubectl is needed to validate the simulated cluster;" \
		"install it with contrib/deps.sh (Debian package kubernetes-client)"
fi
if [ ! -x "$SIM" ]; then
	if [ -n "${SIMCLUSTER:-}" ] || ! build_sim; then
		bail "simcluster binary exists at $SIM or builds" "$(tail -n 20 "$T/build.log" 2>/dev/null)"
	fi
fi
ok "simcluster binary at $SIM and kubectl $(kubectl version --client 2>/dev/null | head -n1 | awk '{print $3}') on PATH"

# A two-container pod and a PVC, to cover what the big scenarios do not.
cat >"$T/extra.json" <<'EOF'
{
  "description": "test-only: a two-container database pod with its volume claim",
  "persistentvolumeclaims": [
    {"metadata": {"name": "data-postgres-0", "namespace": "data", "creationTimestamp": "${now-90d}",
                  "labels": {"app": "postgres"}},
     "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3", "volumeMode": "Filesystem",
              "resources": {"requests": {"storage": "20Gi"}},
              "volumeName": "pvc-5b0f6c1e-2f9d-4c7a-9a55-0d3f1e2b7c41"},
     "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "20Gi"}}}
  ],
  "pods": [
    {"metadata": {"name": "postgres-0", "namespace": "data", "creationTimestamp": "${now-3d}",
                  "labels": {"app": "postgres"}},
     "spec": {"nodeName": "k8s-worker-3",
              "containers": [{"name": "postgres", "image": "postgres:16.3"},
                             {"name": "metrics", "image": "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"}]},
     "status": {"phase": "Running", "podIP": "10.244.23.50",
                "containerStatuses": [
                  {"name": "postgres", "ready": true, "restartCount": 0,
                   "state": {"running": {"startedAt": "${now-3d}"}}},
                  {"name": "metrics", "ready": true, "restartCount": 0,
                   "state": {"running": {"startedAt": "${now-3d}"}}}]}}
  ],
  "logs": [
    {"namespace": "data", "pod": "postgres-0", "container": "postgres",
     "current": "2024-01-01 00:00:00.000 UTC [1] LOG:  database system is ready to accept connections"}
  ]
}
EOF

# ------------------------------------------------------------------ reads

start_sim --scenario "$SCEN/crashloop-oom.json" --scenario "$SCEN/bad-deploy.json" \
	--scenario "$T/extra.json" || bail "simcluster starts with crashloop-oom + bad-deploy"
ok "simcluster starts with crashloop-oom + bad-deploy (port $SPORT)"
if ss -ltn 2>/dev/null | grep -q ":$SPORT "; then
	check_match "it listens on loopback only" "127\.0\.0\.1:$SPORT" "$(ss -ltn | grep ":$SPORT ")"
fi

kc_check "get pods -A: header and the OOM pod in CrashLoopBackOff with 9 restarts" \
	'NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE' get pods -A
check_match "get pods -A: report-worker row" \
	'prod +report-worker-6b8f9c7d54-x7kqp +0/1 +CrashLoopBackOff +9 \([0-9m]+s? ago\)' "$OUT"
check_match "get pods -A: the data namespace pod is 2/2 Running" 'data +postgres-0 +2/2 +Running +0 ' "$OUT"
kc_check "get pods -n prod: the new checkout-api pods crash loop" \
	'checkout-api-84c6f7b9d5-2xkfp +0/1 +CrashLoopBackOff +7 ' get pods -n prod
check_match "get pods -n prod: one checkout-api pod is Running between crashes" \
	'checkout-api-84c6f7b9d5-t4mwc +1/1 +Running +7 ' "$OUT"
kc_check "get po -n prod -o wide: node and IP columns" \
	'report-worker-6b8f9c7d54-x7kqp .* 10\.244\.22\.17 +k8s-worker-2 ' get po -n prod -o wide

kc_check "describe pod: last state OOMKilled" 'Reason: +OOMKilled' \
	describe pod report-worker-6b8f9c7d54-x7kqp -n prod
check_match "describe pod: exit code 137" 'Exit Code: +137' "$OUT"
check_match "describe pod: memory limit 512Mi" 'memory: +512Mi' "$OUT"
check_match "describe pod: waiting in CrashLoopBackOff" 'State: +Waiting' "$OUT"
check_match "describe pod: controlled by its ReplicaSet" 'Controlled By: +ReplicaSet/report-worker-6b8f9c7d54' "$OUT"
check_match "describe pod: restart count 9" 'Restart Count: +9' "$OUT"
check_match "describe pod: the BackOff event, counted" 'Warning +BackOff .*x31 over' "$OUT"

kc_check "logs --previous: the OOM-killed run's last lines" 'heap used 486MB of 768MB' \
	logs report-worker-6b8f9c7d54-x7kqp -n prod --previous
kc_check "logs -c --previous: the panic of the bad deploy" \
	'panic: runtime error: invalid memory address or nil pointer dereference' \
	logs checkout-api-84c6f7b9d5-2xkfp -n prod -c checkout-api --previous
kc_check "logs --tail --timestamps: RFC3339Nano prefixes" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z ' \
	logs checkout-api-84c6f7b9d5-2xkfp -n prod --previous --tail=2 --timestamps
check "logs --tail=2 gives 2 lines" 2 "$(printf '%s\n' "$OUT" | grep -c .)"
kc_check "logs (current) of a crash-looping pod: its last run" 'coupon\.go:88' \
	logs checkout-api-84c6f7b9d5-9hqzt -n prod
kc_check "logs -c of a two-container pod" 'ready to accept connections' \
	logs postgres-0 -n data -c postgres
sim_get "/api/v1/namespaces/data/pods/postgres-0/log"
check_code "pod log without container on a two-container pod: 400" 400
check_match "… a Status naming the containers" \
	'"kind":"Status".*a container name must be specified for pod postgres-0, choose one of: \[postgres metrics\]' "$BODY"
sim_get "/api/v1/namespaces/data/pods/postgres-0/log?container=postgres&previous=true"
check_code "previous log with no terminated instance: 400" 400
check_match "… previous terminated container not found" 'previous terminated container' "$BODY"
kc_fails "logs of an unknown pod: NotFound" 'pods "nope" not found' logs nope -n prod

kc_check "get events -n prod: header" 'LAST SEEN +TYPE +REASON +OBJECT +MESSAGE' get events -n prod
check_match "get events -n prod: the BackOff warning" \
	'Warning +BackOff +pod/report-worker-6b8f9c7d54-x7kqp +Back-off restarting failed container' "$OUT"
check_match "get events -n prod: the rollout's scaling events" \
	'ScalingReplicaSet +deployment/checkout-api +Scaled down replica set checkout-api-5f7d9b8c6d to 0 from 1' "$OUT"
kc_check "get events --field-selector type=Warning" 'BackOff' \
	get events -n prod --field-selector type=Warning,involvedObject.name=checkout-api-84c6f7b9d5-2xkfp
if printf '%s' "$OUT" | grep -q 'Normal'; then not_ok "field selector drops Normal events" "$OUT"; else ok "field selector drops Normal events"; fi

kc_check "get deployments -n prod: checkout-api 1/3" 'checkout-api +1/3 +3 +1 ' get deployments -n prod
check_match "get deployments -n prod: report-worker 0/1" 'report-worker +0/1 +1 +0 ' "$OUT"
kc_check "rollout history: revisions 5, 6, 7" '(^|\n)5 +deploy checkout-api 1\.41\.1' \
	rollout history deployment/checkout-api -n prod
check_match "rollout history: revision 6" '6 +deploy checkout-api 1\.41\.2' "$OUT"
check_match "rollout history: revision 7 is the bad one" '7 +deploy checkout-api 1\.42\.0' "$OUT"
kc_check "rollout history --revision=6: the old image" 'checkout-api:1\.41\.2' \
	rollout history deployment/checkout-api -n prod --revision=6
kc_check "get rs -n prod: the old ReplicaSet is scaled to 0" 'checkout-api-5f7d9b8c6d +0 +0 +0 ' get rs -n prod

kc_check "get nodes: three Ready workers" 'k8s-worker-1 +Ready +<none> +[0-9]+d +v1\.30' get nodes
check_match "get nodes: k8s-worker-3" 'k8s-worker-3 +Ready' "$OUT"
kc_check "get pvc -n data: Bound 20Gi RWO" \
	'data-postgres-0 +Bound +pvc-5b0f6c1e-2f9d-4c7a-9a55-0d3f1e2b7c41 +20Gi +RWO +gp3 ' get pvc -n data
kc_check "get pods -n prod -o json: a PodList" '"kind": "List"|"kind": "PodList"' get pods -n prod -o json
kc_fails "get pod of an unknown name: NotFound" 'NotFound|not found' get pod nope -n prod

mutations
check "no mutation was recorded by all that reading" 0 "$MCOUNT"

# ------------------------------------------------------------------ mutations

kc_check "kubectl delete pod succeeds" 'pod "checkout-api-84c6f7b9d5-2xkfp" deleted' \
	delete pod checkout-api-84c6f7b9d5-2xkfp -n prod
kc_check "kubectl rollout restart succeeds" 'deployment.apps/checkout-api restarted' \
	rollout restart deployment/checkout-api -n prod
mutations
check "both mutations are recorded" 2 "$MCOUNT"
check "first mutation: DELETE of the pod" \
	"DELETE /api/v1/namespaces/prod/pods/checkout-api-84c6f7b9d5-2xkfp 200" \
	"$(jget "$BODY" '$.items[0].method') $(jget "$BODY" '$.items[0].path') $(jget "$BODY" '$.items[0].status')"
check "second mutation: PATCH of the deployment" \
	"PATCH /apis/apps/v1/namespaces/prod/deployments/checkout-api 200" \
	"$(jget "$BODY" '$.items[1].method') $(jget "$BODY" '$.items[1].path') $(jget "$BODY" '$.items[1].status')"
check_match "the PATCH body carries restartedAt" 'kubectl.kubernetes.io/restartedAt' "$(jget "$BODY" '$.items[1].body')"
check "the mutations file has two JSON lines" 2 "$(grep -c '^{.*}$' "$T/mutations.jsonl" 2>/dev/null)"
kc "get" pods -n prod
if printf '%s' "$OUT" | grep -q 'checkout-api-84c6f7b9d5-2xkfp'; then
	not_ok "the deleted pod is gone" "$OUT"
else
	ok "the deleted pod is gone"
fi
kc_check "the restart annotation and generation 8 are on the deployment" \
	'^8 .*restartedAt' get deployment checkout-api -n prod \
	-o 'jsonpath={.metadata.generation} {.spec.template.metadata.annotations}'
stop_sim
check "simcluster stops cleanly on SIGTERM" 0 "$SIM_RC"

# ------------------------------------------------------------------ read-only + failures

cat >"$T/failures.json" <<'EOF'
{
  "failures": [
    {"method": "GET", "path": "^/api/v1/namespaces/prod/pods$", "status": 500, "times": -1}
  ]
}
EOF
: >"$T/mutations.jsonl"
start_sim --read-only --scenario "$SCEN/crashloop-oom.json" --scenario "$SCEN/bad-deploy.json" \
	--scenario "$T/failures.json" || bail "simcluster starts with --read-only"
ok "simcluster starts with --read-only and a failure rule"
kc_fails "read-only: kubectl delete pod is refused (Forbidden)" 'Forbidden|forbidden' \
	delete pod checkout-api-84c6f7b9d5-2xkfp -n prod
kc_fails "read-only: kubectl rollout restart is refused (forbidden)" 'forbidden' \
	rollout restart deployment/checkout-api -n prod
mutations
check "read-only: both attempts are recorded with 403" "2 403 403" \
	"$MCOUNT $(jget "$BODY" '$.items[0].status') $(jget "$BODY" '$.items[1].status')"
kc_check "read-only: the pod is still there" 'checkout-api-84c6f7b9d5-2xkfp' \
	get pod checkout-api-84c6f7b9d5-2xkfp -n prod

kc_fails "failure rule: pods list answers 500 and kubectl fails" 'InternalError|injected failure|500' \
	get pods -n prod
kc_check "failure rule: other paths still work" 'k8s-worker-1' get nodes
sim_post /_sim/failures '{"method":"GET","path":"^/api/v1/nodes$","status":200,"body":"{\"kind\":\"NodeList\",\"items\":[{\"metad","times":1}'
check_code "POST /_sim/failures adds a rule" 200
kc_fails "failure rule: malformed JSON makes kubectl fail" '.' get nodes
kc_check "failure rule with times=1 is used up" 'k8s-worker-1' get nodes
sim_post /_sim/failures '{"path":"^/api/v1/namespaces$","delay_ms":3000,"times":1}'
kc "get" namespaces --request-timeout=1s
if [ "$KRC" -ne 0 ]; then ok "failure rule: a 3 s delay trips a 1 s client timeout"; else
	not_ok "failure rule: a 3 s delay trips a 1 s client timeout" "$OUT"; fi
sim_post /_sim/failures '{"path":"^/api/v1/namespaces/prod/events$","status":200,"body":"x","body_repeat":3000000,"content_type":"text/plain","times":1}'
CODE=$(curl -sS -o "$T/huge" -w '%{http_code} %{size_download}' --max-time 10 \
	"http://127.0.0.1:$SPORT/api/v1/namespaces/prod/events" 2>"$T/curl.err") || true
check "failure rule: a 3 MB body arrives whole" "200 3000000" "$CODE"
sim_get /version
check_code "the server still answers after all failures" 200
stop_sim
check "simcluster (read-only) stops cleanly on SIGTERM" 0 "$SIM_RC"

# ------------------------------------------------------------------ CLI guards

"$SIM" --listen 0.0.0.0:0 --scenario "$SCEN/crashloop-oom.json" >/dev/null 2>"$T/refuse.log"
check "a non-loopback --listen is refused (exit 2)" 2 "$?"
printf '{"pods": [{"metadata": {}}]}' >"$T/bad.json"
"$SIM" --listen 127.0.0.1:0 --scenario "$T/bad.json" >/dev/null 2>"$T/bad.log"
check "an invalid scenario is refused (exit 2)" 2 "$?"

no_sanitizer_reports "no sanitizer reports in the simulator's stderr"
finish
