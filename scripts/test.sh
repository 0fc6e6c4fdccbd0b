#!/usr/bin/env bash
# Runs the tests: `unit` (pure, no API server), `integration` (needs the local control plane), or both (default).
# Integration first makes ready what the tests need (scripts/test-setup.sh: Debian packages, the Go-built binaries).
# One control plane serves the whole run; it is stopped on exit, and follows this script if it is killed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
files=()
if [ "$mode" = all ] || [ "$mode" = unit ]; then
  mapfile -t -O "${#files[@]}" files < <(find src -name '*.test.ts' | sort)
fi
if [ "$mode" = all ] || [ "$mode" = integration ]; then
  mapfile -t -O "${#files[@]}" integration < <(find test -name '*.test.ts' | sort)
  files+=("${integration[@]}")
  if [ "${#integration[@]}" -gt 0 ]; then
    setup=$(bash scripts/test-setup.sh)
    eval "$setup"
  fi
  if [ -z "${CLUSTER_IPAM_TEST_KUBECONFIG:-}" ] && [ "${#integration[@]}" -gt 0 ]; then
    dir=$(mktemp -d -t cluster-ipam-test-XXXXXX)
    trap 'npx tsx src/cli/main.ts local down --dir "$dir" >/dev/null 2>&1 || true' EXIT
    trap 'exit 130' INT TERM
    started=$(date +%s)
    line=$(npx tsx src/cli/main.ts local up --bare --dir "$dir" --watch-pid $$ | tail -n 1)
    export CLUSTER_IPAM_TEST_KUBECONFIG=${line#KUBECONFIG=}
    echo "# local control plane ready in $(( $(date +%s) - started ))s: $CLUSTER_IPAM_TEST_KUBECONFIG"
  fi
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files for mode '$mode'" >&2
  exit 1
fi
# A test's own time limit: 5 minutes on a quiet machine, scaled like every wait (test/support/wait.ts).
timeout_ms=$(awk -v f="${CLUSTER_IPAM_TEST_TIME_FACTOR:-3}" 'BEGIN { printf "%d", 300000 * f }')
node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="$timeout_ms" "${files[@]}"
