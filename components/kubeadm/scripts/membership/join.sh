#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# join: `kubeadm join` of a control-plane node or a worker. The admin kubeconfig on stdin is used
# to (re)create the bootstrap token through the NLB with a short TTL right before joining, so a
# join never depends on a token that may have expired. Done means: kubeadm exited 0 and the node
# answers (control plane: its apiserver; worker: its Node); only then is it marked joined. A join
# that stopped half-way (kubelet.conf written, the node never ready) is undone and redone:
# kubeadm reset with the placed PKI kept, and on a control plane the etcd member (a learner)
# the earlier attempt left is removed first, since etcd admits one learner at a time.
#
# stdin: line 1 = the bootstrap token, then the admin kubeconfig (SECRET, both)
# params: NODE_NAME NODE_ROLE API_ENDPOINT API_READYZ_URL
#@if control-plane
# params: LOCAL_READYZ_URL ETCD_PEER_URL
#@endif
# params: TOKEN_RE TOKEN_PLACEHOLDER TOKEN_GROUP TOKEN_TTL_MINUTES JOIN_CONFIG_TEMPLATE
# params: STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS
#@if control-plane
# params: REQUIRED_FILES[]
#@endif

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/token.sh

source lib/admin-kubeconfig.sh
#@if control-plane

source lib/require-files.sh

source lib/local-api-ready.sh
#@endif

source lib/api-ready.sh

source lib/markers.sh

source lib/mark-done.sh
#@if control-plane

source lib/etcd-members.sh
#@endif
#@if worker

node_registered() { kube get node "$NODE_NAME" -o name >/dev/null 2>&1; }
#@endif

# refresh_token: (re)create the bootstrap token Secret with a fresh expiry, through the NLB. The
# secret half goes through a 0600 file and a pipe, never argv. Server-side apply makes it an
# upsert: an existing token (from init or an earlier join) just gets the new expiry.
refresh_token() {
  local expiration token_id=${token%%.*}
  expiration=$(date -u -d "+${TOKEN_TTL_MINUTES} minutes" '+%Y-%m-%dT%H:%M:%SZ') ||
    die "cannot compute the token expiry"
  printf '%s' "$token_secret" >"$work/token-secret"
  kube -n kube-system create secret generic "bootstrap-token-$token_id" \
    --type=bootstrap.kubernetes.io/token \
    --from-literal=token-id="$token_id" \
    --from-file=token-secret="$work/token-secret" \
    --from-literal=expiration="$expiration" \
    --from-literal=usage-bootstrap-authentication=true \
    --from-literal=usage-bootstrap-signing=true \
    --from-literal=auth-extra-groups="$TOKEN_GROUP" \
    --from-literal=description="k8s-ha: join of $NODE_NAME" \
    --dry-run=client -o yaml |
    kube apply --server-side --force-conflicts --field-manager=k8s-ha-join -f - >/dev/null ||
    die "could not (re)create bootstrap token $token_id through $API_ENDPOINT"
  log "bootstrap token $token_id valid until $expiration"
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
read_admin_kubeconfig "stdin after line 1"

# --- the cluster answers through the NLB ---------------------------------------------------------
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot join"

# --- an earlier join got past kubelet-start: finished, or to be undone? ----------------------------
if [[ -e "$KUBE_DIR/kubelet.conf" ]]; then
  if wait_for "$NODE_NAME to answer after an earlier join" node_answers; then
    mark_done joined
    log "joined before ($KUBE_DIR/kubelet.conf, and the node answers); nothing to do"
    exit 0
  fi
#@if control-plane
  # kubeadm reset empties the certificates directory: keep what place-pki put there
  log "an earlier kubeadm join of $NODE_NAME did not finish: undoing it, keeping the placed PKI"
  cp -a -- "$KUBE_DIR/pki" "$work/pki"
#@else
  log "an earlier kubeadm join of $NODE_NAME did not finish: undoing it"
#@endif
  kubeadm reset -f --kubeconfig "$work/admin.conf" 2>&1 | redact || die "kubeadm reset after the unfinished join failed"
#@if control-plane
  rm -rf -- "$KUBE_DIR/pki"
  cp -a -- "$work/pki" "$KUBE_DIR/pki"
#@endif
fi
#@if control-plane
# A join that failed after its etcd member was added leaves it behind (a learner, or a member
# that never started): the next learner would be refused.
remove_member_of "$NODE_NAME" "$ETCD_PEER_URL"
#@endif

# --- a fresh token -----------------------------------------------------------------------------------
refresh_token

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
