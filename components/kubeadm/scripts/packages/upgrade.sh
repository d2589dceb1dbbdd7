#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# upgrade: kubelet/kubeadm/kubectl at K8S_VERSION on one node. On a node that has not joined, the
# first install (pinned, held; kubeadm init or join follows). On a joined node, the upgrade to
# K8S_VERSION, the kubeadm way:
# - refuses a downgrade or a skipped minor, judged against the LIVE cluster (the apiserver's
#   version through the admin kubeconfig, kubeadm-config's ClusterConfiguration) and this node's
#   kubelet as the Node reports it;
# - a no-op when the node already runs the version (and, on control planes, its apiserver
#   manifest does);
# - the pkgs.k8s.io channel of the new minor, kubeadm first; then `kubeadm upgrade apply vX` on the
#   first control plane or `kubeadm upgrade node` elsewhere (certificate renewal off: Pulumi owns
#   the PKI; etcd upgrade off: this script moves etcd first); every node after the first checks
#   that the cluster configuration is at the version;
# - on a control plane, before kubeadm: the etcd member at the manifest the new kubeadm writes,
#   with the apiserver out of the load balancer while etcd restarts;
# - drain, kubelet and kubectl, containerd's sandbox image set to this kubeadm's pause image,
#   kubelet restart (on a control plane with the apiserver out of the load balancer first), wait
#   for the Node to report the version and be Ready (and the local apiserver), uncordon: only what
#   the upgrade cordoned (lib/upgrade-cordon.sh), also on a retry that finds the node at the version.
# A worker holds no cluster credential: it reads the versions with its kubelet's own (which may
# read its Node and kubeadm-config), and a control plane drains it before this runs and uncordons
# it after (its upgrade-drain and upgrade-uncordon steps).
#
#@if control-plane
# stdin: the admin kubeconfig (SECRET; read on a joined node only)
#@else
# stdin: nothing
#@endif
#@if control-plane
# params: NODE_NAME K8S_VERSION K8S_REPO IS_FIRST IS_CONTROL_PLANE LOCAL_READYZ_URL
# params: DRAIN_TIMEOUT WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS STDIN_TIMEOUT_SECONDS CRI_SOCKET
# params: STOP_TIMEOUT_SECONDS VERSION_PLACEHOLDER KUBEADM_PHASE_CONFIG DRAINED_ANNOTATION
#@else
# params: NODE_NAME K8S_VERSION K8S_REPO IS_FIRST IS_CONTROL_PLANE
# params: WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS
#@endif

source lib/log.sh

source lib/wait.sh
#@if control-plane

source lib/workdir.sh

source lib/admin-kubeconfig.sh

source lib/kubeadm-version.sh

source lib/etcd-healthy.sh

source lib/static-pods.sh

source lib/upgrade-cordon.sh
#@else

source lib/kubelet-credential.sh
#@endif

source lib/versions.sh

source lib/put-file.sh

source lib/k8s-apt.sh

source lib/sandbox-image.sh

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
source lib/node-status.sh
#@if control-plane
source lib/local-api-ready.sh
#@endif
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
#@if control-plane
make_workdir
read_admin_kubeconfig "all of stdin"
live=$(server_version) || die "cannot read the apiserver's version (kubectl version -o json through the admin kubeconfig)"
#@else
live=$(server_version) || die "cannot read the apiserver's version (kubectl version -o json with the kubelet's credential)"
#@endif
configured=$(configured_version) || die "cannot read kubernetesVersion from the kubeadm-config ConfigMap"
node_version=$(node_kubelet_version) || die "cannot read Node $NODE_NAME's kubelet version"
log "target v$K8S_VERSION; live apiserver $live, cluster configuration $configured, $NODE_NAME kubelet $node_version"
check_step "live apiserver" "$live"
check_step "cluster configuration (kubeadm-config)" "$configured"
check_step "kubelet of $NODE_NAME" "$node_version"

# --- guard: done before? ------------------------------------------------------------------------------
if [[ $node_version == "v$K8S_VERSION" ]] && { ((!IS_CONTROL_PLANE)) || [[ "$(manifest_version)" == "v$K8S_VERSION" ]]; }; then
#@if control-plane
  # An earlier run that failed after the kubelet's restart left the node cordoned: finish it.
  drained_for=$(node_drained_for "$DRAINED_ANNOTATION") || die "cannot read Node $NODE_NAME's annotations"
  if [[ -n $drained_for ]]; then
    log "$NODE_NAME runs v$K8S_VERSION, still cordoned by its upgrade: finishing it"
    wait_for "Node $NODE_NAME Ready" node_ready || die "Node $NODE_NAME is not Ready (it stays cordoned)"
    wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready || die "the apiserver of $NODE_NAME is not ready (it stays cordoned)"
    uncordon_after_upgrade "$DRAINED_ANNOTATION"
  fi
#@endif
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

#@if control-plane
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

#@endif
# --- kubeadm: the control plane (apply on the first, node elsewhere) -----------------------------
if ((IS_FIRST)); then
  log "kubeadm upgrade apply v$K8S_VERSION on $NODE_NAME"
#@if control-plane
  kubeadm upgrade apply -y "v$K8S_VERSION" --certificate-renewal=false --etcd-upgrade=false ||
    die "kubeadm upgrade apply v$K8S_VERSION failed"
#@else
  kubeadm upgrade apply -y "v$K8S_VERSION" --certificate-renewal=false || die "kubeadm upgrade apply v$K8S_VERSION failed"
#@endif
else
  log "kubeadm upgrade node on $NODE_NAME"
#@if control-plane
  kubeadm upgrade node --certificate-renewal=false --etcd-upgrade=false || die "kubeadm upgrade node failed"
#@else
  kubeadm upgrade node --certificate-renewal=false || die "kubeadm upgrade node failed"
#@endif
fi

#@if control-plane
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
#@else
# --- kubelet and kubectl, restart (drained by its upgrade-drain step) ----------------------------
#@endif
apt-mark unhold kubelet kubectl >/dev/null
apt-get install -y -q --allow-change-held-packages "kubelet=$pkg_version" "kubectl=$pkg_version"
apt-mark hold kubelet kubectl >/dev/null
align_sandbox_image
systemctl daemon-reload
systemctl restart kubelet
wait_for "Node $NODE_NAME to report kubelet v$K8S_VERSION" node_at_target || die "the kubelet of $NODE_NAME did not come back at v$K8S_VERSION"
wait_for "Node $NODE_NAME Ready" node_ready || die "Node $NODE_NAME is not Ready after the kubelet restart"
#@if control-plane
if ((IS_CONTROL_PLANE)); then
  wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready || die "the apiserver of $NODE_NAME is not ready after the upgrade"
fi
uncordon_after_upgrade "$DRAINED_ANNOTATION"
log "upgraded $NODE_NAME to Kubernetes v$K8S_VERSION"
#@else
log "upgraded $NODE_NAME to Kubernetes v$K8S_VERSION; its upgrade-uncordon step uncordons it"
#@endif
