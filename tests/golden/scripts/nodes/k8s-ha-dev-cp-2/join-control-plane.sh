#!/usr/bin/env bash
# k8s-ha join-control-plane: kubeadm join of k8s-ha-dev-cp-2 as a control-plane node
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: line 1 = the bootstrap token, then the admin kubeconfig (SECRET, both)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='join-control-plane'
readonly NODE_NAME='k8s-ha-dev-cp-2'
readonly NODE_ROLE='control-plane'
readonly API_ENDPOINT='k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443'
readonly API_READYZ_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'
readonly LOCAL_READYZ_URL='https://10.0.48.10:6443/readyz'
readonly ETCD_PEER_URL='https://10.0.48.10:2380'
readonly TOKEN_RE='^[a-z0-9]{6}\.[a-z0-9]{16}$'
readonly TOKEN_PLACEHOLDER='k8s-ha-bootstrap-token-from-stdin'
readonly TOKEN_GROUP='system:bootstrappers:kubeadm:default-node-token'
readonly TOKEN_TTL_MINUTES='30'
readonly JOIN_CONFIG_TEMPLATE='apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443
    token: "k8s-ha-bootstrap-token-from-stdin"
    caCertHashes:
      - sha256:3f6a1c9e0b7d2a4c8e5f1b3d7a9c0e2f4b6d8a1c3e5f7b9d0a2c4e6f8b1d3a5c
nodeRegistration:
  name: k8s-ha-dev-cp-2
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: cloud-provider
      value: external
    - name: node-ip
      value: 10.0.48.10
    - name: provider-id
      value: aws:///us-east-1c/i-2f3aaea82b42ca54d
controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.0.48.10
    bindPort: 6443
timeouts:
  controlPlaneComponentHealthCheck: 8m0s
  kubernetesAPICall: 10m0s
  discovery: 10m0s
  tlsBootstrap: 10m0s
'
readonly STDIN_TIMEOUT_SECONDS='60'
readonly WAIT_INTERVAL_SECONDS='5'
readonly WAIT_ATTEMPTS='120'
readonly -a REQUIRED_FILES=('/etc/kubernetes/pki/ca.crt' '/etc/kubernetes/pki/ca.key' '/etc/kubernetes/pki/etcd/ca.crt' '/etc/kubernetes/pki/etcd/ca.key' '/etc/kubernetes/pki/front-proxy-ca.crt' '/etc/kubernetes/pki/front-proxy-ca.key' '/etc/kubernetes/pki/sa.key' '/etc/kubernetes/pki/sa.pub' '/etc/kubernetes/pki/apiserver.crt' '/etc/kubernetes/pki/apiserver.key' '/etc/kubernetes/pki/apiserver-kubelet-client.crt' '/etc/kubernetes/pki/apiserver-kubelet-client.key' '/etc/kubernetes/pki/apiserver-etcd-client.crt' '/etc/kubernetes/pki/apiserver-etcd-client.key' '/etc/kubernetes/pki/front-proxy-client.crt' '/etc/kubernetes/pki/front-proxy-client.key' '/etc/kubernetes/pki/etcd/server.crt' '/etc/kubernetes/pki/etcd/server.key' '/etc/kubernetes/pki/etcd/peer.crt' '/etc/kubernetes/pki/etcd/peer.key' '/etc/kubernetes/pki/etcd/healthcheck-client.crt' '/etc/kubernetes/pki/etcd/healthcheck-client.key' '/etc/kubernetes/pki/encryption-config.yaml' '/etc/kubernetes/audit-policy.yaml')
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

