#!/usr/bin/env bash
# k8s-ha upgrade-control-plane: upgrade k8s-ha-dev-cp-0 to Kubernetes 1.35.2 (kubeadm upgrade apply)
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: the admin kubeconfig (SECRET; read on a joined node only)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='upgrade-control-plane'
readonly NODE_NAME='k8s-ha-dev-cp-0'
readonly K8S_VERSION='1.35.2'
readonly K8S_REPO='https://pkgs.k8s.io/core:/stable:/v1.35/deb/'
readonly IS_FIRST='1'
readonly IS_CONTROL_PLANE='1'
readonly LOCAL_READYZ_URL='https://10.0.16.10:6443/readyz'
readonly DRAIN_TIMEOUT='300s'
readonly WAIT_INTERVAL_SECONDS='5'
readonly WAIT_ATTEMPTS='120'
readonly STDIN_TIMEOUT_SECONDS='60'
readonly CRI_SOCKET='unix:///run/containerd/containerd.sock'
readonly STOP_TIMEOUT_SECONDS='45'
readonly VERSION_PLACEHOLDER='k8s-ha-installed-kubeadm-version'
readonly KUBEADM_PHASE_CONFIG='apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  name: k8s-ha-dev-cp-0
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.0.16.10
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
'
readonly DRAINED_ANNOTATION='k8s-ha/drained-for-upgrade'
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

# The cordon an upgrade owns. The Node carries ANNOTATION=<version> while an upgrade holds it
# cordoned, so that the upgrade uncordons only what it cordoned (a Node an operator cordoned
# stays cordoned), and so that a retry after a failure past the drain still uncordons it.

# node_drained_for ANNOTATION: the version an upgrade cordoned the Node for, "" when none.
node_drained_for() { kube get node "$NODE_NAME" -o "jsonpath={.metadata.annotations.${1//./\\.}}"; }

# cordon_for_upgrade ANNOTATION VERSION: mark the Node as cordoned by this upgrade, unless it was
# cordoned without the mark before (an operator's: it stays so). A retry finds its own mark.
cordon_for_upgrade() {
  local unschedulable drained
  unschedulable=$(kube get node "$NODE_NAME" -o 'jsonpath={.spec.unschedulable}') ||
    die "cannot read whether Node $NODE_NAME is cordoned"
  drained=$(node_drained_for "$1") || die "cannot read Node $NODE_NAME's annotations"
  if [[ $unschedulable == true && -z $drained ]]; then
    log "$NODE_NAME was cordoned before its upgrade: it stays cordoned afterwards"
    return 0
  fi
  kube annotate node "$NODE_NAME" --overwrite "$1=$2" >/dev/null || die "could not annotate Node $NODE_NAME"
}

# uncordon_after_upgrade ANNOTATION: uncordon the Node and drop the mark, if this upgrade cordoned it.
uncordon_after_upgrade() {
  local drained
  drained=$(node_drained_for "$1") || die "cannot read Node $NODE_NAME's annotations"
  if [[ -z $drained ]]; then
    log "$NODE_NAME was not cordoned by an upgrade: it stays as it is"
    return 0
  fi
  kube uncordon "$NODE_NAME" >/dev/null || die "kubectl uncordon $NODE_NAME failed"
  kube annotate node "$NODE_NAME" "$1-" >/dev/null || die "could not remove $1 from Node $NODE_NAME"
  log "uncordoned $NODE_NAME"
}

