#!/usr/bin/env bash
# This file contains the test of `nightshift playbooks -c FILE` and of the
# playbook loader as the CLI shows it: on the shipped playbooks/ it lists
# every playbook file (and only those: README.md and RUNBOOK.md are not
# parsed as playbooks, RUNBOOK.md is announced as the core runbook), each
# with its match patterns and one line per step (tool and templated
# arguments) whose count agrees with the file's header; check-config agrees
# on the count. On the test fixtures: a folder with README.md, RUNBOOK.md and
# notes.txt lists only the real playbooks; a folder of broken playbooks exits
# 1 with file:line errors for playbooks and check-config alike.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

need_binary

# conf DIR : a config whose playbooks.dir is DIR (printed path)
conf() {
	local f=$T/pb-$RANDOM.yml
	printf 'storage:\n  path: %s/pb.db\nplaybooks:\n  dir: %s\n' "$T" "$1" >"$f"
	echo "$f"
}

# header_steps FILE : the number of steps in FILE's front matter
header_steps() {
	awk '/^---$/ { n++; next } n == 1 && /^[a-z_]+:/ { in_steps = ($0 ~ /^steps:/) }
		n == 1 && in_steps && /^  - id:/ { c++ } END { print c + 0 }' "$1"
}

# block NAME : the lines of playbook NAME in the last listing ($T/list.txt)
block() {
	awk -v n="$1" '$1 == n && $2 == "priority" { on = 1; print; next }
		/^[a-z0-9-]+ +priority / { on = 0 } on' "$T/list.txt"
}

# ------------------------------------------------------------------ the shipped playbooks
C=$(conf "$PWD/playbooks")
"$NS" playbooks -c "$C" >"$T/list.txt" 2>"$T/list.err"
rc=$?
check "playbooks exits 0" 0 "$rc" "$(head -c 400 "$T/list.err")"
files=$(ls playbooks/*.md | grep -v -e '/README\.md$' -e '/RUNBOOK\.md$')
want=$(printf '%s\n' "$files" | wc -l | tr -d ' ')
check_match "the first line counts every playbook file ($want) and names the runbook" \
	"^$want playbooks in .*playbooks \\(and the core runbook, RUNBOOK\\.md\\)$" "$(head -n 1 "$T/list.txt")"
check "as many playbooks are listed as there are files" "$want" \
	"$(grep -cE '^[a-z0-9-]+ +priority [0-9]+ ' "$T/list.txt")"
if grep -qiE '^(readme|runbook)' "$T/list.txt"; then not_ok "README and RUNBOOK are not listed as playbooks"
else ok "README and RUNBOOK are not listed as playbooks"; fi

bad=
for f in $files; do
	name=$(sed -n 's/^name: *//p' "$f" | head -n 1)
	b=$(block "$name")
	if [ -z "$b" ]; then
		bad="$bad $name(not listed)"
		continue
	fi
	steps=$(header_steps "$f")
	printf '%s\n' "$b" | grep -q " $steps steps, " || bad="$bad $name(header says $steps steps)"
	[ "$(printf '%s\n' "$b" | grep -c '^  step ')" = "$steps" ] || bad="$bad $name(step lines)"
	if grep -q '^fallback: true' "$f"; then
		printf '%s\n' "$b" | grep -q '^  match (any alert no other playbook matches)$' || bad="$bad $name(fallback)"
	else
		printf '%s\n' "$b" | grep -q '^  match alertname =~ ' || bad="$bad $name(match)"
	fi
	printf '%s\n' "$b" | grep -q '^  concludes ' || bad="$bad $name(concludes)"
done
check "each playbook file is listed with its match, its steps and what it concludes" "" "$bad"

b=$(block pod-crashloop)
check_match "pod-crashloop matches KubePodCrashLooping by alertname" '  match alertname =~ \^\(KubePodCrashLooping\|' "$b"
check_match "pod-crashloop needs a pod label" '  match pod =~ \.' "$b"
check_match "its first step is history" '  step 1  history +history$' "$b"
check_match "a step shows its tool and templated arguments" '  step [0-9]+ +pod +k8s_pod name=\{\{pod\}\} namespace=\{\{namespace\}\}$' "$b"
check_match "it concludes oom_killed" '  concludes .*oom_killed' "$b"
check_match "and noise (transient) when the pod recovered" '  concludes .*transient \(noise\)' "$b"

out=$("$NS" check-config -c "$C" 2>&1)
check "check-config agrees on the count" "configuration OK ($want playbooks)" "$out"

out=$("$NS" playbooks --help 2>&1)
check_match "playbooks --help explains the command" 'usage: nightshift playbooks -c FILE' "$out"

# ------------------------------------------------------------------ fixtures
C=$(conf "$PWD/tests/fixtures/playbooks/good")
"$NS" playbooks -c "$C" >"$T/list.txt" 2>"$T/list.err"
check "a folder with README.md, RUNBOOK.md and notes.txt: exit 0" 0 "$?" "$(head -c 400 "$T/list.txt" "$T/list.err")"
check_match "only its *.md playbooks are listed, with the runbook named" \
	'^4 playbooks in .* \(and the core runbook, RUNBOOK\.md\)$' "$(head -n 1 "$T/list.txt")"
check_match "the fallback playbook says it matches what nothing else does" \
	'^  match \(any alert no other playbook matches\)$' "$(block generic)"

C=$(conf "$PWD/tests/fixtures/playbooks/bad-header")
"$NS" playbooks -c "$C" >"$T/bad.out" 2>"$T/bad.err"
check "broken playbooks: playbooks exits 1" 1 "$?"
check_match "errors are file:line" 'a-noheader\.md:1: ' "$(cat "$T/bad.err")"
check_match "every broken file is reported" 'c-yaml\.md:4: ' "$(cat "$T/bad.err")"
"$NS" check-config -c "$C" >/dev/null 2>"$T/bad2.err"
check "broken playbooks: check-config exits 1" 1 "$?"
check "check-config reports the same errors" "$(cat "$T/bad.err")" "$(cat "$T/bad2.err")"

C=$(conf "$T/no-such-dir")
"$NS" playbooks -c "$C" >/dev/null 2>"$T/nodir.err"
check "a playbooks.dir that does not exist: exit 1" 1 "$?"

finish
