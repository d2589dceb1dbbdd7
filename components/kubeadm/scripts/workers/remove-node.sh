#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# remove-node: the last of a worker's three removal steps, run from a control plane after the
# worker's own reset stopped its kubelet: delete its Node object.
#
# stdin: the admin kubeconfig (SECRET)
# params: NODE_NAME API_READYZ_URL STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/admin-kubeconfig.sh

source lib/api-ready.sh

source lib/delete-node.sh

make_workdir
read_admin_kubeconfig "all of stdin"
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot delete Node $NODE_NAME"
wait_for "Node $NODE_NAME deleted" delete_node || die "could not delete Node $NODE_NAME"
log "removed $NODE_NAME"
