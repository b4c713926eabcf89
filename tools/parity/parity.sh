#!/usr/bin/env bash
# tools/parity/parity.sh: run eksctl's iamidentitymapping/accessentry/utils
# lines against the local stack, then the same lines with eksctl replaced by
# iammap, each on a fresh stack, and compare what each left behind.
#
#   EKSCTL=/path/to/eksctl bash tools/parity/parity.sh [CASE_ID...]
#
# Needs: an eksctl binary (EKSCTL, default tools/parity/.cache/eksctl; this
# script does not build it), bin/iammap, the stack's binaries (make build
# kube-bin), the AWS CLI and python3 with PyYAML (the AWS CLI v1 brings it).
# Writes tools/parity/.cache/results/ (per case: each tool's stdout, stderr,
# exit code and state) and tools/parity/.cache/results.md (the table).
# Cases: tools/parity/cases.txt. PARITY_COMPARE_ONLY=1 runs nothing and
# compares the results already in tools/parity/.cache/results again.
# See docs/parity.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tools/parity
CACHE=$HERE/.cache
EKSCTL=${EKSCTL:-$CACHE/eksctl}
IAMMAP=${IAMMAP:-$ROOT/bin/iammap}
BIN=$ROOT/bin
STACKDIR=$CACHE/stack
OUT=$CACHE/results
TIMEOUT=${PARITY_TIMEOUT:-90}
# PARITY_CFN_STUB=0 leaves eksctl's CloudFormation calls going to AWS (they
# then fail: no network); by default they go to state.py's stub, which knows
# no stacks (docs/parity.md says what that changes).
CFN_STUB=${PARITY_CFN_STUB:-1}

