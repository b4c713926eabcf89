#!/usr/bin/env bash
# The story iammap exists for, replayed with real IAM-style tokens on the
# local EKS (`make demo` runs it after walkthrough.sh):
#   mapped to system:masters -> 200 on `kubectl get nodes`
#   remapped to a group with no RBAC -> 403 Forbidden
#   mapping deleted -> 401 Unauthorized
# once through aws-auth and once through an access entry.
# Usage: bash examples/eks-story.sh .local/env   (needs iammap and kubectl on PATH)
set -euo pipefail
# shellcheck disable=SC1090
. "$1"

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# testuser signs in with its own AWS keys through `iammap token`, as a kubeconfig exec plugin.
TESTUSER_KUBECONFIG=$(mktemp)
trap 'rm -f "$TESTUSER_KUBECONFIG"' EXIT
ENDPOINT=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
CA=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority}')
cat >"$TESTUSER_KUBECONFIG" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$ENDPOINT", certificate-authority: "$CA"}}]
contexts: [{name: testuser, context: {cluster: local, user: testuser}}]
current-context: testuser
users:
  - name: testuser
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: iammap
        args: [token, --cluster, "$IAMMAP_CLUSTER"]
        interactiveMode: Never
        env:
          - {name: AWS_ACCESS_KEY_ID, value: "$TESTUSER_AWS_ACCESS_KEY_ID"}
          - {name: AWS_SECRET_ACCESS_KEY, value: "$TESTUSER_AWS_SECRET_ACCESS_KEY"}
YAML

# get_nodes shows what testuser gets. Each call signs a new token (a new
# second), because the API server caches a successful sign-in for ~10 s.
get_nodes() {
  sleep 1
  printf '$ kubectl get nodes   # as testuser (%s)\n' "$TESTUSER_ARN"
  local out
  if out=$(kubectl --kubeconfig "$TESTUSER_KUBECONFIG" get nodes 2>&1); then
    echo "200 OK${out:+: $out}"
  elif grep -q Forbidden <<<"$out"; then
    echo "403 Forbidden: $(grep -o 'User.*' <<<"$out" | head -1)"
  elif grep -qi 'Unauthorized\|logged in' <<<"$out"; then
    echo "401 Unauthorized"
  else
    echo "$out"
  fi
}

step "The local EKS cluster: iammap finds it by name, signs in with AWS credentials, and reads its mode"
run iammap auth-mode
run iammap get

step "testuser is not mapped anywhere"
get_nodes

step "The mission's line, no backend flag: iammap routes it (a new principal gets an access entry; system:masters becomes AmazonEKSClusterAdminPolicy)"
run iammap create --arn "$TESTUSER_ARN" --username testuser --group system:masters
get_nodes

step "Remap it to a group no RBAC binding mentions: the admin policy does not survive"
run iammap create --arn "$TESTUSER_ARN" --username testuser --group no-rbac-here
get_nodes

step "Delete it: revoked wherever it is mapped"
run iammap delete --arn "$TESTUSER_ARN" --all
get_nodes

step "eksctl's noun writes aws-auth, literally, as eksctl does"
run iammap create iamidentitymapping --arn "$TESTUSER_ARN" --username testuser --group system:masters
get_nodes

step "A principal only aws-auth maps stays there: the remap goes to aws-auth, never a silent access entry"
run iammap create --arn "$TESTUSER_ARN" --username testuser --group no-rbac-here
get_nodes

step "An access-entry option moves it: iammap prints what it got before and what it gets now"
run iammap create --arn "$TESTUSER_ARN" --access-policy AmazonEKSClusterAdminPolicy
run iammap create --arn "$TESTUSER_ARN" --access-policy AmazonEKSClusterAdminPolicy   # idempotent
run iammap get --arn "$TESTUSER_ARN"
get_nodes

step "Take the policy away: the entry still authenticates, nothing authorises"
run iammap disassociate-access-policy --arn "$TESTUSER_ARN" --access-policy AmazonEKSClusterAdminPolicy
get_nodes

step "Delete only the access entry (the accessentry noun): iammap warns that aws-auth still maps testuser, and EKS falls back to it"
run iammap delete accessentry --arn "$TESTUSER_ARN"
get_nodes

step "Delete the rest: nothing maps it now"
run iammap delete --arn "$TESTUSER_ARN" --all
get_nodes
