#!/usr/bin/env bash
# k8s-ha join-worker: kubeadm join of k8s-ha-dev-worker-1 as a worker
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: line 1 = this worker's bootstrap token (SECRET)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='join-worker'
readonly NODE_NAME='k8s-ha-dev-worker-1'
readonly NODE_ROLE='worker'
readonly API_ENDPOINT='k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443'
readonly API_READYZ_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'
readonly CLUSTER_INFO_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/api/v1/namespaces/kube-public/configmaps/cluster-info'
readonly TOKEN_RE='^[a-z0-9]{6}\.[a-z0-9]{16}$'
readonly TOKEN_PLACEHOLDER='k8s-ha-bootstrap-token-from-stdin'
readonly JOIN_CONFIG_TEMPLATE='apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443
    token: "k8s-ha-bootstrap-token-from-stdin"
    caCertHashes:
      - sha256:3f6a1c9e0b7d2a4c8e5f1b3d7a9c0e2f4b6d8a1c3e5f7b9d0a2c4e6f8b1d3a5c
nodeRegistration:
  name: k8s-ha-dev-worker-1
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: cloud-provider
      value: external
    - name: node-ip
      value: 10.0.32.20
    - name: provider-id
      value: aws:///us-east-1b/i-da5b8a4086849cd32
timeouts:
  controlPlaneComponentHealthCheck: 8m0s
  kubernetesAPICall: 10m0s
  discovery: 10m0s
  tlsBootstrap: 10m0s
'
readonly STDIN_TIMEOUT_SECONDS='15'
readonly WAIT_INTERVAL_SECONDS='10'
readonly WAIT_ATTEMPTS='30'
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

# kube: kubectl with this node's own kubelet credential (a worker holds no other): it may read its
# own Node and kubeadm-config, nothing of other nodes' workloads.
kube() { kubectl --kubeconfig "$KUBE_DIR/kubelet.conf" --request-timeout=30s "$@"; }

node_registered() { kube get node "$NODE_NAME" -o name >/dev/null 2>&1; }

# token_signed: the bootstrap signer has signed cluster-info with this token, i.e. the token exists
# and is valid (anyone may read cluster-info: it is how kubeadm's discovery starts).
token_signed() {
  local info
  info=$(curl -ksf --max-time 5 "$CLUSTER_INFO_URL") || return 1
  [[ $info == *"\"jws-kubeconfig-${token%%.*}\""* ]]
}

# join_leftovers: the files an earlier kubeadm join wrote, "" when none. kubelet.conf comes last:
# a control plane's join writes admin.conf, the other kubeconfigs and the static pod manifests
# before its etcd member joins, and a worker's writes the CA and the kubelet's configuration
# before the kubelet's TLS bootstrap.
join_leftovers() {
  local f files=("$KUBE_DIR"/{kubelet,bootstrap-kubelet}.conf "$FSROOT/var/lib/kubelet/config.yaml")
  files+=("$KUBE_DIR/pki/ca.crt")
  for f in "${files[@]}"; do
    if [[ -e $f ]]; then
      printf '%s ' "$f"
    fi
  done
}

# node_answers: a control plane's own apiserver is ready; a worker's Node is registered.
node_answers() {
  node_registered
}

# --- guard: joined before? ------------------------------------------------------------------------
if done_before joined; then
  log "already joined ($STATE_DIR/joined); nothing to do"
  exit 0
fi

# --- inputs ---------------------------------------------------------------------------------------
read_token
make_workdir

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
  log "undoing it"
  kubeadm reset -f 2>&1 | redact || die "kubeadm reset after the unfinished join failed"
fi

# --- the token the join-token step makes on a control plane --------------------------------------
wait_for "bootstrap token ${token%%.*} to be usable (signed in cluster-info)" token_signed ||
  die "bootstrap token ${token%%.*} is not usable: the $NODE_NAME-join-token step on a control plane makes it while this join runs (see its output)"

# --- join -----------------------------------------------------------------------------------------
printf '%s\n' "${JOIN_CONFIG_TEMPLATE//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/join.yaml"
log "kubeadm join of $NODE_NAME ($NODE_ROLE) through $API_ENDPOINT"
kubeadm join --config "$work/join.yaml" 2>&1 | redact || die "kubeadm join failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"

# --- success means: the Node is registered ---------------------------------------------------------
wait_for "Node $NODE_NAME registered" node_registered || die "joined, but Node $NODE_NAME did not appear"
mark_done joined
log "joined $NODE_NAME ($NODE_ROLE)"