trim() { local s=$1; s=${s#"${s%%[! ]*}"}; s=${s%"${s##*[! ]}"}; printf %s "$s"; }
die() { echo "parity: $*" >&2; exit 1; }
[ -x "$EKSCTL" ] || die "no eksctl at $EKSCTL (set EKSCTL=/path/to/eksctl; docs/parity.md)"
[ -x "$IAMMAP" ] || die "no iammap at $IAMMAP (make build)"
for b in kube-apiserver etcd authenticator-oracle iammap-devstack; do
  [ -x "$BIN/$b" ] || die "no $BIN/$b (make kube-bin bin/iammap-devstack)"
done
command -v aws >/dev/null || die "no aws CLI"
python3 -c 'import yaml' 2>/dev/null || die "python3 has no PyYAML"

mkdir -p "$OUT"
EKSCTL_VERSION=$("$EKSCTL" version 2>/dev/null | head -1)
IAMMAP_VERSION=$("$IAMMAP" --version 2>/dev/null | head -1)

stack_down() { "$BIN/iammap-devstack" --dir "$STACKDIR" --bin "$BIN" down >/dev/null 2>&1 || true; }
cfn_pid=""
cleanup() {
  stack_down
  if [ -n "$cfn_pid" ]; then kill "$cfn_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$CFN_STUB" = 1 ] && [ "${PARITY_COMPARE_ONLY:-0}" != 1 ]; then
  rm -f "$CACHE/cfn.port"
  : >"$CACHE/cfn.log"
  python3 "$HERE/state.py" cfn-stub "$CACHE/cfn.port" 2>>"$CACHE/cfn.log" &
  cfn_pid=$!
  for _ in $(seq 50); do [ -s "$CACHE/cfn.port" ] && break; sleep 0.1; done
  [ -s "$CACHE/cfn.port" ] || die "the CloudFormation stub did not start ($CACHE/cfn.log)"
  CFN_URL=http://127.0.0.1:$(cat "$CACHE/cfn.port")
fi

# run_one CASE_ID TOOLNAME TOOLPATH MODE SEED LINE
run_one() {
  local id=$1 name=$2 tool=$3 mode=$4 seed=$5 line=$6 d=$OUT/$1
  mkdir -p "$d"
  stack_down
  if ! "$BIN/iammap-devstack" --dir "$STACKDIR" --bin "$BIN" --auth-mode "$mode" up >"$d/$name.stack.log" 2>&1; then
    echo "stack did not start" >"$d/$name.rc"; return
  fi
  (
    set -e
    # shellcheck disable=SC1091
    . "$STACKDIR/env"
    if [ -n "${CFN_URL:-}" ]; then export AWS_ENDPOINT_URL_CLOUDFORMATION=$CFN_URL; fi
    IFS=';' read -ra steps <<<"$seed"
    for s in "${steps[@]}"; do
      s=$(trim "$s")
      case $s in
        -|"") ;;
        awsauth:*) python3 "$HERE/state.py" seed-awsauth "$HERE/seeds/${s#awsauth:}" ;;
        entry:*)
          IFS=',' read -ra f <<<"${s#entry:}"
          args=(--cluster-name "$IAMMAP_CLUSTER" --principal-arn "${f[0]}")
          [ -n "${f[1]:-}" ] && args+=(--username "${f[1]}")
          [ "${#f[@]}" -gt 2 ] && args+=(--kubernetes-groups "${f[@]:2}")
          aws eks create-access-entry "${args[@]}" --endpoint-url "$AWS_ENDPOINT_URL_EKS" >/dev/null ;;
        *) echo "unknown seed step $s" >&2; exit 1 ;;
      esac
    done
    cmd=${line//TOOL/$tool}
    cmd=${cmd//CLUSTER/$IAMMAP_CLUSTER}
    cmd=${cmd//REGION/$AWS_REGION}
    echo "$cmd" >"$d/$name.cmd"
    # eksctl writes a kubeconfig nowhere for these lines; HOME keeps its
    # cache and logs out of the real home all the same.
    set +e
    HOME=$CACHE/home timeout "$TIMEOUT" bash -c "$cmd" >"$d/$name.stdout" 2>"$d/$name.stderr" </dev/null
    echo $? >"$d/$name.rc"
    set -e
    python3 "$HERE/state.py" capture "$d/$name.state.json"
  ) >"$d/$name.seed.log" 2>&1 || echo "seed or capture failed: $(tail -1 "$d/$name.seed.log")" >>"$d/$name.rc"
  cp "$STACKDIR/stack/webhook.log" "$d/$name.webhook.log" 2>/dev/null || true
  stack_down
}

want=" $* "
mkdir -p "$CACHE/home"
{
  echo "| case | mode | line | eksctl exit | iammap exit | state (aws-auth, access entries, RBAC, mode) | get output (-o json: eksctl's keys; table: stdout) | verdict |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$CACHE/results.md"

while IFS='|' read -r id mode seed line; do
  id=$(trim "$id"); mode=$(trim "$mode"); seed=$(trim "$seed"); line=$(trim "$line")
  case $id in ''|'#'*) continue ;; esac
  if [ $# -gt 0 ] && [[ $want != *" $id "* ]]; then continue; fi
  echo "parity: $id ($mode): ${line}" >&2
  if [ -n "${cfn_pid}" ]; then echo "== $id eksctl" >>"$CACHE/cfn.log"; fi
  if [ "${PARITY_COMPARE_ONLY:-0}" != 1 ]; then
    run_one "$id" eksctl "$EKSCTL" "$mode" "$seed" "$line"
    if [ -n "${cfn_pid}" ]; then echo "== $id iammap" >>"$CACHE/cfn.log"; fi
    run_one "$id" iammap "$IAMMAP" "$mode" "$seed" "$line"
  fi
  d=$OUT/$id
  erc=$(cat "$d/eksctl.rc" 2>/dev/null); irc=$(cat "$d/iammap.rc" 2>/dev/null)
  if cmp -s "$d/eksctl.state.json" "$d/iammap.state.json"; then state=same; else
    state=different
    diff -u "$d/eksctl.state.json" "$d/iammap.state.json" >"$d/state.diff"
  fi
  rows=-
  if [[ $line == *" get "* && $line != *"-o json"* ]]; then
    if cmp -s "$d/eksctl.stdout" "$d/iammap.stdout"; then rows="stdout same"; else rows="stdout different"; fi
  fi
  if [[ $line == *" get "* && $line == *"-o json"* ]]; then
    python3 "$HERE/state.py" json-rows "$d/eksctl.stdout" >"$d/eksctl.rows.json" 2>&1
    python3 "$HERE/state.py" json-rows "$d/iammap.stdout" >"$d/iammap.rows.json" 2>&1
    if cmp -s "$d/eksctl.rows.json" "$d/iammap.rows.json"; then rows=same; else
      rows=different; diff -u "$d/eksctl.rows.json" "$d/iammap.rows.json" >"$d/rows.diff"
    fi
  fi
  verdict=same
  if [ "$erc" != "$irc" ] || [ "$state" != same ] || [[ $rows == *different ]]; then verdict=different; fi
  if grep -qiE 'cloudformation|no such host|dial tcp|ec2\.|RequestCanceled|exceeded maximum number of attempts' "$d/eksctl.stderr" "$d/eksctl.stdout" 2>/dev/null; then
    verdict="$verdict (eksctl reached an API the stack lacks?)"
  fi
  short=${line//TOOL /}
  short=${short//--cluster CLUSTER/}
  short=${short//--region=REGION/}
  short=$(echo "$short" | tr -s ' ')
  echo "| $id | $mode | \`$short\` | $erc | $irc | $state | $rows | $verdict |" | tr '\n' ' ' | sed 's/ $//' >>"$CACHE/results.md"
  echo >>"$CACHE/results.md"
  echo "parity: $id: eksctl exit $erc, iammap exit $irc, state $state, rows $rows: $verdict" >&2
done <"$HERE/cases.txt"

{
  echo
  echo "eksctl: $EKSCTL_VERSION; iammap: $IAMMAP_VERSION; $(aws --version 2>&1)"
  echo "command: EKSCTL=$EKSCTL bash tools/parity/parity.sh $*"
} >>"$CACHE/results.md"
cat "$CACHE/results.md"
