#!/usr/bin/env bash
# shellcheck disable=SC2016
# k8s-ha first-control-plane: kubeadm init on k8s-ha-dev-cp-0, or join when the cluster already exists
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: line 1 = the bootstrap token, then the admin kubeconfig (SECRET)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='first-control-plane'
readonly NODE_NAME='k8s-ha-dev-cp-0'
readonly API_READYZ_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'
readonly PROBE_ATTEMPTS='24'
readonly PROBE_INTERVAL_SECONDS='5'
readonly INIT_SCRIPT='#!/usr/bin/env bash
# k8s-ha init: kubeadm init on k8s-ha-dev-cp-0
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: line 1 = the bootstrap token (SECRET)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='\''init'\''
readonly NODE_NAME='\''k8s-ha-dev-cp-0'\''
readonly API_ENDPOINT='\''k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443'\''
readonly API_READYZ_URL='\''https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'\''
readonly CLUSTER_INFO_URL='\''https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/api/v1/namespaces/kube-public/configmaps/cluster-info'\''
readonly TOKEN_RE='\''^[a-z0-9]{6}\.[a-z0-9]{16}$'\''
readonly TOKEN_PLACEHOLDER='\''k8s-ha-bootstrap-token-from-stdin'\''
readonly VERSION_PLACEHOLDER='\''k8s-ha-installed-kubeadm-version'\''
readonly KUBEADM_CONFIG_TEMPLATE='\''apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "k8s-ha-bootstrap-token-from-stdin"
    ttl: 1h
    description: "k8s-ha: created by kubeadm init; joins re-create it with a short TTL"
    usages:
      - signing
      - authentication
    groups:
      - system:bootstrappers:kubeadm:default-node-token
nodeRegistration:
  name: k8s-ha-dev-cp-0
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: cloud-provider
      value: external
    - name: node-ip
      value: 10.0.16.10
    - name: provider-id
      value: aws:///us-east-1a/i-50740ee351feefe93
localAPIEndpoint:
  advertiseAddress: 10.0.16.10
  bindPort: 6443
timeouts:
  controlPlaneComponentHealthCheck: 8m0s
  kubernetesAPICall: 10m0s
  discovery: 10m0s
  tlsBootstrap: 10m0s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: k8s-ha-dev
kubernetesVersion: k8s-ha-installed-kubeadm-version
controlPlaneEndpoint: k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443
certificatesDir: /etc/kubernetes/pki
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
  dnsDomain: cluster.local
apiServer:
  certSANs:
    - k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com
    - api.k8s-ha-dev.example.com
  extraArgs:
    - name: audit-log-path
      value: /var/log/kubernetes/audit/audit.log
    - name: audit-policy-file
      value: /etc/kubernetes/audit-policy.yaml
    - name: audit-log-maxage
      value: "30"
    - name: audit-log-maxbackup
      value: "10"
    - name: audit-log-maxsize
      value: "100"
    - name: profiling
      value: "false"
    - name: shutdown-delay-duration
      value: 20s
    - name: encryption-provider-config
      value: /etc/kubernetes/pki/encryption-config.yaml
  extraVolumes:
    - name: audit-policy
      hostPath: /etc/kubernetes/audit-policy.yaml
      mountPath: /etc/kubernetes/audit-policy.yaml
      readOnly: true
      pathType: File
    - name: audit-log
      hostPath: /var/log/kubernetes/audit
      mountPath: /var/log/kubernetes/audit
      readOnly: false
      pathType: DirectoryOrCreate
controllerManager:
  extraArgs:
    - name: leader-elect
      value: "true"
    - name: leader-elect-lease-duration
      value: 15s
    - name: leader-elect-renew-deadline
      value: 10s
    - name: leader-elect-retry-period
      value: 2s
    - name: profiling
      value: "false"
    - name: bind-address
      value: 127.0.0.1
