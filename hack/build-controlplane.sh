#!/usr/bin/env bash
# Builds etcd + kube-apiserver + kube-controller-manager (one multicall binary) from
# their Go modules, cached outside the work tree and keyed by go.sum, so only the
# first build on a machine pays for it (5-10 minutes on 2 cores, more on a slow link or a busy machine).
# Prints the binary's path on stdout; on stderr, the modules downloaded (`go: downloading`)
# and, with -v, each package as it is compiled (src/local/controlplane.ts shows them as progress).
set -euo pipefail
here=$(cd "$(dirname "$0")/controlplane" && pwd)
k8s_version=$(sed -n "s/^[[:space:]]*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p" "$here/go.mod" | head -1)
key=$( (cat "$here/go.sum" "$here/main.go"; echo "$k8s_version") | sha256sum | cut -c1-16)
cache=${CLUSTER_IPAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-ipam}
bin="$cache/controlplane-$key"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  # One build at a time per machine (tests started together, a second checkout): the others wait and reuse it.
  exec 9>"$bin.lock"
  flock 9
fi
if [ ! -x "$bin" ]; then
  major=${k8s_version#v}; major=${major%%.*}
  minor=${k8s_version#v*.}; minor=${minor%%.*}
  pkg=k8s.io/component-base/version
  echo "building the control plane $k8s_version (first build on this machine: 5-10 minutes on 2 cores)..." >&2
  start=$(date +%s)
  (cd "$here" && GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly \
    go build -v -trimpath -o "$bin.tmp" \
      -ldflags "-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor" .)
  mv "$bin.tmp" "$bin"
  echo "built in $(( $(date +%s) - start ))s: $bin" >&2
fi
echo "$bin"
