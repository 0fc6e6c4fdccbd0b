#!/usr/bin/env bash
# Builds helm v3 from its Go module (hack/helm pins the version), cached outside the
# work tree and keyed by go.sum like the control plane, for the chart's tests
# (helm lint / template / install). Prints the binary's path.
set -euo pipefail
here=$(cd "$(dirname "$0")/helm" && pwd)
helm_version=$(sed -n "s/^[[:space:]]*helm.sh\/helm\/v3 \(v[0-9.]*\).*/\1/p" "$here/go.mod" | head -1)
# helm's Makefile stamps the Kubernetes version of its client libraries: it is the
# default .Capabilities.KubeVersion of `helm template` and `helm lint`.
k8s_version=$(sed -n "s/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p" "$here/go.mod" | head -1)
key=$( (cat "$here/go.mod" "$here/go.sum"; echo "$helm_version") | sha256sum | cut -c1-16)
cache=${CLUSTER_IPAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-ipam}
bin="$cache/helm-$key"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  # One build at a time per machine (tests started together, a second checkout): the others wait and reuse it.
  exec 9>"$bin.lock"
  flock 9
fi
if [ ! -x "$bin" ]; then
  echo "building helm $helm_version (first build on this machine: a few minutes)..." >&2
  start=$(date +%s)
  (cd "$here" && GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly \
    go build -trimpath -o "$bin.tmp" -ldflags "-s -w \
      -X helm.sh/helm/v3/internal/version.version=$helm_version \
      -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_version \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_version" \
      helm.sh/helm/v3/cmd/helm)
  mv "$bin.tmp" "$bin"
  echo "built in $(( $(date +%s) - start ))s: $bin" >&2
fi
echo "$bin"
