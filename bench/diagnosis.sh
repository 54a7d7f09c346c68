#!/bin/sh
# This file contains the diagnosis benchmark (run by bench/run.sh, so by
# `make bench`): every scenario in tests/scenarios/ is replayed DIAG_REPS
# times in rules mode against one simcluster serving them all, and it
# reports the diagnosis accuracy (verdict and category as expected, target
# >= 95%), the fix proposals on noise scenarios (target 0), and the median
# and p99 investigation time (the report's duration_ms, target median
# <= 50 ms). It reports; it never fails the build (exit 0).
#
# Environment: DIAG_REPS (default 20), NIGHTSHIFT (default ./nightshift),
# SIMCLUSTER (default build/simcluster), SCENARIOS (default tests/scenarios),
# KEEP_TMP=1 keeps the temp dir.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
set -u
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 0

REPS=${DIAG_REPS:-20}
NS=${NIGHTSHIFT:-./nightshift}
SIM=${SIMCLUSTER:-build/simcluster}
SCEN_DIR=${SCENARIOS:-tests/scenarios}
export NS_TOKEN=diag-$RANDOM
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-diag.XXXXXX") || exit 0
SIM_PID=
TLS_PID=
TLS_PORT=

say() { printf 'diagnosis: %s\n' "$*"; }

cleanup() {
	[ -n "$TLS_PID" ] && kill "$TLS_PID" 2>/dev/null && wait "$TLS_PID" 2>/dev/null
	if [ -n "$SIM_PID" ]; then
		kill -TERM "$SIM_PID" 2>/dev/null
		for _ in $(seq 1 30); do [ -d "/proc/$SIM_PID" ] || break; sleep 0.1; done
		kill -KILL "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "diagnosis: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	for _ in $(seq 1 300); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}

for b in "$NS" "$SIM"; do
	[ -x "$b" ] || { say "skipped: $b is missing (make all)"; exit 0; }
done
command -v sqlite3 >/dev/null || { say "skipped: sqlite3 is missing"; exit 0; }

NAMES=
for d in "$SCEN_DIR"/*/; do
	d=${d%/}
	[ -f "$d/cluster.json" ] && [ -f "$d/alert.json" ] && [ -f "$d/expect.json" ] && NAMES="$NAMES ${d##*/}"
done
[ -n "$NAMES" ] || { say "skipped: no scenarios in $SCEN_DIR"; exit 0; }

# An HTTPS server whose self-signed certificate expires in 12 days, for the
# scenarios that probe one (@TLS_PORT@); without openssl they are left out.
if command -v openssl >/dev/null 2>&1 &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 12 \
		-subj /CN=partner-api.test -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/tls.key" -out "$T/tls.crt" >/dev/null 2>&1 && TLS_PORT=$(free_port); then
	openssl s_server -accept "127.0.0.1:$TLS_PORT" -cert "$T/tls.crt" -key "$T/tls.key" \
		-www -quiet </dev/null >/dev/null 2>&1 &
	TLS_PID=$!
	for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null && break; sleep 0.1; done
else
	for n in $NAMES; do
		grep -q '@TLS_PORT@' "$SCEN_DIR/$n/alert.json" && say "left out $n (no openssl for its TLS server)" &&
			NAMES=$(printf '%s\n' $NAMES | grep -vx "$n" | tr '\n' ' ')
	done
fi

set --
for n in $NAMES; do set -- "$@" --scenario "$SCEN_DIR/$n/cluster.json"; done
"$SIM" --listen 127.0.0.1:0 --ready-file "$T/sim.port" --mutations "$T/mutations.jsonl" \
	--log-level warn "$@" >"$T/sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 100); do [ -s "$T/sim.port" ] && break; sleep 0.1; done
SIM_PORT=$(cat "$T/sim.port" 2>/dev/null)
[ -n "$SIM_PORT" ] || { say "skipped: simcluster did not start: $(tail -n 3 "$T/sim.log")"; exit 0; }
DOWN_PORT=$(free_port) || exit 0
sed -e "s#@PORT@#$(free_port)#" -e "s#@DB@#$T/ns.db#" -e "s#@PLAYBOOKS@#$PWD/playbooks#" \
	-e "s#@SIM_PORT@#$SIM_PORT#g" -e "s#@PROD_PORT@#$SIM_PORT#g" "$SCEN_DIR/nightshift.yaml.in" >"$T/ns.yml"

# ------------------------------------------------------------------ run
mkdir -p "$T/out"
: >"$T/runs.sql"
start=$(date +%s%N)
for n in $NAMES; do
	sed -e "s/@UP_PORT@/$SIM_PORT/g" -e "s/@DOWN_PORT@/$DOWN_PORT/g" -e "s/@TLS_PORT@/$TLS_PORT/g" \
		"$SCEN_DIR/$n/alert.json" >"$T/$n.json"
	for r in $(seq 1 "$REPS"); do
		"$NS" replay -c "$T/ns.yml" "$T/$n.json" >"$T/out/$n.$r.json" 2>/dev/null
		printf "INSERT INTO runs VALUES('%s',%d,CAST(readfile('%s') AS TEXT));\n" "$n" "$r" "$T/out/$n.$r.json" >>"$T/runs.sql"
	done
	printf "INSERT INTO expect VALUES('%s',CAST(readfile('%s') AS TEXT));\n" "$n" "$SCEN_DIR/$n/expect.json" >>"$T/runs.sql"