# read_token: stdin line 1 -> token and its secret half token_secret (never echoed).
read_token() {
  local rc=0
  token=''
  IFS= read -r -t "$STDIN_TIMEOUT_SECONDS" token || rc=$?
  if ((rc > 128)); then
    die "timed out after ${STDIN_TIMEOUT_SECONDS}s waiting for the bootstrap token on stdin (line 1)"
  fi
  token=${token%$'\r'}
  if [[ -z $token ]]; then
    die "missing input: the bootstrap token (stdin line 1) is empty"
  fi
  if [[ ! $token =~ $TOKEN_RE ]]; then
    die "malformed input: the bootstrap token (stdin line 1) does not match [a-z0-9]{6}.[a-z0-9]{16}"
  fi
  token_secret=${token#*.}
}

# redact: copy stdin to stdout with the token's secret half masked (defence in depth).
redact() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    printf '%s\n' "${line//"$token_secret"/"<redacted>"}"
  done
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

# Every file kubeadm must find in place; without them kubeadm would silently mint its own CA.
require_files() {
  local f missing=()
  for f in "${REQUIRED_FILES[@]}"; do
    if [[ ! -s "$FSROOT$f" ]]; then
      missing+=("$f")
    fi
  done
  if ((${#missing[@]} > 0)); then
    die "missing input files (run prepare and place-pki first): ${missing[*]}"
  fi
}

local_api_ready() { curl -ksf --max-time 5 -o /dev/null "$LOCAL_READYZ_URL"; }

# The API through the NLB. -k: this is a liveness probe; nothing secret is sent.
api_ready() { curl -ksf --max-time 5 -o /dev/null "$API_READYZ_URL"; }

# Markers of finished membership steps (initialised, joined) under STATE_DIR: init.sh and join.sh
# write them (lib/mark-done.sh) once kubeadm succeeded and the node answers; first-control-plane.sh
# reads them to tell what node 0 did before.

# done_before STEP: whether STEP finished on this node before.
done_before() { [[ -e "$STATE_DIR/$1" ]]; }

# mark_done STEP: record that STEP finished on this node (the time, for whoever looks), for
# done_before (lib/markers.sh).
mark_done() {
  mkdir -p -- "$STATE_DIR"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE_DIR/$1"
}

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

# join_leftovers: the files an earlier kubeadm join wrote, "" when none. kubelet.conf comes last:
# a control plane's join writes admin.conf, the other kubeconfigs and the static pod manifests
# before its etcd member joins, and a worker's writes the CA and the kubelet's configuration
# before the kubelet's TLS bootstrap.
join_leftovers() {
  local f files=("$KUBE_DIR"/{kubelet,bootstrap-kubelet}.conf "$FSROOT/var/lib/kubelet/config.yaml")
  files+=("$KUBE_DIR"/{admin,controller-manager,scheduler}.conf)
  files+=("$KUBE_DIR"/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml)
  for f in "${files[@]}"; do
    if [[ -e $f ]]; then
      printf '%s ' "$f"
    fi
  done
}

# node_answers: a control plane's own apiserver is ready; a worker's Node is registered.
node_answers() {
  local_api_ready
}

# --- guard: joined before? ------------------------------------------------------------------------
if done_before joined; then
  log "already joined ($STATE_DIR/joined); nothing to do"
  exit 0
fi

# --- inputs ---------------------------------------------------------------------------------------
require_files
read_token
make_workdir
read_admin_kubeconfig "stdin after line 1"

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
  # kubeadm reset empties the certificates directory: keep what place-pki put there
  log "undoing it, keeping the placed PKI"
  cp -a -- "$KUBE_DIR/pki" "$work/pki"
  kubeadm reset -f --kubeconfig "$work/admin.conf" 2>&1 | redact || die "kubeadm reset after the unfinished join failed"
  rm -rf -- "$KUBE_DIR/pki"
  cp -a -- "$work/pki" "$KUBE_DIR/pki"
fi
# A join that failed after its etcd member was added leaves it behind (a learner, or a member
# that never started): the next learner would be refused.
remove_member_of "$NODE_NAME" "$ETCD_PEER_URL"

# --- a fresh token -----------------------------------------------------------------------------------
refresh_token

# --- join -----------------------------------------------------------------------------------------
printf '%s\n' "${JOIN_CONFIG_TEMPLATE//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/join.yaml"
log "kubeadm join of $NODE_NAME ($NODE_ROLE) through $API_ENDPOINT"
kubeadm join --config "$work/join.yaml" 2>&1 | redact || die "kubeadm join failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"

# --- success means: this node's apiserver (and so its etcd member) is ready --------------------
wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready ||
  die "joined, but $LOCAL_READYZ_URL did not become ready"
mark_done joined
log "joined $NODE_NAME ($NODE_ROLE)"
