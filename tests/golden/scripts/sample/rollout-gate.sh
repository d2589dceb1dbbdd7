#!/usr/bin/env bash
# k8s-ha rollout-gate: wait until k8s-ha-dev-cp-0 is back after an instance change
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='rollout-gate'
readonly NODE_NAME='k8s-ha-dev-cp-0'
readonly INSTANCE_TYPE='m6i.large'
readonly REPLACE_TRIGGER='2026-11-22'
readonly LOCAL_READYZ_URL='https://10.0.16.10:6443/readyz'
readonly WAIT_INTERVAL_SECONDS='5'
readonly WAIT_ATTEMPTS='360'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"

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

joined() { [[ -e "$KUBE_DIR/kubelet.conf" ]]; }
etcd_healthy() { curl -sf --max-time 5 -o /dev/null http://127.0.0.1:2381/health; }
local_api_ready() { curl -ksf --max-time 5 -o /dev/null "$LOCAL_READYZ_URL"; }

log "$NODE_NAME ($INSTANCE_TYPE, replace trigger '$REPLACE_TRIGGER') changed: holding the next control plane until it is back"
wait_for "$NODE_NAME joined" joined || die "$NODE_NAME did not join; the next control plane is not touched"
wait_for "the etcd member on $NODE_NAME healthy" etcd_healthy || die "the etcd member on $NODE_NAME is not healthy"
wait_for "the apiserver on $NODE_NAME ready" local_api_ready || die "the apiserver on $NODE_NAME is not ready"
log "$NODE_NAME is back: the next control plane may change"
