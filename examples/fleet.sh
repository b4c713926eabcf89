#!/usr/bin/env bash
# One access file, three clusters, two accounts (`make demo-fleet`, and
# `make demo` after the single-cluster walkthroughs): list the fleet, see what
# is pending, apply it, see that nothing is left, audit it, and plan a subset
# as JSON. charlie is in another account, reached by assuming its deployer
# role through STS with an external id, as the file says.
# Usage: bash examples/fleet.sh .local/fleet/env .local/fleet/fleet.yaml
#   (from `iammap-devstack --dir .local/fleet up --fleet`; needs iammap on PATH)
# Every step must exit with the code it is expected to; the script fails otherwise.
# The first diff expects pending changes: run it on a fresh fleet (down, then up --fleet).
set -uo pipefail
# shellcheck disable=SC1090
. "$1"
FILE=$2

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
failed=0
# expect CODE CMD...: print the command, run it, and check its exit code.
expect() {
  local want=$1 got=0
  shift
  printf '$ %s\n' "$*"
  "$@" || got=$?
  if [ "$got" -ne "$want" ]; then
    printf '\033[31mFAIL: exit %d, expected %d: %s\033[0m\n' "$got" "$want" "$*" >&2
    failed=1
  else
    printf '(exit %d, as expected)\n' "$got"
  fi
}

step "The fleet: which clusters the file names and how each is reached (charlie: another account's role)"
expect 0 iammap clusters -f "$FILE"

step "What the file would change: every cluster is planned, in parallel; exit 2 means changes are pending"
expect 2 iammap diff -f "$FILE"

step "Apply it: aws-auth on alpha (CONFIG_MAP), access entries on bravo (API), both on charlie, as the assumed role"
expect 0 iammap apply -f "$FILE"

step "Nothing is left to do: exit 0"
expect 0 iammap diff -f "$FILE"

step "Audit the fleet: findings below --fail-on (error) are reported and exit 0"
expect 0 iammap audit -f "$FILE"

step "A subset by glob, as one JSON document for CI artifacts"
expect 0 iammap diff -f "$FILE" --clusters 'a*' -o json

if [ "$failed" -ne 0 ]; then
  echo "fleet.sh: a step exited with an unexpected code" >&2
  exit 1
fi
printf '\nfleet.sh: every step exited as expected\n'