scheduler:
  extraArgs:
    - name: leader-elect
      value: "true"
    - name: leader-elect-lease-duration
      value: 15s
    - name: leader-elect-renew-deadline
      value: 10s
    - name: leader-elect-retry-period
      value: 2s
    - name: profiling
      value: "false"
    - name: bind-address
      value: 127.0.0.1
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs:
      - name: quota-backend-bytes
        value: "8589934592"
      - name: heartbeat-interval
        value: "100"
      - name: election-timeout
        value: "1000"
      - name: snapshot-count
        value: "10000"
      - name: auto-compaction-mode
        value: periodic
      - name: auto-compaction-retention
        value: 1h
    serverCertSANs: []
    peerCertSANs: []
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
serverTLSBootstrap: false
rotateCertificates: true
'\''
readonly STDIN_TIMEOUT_SECONDS='\''60'\''
readonly WAIT_INTERVAL_SECONDS='\''5'\''
readonly WAIT_ATTEMPTS='\''120'\''
readonly -a REQUIRED_FILES=('\''/etc/kubernetes/pki/ca.crt'\'' '\''/etc/kubernetes/pki/ca.key'\'' '\''/etc/kubernetes/pki/etcd/ca.crt'\'' '\''/etc/kubernetes/pki/etcd/ca.key'\'' '\''/etc/kubernetes/pki/front-proxy-ca.crt'\'' '\''/etc/kubernetes/pki/front-proxy-ca.key'\'' '\''/etc/kubernetes/pki/sa.key'\'' '\''/etc/kubernetes/pki/sa.pub'\'' '\''/etc/kubernetes/pki/apiserver.crt'\'' '\''/etc/kubernetes/pki/apiserver.key'\'' '\''/etc/kubernetes/pki/apiserver-kubelet-client.crt'\'' '\''/etc/kubernetes/pki/apiserver-kubelet-client.key'\'' '\''/etc/kubernetes/pki/apiserver-etcd-client.crt'\'' '\''/etc/kubernetes/pki/apiserver-etcd-client.key'\'' '\''/etc/kubernetes/pki/front-proxy-client.crt'\'' '\''/etc/kubernetes/pki/front-proxy-client.key'\'' '\''/etc/kubernetes/pki/etcd/server.crt'\'' '\''/etc/kubernetes/pki/etcd/server.key'\'' '\''/etc/kubernetes/pki/etcd/peer.crt'\'' '\''/etc/kubernetes/pki/etcd/peer.key'\'' '\''/etc/kubernetes/pki/etcd/healthcheck-client.crt'\'' '\''/etc/kubernetes/pki/etcd/healthcheck-client.key'\'' '\''/etc/kubernetes/pki/encryption-config.yaml'\'' '\''/etc/kubernetes/audit-policy.yaml'\'')
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '\''[k8s-ha %s] %s\n'\'' "$SCRIPT_NAME" "$*"; }
die() {
  printf '\''[k8s-ha %s] ERROR: %s\n'\'' "$SCRIPT_NAME" "$*" >&2
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
  trap '\''rm -rf -- "$work"'\'' EXIT
}

# read_token: stdin line 1 -> token and its secret half token_secret (never echoed).
read_token() {
  local rc=0
  token='\'''\''
  IFS= read -r -t "$STDIN_TIMEOUT_SECONDS" token || rc=$?
  if ((rc > 128)); then
    die "timed out after ${STDIN_TIMEOUT_SECONDS}s waiting for the bootstrap token on stdin (line 1)"
  fi
  token=${token%$'\''\r'\''}
  if [[ -z $token ]]; then
    die "missing input: the bootstrap token (stdin line 1) is empty"
  fi
  if [[ ! $token =~ $TOKEN_RE ]]; then
    die "malformed input: the bootstrap token (stdin line 1) does not match [a-z0-9]{6}.[a-z0-9]{16}"
  fi
  token_secret=${token#*.}
}

# redact: copy stdin to stdout with the token'\''s secret half masked (defence in depth).
redact() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    printf '\''%s\n'\'' "${line//"$token_secret"/"<redacted>"}"
  done
}

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

# The API through the NLB. -k: this is a liveness probe; nothing secret is sent.
api_ready() { curl -ksf --max-time 5 -o /dev/null "$API_READYZ_URL"; }

