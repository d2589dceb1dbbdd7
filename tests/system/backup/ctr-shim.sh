#!/usr/bin/env bash
# ctr-shim.sh: A STAND-IN FOR CONTAINERD'S `ctr`. IT IS NOT CONTAINERD AND RUNS NO CONTAINER.
#
# This machine has no containerd and no container images. The backup/restore system spec copies
# this file onto PATH as `ctr`, so that the project's restore script, which on a node runs etcdutl
# inside an etcd image with `ctr --namespace k8s.io run`, can run here. It understands exactly the
# calls that script makes:
#
#   ctr --namespace k8s.io images ls -q name==IMAGE   prints IMAGE when the "node" has it
#   ctr --namespace k8s.io images pull IMAGE          adds IMAGE when the "registry" has it
#   ctr --namespace k8s.io run --rm [--mount SPEC]... IMAGE ID /usr/local/bin/etcdutl ARGS...
#       runs the lab's etcdutl 3.6 ($CTR_SHIM_ETCDUTL) with ARGS, in place of the etcdutl inside
#       IMAGE, after checking what containerd would refuse: IMAGE is on the node and holds
#       etcdutl; each SPEC is type=bind,src=P,dst=P,options=rbind:ro|rw of an existing host path P
#       (same path inside, so the paths in ARGS mean the same on both sides); and every absolute
#       path in ARGS lies under a mount (a container sees nothing else of the host).
#
# State, in $CTR_SHIM_STATE: `images` (the node's containerd) and `registry` (what a pull can
# fetch), one "IMAGE TOOL,TOOL,..." a line; `calls`, every call's arguments on one line.
set -euo pipefail

state=${CTR_SHIM_STATE:?the spec sets CTR_SHIM_STATE}
etcdutl=${CTR_SHIM_ETCDUTL:?the spec sets CTR_SHIM_ETCDUTL to the lab etcdutl}
printf '%s\n' "$*" >>"$state/calls"

fail() {
  printf 'ctr: %s\n' "$*" >&2
  exit 1
}

# tools_of FILE IMAGE: the tools IMAGE holds according to FILE; fails when IMAGE is not listed.
tools_of() {
  local name tools
  [[ -f $1 ]] || return 1
  while read -r name tools; do
    if [[ $name == "$2" ]]; then
      printf '%s\n' "$tools"
      return 0
    fi
  done <"$1"
  return 1
}

namespace=''
while [[ $# -gt 0 ]]; do
  case $1 in
  -n | --namespace) namespace=$2; shift 2 ;;
  --namespace=*) namespace=${1#*=}; shift ;;
  *) break ;;
  esac
done
# The kubelet's images live in containerd's k8s.io namespace; ctr's default is "default".
[[ $namespace == k8s.io ]] || fail "namespace '$namespace': this stand-in only knows the kubelet's namespace k8s.io"

case ${1:-} in
images | image | i)
  case ${2:-} in
  ls | list)
    [[ ${3:-} == -q && ${4:-} == name==* ]] || fail "unsupported: images ls ${*:3}"
    if tools_of "$state/images" "${4#name==}" >/dev/null; then printf '%s\n' "${4#name==}"; fi
    ;;
  pull)
    image=${3:?image}
    tools=$(tools_of "$state/registry" "$image") || fail "failed to resolve reference \"$image\": not found"
    printf '%s %s\n' "$image" "$tools" >>"$state/images"
    printf '%s: resolved\n' "$image"
    ;;
  *) fail "unsupported: images ${*:2}" ;;
  esac
  ;;
run)
  shift
  rm_flag=false
  mounts=()
  while [[ $# -gt 0 && $1 == --* ]]; do
    case $1 in
    --rm) rm_flag=true; shift ;;
    --mount) mounts+=("$2"); shift 2 ;;
    *) fail "unsupported run option $1" ;;
    esac
  done
  $rm_flag || fail "run without --rm would leave a container behind"
  [[ $# -ge 3 ]] || fail "usage: run [options] IMAGE ID COMMAND [ARGS...]"
  image=$1 id=$2 command=$3
  shift 3
  [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || fail "invalid container id '$id'"
  tools=$(tools_of "$state/images" "$image") || fail "image \"$image\": not found"
  [[ $command == /usr/local/bin/etcdutl ]] || fail "this stand-in only runs /usr/local/bin/etcdutl, not $command"
  [[ ",$tools," == *,etcdutl,* ]] ||
    fail "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"$command\": stat $command: no such file or directory: unknown"
  roots=()
  for spec in "${mounts[@]}"; do
    [[ $spec =~ ^type=bind,src=(/[^,]+),dst=(/[^,]+),options=rbind:(ro|rw)$ ]] || fail "unsupported mount '$spec'"
    [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] || fail "mount '$spec': this stand-in needs dst = src"
    [[ -e ${BASH_REMATCH[1]} ]] || fail "mount '$spec': ${BASH_REMATCH[1]} does not exist"
    roots+=("${BASH_REMATCH[1]}")
  done
  for arg in "$@"; do
    path=${arg#--*=}
    [[ $path == /* ]] || continue
    inside=false
    for root in "${roots[@]}"; do
      if [[ $path == "$root" || $path == "$root"/* ]]; then inside=true; fi
    done
    $inside || fail "container $id: $path is not mounted into the container"
  done
  exec "$etcdutl" "$@"
  ;;
*) fail "unsupported command: ${1:-}" ;;
esac
