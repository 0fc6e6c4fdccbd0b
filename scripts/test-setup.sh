#!/usr/bin/env bash
# What the tests need beyond `npm ci`, made ready before any test starts (npm test and .ci/run both run it, so a
# fresh machine needs nothing installed by hand): Debian's packages for the page and image tests (installed when
# missing), then the Go-built binaries (the control plane; Cluster API, CAPV and a vCenter simulator; helm), each built
# once and cached in ~/.cache/cluster-ipam (CLUSTER_IPAM_CACHE). Prints `export NAME=value` lines for the test run on stdout; progress
# goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "# $*" >&2; }

# command → Debian package → the tests that need it
need=()
command -v chromium >/dev/null || need+=(chromium)        # test/e2e/plan-page.test.ts (headless Chromium)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)    # test/e2e/image.test.ts (the image's root filesystem)
command -v umoci >/dev/null || need+=(umoci)              # test/e2e/image.test.ts (the OCI image layout)
if [ "${#need[@]}" -gt 0 ]; then
  say "installing Debian packages the tests need: ${need[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  if ! command -v apt-get >/dev/null; then
    say "cannot install ${need[*]}: this is not a Debian-like system (no apt-get); install them, then run the tests again"
    exit 1
  fi
  log=$(mktemp -t cluster-ipam-apt-XXXXXX.log)
  if ! { "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
    >"$log" 2>&1; then
    tail -n 5 "$log" | sed 's/^/#   /' >&2
    say "cannot install ${need[*]} (not root, and sudo asks for a password?): run"
    say "  sudo apt-get install -y --no-install-recommends ${need[*]}"
    say "then run the tests again"
    exit 1
  fi
  say "installed ${need[*]} (apt-get's output: $log)"
fi

# A build's stderr, shortened: its own messages, module downloads counted, a line every 250 packages compiled.
progress() {
  awk '/^go: downloading/ { if (++d % 50 == 1) { print "#   modules downloaded: " d; fflush() } next }
       /^[a-z0-9.-]+(\/[^ ]*)?$/ { if (++p % 250 == 0) { print "#   packages compiled: " p; fflush() } next }
       { print "#   " $0; fflush() }' >&2
}

started=$(date +%s)
say "control plane: built from Go modules on first use, then cached (first build: 5-10 min on 2 cores)"
bash hack/build-controlplane.sh 2> >(progress) >/dev/null
say "control plane ready after $(($(date +%s) - started)) s"

started=$(date +%s)
say "Cluster API, CAPV and the vCenter simulator: built from Go modules on first use, then cached (first build: 10-25 min on 2 cores)"
bash hack/build-capi.sh 2> >(progress) >/dev/null
say "Cluster API, CAPV and the vCenter simulator ready after $(($(date +%s) - started)) s"

if [ -z "${CLUSTER_IPAM_HELM_BIN:-}" ]; then
  started=$(date +%s)
  say "helm: built from its Go module on first use, then cached (first build: 2-8 min on 2 cores)"
  helm=$(bash hack/build-helm.sh 2> >(progress))
  say "helm ready after $(($(date +%s) - started)) s: $("$helm" version --short)"
  echo "export CLUSTER_IPAM_HELM_BIN=$helm"
fi
