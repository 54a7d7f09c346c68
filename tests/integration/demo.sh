#!/usr/bin/env bash
# This file contains the test of `nightshift demo`: it runs the demo as the
# README's first command does and checks that each incident's thread shows
# the expected report and verdict (the OOM crash loop and the bad deploy
# escalated with their root cause, evidence and command; the recovered pod,
# the monitor that answers again and the test namespace dismissed as noise;
# the repeated alert joining its incident), that each thread is complete
# before the next alert is sent, that the summary adds up, that it exits 0
# well under a minute, and that no simulator or bot process and no temporary
# directory is left. Then `demo --keep`: both answer, kubectl reads the
# simulated cluster, and a Ctrl-C (SIGINT to the process group) stops both
# cleanly. Last, without a simcluster anywhere, the demo says how to build it.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

need_binary
SIMBIN=$(dirname "$NS")/build/simcluster
[ -x "$SIMBIN" ] || SIMBIN=$(dirname "$NS")/simcluster
[ -x "$SIMBIN" ] || bail "simcluster is built next to $NS" "build it with: make build/simcluster"

# The demo makes its temporary directory under TMPDIR: ours, so leftovers are visible.
DT=$T/tmp
mkdir -p "$DT"

# leftovers DIR : pids of processes whose command line mentions DIR (none expected)
leftovers() {
	pgrep -f -- "$1" 2>/dev/null | tr '\n' ' '
}

# line_of ERE : the first line number of out.txt matching ERE (999999 when none)
line_of() {
	local n
	n=$(grep -nE -- "$1" "$T/out.txt" | head -n 1 | cut -d: -f1)
	echo "${n:-999999}"
}

# ------------------------------------------------------------------ the demo, start to end
start=$(date +%s%N)
TMPDIR=$DT timeout 100 "$NS" demo >"$T/out.txt" 2>"$T/err.txt" </dev/null
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
out=$(cat "$T/out.txt")
check "demo exits 0" 0 "$rc" "$(tail -n 5 "$T/err.txt")"
check_lt "demo takes well under a minute (${elapsed_ms} ms < 30 s)" "$elapsed_ms" 30000
check "demo writes nothing on stderr" "" "$(cat "$T/err.txt")"
check_match "the header names the simulated cluster" 'simulated Kubernetes cluster "prod-eu-1" on 127\.0\.0\.1:[0-9]+' "$out"

# The OOM crash loop: received, then the report, escalated.
check_match "#1 is received" '^#1 ┃ Received: Pod prod/report-worker-6b8f9c7d54-x7kqp is crash looping' "$out"
check_match "#1 report: real, oom_killed, high confidence" '^#1 ┃ 🔎 Real problem · oom_killed · high confidence' "$out"
check_match "#1 root cause: OOMKilled against the 512Mi limit" '^#1 ┃ Container report-worker .*OOMKilled \(exit 137\).*512Mi' "$out"
check_match "#1 evidence names its source" '^#1 ┃  • k8s_pod: container report-worker last terminated OOMKilled, exit code 137' "$out"
check_match "#1 recommends raising the limit" '^#1 ┃  \$ kubectl -n prod set resources deployment/report-worker -c report-worker --limits=memory=' "$out"
check_match "#1 is escalated (buttons on the report)" '^#1 ┃  \[Acknowledge\] \[Resolve\] \[Silence 1h\]' "$out"

# The bad deploy.
check_match "#2 report: real, bad_deploy, high confidence" '^#2 ┃ 🔎 Real problem · bad_deploy · high confidence' "$out"
check_match "#2 root cause: revision 7 (1.42.0) crash loops, 6 was healthy" '^#2 ┃ Revision 7 of checkout-api .*1\.42\.0.*revision 6' "$out"
check_match "#2 evidence from the pod's previous logs" '^#2 ┃  • k8s_logs \(previous, checkout-api-[a-z0-9-]+\): panic: ' "$out"
check_match "#2 recommends a rollout undo" '^#2 ┃  \$ kubectl -n prod rollout undo deployment/checkout-api$' "$out"

# Noise: recovered pod, monitor that answers again, test namespace.
check_match "#3 (recovered pod) dismissed as noise after investigating" '^#3 ┃ 💤 Dismissed as noise \(transient, [a-z]+ confidence\): Pod notification-dispatcher-[a-z0-9-]+ restarted and recovered' "$out"
check_match "#4 (monitor answers again) dismissed as noise" '^#4 ┃ 💤 Dismissed as noise \(transient, [a-z]+ confidence\): http://127\.0\.0\.1:[0-9]+/readyz answers again' "$out"
check_match "#5 (test namespace) dismissed by the noise rule" '^#5 ┃ Dismissed as noise: test tenants' "$out"
if printf '%s\n' "$out" | grep -qE '^#[345] ┃ 🔎'; then
	not_ok "no report of a real problem for the noise cases" "$(grep -E '^#[345] ┃ 🔎' "$T/out.txt")"
