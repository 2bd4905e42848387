#!/usr/bin/env bash
# Builds the test control plane (test/kube/apiserver) once into a cache outside the repository
# and prints the binary's path as the last line. The binary is keyed on a hash of go.mod, go.sum,
# main.go and this script, so a checkout that changes none of them reuses it.
#
# Cache: ${MESHGATE_KUBE_CACHE:-$HOME/.cache/meshgate-kube}, holding its own GOMODCACHE and
# GOCACHE (delete the folder for a cold build). Runs niced: the machines running it are shared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
module_dir=$here/apiserver
cache=${MESHGATE_KUBE_CACHE:-$HOME/.cache/meshgate-kube}
mkdir -p "$cache/bin"
# The Go tarball's usual place, for shells whose PATH lacks it (e.g. a CI job's).
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
export GOMODCACHE=$cache/gomod GOCACHE=$cache/gocache GOTOOLCHAIN=local CGO_ENABLED=0
# -mod=readonly: a build never edits go.mod/go.sum; versions change only through gen-gomod.sh.
export GOFLAGS="-modcacherw -mod=readonly -buildvcs=false ${MESHGATE_KUBE_GOFLAGS:-}"

key=$(cat "$module_dir/go.mod" "$module_dir/go.sum" "$module_dir/main.go" "$here/build.sh" | sha256sum | cut -c1-16)
binary=$cache/bin/meshgate-kube-apiserver-$key
if [[ -x $binary ]]; then
  echo "$binary"
  exit 0
fi

# Two test processes may ask at once: one builds, the other waits and reuses.
exec 9>"$cache/build.lock"
flock 9
if [[ ! -x $binary ]]; then
  k8s_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$module_dir/go.mod")
  minor=${k8s_version#v1.}
  minor=${minor%%.*}
  build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # Without these, /version says v0.0.0-master and version-checking clients get confused.
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  echo "kube build: k8s.io/kubernetes $k8s_version into $binary (cold builds take long)" >&2
  start=$(date +%s)
  (cd "$module_dir" && nice -n 19 go build -trimpath -ldflags "$ldflags" -o "$binary.tmp" .)
  mv "$binary.tmp" "$binary"
  echo "kube build: done in $(( $(date +%s) - start ))s" >&2
  # Binaries of older sources are ~120 MB each: keep only this one.
  find "$cache/bin" -maxdepth 1 -name 'meshgate-kube-apiserver-*' ! -name "${binary##*/}" -delete
fi
echo "$binary"
