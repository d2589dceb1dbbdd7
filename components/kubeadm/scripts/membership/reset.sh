#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# reset: clean removal of a node, run on the node itself when its resource is deleted: quorum
# check (control planes) -> kubectl drain -> kubeadm reset -f (which removes this node's etcd
# member) -> CNI/iptables leftovers -> kubectl delete node. The order is kubeadm's documented one:
# resetting before deleting the Node object means the kubelet is stopped and cannot re-register it.
#
# Quorum rule (stacked etcd: one member per control-plane node; members = etcd static pods,
# healthy = those Ready):
# - the last member is removed only by a teardown: reset it without drain or quorum check;
# - refuse if healthy < floor(n/2)+1 now: the member-remove itself needs quorum to commit;
# - refuse if, after removal, the healthy remainder < floor((n-1)/2)+1, the quorum of the new
#   size. E.g. 3 members, all healthy: removal leaves 2 of 2 (quorum 2), allowed; 3 members with
#   one other already down: removal would leave 1 healthy of 2 (quorum 2), refused; removing the
#   unhealthy member itself is allowed (2 of 2 remain).
#
# stdin: the admin kubeconfig (SECRET)
# params: NODE_NAME API_READYZ_URL DRAIN_TIMEOUT STDIN_TIMEOUT_SECONDS
# params: WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/admin-kubeconfig.sh

source lib/api-ready.sh

#@if control-plane

# check_quorum: refuse a removal that would leave etcd without quorum. The removal itself needs
# quorum (floor(n/2)+1 healthy of n members), and the healthy members left must still make the
# quorum of n-1; the last member goes only in a teardown (no drain, no check).
check_quorum() {
  local pods pod_node ready members=0 healthy=0 self_member=0 self_healthy=0
  pods=$(kube -n kube-system get pods -l component=etcd,tier=control-plane \
    -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}') ||
    die "cannot list the etcd members (etcd pods in kube-system)"
  while read -r pod_node ready; do
    if [[ -z $pod_node ]]; then
      continue
    fi
    members=$((members + 1))
    if [[ $ready == True ]]; then
      healthy=$((healthy + 1))
    fi
    if [[ $pod_node == "$NODE_NAME" ]]; then
      self_member=1
      if [[ $ready == True ]]; then
        self_healthy=1
      fi
    fi
  done <<<"$pods"
  if ((!self_member)); then
    log "no etcd member on $NODE_NAME; its removal does not change etcd membership"
    return 0
  fi
  if ((members <= 1)); then
    # Only a teardown removes the last member (a replacement joins its successor first), so
    # there is no quorum left to protect: reset without draining into nowhere.
    log "$NODE_NAME is the last control-plane node: the cluster is being torn down"
    last_member=1
    return 0
  fi
  local need_now=$((members / 2 + 1))
  local after_members=$((members - 1))
  local after_healthy=$((healthy - self_healthy))
  local need_after=$((after_members / 2 + 1))
  if ((healthy < need_now)); then
    die "refusing to remove $NODE_NAME: etcd has $healthy healthy of $members members, below its quorum of $need_now; a member removal cannot commit"
  fi
  if ((after_healthy < need_after)); then
    die "refusing to remove $NODE_NAME: etcd would keep $after_healthy healthy of $after_members members, below the quorum of $need_after; repair the unhealthy members first"
  fi
  log "etcd quorum check passed: $healthy/$members healthy now, $after_healthy/$after_members after removing $NODE_NAME"
}
#@endif

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
#@if control-plane
if ((joined)); then
  check_quorum
fi
#@endif
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
