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
#   the PKI); every node after the first checks that the cluster configuration is at the version;
# - drain, kubelet and kubectl, containerd's sandbox image set to this kubeadm's pause image,
#   kubelet restart, wait for the Node to report the version and be Ready (and the local
#   apiserver), uncordon.
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
# params: DRAIN_TIMEOUT WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS STDIN_TIMEOUT_SECONDS
#@else
# params: NODE_NAME K8S_VERSION K8S_REPO IS_FIRST IS_CONTROL_PLANE
# params: WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS
#@endif

source lib/log.sh

source lib/wait.sh
#@if control-plane

source lib/workdir.sh

source lib/admin-kubeconfig.sh
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

# --- kubeadm: the control plane (apply on the first, node elsewhere) -----------------------------
if ((IS_FIRST)); then
  log "kubeadm upgrade apply v$K8S_VERSION on $NODE_NAME"
  kubeadm upgrade apply -y "v$K8S_VERSION" --certificate-renewal=false || die "kubeadm upgrade apply v$K8S_VERSION failed"
else
  log "kubeadm upgrade node on $NODE_NAME"
  kubeadm upgrade node --certificate-renewal=false || die "kubeadm upgrade node failed"
fi

#@if control-plane
# --- drain, kubelet and kubectl, restart, uncordon -----------------------------------------------
log "draining $NODE_NAME"
kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --timeout="$DRAIN_TIMEOUT" ||
  die "kubectl drain $NODE_NAME failed (the node stays cordoned; kubeadm has already upgraded it)"
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
kube uncordon "$NODE_NAME" >/dev/null || die "kubectl uncordon $NODE_NAME failed"
log "upgraded $NODE_NAME to Kubernetes v$K8S_VERSION"
#@else
log "upgraded $NODE_NAME to Kubernetes v$K8S_VERSION; its upgrade-uncordon step uncordons it"
#@endif
