#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# remove-drain: the first of a worker's three removal steps, run from a control plane when the
# worker goes away (the admin kubeconfig never leaves the control planes): drain it. Then the
# worker's own reset runs (kubeadm reset -f stops its kubelet), then its remove-node step deletes
# the Node: kubeadm's documented order, so the kubelet cannot re-register the Node.
#
# stdin: the admin kubeconfig (SECRET)
# params: NODE_NAME API_READYZ_URL DRAIN_TIMEOUT STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/admin-kubeconfig.sh

source lib/api-ready.sh

make_workdir
read_admin_kubeconfig "all of stdin"
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot drain $NODE_NAME"
node_object=$(kube get node "$NODE_NAME" --ignore-not-found -o name) || die "cannot look up Node $NODE_NAME"
if [[ -z $node_object ]]; then
  log "$NODE_NAME has no Node: nothing to drain"
  exit 0
fi
log "draining $NODE_NAME before its removal"
kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout="$DRAIN_TIMEOUT" ||
  die "kubectl drain $NODE_NAME failed"
log "drained $NODE_NAME"