# with_installed_version TEXT: TEXT with VERSION_PLACEHOLDER replaced by the installed kubeadm'\''s
# version ("v1.N.P"). The kubeadm configs of init and rotate carry the placeholder instead of the
# configured version, so that a version bump changes only the upgrade step'\''s text; the upgrade
# step is also what installs kubeadm, at the configured version, before init or join.
with_installed_version() {
  local version
  version=$(kubeadm version -o short) || die "cannot run '\''kubeadm version'\'' (the upgrade step installs kubeadm first)"
  [[ $version =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "kubeadm reports version '\''$version'\'', not v1.N.P"
  printf '\''%s'\'' "${1//"$VERSION_PLACEHOLDER"/"$version"}"
}

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

# cluster-info in kube-public is readable without credentials once the bootstrap-token phase ran.
cluster_info_published() { curl -sf --max-time 5 --cacert "$KUBE_DIR/pki/ca.crt" -o /dev/null "$CLUSTER_INFO_URL"; }
# not_started: the first file missing of those kubeadm init'\''s kubeconfig, etcd, control-plane and
# kubelet-start phases write ("" when all are there): an init that stopped before them left no
# control plane for the kubelet to run, so no API will ever answer.
not_started() {
  local f
  for f in "$KUBE_DIR"/{kubelet,controller-manager,scheduler}.conf \
    "$KUBE_DIR"/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml \
    "$FSROOT/var/lib/kubelet/config.yaml"; do
    if [[ ! -e $f ]]; then
      printf '\''%s'\'' "$f"
      return
    fi
  done
}
# kubeadm_config: the configuration with the stdin token and the installed kubeadm'\''s version
# (once: stdin is read once).
kubeadm_config() {
  if [[ -n ${work:-} ]]; then
    return
  fi
  require_files
  read_token
  make_workdir
  local config
  config=$(with_installed_version "$KUBEADM_CONFIG_TEMPLATE")
  printf '\''%s\n'\'' "${config//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/kubeadm.yaml"
}

# --- guard: initialised before? ------------------------------------------------------------------
if done_before initialised; then
  wait_for "the API at $API_READYZ_URL" api_ready ||
    die "$NODE_NAME was initialised but $API_READYZ_URL does not answer (inspect the control planes and the NLB)"
  log "already initialised; nothing to do"
  exit 0
fi
if [[ -e "$KUBE_DIR/admin.conf" ]]; then
  log "$KUBE_DIR/admin.conf exists but $NODE_NAME is not marked initialised: checking what an earlier init finished"
  unstarted=$(not_started)
  if [[ -n $unstarted ]]; then
    # Only kubeadm init writes super-admin.conf (a control-plane join writes admin.conf, never it):
    # without it these files may be a join'\''s, and the etcd phase would start a new one-member etcd.
    [[ -e "$KUBE_DIR/super-admin.conf" ]] ||
      die "admin.conf exists, $unstarted does not, and there is no super-admin.conf: not an unfinished init of $NODE_NAME (a join'\''s?); not running kubeadm init'\''s phases (inspect $NODE_NAME, or '\''kubeadm reset -f'\'' it and retry)"
    log "the earlier kubeadm init stopped before the kubelet ran the control plane ($unstarted is missing): running its kubeconfig, etcd, control-plane and kubelet-start phases"
    kubeadm_config
    for phase in "kubeconfig all" "etcd local" "control-plane all" "kubelet-start"; do
      # shellcheck disable=SC2086  # a phase is words
      kubeadm init phase $phase --config "$work/kubeadm.yaml" 2>&1 | redact || die "kubeadm init phase $phase failed (output above)"
    done
  fi
  wait_for "the API at $API_READYZ_URL" api_ready ||
    die "admin.conf exists but $API_READYZ_URL does not answer; not re-running kubeadm init (inspect $NODE_NAME, or '\''kubeadm reset -f'\'' it and retry)"
  log "the earlier kubeadm init did not finish: running its remaining phases"
  kubeadm_config
  for phase in "upload-config all" "mark-control-plane" "bootstrap-token" "kubelet-finalize all" "addon all"; do
    # shellcheck disable=SC2086  # a phase is words
    kubeadm init phase $phase --config "$work/kubeadm.yaml" 2>&1 | redact || die "kubeadm init phase $phase failed (output above)"
  done
  wait_for "cluster-info at $CLUSTER_INFO_URL" cluster_info_published || die "cluster-info is still not published after kubeadm'\''s remaining phases"
  mark_done initialised
  log "initialised (finished or confirmed); nothing more to do"
  exit 0
fi
if [[ -e "$KUBE_DIR/manifests/kube-apiserver.yaml" ]]; then
  die "an earlier kubeadm init stopped half-way ($KUBE_DIR/manifests/kube-apiserver.yaml exists, admin.conf does not); run '\''kubeadm reset -f'\'' on $NODE_NAME and retry"
fi

# --- inputs ---------------------------------------------------------------------------------------
kubeadm_config

# --- init -----------------------------------------------------------------------------------------
# Every certificate is already in place (place-pki), so the certs phase reuses them.
# --skip-token-print keeps the token out of the log; redact masks it should it appear anyway.
log "kubeadm init of $NODE_NAME, control-plane endpoint $API_ENDPOINT"
kubeadm init --config "$work/kubeadm.yaml" --skip-token-print 2>&1 | redact ||
  die "kubeadm init failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"

# --- success means: the API answers through the NLB and cluster-info is published ------------------
wait_for "the API at $API_READYZ_URL" api_ready ||
  die "kubeadm init finished but $API_READYZ_URL did not answer within $((WAIT_ATTEMPTS * WAIT_INTERVAL_SECONDS))s (NLB target health, security groups, hairpinning?)"
wait_for "cluster-info at $CLUSTER_INFO_URL" cluster_info_published || die "kubeadm init finished but cluster-info is not published"
mark_done initialised
log "initialised $NODE_NAME; the API answers at $API_READYZ_URL"
'
readonly JOIN_SCRIPT='#!/usr/bin/env bash
# k8s-ha join-control-plane: kubeadm join of k8s-ha-dev-cp-0 as a control-plane node
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: line 1 = the bootstrap token, then the admin kubeconfig (SECRET, both)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='\''join-control-plane'\''
readonly NODE_NAME='\''k8s-ha-dev-cp-0'\''
readonly NODE_ROLE='\''control-plane'\''
readonly API_ENDPOINT='\''k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443'\''
readonly API_READYZ_URL='\''https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'\''
readonly LOCAL_READYZ_URL='\''https://10.0.16.10:6443/readyz'\''
readonly ETCD_PEER_URL='\''https://10.0.16.10:2380'\''
readonly TOKEN_RE='\''^[a-z0-9]{6}\.[a-z0-9]{16}$'\''
readonly TOKEN_PLACEHOLDER='\''k8s-ha-bootstrap-token-from-stdin'\''
readonly TOKEN_GROUP='\''system:bootstrappers:kubeadm:default-node-token'\''
readonly TOKEN_TTL_MINUTES='\''30'\''
readonly JOIN_CONFIG_TEMPLATE='\''apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443
    token: "k8s-ha-bootstrap-token-from-stdin"
    caCertHashes:
      - sha256:3f6a1c9e0b7d2a4c8e5f1b3d7a9c0e2f4b6d8a1c3e5f7b9d0a2c4e6f8b1d3a5c
nodeRegistration:
  name: k8s-ha-dev-cp-0
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: cloud-provider
      value: external
    - name: node-ip
      value: 10.0.16.10
    - name: provider-id
      value: aws:///us-east-1a/i-50740ee351feefe93
controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.0.16.10
    bindPort: 6443
timeouts:
  controlPlaneComponentHealthCheck: 8m0s
  kubernetesAPICall: 10m0s
  discovery: 10m0s
  tlsBootstrap: 10m0s
'\''
readonly STDIN_TIMEOUT_SECONDS='\''60'\''
readonly WAIT_INTERVAL_SECONDS='\''5'\''
readonly WAIT_ATTEMPTS='\''120'\''
readonly -a REQUIRED_FILES=('\''/etc/kubernetes/pki/ca.crt'\'' '\''/etc/kubernetes/pki/ca.key'\'' '\''/etc/kubernetes/pki/etcd/ca.crt'\'' '\''/etc/kubernetes/pki/etcd/ca.key'\'' '\''/etc/kubernetes/pki/front-proxy-ca.crt'\'' '\''/etc/kubernetes/pki/front-proxy-ca.key'\'' '\''/etc/kubernetes/pki/sa.key'\'' '\''/etc/kubernetes/pki/sa.pub'\'' '\''/etc/kubernetes/pki/apiserver.crt'\'' '\''/etc/kubernetes/pki/apiserver.key'\'' '\''/etc/kubernetes/pki/apiserver-kubelet-client.crt'\'' '\''/etc/kubernetes/pki/apiserver-kubelet-client.key'\'' '\''/etc/kubernetes/pki/apiserver-etcd-client.crt'\'' '\''/etc/kubernetes/pki/apiserver-etcd-client.key'\'' '\''/etc/kubernetes/pki/front-proxy-client.crt'\'' '\''/etc/kubernetes/pki/front-proxy-client.key'\'' '\''/etc/kubernetes/pki/etcd/server.crt'\'' '\''/etc/kubernetes/pki/etcd/server.key'\'' '\''/etc/kubernetes/pki/etcd/peer.crt'\'' '\''/etc/kubernetes/pki/etcd/peer.key'\'' '\''/etc/kubernetes/pki/etcd/healthcheck-client.crt'\'' '\''/etc/kubernetes/pki/etcd/healthcheck-client.key'\'' '\''/etc/kubernetes/pki/encryption-config.yaml'\'' '\''/etc/kubernetes/audit-policy.yaml'\'')
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '\''[k8s-ha %s] %s\n'\'' "$SCRIPT_NAME" "$*"; }
die() {
  printf '\''[k8s-ha %s] ERROR: %s\n'\'' "$SCRIPT_NAME" "$*" >&2
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
  trap '\''rm -rf -- "$work"'\'' EXIT
}

# read_token: stdin line 1 -> token and its secret half token_secret (never echoed).
read_token() {
  local rc=0
  token='\'''\''
  IFS= read -r -t "$STDIN_TIMEOUT_SECONDS" token || rc=$?
  if ((rc > 128)); then
    die "timed out after ${STDIN_TIMEOUT_SECONDS}s waiting for the bootstrap token on stdin (line 1)"
  fi
  token=${token%$'\''\r'\''}
  if [[ -z $token ]]; then
    die "missing input: the bootstrap token (stdin line 1) is empty"
  fi
  if [[ ! $token =~ $TOKEN_RE ]]; then
    die "malformed input: the bootstrap token (stdin line 1) does not match [a-z0-9]{6}.[a-z0-9]{16}"
  fi
  token_secret=${token#*.}
}

# redact: copy stdin to stdout with the token'\''s secret half masked (defence in depth).
redact() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    printf '\''%s\n'\'' "${line//"$token_secret"/"<redacted>"}"
  done
}

# read_admin_kubeconfig WHERE: the rest of stdin -> $work/admin.conf (0600).
read_admin_kubeconfig() {
  local rc=0 text='\'''\''
  IFS= read -r -d '\'''\'' -t "$STDIN_TIMEOUT_SECONDS" text || rc=$?
  if ((rc > 128)); then
    die "timed out after ${STDIN_TIMEOUT_SECONDS}s waiting for the admin kubeconfig on stdin ($1)"
  fi
  if [[ -z ${text//[[:space:]]/} ]]; then
    die "missing input: the admin kubeconfig ($1) is empty"
  fi
  if [[ $text != *"client-key-data"* && $text != *"token:"* ]]; then
    die "malformed input: the admin kubeconfig ($1) has no client credentials"
  fi
  printf '\''%s\n'\'' "$text" >"$work/admin.conf"
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

# etcdctl_on NODE ARGS...: etcdctl inside NODE'\''s etcd static pod (kubeadm names it etcd-<node>),
# through the API (needs kube from lib/admin-kubeconfig.sh), with the member'\''s own CA and
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
  kube -n kube-system get pods -l component=etcd,tier=control-plane -o jsonpath='\''{.items[*].spec.nodeName}'\'' 2>/dev/null || true
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
    id=$(awk -F'\'', '\'' -v me="$name" -v peer="$peer" '\''$3 == me || $4 == peer { print $1; exit }'\'' <<<"$out")
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
  expiration=$(date -u -d "+${TOKEN_TTL_MINUTES} minutes" '\''+%Y-%m-%dT%H:%M:%SZ'\'') ||
    die "cannot compute the token expiry"
  printf '\''%s'\'' "$token_secret" >"$work/token-secret"
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
# a control plane'\''s join writes admin.conf, the other kubeconfigs and the static pod manifests
# before its etcd member joins, and a worker'\''s writes the CA and the kubelet'\''s configuration
# before the kubelet'\''s TLS bootstrap.
join_leftovers() {
  local f files=("$KUBE_DIR"/{kubelet,bootstrap-kubelet}.conf "$FSROOT/var/lib/kubelet/config.yaml")
  files+=("$KUBE_DIR"/{admin,controller-manager,scheduler}.conf)
  files+=("$KUBE_DIR"/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml)
  for f in "${files[@]}"; do
    if [[ -e $f ]]; then
      printf '\''%s '\'' "$f"
    fi
  done
}

# node_answers: a control plane'\''s own apiserver is ready; a worker'\''s Node is registered.
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
printf '\''%s\n'\'' "${JOIN_CONFIG_TEMPLATE//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/join.yaml"
log "kubeadm join of $NODE_NAME ($NODE_ROLE) through $API_ENDPOINT"
kubeadm join --config "$work/join.yaml" 2>&1 | redact || die "kubeadm join failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"

# --- success means: this node'\''s apiserver (and so its etcd member) is ready --------------------
wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready ||
  die "joined, but $LOCAL_READYZ_URL did not become ready"
mark_done joined
log "joined $NODE_NAME ($NODE_ROLE)"
'
readonly -a OTHER_CONTROL_PLANES=('10.0.32.10')
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '[k8s-ha %s] %s\n' "$SCRIPT_NAME" "$*"; }
die() {
  printf '[k8s-ha %s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}

# Markers of finished membership steps (initialised, joined) under STATE_DIR: init.sh and join.sh
# write them (lib/mark-done.sh) once kubeadm succeeded and the node answers; first-control-plane.sh
# reads them to tell what node 0 did before.

# done_before STEP: whether STEP finished on this node before.
done_before() { [[ -e "$STATE_DIR/$1" ]]; }

readonly PKI="$KUBE_DIR/pki"

# probe ARGS...: curl ARGS; 0 = something answered (any HTTP status, even a TLS refusal: a
# member listens there), 1 = connection refused (up, nothing listening), 2 = no answer.
probe() {
  local rc=0
  curl -s --connect-timeout 3 --max-time 5 -o /dev/null "$@" || rc=$?
  case $rc in
  0 | 35 | 52 | 56 | 58 | 60) return 0 ;;
  7) return 1 ;;
  *) return 2 ;;
  esac
}

# cluster_state: "exists", "absent" (every probe refused) or "unknown" (some never answered).
cluster_state() {
  local ip host service unknown=0 rc
  if curl -sf --max-time 5 --cacert "$PKI/ca.crt" -o /dev/null "$API_READYZ_URL"; then
    printf exists
    return
  fi
  for ip in "${OTHER_CONTROL_PLANES[@]}"; do
    host=$ip
    if [[ $ip == *:* ]]; then
      host="[$ip]"
    fi
    for service in apiserver etcd; do
      rc=0
      case $service in
      apiserver) probe "https://$host:6443/readyz" --cacert "$PKI/ca.crt" || rc=$? ;;
      etcd)
        probe "https://$host:2379/health" --cacert "$PKI/etcd/ca.crt" \
          --cert "$PKI/etcd/healthcheck-client.crt" --key "$PKI/etcd/healthcheck-client.key" || rc=$?
        ;;
      esac
      if ((rc == 0)); then
        printf exists
        return
      fi
      if ((rc == 2)); then
        unknown=1
      fi
    done
  done
  if ((unknown)); then
    printf unknown
  else
    printf absent
  fi
}