done
wall_ms=$((($(date +%s%N) - start) / 1000000))

# ------------------------------------------------------------------ score
sqlite3 -batch "$T/score.db" >"$T/score.err" 2>&1 <<EOF
CREATE TABLE runs(name TEXT, rep INT, j TEXT);
CREATE TABLE expect(name TEXT, j TEXT);
.read $T/runs.sql
CREATE TABLE r AS SELECT runs.name, rep,
  json_extract(expect.j,'$.verdict') AS e_verdict, json_extract(expect.j,'$.category') AS e_category,
  CASE WHEN json_valid(runs.j) THEN coalesce(json_extract(runs.j,'$.alerts[0].report.verdict'),
       CASE json_extract(runs.j,'$.alerts[0].action') WHEN 'dismissed' THEN 'noise' END) END AS verdict,
  json_extract(runs.j,'$.alerts[0].report.category') AS category,
  json_extract(runs.j,'$.alerts[0].report.proposed_action.type') AS action,
  json_extract(runs.j,'$.alerts[0].report.duration_ms') AS ms
  FROM runs JOIN expect USING (name);
EOF
q() { sqlite3 -batch -noheader -separator '|' "$T/score.db" "$1" 2>/dev/null; }
TOTAL=$(q "SELECT count(*) FROM r")
if [ -z "$TOTAL" ] || [ "$TOTAL" -eq 0 ]; then say "no results: $(head -c 300 "$T/score.err")"; exit 0; fi
OKRUNS=$(q "SELECT count(*) FROM r WHERE verdict IS e_verdict AND category IS e_category")
NOISE_RUNS=$(q "SELECT count(*) FROM r WHERE e_verdict='noise'")
NOISE_FIX=$(q "SELECT count(*) FROM r WHERE e_verdict='noise' AND action IS NOT NULL")
N_MS=$(q "SELECT count(*) FROM r WHERE ms IS NOT NULL")
pct() { q "SELECT ms FROM r WHERE ms IS NOT NULL ORDER BY ms LIMIT 1 OFFSET max(0, CAST(($N_MS * $1 + 99) / 100 AS INT) - 1)"; }
MED=$(pct 50)
P99=$(pct 99)
MAX=$(q "SELECT max(ms) FROM r")
ACC=$(awk -v a="$OKRUNS" -v b="$TOTAL" 'BEGIN { printf "%.1f", 100 * a / b }')

echo
echo "nightshift diagnosis benchmark — $(printf '%s\n' $NAMES | grep -c .) scenarios x $REPS replays, rules mode, simcluster on loopback"
printf '%-26s %-7s %-16s %-7s %-16s %-6s %s\n' scenario want category got category runs "median ms"
q "WITH med AS (SELECT name, ms FROM (SELECT name, ms, row_number() OVER (PARTITION BY name ORDER BY ms) AS rn,
                count(*) OVER (PARTITION BY name) AS c FROM r WHERE ms IS NOT NULL) WHERE rn = (c + 1) / 2),
   got AS (SELECT name, verdict, category, row_number() OVER (PARTITION BY name ORDER BY count(*) DESC) AS k
           FROM r GROUP BY name, verdict, category)
   SELECT r.name, r.e_verdict, ifnull(r.e_category,'-'), ifnull(got.verdict,'?'), ifnull(got.category,'-'),
     sum(r.verdict IS r.e_verdict AND r.category IS r.e_category)||'/'||count(*), ifnull(med.ms,'-')
   FROM r JOIN got ON got.name = r.name AND got.k = 1 LEFT JOIN med ON med.name = r.name
   GROUP BY r.name ORDER BY r.name" |
	while IFS='|' read -r n ev ec gv gc runs med; do
		printf '%-26s %-7s %-16s %-7s %-16s %-6s %s\n' "$n" "$ev" "$ec" "${gv:-?}" "$gc" "$runs" "$med"
	done
echo
row() { printf '%-46s %-18s %-12s %s\n' "$1" "$2" "$3" "$4"; }
verdict() { awk -v v="$2" "BEGIN { exit !($1) }" 2>/dev/null && echo ok || echo MISSED; }
row measure value target result
row ------- ----- ------ ------
row "diagnosis accuracy (verdict and category)" "$ACC% ($OKRUNS/$TOTAL)" ">= 95%" "$(verdict 'v >= 95' "$ACC")"
row "fix proposals on noise scenarios" "$NOISE_FIX of $NOISE_RUNS runs" "0" "$(verdict 'v == 0' "$NOISE_FIX")"
row "investigation time median (duration_ms)" "${MED:-n/a} ms" "<= 50 ms" "$(verdict 'v <= 50' "${MED:-999999}")"
row "investigation time p99 / max" "${P99:-n/a} / ${MAX:-n/a} ms (n=$N_MS)" "" ""
row "wall time of all replays (process start incl.)" "$wall_ms ms" "" ""
MUT=$(wc -c <"$T/mutations.jsonl" 2>/dev/null | tr -d ' ')
row "mutating requests seen by simcluster" "${MUT:-?} bytes" "0" "$(verdict 'v == 0' "${MUT:-1}")"
exit 0
