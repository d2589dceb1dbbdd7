#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# reset: clean removal of a node, run on the node itself when its resource is deleted.
#@if control-plane
# Quorum check -> kubectl drain -> kubeadm reset -f (which removes this node's etcd member) ->
# CNI/iptables leftovers -> kubectl delete node. The order is kubeadm's documented one: resetting
# before deleting the Node object means the kubelet is stopped and cannot re-register it.
#
# Quorum rule (stacked etcd: one member per control-plane node; members = etcd's voting members
# as `etcdctl member list` gives them, healthy = those `endpoint health` finds healthy):
# - the last member is removed only by a teardown: reset it without drain or quorum check;
# - refuse if healthy < floor(n/2)+1 now: the member-remove itself needs quorum to commit;
# - refuse if, after removal, the healthy remainder < floor((n-1)/2)+1, the quorum of the new
#   size. E.g. 3 members, all healthy: removal leaves 2 of 2 (quorum 2), allowed; 3 members with
#   one other already down: removal would leave 1 healthy of 2 (quorum 2), refused; removing the
#   unhealthy member itself is allowed (2 of 2 remain).
# kubeadm reset removes kubelet.conf, the mark of a joined node: a record written just before it
# ($STATE_DIR/resetting: the etcd member, and whether this is a teardown) lets a retry after a
# failure past it (the member removal through another member, say, while the load balancer still
# routes to this node's stopped apiserver) finish the removal instead of skipping it.
#
# stdin: the admin kubeconfig (SECRET)
# params: NODE_NAME API_READYZ_URL DRAIN_TIMEOUT STDIN_TIMEOUT_SECONDS ETCD_PEER_URL
# params: WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS
#@else
# A worker holds no cluster credential: a control plane drains it before this runs (its
# remove-drain step) and deletes its Node after (its remove-node step). Here: kubeadm reset -f
# (which stops the kubelet, so it cannot re-register the Node) and the CNI/iptables leftovers.
#
# stdin: nothing
# params: NODE_NAME
#@endif

source lib/log.sh
#@if control-plane

source lib/wait.sh

source lib/workdir.sh

source lib/admin-kubeconfig.sh

source lib/api-ready.sh

source lib/etcd-members.sh

# read_members: members[] as "id|name|clientURL|isLearner" from the first member that answers
# (this node's, else another's), and via=that member's node. '|' keeps the empty fields of a
# member that never started (etcdctl: "id, unstarted, , peerURL, , true").
read_members() {
  local candidates=("$NODE_NAME") n out
  # shellcheck disable=SC2207  # node names have no spaces
  candidates+=($(etcd_pod_nodes))
  members=()
  via=''
  for n in "${candidates[@]}"; do
    out=$(etcdctl_on "$n" member list -w simple 2>/dev/null) || continue
    while IFS=', ' read -r id _ name _ client learner; do
      if [[ -n $id ]]; then
        members+=("$id|$name|$client|$learner")
      fi
    done <<<"$out"
    via=$n
    return 0
  done
  return 1
}

