#!/usr/bin/env bash
# k8s-ha worker-upgrade-drain: drain k8s-ha-dev-worker-0 before its upgrade to Kubernetes 1.35.2
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: the admin kubeconfig (SECRET)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='worker-upgrade-drain'
readonly NODE_NAME='k8s-ha-dev-worker-0'
readonly K8S_VERSION='1.35.2'
readonly API_READYZ_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'
readonly DRAIN_TIMEOUT='300s'
readonly DRAINED_ANNOTATION='k8s-ha/drained-for-upgrade'
readonly STDIN_TIMEOUT_SECONDS='60'
readonly WAIT_INTERVAL_SECONDS='5'
readonly WAIT_ATTEMPTS='120'
readonly FSROOT="${K8S_HA_FSROOT:-}"

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

node_kubelet_version() { kube get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}'; }
node_at_target() { [[ "$(node_kubelet_version 2>/dev/null)" == "v$K8S_VERSION" ]]; }
node_ready() { [[ "$(kube get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; }

# The cordon an upgrade owns. The Node carries ANNOTATION=<version> while an upgrade holds it
# cordoned, so that the upgrade uncordons only what it cordoned (a Node an operator cordoned
# stays cordoned), and so that a retry after a failure past the drain still uncordons it.

# node_drained_for ANNOTATION: the version an upgrade cordoned the Node for, "" when none.
node_drained_for() { kube get node "$NODE_NAME" -o "jsonpath={.metadata.annotations.${1//./\\.}}"; }

# cordon_for_upgrade ANNOTATION VERSION: mark the Node as cordoned by this upgrade, unless it was
# cordoned without the mark before (an operator's: it stays so). A retry finds its own mark.
cordon_for_upgrade() {
  local unschedulable drained
  unschedulable=$(kube get node "$NODE_NAME" -o 'jsonpath={.spec.unschedulable}') ||
    die "cannot read whether Node $NODE_NAME is cordoned"
  drained=$(node_drained_for "$1") || die "cannot read Node $NODE_NAME's annotations"
  if [[ $unschedulable == true && -z $drained ]]; then
    log "$NODE_NAME was cordoned before its upgrade: it stays cordoned afterwards"
    return 0
  fi
  kube annotate node "$NODE_NAME" --overwrite "$1=$2" >/dev/null || die "could not annotate Node $NODE_NAME"
}

# uncordon_after_upgrade ANNOTATION: uncordon the Node and drop the mark, if this upgrade cordoned it.
uncordon_after_upgrade() {
  local drained
  drained=$(node_drained_for "$1") || die "cannot read Node $NODE_NAME's annotations"
  if [[ -z $drained ]]; then
    log "$NODE_NAME was not cordoned by an upgrade: it stays as it is"
    return 0
  fi
  kube uncordon "$NODE_NAME" >/dev/null || die "kubectl uncordon $NODE_NAME failed"
  kube annotate node "$NODE_NAME" "$1-" >/dev/null || die "could not remove $1 from Node $NODE_NAME"
  log "uncordoned $NODE_NAME"
}

# --- inputs ---------------------------------------------------------------------------------------
make_workdir
read_admin_kubeconfig "all of stdin"
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot drain $NODE_NAME"

# --- guard: joined, and not at the version yet? -----------------------------------------------------
node_object=$(kube get node "$NODE_NAME" --ignore-not-found -o name) || die "cannot look up Node $NODE_NAME"
if [[ -z $node_object ]]; then
  log "$NODE_NAME has no Node (not joined yet): nothing to drain"
  exit 0
fi
kubelet=$(node_kubelet_version) || die "cannot read Node $NODE_NAME's kubelet version"
if [[ $kubelet == "v$K8S_VERSION" ]]; then
  log "$NODE_NAME already runs v$K8S_VERSION: nothing to drain"
  exit 0
fi

# --- drain ------------------------------------------------------------------------------------------
cordon_for_upgrade "$DRAINED_ANNOTATION" "v$K8S_VERSION"
log "draining $NODE_NAME (kubelet $kubelet) for its upgrade to v$K8S_VERSION"
kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --timeout="$DRAIN_TIMEOUT" ||
  die "kubectl drain $NODE_NAME failed (the node stays cordoned)"
log "drained $NODE_NAME"
