#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# upgrade-uncordon: after a worker's upgrade, from a control plane: once its Node reports kubelet
# K8S_VERSION and is Ready, uncordon it, if its upgrade-drain step cordoned it (the annotation
# says so; a node an operator cordoned stays cordoned).
#
# stdin: the admin kubeconfig (SECRET)
# params: NODE_NAME K8S_VERSION API_READYZ_URL DRAINED_ANNOTATION
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
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot uncordon $NODE_NAME"

# --- guard: drained by upgrade-drain? ---------------------------------------------------------------
node_object=$(kube get node "$NODE_NAME" --ignore-not-found -o name) || die "cannot look up Node $NODE_NAME"
if [[ -z $node_object ]]; then
  log "$NODE_NAME has no Node (not joined yet): nothing to uncordon"
  exit 0
fi
drained_for=$(node_drained_for "$DRAINED_ANNOTATION") || die "cannot read Node $NODE_NAME's annotations"
if [[ -z $drained_for ]]; then
  log "$NODE_NAME was not drained for an upgrade: nothing to uncordon"
  exit 0
fi

# --- back at the version and Ready, then uncordon ------------------------------------------------------
wait_for "Node $NODE_NAME to report kubelet v$K8S_VERSION" node_at_target || die "Node $NODE_NAME does not report kubelet v$K8S_VERSION (it stays cordoned)"
wait_for "Node $NODE_NAME Ready" node_ready || die "Node $NODE_NAME is not Ready (it stays cordoned)"
uncordon_after_upgrade "$DRAINED_ANNOTATION"
