# Shared by the lab's package source (tests/nodes/sandbox/packages): a stand-in for pkgs.k8s.io
# whose "packages" are the Kubernetes versions the lab builds, each a directory of binaries (the
# pool): .lab/bin/k8s-prev (the previous minor, toolset k8s-prev) and .lab/bin (toolset k8s).
# shellcheck shell=bash
# shellcheck source=/dev/null
source /run/k8s-ha-lab/env
PACKAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_BIN=$(cd "$PACKAGES_DIR/../../../../.lab/bin" && pwd)
# shellcheck disable=SC2034 # used by the commands that source this file
readonly PACKAGES_DIR LAB_BIN POOL=("$LAB_BIN/k8s-prev" "$LAB_BIN") STAGED=$NODE_DIR/staged

# pool_versions: "DIR 1.N.P" for every pool directory that has a kubeadm.
pool_versions() {
  local d v
  for d in "${POOL[@]}"; do
    [[ -x $d/kubeadm ]] || continue
    v=$("$d/kubeadm" version -o short) || continue
    printf '%s %s\n' "$d" "${v#v}"
  done
}

# next_on_path NAME: the first NAME on PATH after this directory (the lab's overlay or the host's).
next_on_path() {
  local d
  local IFS=:
  for d in $PATH; do
    [[ $d == "$PACKAGES_DIR" ]] && continue
    if [[ -x $d/$1 && ! -d $d/$1 ]]; then
      printf '%s\n' "$d/$1"
      return 0
    fi
  done
  echo "k8s-ha lab: no $1 on PATH besides the package source" >&2
  return 127
}
