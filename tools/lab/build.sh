#!/usr/bin/env bash
# npm run lab:tools: builds the lab's real tools from the Go modules beside this file (one module
# per toolset, so that Kubernetes, etcd and the Pulumi CLI never share a dependency graph) and
# links them into .lab/bin/.
#
# Only `go` fetches, and only modules, verified against each module's committed go.sum. The
# binaries are kept in a per-user cache keyed by go.mod, go.sum, build.env, this script and the
# Go version, so a fresh clone on a warm machine builds nothing. `--toolset NAME` builds one.
set -euo pipefail

if ! command -v go >/dev/null 2>&1; then
  echo "lab:tools: Go is not on PATH; install Go 1.26 or newer (https://go.dev/doc/install) and run 'npm run lab:tools' again" >&2
  exit 1
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${K8S_HA_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-ha-lab}
bin=$root/.lab/bin
toolsets=(k8s etcd pulumi)
if [ "${1:-}" = "--toolset" ]; then
  [ -f "$here/${2:-}/build.env" ] || { echo "lab:tools: unknown toolset '${2:-}' (known: ${toolsets[*]})" >&2; exit 2; }
  toolsets=("$2")
fi

# A toolchain the module asks for must not be downloaded behind our back, and cgo stays off so
# the binaries are static and independent of the host's libc.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

cache_key() { # $1 = toolset directory
  {
    cat "$1/go.mod" "$1/go.sum" "$1/build.env" "$here/build.sh"
    go version
    go env GOOS GOARCH
    if [ -d "$1/cmd" ]; then find "$1/cmd" -type f -name '*.go' -print0 | sort -z | xargs -0r cat; fi
  } | sha256sum | cut -c1-16
}

build_toolset() { # $1 = toolset name
  local set=$1 dir=$here/$1 key out tmp version entry name pkg started
  local MODULE BINARIES=()
  # shellcheck source=/dev/null
  source "$dir/build.env"
  key=$(cache_key "$dir")
  out=$cache/$set-$key
  version=$(cd "$dir" && go list -m -f '{{.Version}}' "$MODULE")
  if [ -f "$out/.complete" ]; then
    echo "lab:tools: $set $version is current ($out)"
  else
    for d in "$dir"/cmd/*/; do
      [ -d "$d" ] && BINARIES+=("$(basename "$d")=./cmd/$(basename "$d")")
    done
    echo "lab:tools: building $set $version (${#BINARIES[@]} binaries) into $out"
    (cd "$dir" && go mod download)
    tmp=$(mktemp -d "$cache/.$set-XXXXXX")
    for entry in "${BINARIES[@]}"; do
      name=${entry%%=*} pkg=${entry#*=}
      started=$SECONDS
      (cd "$dir" && go build -trimpath -ldflags "$(ldflags "$version")" -o "$tmp/$name" "$pkg")
      echo "lab:tools:   $name built in $((SECONDS - started)) s"
    done
    touch "$tmp/.complete"
    rm -rf "$out"
    mv "$tmp" "$out"
    # Older builds of this toolset are dead weight (a Kubernetes set is several hundred MB).
    find "$cache" -mindepth 1 -maxdepth 1 -name "$set-*" ! -path "$out" -exec rm -rf {} +
  fi
  for f in "$out"/*; do
    ln -sfn "$f" "$bin/$(basename "$f")"
  done
}

mkdir -p "$cache" "$bin"
for set in "${toolsets[@]}"; do build_toolset "$set"; done

# Each binary says what it is: a wrong stamp shows here, not in a failed test later.
version_of() {
  case $1 in
    kubeadm) "$bin/kubeadm" version -o short ;;
    kubectl) "$bin/kubectl" version --client -o yaml | sed -n 's/^ *gitVersion: //p' ;;
    etcd) "$bin/etcd" --version | head -n 1 ;;
    etcdutl | etcdctl) "$bin/$1" version | head -n 1 ;;
    pulumi) "$bin/pulumi" version ;;
    kube*) "$bin/$1" --version ;;
    *) echo "(built)" ;;
  esac
}
for f in "$bin"/*; do
  [ -e "$f" ] || { rm -f "$f"; continue; } # a link into a cache entry that was removed
  printf 'lab:tools: %-26s %s\n' "$(basename "$f")" "$(version_of "$(basename "$f")" 2>&1 | tr '\n' ' ')"
done
