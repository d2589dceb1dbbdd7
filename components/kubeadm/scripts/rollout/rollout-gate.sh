#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# rollout-gate: runs on a control plane after its instance changed (type changed in place, or
# replaced) and holds the next control plane's instance change until this node is back: joined
# (a replaced node joins in parallel with this wait), its etcd member healthy and its apiserver
# ready. It needs nothing of the cluster but the node itself, so that it (and the next instance,
# which waits for it) does not wait for the load balancer.
#
# stdin: nothing
# params: NODE_NAME INSTANCE_TYPE REPLACE_TRIGGER LOCAL_READYZ_URL WAIT_INTERVAL_SECONDS
# params: WAIT_ATTEMPTS

source lib/log.sh

source lib/wait.sh

joined() { [[ -e "$KUBE_DIR/kubelet.conf" ]]; }
source lib/etcd-healthy.sh
source lib/local-api-ready.sh

log "$NODE_NAME ($INSTANCE_TYPE, replace trigger '$REPLACE_TRIGGER') changed: holding the next control plane until it is back"
wait_for "$NODE_NAME joined" joined || die "$NODE_NAME did not join; the next control plane is not touched"
wait_for "the etcd member on $NODE_NAME healthy" etcd_healthy || die "the etcd member on $NODE_NAME is not healthy"
wait_for "the apiserver on $NODE_NAME ready" local_api_ready || die "the apiserver on $NODE_NAME is not ready"
log "$NODE_NAME is back: the next control plane may change"
