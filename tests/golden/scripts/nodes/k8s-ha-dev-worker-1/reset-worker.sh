#!/usr/bin/env bash
# k8s-ha reset-worker: remove k8s-ha-dev-worker-1 (worker) from the cluster
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: the admin kubeconfig (SECRET)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='reset-worker'
readonly NODE_NAME='k8s-ha-dev-worker-1'
readonly API_READYZ_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'
readonly DRAIN_TIMEOUT='300s'
readonly STDIN_TIMEOUT_SECONDS='60'
readonly WAIT_INTERVAL_SECONDS='5'
readonly WAIT_ATTEMPTS='120'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '[k8s-ha %s] %s\n' "$SCRIPT_NAME" "$*"; }
die() {
  printf '[k8s-ha %s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}

# wait_for WHAT COMMAND...: run COMMAND every WAIT_INTERVAL_SECONDS, at most WAIT_ATTEMPTS times.
wait_for() {
  local what=$1 attempt
  shift
  for ((attempt = 1; attempt <= WAIT_ATTEMPTS; attempt++)); do
    if "$@"; then
      log "$what: ok (attempt $attempt)"
      return 0
    fi
    log "waiting for $what (attempt $attempt/$WAIT_ATTEMPTS, every ${WAIT_INTERVAL_SECONDS}s)"
    sleep "$WAIT_INTERVAL_SECONDS"
  done
  return 1
}

# A 0700 scratch directory on tmpfs for secret copies, removed whatever happens.
make_workdir() {
  mkdir -p -- "$FSROOT/run"
  work=$(mktemp -d "$FSROOT/run/k8s-ha.XXXXXXXX") || die "cannot create a scratch directory under $FSROOT/run"
  trap 'rm -rf -- "$work"' EXIT
}

# read_admin_kubeconfig WHERE: the rest of stdin -> $work/admin.conf (0600).
read_admin_kubeconfig() {
  local rc=0 text=''
  IFS= read -r -d '' -t "$STDIN_TIMEOUT_SECONDS" text || rc=$?
  if ((rc > 128)); then
    die "timed out after ${STDIN_TIMEOUT_SECONDS}s waiting for the admin kubeconfig on stdin ($1)"
  fi
  if [[ -z ${text//[[:space:]]/} ]]; then
    die "missing input: the admin kubeconfig ($1) is empty"
  fi
  if [[ $text != *"client-key-data"* && $text != *"token:"* ]]; then
    die "malformed input: the admin kubeconfig ($1) has no client credentials"
  fi
  printf '%s\n' "$text" >"$work/admin.conf"
}

kube() { kubectl --kubeconfig "$work/admin.conf" --request-timeout=30s "$@"; }

# The API through the NLB. -k: this is a liveness probe; nothing secret is sent.
api_ready() { curl -ksf --max-time 5 -o /dev/null "$API_READYZ_URL"; }


delete_node() { kube delete node "$NODE_NAME" --ignore-not-found >/dev/null; }

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

# --- inputs (needed by the guard: is the Node still known to the cluster?) ---------------------
make_workdir
read_admin_kubeconfig "all of stdin"
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot remove $NODE_NAME cleanly"
node_object=$(kube get node "$NODE_NAME" --ignore-not-found -o name) || die "cannot look up Node $NODE_NAME"
joined=0
if [[ -e "$KUBE_DIR/kubelet.conf" ]]; then
  joined=1
fi

# --- guard: already removed? ------------------------------------------------------------------------
if ((!joined)) && [[ -z $node_object ]]; then
  log "$NODE_NAME is not joined and has no Node object; nothing to do"
  exit 0
fi

# --- remove -------------------------------------------------------------------------------------------
last_member=0
if [[ -n $node_object ]] && ((!last_member)); then
  log "draining $NODE_NAME"
  kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout="$DRAIN_TIMEOUT" ||
    die "kubectl drain $NODE_NAME failed"
fi
if ((joined)); then
  log "kubeadm reset of $NODE_NAME"
  kubeadm reset -f --kubeconfig "$work/admin.conf" || die "kubeadm reset failed"
  clean_network_state
  rm -f -- "$STATE_DIR/pki-changed"
fi
if ((last_member)); then
  log "removed $NODE_NAME and with it the cluster"
  exit 0
fi
# Through the NLB, which may still route to this node's stopped apiserver for a few seconds.
wait_for "Node $NODE_NAME deleted" delete_node || die "could not delete Node $NODE_NAME"
log "removed $NODE_NAME"