# check_quorum: refuse a removal that would leave etcd without quorum, judged on etcd's own member
# list and endpoint health (not on Pods, which a member can outlive). The removal itself needs
# quorum (floor(n/2)+1 healthy of n voting members), and the healthy members left must still make
# the quorum of n-1; a learner does not vote; the last member goes only in a teardown.
check_quorum() {
  read_members || die "cannot read etcd's member list from any etcd pod (kubectl exec etcd-<node> -- etcdctl member list)"
  local health m id name client learner members_n=0 healthy=0 self_member=0 self_healthy=0
  # endpoint health exits non-zero when any endpoint is unhealthy: that is an answer, not an error
  health=$(etcdctl_on "$via" endpoint health --cluster -w simple 2>&1 || true)
  for m in "${members[@]}"; do
    IFS='|' read -r id name client learner <<<"$m"
    if [[ $name == "$NODE_NAME" ]]; then
      self_id=$id
    fi
    if [[ $learner == true ]]; then
      continue
    fi
    members_n=$((members_n + 1))
    local ok=0
    if grep -qF "$client is healthy" <<<"$health"; then
      ok=1
      healthy=$((healthy + 1))
    fi
    if [[ $name == "$NODE_NAME" ]]; then
      self_member=1
      self_healthy=$ok
    fi
  done
  if ((!self_member)); then
    log "no voting etcd member on $NODE_NAME; its removal does not change etcd's quorum"
    return 0
  fi
  if ((members_n <= 1)); then
    # Only a teardown removes the last member (a replacement joins its successor first), so
    # there is no quorum left to protect: reset without draining into nowhere.
    log "$NODE_NAME is the last control-plane node: the cluster is being torn down"
    last_member=1
    return 0
  fi
  local need_now=$((members_n / 2 + 1))
  local after_members=$((members_n - 1))
  local after_healthy=$((healthy - self_healthy))
  local need_after=$((after_members / 2 + 1))
  if ((healthy < need_now)); then
    die "refusing to remove $NODE_NAME: etcd has $healthy healthy of $members_n members, below its quorum of $need_now; a member removal cannot commit"
  fi
  if ((after_healthy < need_after)); then
    die "refusing to remove $NODE_NAME: etcd would keep $after_healthy healthy of $after_members members, below the quorum of $need_after; repair the unhealthy members first"
  fi
  log "etcd quorum check passed: $healthy/$members_n healthy now, $after_healthy/$after_members after removing $NODE_NAME"
}


source lib/delete-node.sh
#@endif

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

#@if control-plane
# --- inputs (needed by the guard: is the Node still known to the cluster?) ---------------------
make_workdir
read_admin_kubeconfig "all of stdin"
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot remove $NODE_NAME cleanly"
node_object=$(kube get node "$NODE_NAME" --ignore-not-found -o name) || die "cannot look up Node $NODE_NAME"
joined=0
if [[ -e "$KUBE_DIR/kubelet.conf" ]]; then
  joined=1
fi
last_member=0
self_id=''
members=()
resuming=0
if ((!joined)) && [[ -s "$STATE_DIR/resetting" ]]; then
  { read -r self_id && read -r last_member; } <"$STATE_DIR/resetting" || die "cannot read $STATE_DIR/resetting"
  resuming=1
  log "an earlier reset of $NODE_NAME stopped after kubeadm reset: finishing it"
fi

# --- guard: already removed? ------------------------------------------------------------------------
if ((!joined && !resuming)) && [[ -z $node_object ]]; then
  log "$NODE_NAME is not joined and has no Node object; nothing to do"
  exit 0
fi

# --- remove -------------------------------------------------------------------------------------------
if ((joined)); then
  check_quorum
fi
if [[ -n $node_object ]] && ((!last_member)); then
  log "draining $NODE_NAME"
  kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout="$DRAIN_TIMEOUT" ||
    die "kubectl drain $NODE_NAME failed"
fi
if ((joined)); then
  mkdir -p -- "$STATE_DIR"
  printf '%s\n%s\n' "$self_id" "$last_member" >"$STATE_DIR/resetting"
  log "kubeadm reset of $NODE_NAME"
  kubeadm reset -f --kubeconfig "$work/admin.conf" || die "kubeadm reset failed"
fi
if ((joined || resuming)); then
  if [[ -n $self_id ]] && ((!last_member)); then
    # kubeadm reset only warns when it cannot remove the member: make sure it is gone
    remove_member_of "$NODE_NAME" "$ETCD_PEER_URL"
  fi
  clean_network_state
  # kubeadm reset undid the init or join: their markers go too, or a later join says "already joined"
  rm -f -- "$STATE_DIR/pki-changed" "$STATE_DIR/initialised" "$STATE_DIR/joined" "$STATE_DIR/resetting"
fi
if ((last_member)); then
  log "removed $NODE_NAME and with it the cluster"
  exit 0
fi
# Through the NLB, which may still route to this node's stopped apiserver for a few seconds.
wait_for "Node $NODE_NAME deleted" delete_node || die "could not delete Node $NODE_NAME"
log "removed $NODE_NAME"
#@else
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
#@endif
