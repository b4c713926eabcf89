#!/usr/bin/env bash
# A walk through iammap against any cluster in your kubeconfig. `make demo`
# runs it against the local stack:  bash examples/walkthrough.sh .local/env
# Against your own cluster (it writes to aws-auth!):  KUBECONFIG=... bash examples/walkthrough.sh
# Needs iammap and kubectl on PATH.
set -euo pipefail
if [ $# -gt 0 ]; then
  # shellcheck disable=SC1090
  . "$1"
fi
# This walkthrough is about aws-auth through a kubeconfig; eks-story.sh
# reaches the cluster by name instead.
unset IAMMAP_CLUSTER

ACCOUNT=111122223333
ADMIN_ROLE="arn:aws:iam::$ACCOUNT:role/PlatformAdmin"
ALICE="arn:aws:iam::$ACCOUNT:user/engineering/alice"

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# can_i shows what a mapped identity may do: RBAC decides, from the
# username and groups aws-auth gives it (kubectl impersonates them).
can_i() {
  local user=$1 groups=$2; shift 2
  local args=(--as "$user")
  IFS=, read -ra gs <<<"$groups"
  for g in "${gs[@]}"; do args+=(--as-group "$g"); done
  printf '$ kubectl auth can-i %s %s\n' "$*" "${args[*]}"
  kubectl auth can-i "$@" "${args[@]}" || true
}

step "The cluster, and aws-auth before we start"
run kubectl version 2>/dev/null | grep -i server || true
run iammap get

step "RBAC the mapped groups will get: viewers can read pods, editors can also delete them"
# Own roles rather than the built-in view/edit: those are aggregated by
# kube-controller-manager, which the local stack does not run.
kubectl apply -f - <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: demo-viewer}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: demo-editor}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list, watch, create, update, patch, delete]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: demo-viewer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: viewers}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-editors}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: demo-editor}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: editors}]
YAML

step "Map an admin role; its path and an assumed-role session ARN are normalised, and iammap says why"
run iammap create --arn "arn:aws:iam::$ACCOUNT:role/platform/PlatformAdmin" --username admin:{{SessionName}} --group system:masters
run iammap create --arn "arn:aws:sts::$ACCOUNT:assumed-role/PlatformAdmin/alice@example.com" --username admin:{{SessionName}} --group system:masters

step "Map alice as a viewer, and the node role"
run iammap create --arn "$ALICE" --username alice --group viewers
run iammap create --arn "arn:aws:iam::$ACCOUNT:role/eks-nodes" --username 'system:node:{{EC2PrivateDNSName}}' --group system:bootstrappers,system:nodes

step "List them (table, then JSON)"
run iammap get
run iammap get --arn "$ALICE" -o json

step "What alice may do as a viewer"
can_i alice viewers list pods -n default
can_i alice viewers delete pods -n default

step "Preview a group change with --dry-run: a diff, nothing written"
run iammap --dry-run create --arn "$ALICE" --username alice --group editors

step "Change alice's group: a second entry for the same principal shadows the first (iammap warns)"
run iammap create --arn "$ALICE" --username alice --group editors
run iammap get --arn "$ALICE"
can_i alice editors delete pods -n default

step "Refuse it instead with --no-duplicate-arns"
run iammap create --arn "$ALICE" --username alice --group viewers --no-duplicate-arns || echo "(exit $?: refused, nothing written)"

step "A bad ARN is refused with the reason, before anything is written"
run iammap create --arn "arn:aws:iam::$ACCOUNT:group/admins" --group system:masters || echo "(exit $?)"
run iammap create --arn "arn:aws:iam::$ACCOUNT:role" || echo "(exit $?)"

step "Delete removes the first entry (as eksctl does) and warns that alice is still mapped"
run iammap delete --arn "$ALICE"
run iammap delete --arn "$ALICE" --all
run iammap get --arn "$ALICE" || echo "(exit $?: no mapping left; like eksctl, get --arn of an unmapped ARN is an error)"

step "Map a whole account, then remove it"
run iammap create --account 012345678901
run iammap delete --account 012345678901

step "aws-auth as stored: every entry iammap did not touch kept its text"
run kubectl get configmap aws-auth -n kube-system -o jsonpath='{.data.mapRoles}'
