#!/usr/bin/env bash
# k8s-ha rotate: apply changed certificates on cp-v6
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='rotate'
readonly NODE_NAME='cp-v6'
readonly CRI_SOCKET='unix:///run/containerd/containerd.sock'
readonly LOCAL_READYZ_URL='https://[fd00:10::a]:6443/readyz'
readonly VERSION_PLACEHOLDER='k8s-ha-installed-kubeadm-version'
readonly KUBEADM_PHASE_CONFIG='apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  name: cp-v6
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: fd00:10::a
localAPIEndpoint:
  advertiseAddress: fd00:10::a
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
    - "*.api.example.com"
    - 203.0.113.9
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
'
readonly WAIT_INTERVAL_SECONDS='5'
readonly WAIT_ATTEMPTS='120'
readonly STOP_TIMEOUT_SECONDS='45'
readonly -a KUBECONFIG_PHASES=('admin.conf:admin' 'super-admin.conf:super-admin' 'controller-manager.conf:controller-manager' 'scheduler.conf:scheduler' 'kubelet.conf:kubelet')
readonly -a RENEWED_KUBECONFIGS=('admin.conf' 'super-admin.conf' 'controller-manager.conf' 'scheduler.conf')
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

local_api_ready() { curl -ksf --max-time 5 -o /dev/null "$LOCAL_READYZ_URL"; }

