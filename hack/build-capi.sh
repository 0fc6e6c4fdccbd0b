#!/usr/bin/env bash
# Builds the local mode's real machines (hack/capi, one multicall binary: the Cluster API core
# manager, the Cluster API vSphere provider CAPV, a vCenter simulator with a guest agent, and a
# small vSphere client) from their Go modules, cached outside the work tree like the control plane
# (hack/build-controlplane.sh), so only the first build on a machine pays for it.
#
#   bash hack/build-capi.sh                  prints the binary's path (building it first)
#   bash hack/build-capi.sh --manifests-dir  prints the directory of the upstream manifests the
#                                            managers need in the API server (building it first):
#     crds/*.yaml        Cluster API core's CRDs (config/crd/bases: cluster, addons, ipam, runtime
#                        groups) and CAPV's (config/default/crd/bases, govmomi mode), as upstream
#                        ships them: no contract label, no conversion webhook settings (see
#                        docs/local-machines.md for what to add)
#     webhooks/cluster-api.yaml, webhooks/vsphere.yaml
#                        their admission webhook configurations (config/webhook/manifests.yaml,
#                        config/govmomi/webhook/manifests.yaml), with in-cluster service references
#   bash hack/build-capi.sh --modfile        prints the go.mod to build or test hack/capi with (see below):
#                                            cd hack/capi && go test -modfile "$(bash ../build-capi.sh --modfile)" .
#
# On stderr: the modules downloaded (`go: downloading`) and, with -v, each package as it is
# compiled (src/local/capi-binaries.ts shows them as progress). CLUSTER_IPAM_CACHE moves the cache.
#
# The managers' `package main` cannot be imported (and `go build -overlay` may not touch the module
# cache), so the build replaces both modules by mirrors of them (symbolic links into the module
# cache) whose main.go says `package <name>` and `func Main()`: their code runs unchanged, and with
# -trimpath the mirror's location is not part of what Go caches. To move to other versions, edit
# hack/capi/go.mod (and repeat CAPV's replace lines), then `go mod tidy` there.
set -euo pipefail
here=$(cd "$(dirname "$0")/capi" && pwd)
gobuild() { (cd "$here" && GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly go "$@"); }
version() { sed -n "s|^[[:space:]]*$1 \(v[0-9.]*\).*|\1|p" "$here/go.mod" | head -1; }
capi_version=$(version sigs.k8s.io/cluster-api)
capv_version=$(version sigs.k8s.io/cluster-api-provider-vsphere)
rename='s/^package main$/package PKG/; s/^func main() {$/func Main() {/'
go_files=$(ls "$here"/*.go | grep -v '_test\.go$')
key=$( (cat "$here/go.mod" "$here/go.sum" $go_files; echo "$rename") | sha256sum | cut -c1-16)
cache=${CLUSTER_IPAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-ipam}
bin="$cache/capi-$key"

# moduleDir MODULE: the module's directory in the Go module cache, downloading it if needed.
moduleDir() {
  gobuild mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# sources: prints the path of a go.mod for `go build -modfile`: hack/capi/go.mod with both managers
# replaced by directories that mirror their modules (symbolic links) except for a renamed main.go.
sources() {
  local src="$bin.d/src" module pkg dir entry replaces=()
  rm -rf "$src"
  mkdir -p "$src"
  for module in sigs.k8s.io/cluster-api:clusterapi sigs.k8s.io/cluster-api-provider-vsphere:capv; do
    pkg=${module#*:}
    module=${module%:*}
    dir=$(moduleDir "$module")
    if [ "$(grep -c -e '^package main$' -e '^func main() {$' "$dir/main.go")" != 2 ]; then
      echo "$dir/main.go: no longer has one 'package main' and one 'func main() {' line to rename" >&2
      exit 1
    fi
    mkdir "$src/$pkg"
    for entry in "$dir"/* "$dir"/.[!.]*; do
      if [ -e "$entry" ] && [ "${entry##*/}" != main.go ]; then ln -s "$entry" "$src/$pkg/"; fi
    done
    sed "${rename//PKG/$pkg}" "$dir/main.go" >"$src/$pkg/main.go"
    replaces+=(-replace "$module=$src/$pkg")
  done
  cp "$here/go.mod" "$here/go.sum" "$src/"
  gobuild mod edit "${replaces[@]}" "$src/go.mod"
  echo "$src/go.mod"
}

# manifests: copies the CRDs and admission webhook configurations into $bin.d.
manifests() {
  local capi capv
  capi=$(moduleDir sigs.k8s.io/cluster-api)
  capv=$(moduleDir sigs.k8s.io/cluster-api-provider-vsphere)
  rm -rf "$bin.d/crds" "$bin.d/webhooks"
  mkdir -p "$bin.d/crds" "$bin.d/webhooks"
  cp "$capi"/config/crd/bases/*.yaml "$capv"/config/default/crd/bases/*.yaml "$bin.d/crds/"
  cp "$capi/config/webhook/manifests.yaml" "$bin.d/webhooks/cluster-api.yaml"
  cp "$capv/config/govmomi/webhook/manifests.yaml" "$bin.d/webhooks/vsphere.yaml"
  chmod -R u+w "$bin.d/crds" "$bin.d/webhooks"
}

# lock: one build at a time per machine (tests started together, a second checkout): the others
# wait, then reuse it.
lock() {
  mkdir -p "$cache"
  exec 9>"$bin.lock"
  flock 9
}

case "${1:-}" in
  '' | --manifests-dir) ;;
  --modfile)
    lock
    sources
    exit
    ;;
  *)
    echo "usage: $0 [--manifests-dir | --modfile]" >&2
    exit 2
    ;;
esac

if [ ! -x "$bin" ]; then lock; fi
if [ ! -x "$bin" ]; then
  echo "building Cluster API $capi_version, CAPV $capv_version and the vCenter simulator (first build on this machine: about 10 minutes on 2 cores)..." >&2
  start=$(date +%s)
  ldflags="-s -w"
  for v in sigs.k8s.io/cluster-api/version:$capi_version sigs.k8s.io/cluster-api-provider-vsphere/pkg/version:$capv_version; do
    pkg=${v%:*}
    ver=${v#*:}
    major=${ver#v}
    major=${major%%.*}
    minor=${ver#v*.}
    minor=${minor%%.*}
    ldflags+=" -X $pkg.gitVersion=$ver -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  done
  manifests
  gobuild build -v -trimpath -modfile "$(sources)" -o "$bin.tmp" -ldflags "$ldflags" .
  mv "$bin.tmp" "$bin"
  echo "built in $(($(date +%s) - start))s: $bin" >&2
fi
if [ "${1:-}" = --manifests-dir ]; then echo "$bin.d"; else echo "$bin"; fi
