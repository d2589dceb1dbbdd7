# Shared by the lab's overlay commands (tests/nodes/sandbox/bin): where the node's state is, and
# the next command of a name on PATH after this overlay (the real one).
# shellcheck shell=bash
# shellcheck source=/dev/null
source /run/k8s-ha-lab/env
OVERLAY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the commands that source this file
readonly OVERLAY_DIR UNITS_DIR=$OVERLAY_DIR/../units LAB_RUN=/run/k8s-ha-lab

# real NAME: the first NAME on PATH that is not this overlay's.
real() {
  local d
  local IFS=:
  for d in $PATH; do
    [[ $d == "$OVERLAY_DIR" ]] && continue
    if [[ -x $d/$1 && ! -d $d/$1 ]]; then
      printf '%s\n' "$d/$1"
      return 0
    fi
  done
  echo "k8s-ha lab: no $1 on PATH besides the overlay" >&2
  return 127
}