# with_installed_version TEXT: TEXT with VERSION_PLACEHOLDER replaced by the installed kubeadm's
# version ("v1.N.P"). The kubeadm configs of init and rotate carry the placeholder instead of the
# configured version, so that a version bump changes only the upgrade step's text; the upgrade
# step is also what installs kubeadm, at the configured version, before init or join.
with_installed_version() {
  local version
  version=$(kubeadm version -o short) || die "cannot run 'kubeadm version' (the upgrade step installs kubeadm first)"
  [[ $version =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "kubeadm reports version '$version', not v1.N.P"
  printf '%s' "${1//"$VERSION_PLACEHOLDER"/"$version"}"
}

readonly CHANGED_FILE="$STATE_DIR/pki-changed"

etcd_healthy() { curl -sf --max-time 5 -o /dev/null http://127.0.0.1:2381/health; }

# Static pods on this control plane, through the CRI (needs CRI_SOCKET, STOP_TIMEOUT_SECONDS and
# lib/wait.sh; the health checks of etcd and the apiserver come from their own lib files).
crictl_() { crictl --runtime-endpoint "$CRI_SOCKET" "$@"; }
running_ids() { crictl_ ps --quiet --state running --name "^$1\$"; }
new_container_running() {
  local now
  now=$(running_ids "$1") || return 1
  [[ -n $now && $now != "$2" ]]
}
controller_manager_healthy() { curl -ksf --max-time 5 -o /dev/null https://127.0.0.1:10257/healthz; }
scheduler_healthy() { curl -ksf --max-time 5 -o /dev/null https://127.0.0.1:10259/healthz; }

# stop_static_pod NAME WHY: stop NAME's running containers gracefully (SIGTERM, SIGKILL only after
# STOP_TIMEOUT_SECONDS: the apiserver first fails /readyz for its shutdown delay so that the NLB
# drains it, and etcd hands its leadership over). The kubelet then starts a new container, which
# reads the files as they are. Sets STOPPED to the stopped container IDs (empty when none ran),
# which await_static_pod takes.
stop_static_pod() {
  local ids=()
  STOPPED=$(running_ids "$1") || die "crictl cannot list containers"
  if [[ -n $STOPPED ]]; then
    mapfile -t ids <<<"$STOPPED"
    log "stopping $1 gracefully: $2"
    crictl_ stop --timeout "$STOP_TIMEOUT_SECONDS" "${ids[@]}" >/dev/null || die "could not stop $1"
  else
    log "$1 has no running container to stop"
  fi
}

# await_static_pod NAME OLD CHECK: wait for a container of NAME that is not among OLD (the IDs
# stop_static_pod stopped), then for CHECK.
await_static_pod() {
  wait_for "a new $1 container" new_container_running "$1" "$2" || die "$1 did not come back"
  wait_for "$1 healthy" "$3" || die "$1 did not become healthy after the restart"
}

# restart_static_pod NAME CHECK: a graceful stop, and the new container healthy.
restart_static_pod() {
  stop_static_pod "$1" "the kubelet starts it again on the new files"
  await_static_pod "$1" "$STOPPED" "$2"
}

# put_manifest SRC NAME: SRC becomes the static pod manifest NAME.yaml in one rename, through a dot
# file: the kubelet reads every other file in its manifest directory as a pod.
put_manifest() {
  local dot="$KUBE_DIR/manifests/.$2.yaml.k8s-ha"
  install -m 0600 -- "$1" "$dot"
  mv -f -- "$dot" "$KUBE_DIR/manifests/$2.yaml"
}

cert_fingerprint() { openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
kubeconfig_ca_fingerprint() {
  local data
  data=$(sed -n -E 's/^[[:space:]]*certificate-authority-data:[[:space:]]*//p' "$1" | sed -n 1p)
  if [[ -n $data ]]; then
    printf '%s' "$data" | base64 -d 2>/dev/null | cert_fingerprint || true
  fi
}

# --- guard: anything to do? ----------------------------------------------------------------------
if [[ ! -s $CHANGED_FILE ]]; then
  log "no certificate changes recorded by place-pki; nothing to rotate"
  exit 0
fi
if [[ ! -e "$KUBE_DIR/kubelet.conf" ]]; then
  log "$NODE_NAME has not joined yet; kubeadm will read the new files when it does"
  rm -f -- "$CHANGED_FILE"
  exit 0
fi

mapfile -t changed <"$CHANGED_FILE"
log "certificates changed: ${changed[*]}"
ca_changed=0
etcd_changed=0
for path in "${changed[@]}"; do
  case $path in
  /etc/kubernetes/pki/ca.crt | /etc/kubernetes/pki/ca.key) ca_changed=1 ;;
  /etc/kubernetes/pki/etcd/*) etcd_changed=1 ;;
  esac
done
restart_kubelet=$ca_changed

make_workdir
with_installed_version "$KUBEADM_PHASE_CONFIG" >"$work/kubeadm.yaml"

# --- kubeconfigs that embed an old cluster CA (only when ca.crt changed) ------------------------
if ((ca_changed)); then
  ca_fp=$(cert_fingerprint <"$KUBE_DIR/pki/ca.crt") || die "cannot read $KUBE_DIR/pki/ca.crt"
  backup="$STATE_DIR/kubeconfig-backup-$(date -u +%Y%m%dT%H%M%SZ)"
  # kubeadm refuses to overwrite a kubeconfig of another CA, so each is made in a directory of its
  # own beside them and renamed over the old one: the old file stays until the new one is whole,
  # and a retry after any failure finds it and makes it again.
  fresh="$KUBE_DIR/.kubeconfigs-new"
  for entry in "${KUBECONFIG_PHASES[@]}"; do
    file=${entry%%:*}
    phase=${entry#*:}
    if [[ ! -e "$KUBE_DIR/$file" ]]; then
      continue
    fi
    if [[ "$(kubeconfig_ca_fingerprint "$KUBE_DIR/$file")" == "$ca_fp" ]]; then
      continue
    fi
    log "regenerating $file (it embedded the old cluster CA; the old file goes to $backup)"
    rm -rf -- "$fresh"
    mkdir -m 0700 -- "$fresh"
    kubeadm init phase kubeconfig "$phase" --config "$work/kubeadm.yaml" --kubeconfig-dir "$fresh" ||
      die "kubeadm init phase kubeconfig $phase failed"
    [[ -s "$fresh/$file" ]] || die "kubeadm init phase kubeconfig $phase wrote no $file"
    mkdir -p -- "$backup"
    cp -p -- "$KUBE_DIR/$file" "$backup/$file"
    mv -f -- "$fresh/$file" "$KUBE_DIR/$file"
  done
  rm -rf -- "$fresh"
fi

# --- kubeadm's own client certificates, renewed with the stack's CA --------------------------------
for file in "${RENEWED_KUBECONFIGS[@]}"; do
  if [[ -e "$KUBE_DIR/$file" ]]; then
    kubeadm certs renew "$file" --config "$work/kubeadm.yaml" >/dev/null || die "kubeadm certs renew $file failed"
    log "renewed the client certificate in $file"
  fi
done

# --- restart the static pods one at a time ---------------------------------------------------------
if ((etcd_changed)); then
  # The apiserver reads only this node's etcd, so while etcd restarts it cannot answer, yet the
  # load balancer would still send it requests. It leaves first: its graceful stop fails /readyz
  # for the shutdown delay, which takes it out of the load balancer; etcd restarts while it is out
  # (right after, before the kubelet's new apiserver can be ready); it comes back on the new files.
  stop_static_pod kube-apiserver "out of the load balancer while etcd restarts"
  api_old=$STOPPED
  restart_static_pod etcd etcd_healthy
  await_static_pod kube-apiserver "$api_old" local_api_ready
else
  restart_static_pod kube-apiserver local_api_ready
fi
restart_static_pod kube-controller-manager controller_manager_healthy
restart_static_pod kube-scheduler scheduler_healthy
if ((restart_kubelet)); then
  log "restarting the kubelet (its client CA and kubeconfig changed)"
  systemctl restart kubelet
  wait_for "the local apiserver after the kubelet restart" local_api_ready || die "the local apiserver did not come back"
fi
rm -f -- "$CHANGED_FILE"
log "rotated the certificates of $NODE_NAME"