# minor_of V / patch_of V: the N and P of "v1.N.P" or "1.N.P" (empty when V is malformed).
minor_of() { if [[ $1 =~ ^v?1\.([0-9]+)\.([0-9]+) ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi; }
patch_of() { if [[ $1 =~ ^v?1\.([0-9]+)\.([0-9]+) ]]; then printf '%s' "${BASH_REMATCH[2]}"; fi; }

# check_step WHAT CURRENT: refuse a downgrade or a skipped minor from CURRENT to K8S_VERSION.
check_step() {
  local what=$1 current=$2 cmin cpatch tmin tpatch
  cmin=$(minor_of "$current")
  cpatch=$(patch_of "$current")
  tmin=$(minor_of "$K8S_VERSION")
  tpatch=$(patch_of "$K8S_VERSION")
  if [[ -z $cmin ]]; then
    die "cannot read the $what version (got '$current')"
  fi
  if ((tmin < cmin || (tmin == cmin && tpatch < cpatch))); then
    die "refusing to downgrade: the $what is at $current and the configured kubernetesVersion is $K8S_VERSION; kubeadm cannot downgrade (restore an etcd backup taken before the upgrade instead)"
  fi
  if ((tmin > cmin + 1)); then
    die "refusing to skip a minor version: the $what is at $current and the configured kubernetesVersion is $K8S_VERSION; upgrade to 1.$((cmin + 1)).x first, then to $K8S_VERSION"
  fi
}

# put_file MODE PATH CONTENT: atomic write when the content differs; PUT_CHANGED=1 when it did.
put_file() {
  local mode=$1 path=$2 content=$3 tmp
  PUT_CHANGED=0
  mkdir -p -- "${path%/*}"
  if [[ -f $path && "$(<"$path")" == "$content" ]]; then
    chmod "$mode" -- "$path"
    return 0
  fi
  tmp=$(mktemp "$path.k8s-ha.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$path"
  PUT_CHANGED=1
}

# pkgs.k8s.io, the Kubernetes package repository: K8S_REPO is the channel of K8S_VERSION's minor.
readonly KEYRING_PATH='/etc/apt/keyrings/kubernetes-apt-keyring.gpg'
readonly SOURCES_PATH='/etc/apt/sources.list.d/kubernetes.list'

# use_k8s_repo: apt takes kubelet, kubeadm and kubectl from $K8S_REPO, checked with its signing key
# (both files world-readable: apt's _apt user reads them); apt-get update; pkg_version is then the
# package version of $K8S_VERSION there.
use_k8s_repo() {
  mkdir -p -- "$FSROOT/etc/apt/keyrings"
  chmod 0755 -- "$FSROOT/etc/apt/keyrings"
  curl -fsSL "${K8S_REPO}Release.key" | gpg --dearmor --batch --yes -o "$FSROOT$KEYRING_PATH" ||
    die "cannot fetch the signing key of $K8S_REPO"
  chmod 0644 -- "$FSROOT$KEYRING_PATH"
  put_file 0644 "$FSROOT$SOURCES_PATH" "deb [signed-by=$KEYRING_PATH] $K8S_REPO /"
  if ((PUT_CHANGED)); then
    log "apt source of kubelet, kubeadm and kubectl: $K8S_REPO"
  fi
  apt-get update -q
  pkg_version=$(apt-cache madison kubeadm | awk -F'|' -v want="$K8S_VERSION-" '{ gsub(/[[:space:]]/, "", $2); if (index($2, want) == 1) { print $2; exit } }')
  if [[ -z $pkg_version ]]; then
    die "kubeadm $K8S_VERSION is not available from $K8S_REPO"
  fi
}

# align_sandbox_image: containerd's sandbox (pause) image set to the one the installed kubeadm
# expects for K8S_VERSION (Ubuntu's containerd 1.7 defaults to an older pause, and kubeadm warns
# about the mismatch); containerd restarts only when the file changed (running containers keep
# running under their shims). Needs put_file (lib/put-file.sh).
align_sandbox_image() {
  local images pause config aligned file="$FSROOT/etc/containerd/config.toml"
  images=$(kubeadm config images list --kubernetes-version "v$K8S_VERSION") ||
    die "kubeadm config images list --kubernetes-version v$K8S_VERSION failed"
  pause=$(grep -m1 '/pause:' <<<"$images") || die "kubeadm config images list named no pause image for v$K8S_VERSION"
  config=$(<"$file") || die "cannot read $file (prepare writes it)"
  if [[ ! $config =~ (^|$'\n')[[:space:]]*sandbox_image[[:space:]]*= ]]; then
    die "$file has no sandbox_image setting to align with kubeadm's $pause"
  fi
  aligned=$(sed -E "s#^([[:space:]]*sandbox_image[[:space:]]*=[[:space:]]*).*#\1\"$pause\"#" <<<"$config")
  put_file 0644 "$file" "$aligned"
  if ((PUT_CHANGED)); then
    systemctl restart containerd
    log "containerd's sandbox image is now $pause"
  fi
}

server_version() {
  local out
  out=$(kube version -o json) || return 1
  if [[ $out =~ \"serverVersion\"[^}]*\"gitVersion\":[[:space:]]*\"(v[0-9]+\.[0-9]+\.[0-9]+) ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  else
    return 1
  fi
}
configured_version() {
  local out
  out=$(kube -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}') || return 1
  if [[ $out =~ kubernetesVersion:[[:space:]]*\"?(v[0-9]+\.[0-9]+\.[0-9]+) ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  else
    return 1
  fi
}
node_kubelet_version() { kube get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}'; }
node_at_target() { [[ "$(node_kubelet_version 2>/dev/null)" == "v$K8S_VERSION" ]]; }
node_ready() { [[ "$(kube get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; }
local_api_ready() { curl -ksf --max-time 5 -o /dev/null "$LOCAL_READYZ_URL"; }
manifest_version() {
  local f="$KUBE_DIR/manifests/kube-apiserver.yaml"
  if [[ -f $f && "$(<"$f")" =~ kube-apiserver:(v[0-9]+\.[0-9]+\.[0-9]+) ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

# --- a node that has not joined: the first install ---------------------------------------------
if [[ ! -e "$KUBE_DIR/kubelet.conf" ]]; then
  # shellcheck disable=SC2016  # ${Version} is dpkg-query's format, not a shell expansion
  if [[ "$(dpkg-query -W -f='${Version}' kubeadm 2>/dev/null || true)" == "$K8S_VERSION"-* ]] &&
    [[ "$(dpkg-query -W -f='${Version}' kubelet 2>/dev/null || true)" == "$K8S_VERSION"-* ]]; then
    log "$NODE_NAME has not joined a cluster; kubelet and kubeadm $K8S_VERSION are installed already"
    exit 0
  fi
  log "$NODE_NAME has not joined a cluster: installing kubelet, kubeadm and kubectl $K8S_VERSION"
  export DEBIAN_FRONTEND=noninteractive
  use_k8s_repo
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  apt-get install -y -q --allow-downgrades --allow-change-held-packages \
    "kubelet=$pkg_version" "kubeadm=$pkg_version" "kubectl=$pkg_version"
  apt-mark hold kubelet kubeadm kubectl
  align_sandbox_image
  systemctl enable kubelet
  log "installed kubelet/kubeadm/kubectl $pkg_version on $NODE_NAME (held)"
  exit 0
fi

# --- inputs: the live cluster's versions --------------------------------------------------------
make_workdir
read_admin_kubeconfig "all of stdin"
live=$(server_version) || die "cannot read the apiserver's version (kubectl version -o json through the admin kubeconfig)"
configured=$(configured_version) || die "cannot read kubernetesVersion from the kubeadm-config ConfigMap"
node_version=$(node_kubelet_version) || die "cannot read Node $NODE_NAME's kubelet version"
log "target v$K8S_VERSION; live apiserver $live, cluster configuration $configured, $NODE_NAME kubelet $node_version"
check_step "live apiserver" "$live"
check_step "cluster configuration (kubeadm-config)" "$configured"
check_step "kubelet of $NODE_NAME" "$node_version"

# --- guard: done before? ------------------------------------------------------------------------------
if [[ $node_version == "v$K8S_VERSION" ]] && { ((!IS_CONTROL_PLANE)) || [[ "$(manifest_version)" == "v$K8S_VERSION" ]]; }; then
  # An earlier run that failed after the kubelet's restart left the node cordoned: finish it.
  drained_for=$(node_drained_for "$DRAINED_ANNOTATION") || die "cannot read Node $NODE_NAME's annotations"
  if [[ -n $drained_for ]]; then
    log "$NODE_NAME runs v$K8S_VERSION, still cordoned by its upgrade: finishing it"
    wait_for "Node $NODE_NAME Ready" node_ready || die "Node $NODE_NAME is not Ready (it stays cordoned)"
    wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready || die "the apiserver of $NODE_NAME is not ready (it stays cordoned)"
    uncordon_after_upgrade "$DRAINED_ANNOTATION"
  fi
  log "$NODE_NAME already runs Kubernetes v$K8S_VERSION; nothing to do"
  exit 0
fi
if ((!IS_FIRST)) && [[ $configured != "v$K8S_VERSION" ]]; then
  die "the cluster configuration is at $configured, not v$K8S_VERSION: 'kubeadm upgrade apply' must succeed on the first control plane before $NODE_NAME is upgraded"
fi

# --- packages: the new minor's channel, kubeadm first -------------------------------------------
export DEBIAN_FRONTEND=noninteractive
use_k8s_repo
apt-mark unhold kubeadm >/dev/null
apt-get install -y -q --allow-change-held-packages "kubeadm=$pkg_version"
apt-mark hold kubeadm >/dev/null
[[ "$(kubeadm version -o short)" == "v$K8S_VERSION" ]] || die "kubeadm is not at v$K8S_VERSION after installing $pkg_version"

# --- etcd: this member at the new kubeadm's manifest, with the apiserver out of the load balancer --
# The apiserver reads only this member. kubeadm would restart etcd under a serving apiserver, which
# then times requests out (for about a minute in the node lane) while the NLB still sends them
# (until 2 failed checks 10 s apart). So the apiserver stops gracefully first, as in rotate, and
# kubeadm upgrades with --etcd-upgrade=false below. The manifest is the one kubeadm's upgrade
# writes (both render it with kubeadm's local etcd phase); a member that is not healthy on it gets
# the old manifest back.
with_installed_version "$KUBEADM_PHASE_CONFIG" >"$work/kubeadm.yaml"
mkdir -p -- "$work/etcd"
KUBEADM_INIT_DRYRUN_DIR="$work/etcd" kubeadm init phase etcd local --dry-run --config "$work/kubeadm.yaml" >/dev/null ||
  die "kubeadm init phase etcd local --dry-run (the etcd manifest of v$K8S_VERSION) failed"
[[ -s "$work/etcd/etcd.yaml" ]] || die "kubeadm init phase etcd local --dry-run wrote no etcd.yaml"
etcd_manifest="$KUBE_DIR/manifests/etcd.yaml"
if cmp -s -- "$work/etcd/etcd.yaml" "$etcd_manifest"; then
  log "etcd runs the manifest of kubeadm v$K8S_VERSION already"
else
  etcd_backup="$STATE_DIR/etcd.yaml.before-v$K8S_VERSION"
  if [[ ! -e $etcd_backup ]]; then
    mkdir -p -- "$STATE_DIR"
    cp -p -- "$etcd_manifest" "$etcd_backup" || die "cannot keep a copy of $etcd_manifest in $STATE_DIR"
  fi
  stop_static_pod kube-apiserver "out of the load balancer while etcd restarts at the manifest of kubeadm v$K8S_VERSION"
  api_old=$STOPPED
  etcd_old=$(running_ids etcd) || die "crictl cannot list containers"
  put_manifest "$work/etcd/etcd.yaml" etcd
  log "etcd's manifest is kubeadm v$K8S_VERSION's (the old one: $etcd_backup)"
  if ! wait_for "a new etcd container" new_container_running etcd "$etcd_old" || ! wait_for "etcd healthy" etcd_healthy; then
    put_manifest "$etcd_backup" etcd
    die "etcd did not come back healthy on the manifest of kubeadm v$K8S_VERSION; the old manifest is back in place"
  fi
  await_static_pod kube-apiserver "$api_old" local_api_ready
  # The kubelet reads its local apiserver: the Node may have gone NotReady meanwhile, and kubeadm's
  # preflight refuses a NotReady control plane.
  wait_for "Node $NODE_NAME Ready" node_ready || die "Node $NODE_NAME is not Ready after etcd's restart"
fi

# --- kubeadm: the control plane (apply on the first, node elsewhere) -----------------------------
if ((IS_FIRST)); then
  log "kubeadm upgrade apply v$K8S_VERSION on $NODE_NAME"
  kubeadm upgrade apply -y "v$K8S_VERSION" --certificate-renewal=false --etcd-upgrade=false ||
    die "kubeadm upgrade apply v$K8S_VERSION failed"
else
  log "kubeadm upgrade node on $NODE_NAME"
  kubeadm upgrade node --certificate-renewal=false --etcd-upgrade=false || die "kubeadm upgrade node failed"
fi

# --- drain, kubelet and kubectl, restart, uncordon -----------------------------------------------
cordon_for_upgrade "$DRAINED_ANNOTATION" "v$K8S_VERSION"
log "draining $NODE_NAME"
kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --timeout="$DRAIN_TIMEOUT" ||
  die "kubectl drain $NODE_NAME failed (the node stays cordoned; kubeadm has already upgraded it)"
# The new kubelet restarts the static pods' containers: the apiserver leaves the load balancer
# first. The kubelet stops before it, so that nothing starts the apiserver again until the new
# kubelet does; whatever fails from here, the kubelet starts again on the way out.
trap 'rm -rf -- "$work"; systemctl start kubelet || true' EXIT
systemctl stop kubelet
stop_static_pod kube-apiserver "out of the load balancer while the kubelet restarts at v$K8S_VERSION"
apt-mark unhold kubelet kubectl >/dev/null
apt-get install -y -q --allow-change-held-packages "kubelet=$pkg_version" "kubectl=$pkg_version"
apt-mark hold kubelet kubectl >/dev/null
align_sandbox_image
systemctl daemon-reload
systemctl restart kubelet
wait_for "Node $NODE_NAME to report kubelet v$K8S_VERSION" node_at_target || die "the kubelet of $NODE_NAME did not come back at v$K8S_VERSION"
wait_for "Node $NODE_NAME Ready" node_ready || die "Node $NODE_NAME is not Ready after the kubelet restart"
if ((IS_CONTROL_PLANE)); then
  wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready || die "the apiserver of $NODE_NAME is not ready after the upgrade"
fi
uncordon_after_upgrade "$DRAINED_ANNOTATION"
log "upgraded $NODE_NAME to Kubernetes v$K8S_VERSION"
