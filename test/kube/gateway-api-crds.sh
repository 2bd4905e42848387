#!/usr/bin/env bash
# Prints the folder holding the upstream Gateway API CRDs (standard channel) of one pinned
# release, fetched as a Go module into the same cache as build.sh uses. The CRDs are not copied
# into this repository. The module's hash is pinned too, so a changed upstream zip is refused.
set -euo pipefail
version=v1.6.3
sum=h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc=
cache=${MESHGATE_KUBE_CACHE:-$HOME/.cache/meshgate-kube}
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
export GOMODCACHE=$cache/gomod GOTOOLCHAIN=local GOFLAGS=-modcacherw
json=$(cd "$cache" 2>/dev/null || cd /; nice -n 19 go mod download -json "sigs.k8s.io/gateway-api@$version")
got_sum=$(sed -n 's/^\t"Sum": "\(.*\)",$/\1/p' <<<"$json")
dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json")
if [[ $got_sum != "$sum" ]]; then
  echo "gateway-api-crds: sigs.k8s.io/gateway-api@$version has hash '$got_sum', expected $sum" >&2
  exit 1
fi
echo "$dir/config/crd/standard"
