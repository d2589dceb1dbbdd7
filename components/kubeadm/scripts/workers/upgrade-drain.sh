#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# upgrade-drain: drain a worker before its upgrade to K8S_VERSION, from a control plane (the admin
# kubeconfig never leaves the control planes). Nothing to do when the worker has not joined (its
# first install) or already runs the version. The Node is annotated with the version it was drained
# for, so that its upgrade-uncordon step uncordons only what this step cordoned (lib/upgrade-cordon.sh).
#
# stdin: the admin kubeconfig (SECRET)
# params: NODE_NAME K8S_VERSION API_READYZ_URL DRAIN_TIMEOUT DRAINED_ANNOTATION
# params: STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/admin-kubeconfig.sh

source lib/api-ready.sh

source lib/node-status.sh

source lib/upgrade-cordon.sh

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
