#!/usr/bin/env bash
# k8s-ha reset-control-plane: remove k8s-ha-dev-cp-0 (control-plane) from the cluster
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: the admin kubeconfig (SECRET)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='reset-control-plane'
readonly NODE_NAME='k8s-ha-dev-cp-0'
readonly API_READYZ_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'
readonly DRAIN_TIMEOUT='300s'
readonly STDIN_TIMEOUT_SECONDS='60'
readonly ETCD_PEER_URL='https://10.0.16.10:2380'
readonly WAIT_INTERVAL_SECONDS='5'
readonly WAIT_ATTEMPTS='120'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

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

# etcdctl_on NODE ARGS...: etcdctl inside NODE's etcd static pod (kubeadm names it etcd-<node>),
# through the API (needs kube from lib/admin-kubeconfig.sh), with the member's own CA and
# health-check client certificate.
etcdctl_on() {
  local node=$1
  shift
  kube -n kube-system exec "etcd-$node" -- etcdctl --endpoints=https://127.0.0.1:2379 \
    --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
    --key=/etc/kubernetes/pki/etcd/healthcheck-client.key --command-timeout=10s "$@"
}

# etcd_pod_nodes: the nodes that run an etcd pod, as the API lists them.
etcd_pod_nodes() {
  kube -n kube-system get pods -l component=etcd,tier=control-plane -o jsonpath='{.items[*].spec.nodeName}' 2>/dev/null || true
}

# remove_member_of NAME PEER_URL: ask the first other member that answers whether NAME still has
# an etcd member (voting or learner) and remove it. A learner that never started has no name yet:
# it is found by its peer URL. Fails when no other member answers.
remove_member_of() {
  local name=$1 peer=$2 n out id
  for n in $(etcd_pod_nodes); do
    if [[ $n == "$name" ]]; then
      continue
    fi
    out=$(etcdctl_on "$n" member list -w simple 2>/dev/null) || continue
    id=$(awk -F', ' -v me="$name" -v peer="$peer" '$3 == me || $4 == peer { print $1; exit }' <<<"$out")
    if [[ -z $id ]]; then
      log "$name has no etcd member (checked on $n)"
      return 0
    fi
    log "removing the etcd member $id of $name through $n"
    etcdctl_on "$n" member remove "$id" >/dev/null || die "could not remove the etcd member $id of $name through $n"
    return 0
  done
  die "cannot check the etcd member of $name: no other etcd member answers (kubectl exec etcd-<node> -- etcdctl member list)"
}

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
