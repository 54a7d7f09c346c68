#!/usr/bin/env bash
# This file contains the test of the deployment files nightshift ships: the
# RBAC of contrib/kubernetes/ grants only get/list/watch on exactly the
# resources the read tools use (plus statefulsets), through one ClusterRole
# bound to the nightshift ServiceAccount; the configuration inside the
# Deployment's ConfigMap and contrib/nightshift.example.yaml both pass
# check-config; and kustomize (kubectl kustomize, offline) renders the folder.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

need_binary
K=contrib/kubernetes

# ------------------------------------------------------------------ RBAC
verbs=$(grep -E '^ *verbs:' "$K/rbac.yaml" | sed 's/^ *//' | sort -u)
check "every rule grants exactly get, list, watch" "verbs: [get, list, watch]" "$verbs"
resources=$(sed -n 's/^ *resources: *\[\(.*\)\]$/\1/p' "$K/rbac.yaml" | tr ',' '\n' | tr -d ' ' | sort | tr '\n' ' ')
check "the rules name exactly the resources the tools read" \
	"deployments events jobs nodes persistentvolumeclaims pods pods/log replicasets statefulsets " "$resources"
groups=$(sed -n 's/^ *- apiGroups: *\[\(.*\)\]$/\1/p' "$K/rbac.yaml" | tr -d ' ' | sort | tr '\n' ' ')
check "in the core, apps and batch groups only" '"" apps batch ' "$groups"
if grep -rqE '^ *(verbs:.*(create|update|patch|delete|\*|escalate|bind|impersonate)|resources:.*(secrets|\*))' "$K"; then
	not_ok "no write verb, wildcard or secret anywhere in contrib/kubernetes" "$(grep -rnE 'create|update|patch|delete|\*|secrets' "$K"/*.yaml | head -n 5)"
else ok "no write verb, wildcard or secret anywhere in contrib/kubernetes"; fi
check "one ClusterRole, one ClusterRoleBinding, no other Role" "ClusterRole ClusterRoleBinding " \
	"$(grep -hE '^kind: .*Role' "$K"/*.yaml | sed 's/kind: //' | sort | tr '\n' ' ')"
check_match "the binding's subject is the nightshift ServiceAccount" \
	'kind: ServiceAccount[[:space:]]+name: nightshift[[:space:]]+namespace: nightshift' "$(sed -n '/^subjects:/,$p' "$K/rbac.yaml" | tr '\n' ' ')"
check_match "the Deployment runs as that ServiceAccount" 'serviceAccountName: nightshift$' "$(cat "$K/deployment.yaml")"

# ------------------------------------------------------------------ the shipped configurations
# The ConfigMap's nightshift.yaml, with the in-image paths pointed at this tree.
awk '/nightshift.yaml: \|/ { on = 1; next } on && /^    / { print substr($0, 5); next } on { exit }' \
	"$K/deployment.yaml" | sed -e "s|/usr/share/nightshift/playbooks|$PWD/playbooks|" \
	-e "s|/var/lib/nightshift/|$T/|" >"$T/incluster.yaml"
out=$(NIGHTSHIFT_WEBHOOK_TOKEN=t0ken-for-check "$NS" check-config -c "$T/incluster.yaml" 2>&1)
check_match "the Deployment's configuration passes check-config" '^configuration OK' "$out" "$(head -n 20 "$T/incluster.yaml")"
check_match "it reaches the cluster with its service account" 'in_cluster: true' "$(cat "$T/incluster.yaml")"
out=$(NIGHTSHIFT_WEBHOOK_TOKEN= "$NS" check-config -c "$T/incluster.yaml" 2>&1)
check_match "without the token variable it is refused (not loopback)" 'NIGHTSHIFT_WEBHOOK_TOKEN' "$out"
out=$("$NS" check-config -c contrib/nightshift.example.yaml 2>&1)
check_match "contrib/nightshift.example.yaml passes check-config" '^configuration OK' "$out"

# ------------------------------------------------------------------ kustomize renders (offline)
if command -v kubectl >/dev/null 2>&1; then
	kinds=$(HOME=$T timeout 30 kubectl kustomize "$K" 2>"$T/kustomize.err" | sed -n 's/^kind: //p' | sort | tr '\n' ' ')
	check "kubectl kustomize renders every object" \
		"ClusterRole ClusterRoleBinding ConfigMap Deployment Namespace PersistentVolumeClaim Service ServiceAccount " \
		"$kinds" "$(head -n 5 "$T/kustomize.err")"
else
	ok "kubectl is not installed here; kustomize rendering not checked"
fi

finish