else ok "no report of a real problem for the noise cases"; fi
if printf '%s\n' "$out" | grep -qE '^#6 '; then not_ok "the repeated alert opens no thread" "$(grep -E '^#6 ' "$T/out.txt" | head -n 3)"
else ok "the repeated alert opens no thread"; fi
check_match "the repeated alert joins incident #1" 'joined incident #1 ' "$out"

# Each thread is complete (report printed) before the next alert is sent.
n=0
for pair in "1 ┃ 🔎" "2 ┃ 🔎" "3 ┃ 💤" "4 ┃ 💤" "5 ┃ Dismissed"; do
	n=$((n + 1))
	report=$(line_of "^#$pair")
	next=$(grep -n '^▶ ' "$T/out.txt" | sed -n "$((n + 1))p" | cut -d: -f1)
	check_lt "thread #$n is complete before alert $((n + 1)) is sent" "$report" "${next:-0}"
done

# The summary.
check_match "summary: 6 alerts, 5 incidents" 'Summary: 6 alerts → 5 incidents in [0-9.]+ s' "$out"
check_match "summary: #1 escalated oom_killed (2 alerts)" '#1 +escalated +oom_killed, high confidence +KubePodCrashLooping prod/report-worker-6b8f9c7d54-x7kqp \(2 alerts\)' "$out"
check_match "summary: #2 escalated bad_deploy" '#2 +escalated +bad_deploy, high confidence' "$out"
check_match "summary: #5 dismissed by a noise rule" '#5 +dismissed as noise +by a noise rule' "$out"
check_match "summary: no change made to the cluster" 'changes made to the cluster: 0$' "$out"
check_match "it says both processes stopped" '^Stopped both processes' "$out"

check "no demo process is left" "" "$(leftovers "$DT")"
check "the temporary directory is removed" "" "$(ls -A "$DT")"
sim_port=$(printf '%s\n' "$out" | sed -n 's/.*"prod-eu-1" on 127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -n 1)
if [ -n "$sim_port" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$sim_port") 2>/dev/null; then
	ok "the simulated cluster's port is closed"
else not_ok "the simulated cluster's port is closed" "port: $sim_port"; fi

# ------------------------------------------------------------------ --keep, then Ctrl-C
TMPDIR=$DT setsid "$NS" demo --keep >"$T/keep.txt" 2>"$T/keep.err" </dev/null &
KPID=$!
EXTRA_PIDS="$EXTRA_PIDS $KPID"
if wait_log 'Ctrl-C stops both' 30 "$T/keep.txt"; then ok "demo --keep prints how to use it"; else
	bail "demo --keep prints how to use it" "$(tail -n 5 "$T/keep.txt")" "$(tail -n 5 "$T/keep.err")"
fi
keep=$(cat "$T/keep.txt")
bport=$(printf '%s\n' "$keep" | sed -n 's/^  bot (webhook) *http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p')
sport=$(printf '%s\n' "$keep" | sed -n 's/^  simulated cluster *http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p')
kubeconfig=$(printf '%s\n' "$keep" | sed -n 's/^  kubectl --kubeconfig \([^ ]*\) get pods -A$/\1/p')
check "the bot still answers /healthz" 200 "$(http_status "http://127.0.0.1:$bport/healthz")"
check "the simulated cluster still answers" 200 "$(http_status "http://127.0.0.1:$sport/api/v1/namespaces/prod/pods")"
if command -v kubectl >/dev/null 2>&1; then
	kout=$(HOME=$T timeout 20 kubectl --kubeconfig "$kubeconfig" get pods -A 2>&1)
	check_match "kubectl with the printed kubeconfig lists the simulated pods" 'prod +report-worker-6b8f9c7d54-x7kqp +0/1 +CrashLoopBackOff' "$kout"
else
	ok "kubectl is not installed here; the kubeconfig was printed ($kubeconfig)"
fi
kill -INT -- "-$KPID" 2>/dev/null
if wait_gone "$KPID" 15; then
	wait "$KPID"
	krc=$?
	check "Ctrl-C ends demo --keep with exit 0" 0 "$krc" "$(tail -n 5 "$T/keep.err")"
else
	not_ok "Ctrl-C ends demo --keep within 15 s"
fi
check_match "it says it stopped both" 'Stopped both processes' "$(cat "$T/keep.txt")"
check "no process is left after Ctrl-C" "" "$(leftovers "$DT")"
check "the temporary directory is removed after Ctrl-C" "" "$(ls -A "$DT")"

# ------------------------------------------------------------------ no simulator anywhere
mkdir -p "$T/alone"
cp "$NS" "$T/alone/nightshift"
(cd "$T/alone" && TMPDIR=$DT PATH=/usr/bin:/bin timeout 20 ./nightshift demo >"$T/alone.out" 2>"$T/alone.err")
rc=$?
check "without simcluster the demo exits 1" 1 "$rc"
check_match "and says how to build it" 'make build/simcluster' "$(cat "$T/alone.err")"
check "and leaves nothing behind" "" "$(ls -A "$DT")"

finish