# --- this node's own record ------------------------------------------------------------------------
if done_before joined; then
  exec bash -c "$JOIN_SCRIPT"
fi
if done_before initialised || [[ -e "$KUBE_DIR/super-admin.conf" ]]; then
  exec bash -c "$INIT_SCRIPT"
fi

# --- does the cluster exist? ---------------------------------------------------------------------------
for ((attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++)); do
  state=$(cluster_state)
  case $state in
  exists)
    log "the cluster already answers and $NODE_NAME never initialised: joining it (node 0 was replaced)"
    exec bash -c "$JOIN_SCRIPT"
    ;;
  absent)
    log "no other control plane runs etcd or an apiserver (${#OTHER_CONTROL_PLANES[@]} probed, every connection refused): a new cluster"
    exec bash -c "$INIT_SCRIPT"
    ;;
  esac
  log "cannot tell yet whether the cluster exists: a control plane does not answer at all (round $attempt of $PROBE_ATTEMPTS)"
  sleep "$PROBE_INTERVAL_SECONDS"
done
die "refusing kubeadm init on $NODE_NAME: after $PROBE_ATTEMPTS rounds some control planes (${OTHER_CONTROL_PLANES[*]}) still do not answer, so the cluster may exist without being reachable; an init now could start a second etcd (split brain). Check the other control planes and the security groups, then re-run pulumi up"
