#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# join: `kubeadm join` of a control-plane node or a worker. Done means: kubeadm exited 0 and the
# node answers (control plane: its apiserver; worker: its Node); only then is it marked joined. A
# join that stopped half-way (any file kubeadm join writes is there, and the node does not answer)
# is undone and redone: kubeadm reset (on a control plane with the placed PKI kept, and the etcd
# member, a learner, the earlier attempt left removed first, since etcd admits one learner at a
# time). kubeadm's own preflight refuses a join over such files, so a retry must undo them.
# A control plane holds the admin kubeconfig anyway: it (re)creates the shared bootstrap token with
# a short TTL right before joining, so its join never depends on a token that may have expired.
# A worker gets nothing but its own bootstrap token: the worker's join-token step, on a control
# plane, creates it in parallel with this join and deletes it once the Node is registered, so the
# worker waits until the token is usable (signed in the public cluster-info ConfigMap).
#
#@if control-plane
# stdin: line 1 = the bootstrap token, then the admin kubeconfig (SECRET, both)
# params: NODE_NAME NODE_ROLE API_ENDPOINT API_READYZ_URL LOCAL_READYZ_URL ETCD_PEER_URL
# params: TOKEN_RE TOKEN_PLACEHOLDER TOKEN_GROUP TOKEN_TTL_MINUTES JOIN_CONFIG_TEMPLATE
#@else
# stdin: line 1 = this worker's bootstrap token (SECRET)
# params: NODE_NAME NODE_ROLE API_ENDPOINT API_READYZ_URL CLUSTER_INFO_URL
# params: TOKEN_RE TOKEN_PLACEHOLDER JOIN_CONFIG_TEMPLATE
#@endif
# params: STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS
#@if control-plane
# params: REQUIRED_FILES[]
#@endif

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/token.sh
#@if control-plane

source lib/admin-kubeconfig.sh

source lib/require-files.sh

source lib/local-api-ready.sh
#@endif

source lib/api-ready.sh

source lib/markers.sh

source lib/mark-done.sh
#@if control-plane

source lib/etcd-members.sh

source lib/refresh-token.sh
#@else

source lib/kubelet-credential.sh

node_registered() { kube get node "$NODE_NAME" -o name >/dev/null 2>&1; }

# token_signed: the bootstrap signer has signed cluster-info with this token, i.e. the token exists
# and is valid (anyone may read cluster-info: it is how kubeadm's discovery starts).
token_signed() {
  local info
  info=$(curl -ksf --max-time 5 "$CLUSTER_INFO_URL") || return 1
  [[ $info == *"\"jws-kubeconfig-${token%%.*}\""* ]]
}
#@endif

# join_leftovers: the files an earlier kubeadm join wrote, "" when none. kubelet.conf comes last:
# a control plane's join writes admin.conf, the other kubeconfigs and the static pod manifests
# before its etcd member joins, and a worker's writes the CA and the kubelet's configuration
# before the kubelet's TLS bootstrap.
join_leftovers() {
  local f files=("$KUBE_DIR"/{kubelet,bootstrap-kubelet}.conf "$FSROOT/var/lib/kubelet/config.yaml")
#@if control-plane
  files+=("$KUBE_DIR"/{admin,controller-manager,scheduler}.conf)
  files+=("$KUBE_DIR"/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml)
#@else
  files+=("$KUBE_DIR/pki/ca.crt")
#@endif
  for f in "${files[@]}"; do
    if [[ -e $f ]]; then
      printf '%s ' "$f"
    fi
  done
}

# node_answers: a control plane's own apiserver is ready; a worker's Node is registered.
node_answers() {
#@if control-plane
  local_api_ready
#@else
  node_registered
#@endif
}

# --- guard: joined before? ------------------------------------------------------------------------
if done_before joined; then
  log "already joined ($STATE_DIR/joined); nothing to do"
  exit 0
fi

# --- inputs ---------------------------------------------------------------------------------------
#@if control-plane
require_files
#@endif
read_token
make_workdir
#@if control-plane
read_admin_kubeconfig "stdin after line 1"
#@endif

# --- the cluster answers through the NLB ---------------------------------------------------------
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot join"

# --- an earlier join left files: finished, or to be undone? ---------------------------------------
leftovers=$(join_leftovers)
if [[ -n $leftovers ]]; then
  if [[ -e "$KUBE_DIR/kubelet.conf" ]] && wait_for "$NODE_NAME to answer after an earlier join" node_answers; then
    mark_done joined
    log "joined before ($KUBE_DIR/kubelet.conf, and the node answers); nothing to do"
    exit 0
  fi
  log "an earlier kubeadm join of $NODE_NAME did not finish (it left ${leftovers% })"
#@if control-plane
  # kubeadm reset empties the certificates directory: keep what place-pki put there
  log "undoing it, keeping the placed PKI"
  cp -a -- "$KUBE_DIR/pki" "$work/pki"
  kubeadm reset -f --kubeconfig "$work/admin.conf" 2>&1 | redact || die "kubeadm reset after the unfinished join failed"
  rm -rf -- "$KUBE_DIR/pki"
  cp -a -- "$work/pki" "$KUBE_DIR/pki"
#@else
  log "undoing it"
  kubeadm reset -f 2>&1 | redact || die "kubeadm reset after the unfinished join failed"
#@endif
fi
#@if control-plane
# A join that failed after its etcd member was added leaves it behind (a learner, or a member
# that never started): the next learner would be refused.
remove_member_of "$NODE_NAME" "$ETCD_PEER_URL"

# --- a fresh token -----------------------------------------------------------------------------------
refresh_token
#@else

# --- the token the join-token step makes on a control plane --------------------------------------
wait_for "bootstrap token ${token%%.*} to be usable (signed in cluster-info)" token_signed ||
  die "bootstrap token ${token%%.*} is not usable: the $NODE_NAME-join-token step on a control plane makes it while this join runs (see its output)"
#@endif

# --- join -----------------------------------------------------------------------------------------
printf '%s\n' "${JOIN_CONFIG_TEMPLATE//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/join.yaml"
log "kubeadm join of $NODE_NAME ($NODE_ROLE) through $API_ENDPOINT"
kubeadm join --config "$work/join.yaml" 2>&1 | redact || die "kubeadm join failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"

#@if control-plane
# --- success means: this node's apiserver (and so its etcd member) is ready --------------------
wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready ||
  die "joined, but $LOCAL_READYZ_URL did not become ready"
#@else
# --- success means: the Node is registered ---------------------------------------------------------
wait_for "Node $NODE_NAME registered" node_registered || die "joined, but Node $NODE_NAME did not appear"
#@endif
mark_done joined
log "joined $NODE_NAME ($NODE_ROLE)"
