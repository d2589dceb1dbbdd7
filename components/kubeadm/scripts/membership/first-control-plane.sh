#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# first-control-plane: what node 0 runs: `kubeadm init` on a new cluster, but `kubeadm join
# --control-plane` when the API already answers through the NLB with this cluster's CA and this
# node never initialised. That is the case when node 0 was replaced (lost instance, new subnet): a
# plain init would start a second one-member etcd behind the same load balancer, a split brain.
# stdin is the join's (token, then the admin kubeconfig); the init reads only the token line.
#
# stdin: line 1 = the bootstrap token, then the admin kubeconfig (SECRET)
# params: NODE_NAME API_READYZ_URL INIT_SCRIPT JOIN_SCRIPT
# embeds: INIT_SCRIPT JOIN_SCRIPT

source lib/log.sh

if [[ ! -e "$KUBE_DIR/admin.conf" ]] &&
  curl -sf --max-time 5 --cacert "$KUBE_DIR/pki/ca.crt" -o /dev/null "$API_READYZ_URL"; then
  log "the cluster already answers at $API_READYZ_URL and $NODE_NAME never initialised: joining it (node 0 was replaced)"
  exec bash -c "$JOIN_SCRIPT"
fi
exec bash -c "$INIT_SCRIPT"
