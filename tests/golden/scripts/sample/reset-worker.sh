#!/usr/bin/env bash
# k8s-ha reset-worker: remove k8s-ha-dev-worker-0 (worker) from the cluster
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='reset-worker'
readonly NODE_NAME='k8s-ha-dev-worker-0'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '[k8s-ha %s] %s\n' "$SCRIPT_NAME" "$*"; }
die() {
  printf '[k8s-ha %s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}

# Leftovers kubeadm reset does not remove: CNI configuration and KUBE-/CNI- iptables chains.
clean_network_state() {
  local t
  rm -rf -- "$FSROOT/etc/cni/net.d"
  for t in iptables ip6tables; do
    if command -v "$t-save" >/dev/null 2>&1 && command -v "$t-restore" >/dev/null 2>&1; then
      "$t-save" | { grep -v -E 'KUBE-|CNI-' || true; } | "$t-restore" || log "could not clean $t rules (continuing)"
    fi
  done
  if command -v ipvsadm >/dev/null 2>&1; then
    ipvsadm --clear || true
  fi
}

# --- guard: joined? ----------------------------------------------------------------------------------
if [[ ! -e "$KUBE_DIR/kubelet.conf" ]]; then
  log "$NODE_NAME has not joined; nothing to reset"
  exit 0
fi

# --- reset ---------------------------------------------------------------------------------------------
log "kubeadm reset of $NODE_NAME"
kubeadm reset -f || die "kubeadm reset failed"
clean_network_state
rm -f -- "$STATE_DIR/pki-changed" "$STATE_DIR/initialised" "$STATE_DIR/joined"
log "reset $NODE_NAME; a control plane deletes its Node next"
