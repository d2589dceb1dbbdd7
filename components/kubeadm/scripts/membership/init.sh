#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# init: `kubeadm init` on the first control-plane node with the certificates place-pki put in
# place, then a wait for the API through the NLB. Done means: kubeadm exited 0, the API answers
# through the NLB and cluster-info is published (what every join's discovery reads); only then
# is the node marked initialised. An init that failed late (kubeadm writes admin.conf long
# before upload-config, bootstrap-token, kubelet-finalize and the add-ons) is finished on the next
# run: kubeadm's remaining phases again, each idempotent, whether or not cluster-info is out (it
# comes before kubelet-finalize and the add-ons). So is one that died in or right after its kubeconfig
# phase (an instance lost mid-init): its kubeconfig (reusing what it wrote), etcd, control-plane
# and kubelet-start phases run first.
#
# stdin: line 1 = the bootstrap token (SECRET)
# params: NODE_NAME API_ENDPOINT API_READYZ_URL CLUSTER_INFO_URL TOKEN_RE TOKEN_PLACEHOLDER VERSION_PLACEHOLDER
# params: KUBEADM_CONFIG_TEMPLATE STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS
# params: WAIT_ATTEMPTS REQUIRED_FILES[]

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/token.sh

source lib/require-files.sh

source lib/api-ready.sh

source lib/kubeadm-version.sh

source lib/markers.sh

source lib/mark-done.sh

# cluster-info in kube-public is readable without credentials once the bootstrap-token phase ran.
cluster_info_published() { curl -sf --max-time 5 --cacert "$KUBE_DIR/pki/ca.crt" -o /dev/null "$CLUSTER_INFO_URL"; }
# not_started: the first file missing of those kubeadm init's kubeconfig, etcd, control-plane and
# kubelet-start phases write ("" when all are there): an init that stopped before them left no
# control plane for the kubelet to run, so no API will ever answer.
not_started() {
  local f
  for f in "$KUBE_DIR"/{kubelet,controller-manager,scheduler}.conf \
    "$KUBE_DIR"/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml \
    "$FSROOT/var/lib/kubelet/config.yaml"; do
    if [[ ! -e $f ]]; then
      printf '%s' "$f"
      return
    fi
  done
}
# kubeadm_config: the configuration with the stdin token and the installed kubeadm's version
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
  printf '%s\n' "${config//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/kubeadm.yaml"
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
    # without it these files may be a join's, and the etcd phase would start a new one-member etcd.
    [[ -e "$KUBE_DIR/super-admin.conf" ]] ||
      die "admin.conf exists, $unstarted does not, and there is no super-admin.conf: not an unfinished init of $NODE_NAME (a join's?); not running kubeadm init's phases (inspect $NODE_NAME, or 'kubeadm reset -f' it and retry)"
    log "the earlier kubeadm init stopped before the kubelet ran the control plane ($unstarted is missing): running its kubeconfig, etcd, control-plane and kubelet-start phases"
    kubeadm_config
    for phase in "kubeconfig all" "etcd local" "control-plane all" "kubelet-start"; do
      # shellcheck disable=SC2086  # a phase is words
      kubeadm init phase $phase --config "$work/kubeadm.yaml" 2>&1 | redact || die "kubeadm init phase $phase failed (output above)"
    done
  fi
  wait_for "the API at $API_READYZ_URL" api_ready ||
    die "admin.conf exists but $API_READYZ_URL does not answer; not re-running kubeadm init (inspect $NODE_NAME, or 'kubeadm reset -f' it and retry)"
  log "the earlier kubeadm init did not finish: running its remaining phases"
  kubeadm_config
  for phase in "upload-config all" "mark-control-plane" "bootstrap-token" "kubelet-finalize all" "addon all"; do
    # shellcheck disable=SC2086  # a phase is words
    kubeadm init phase $phase --config "$work/kubeadm.yaml" 2>&1 | redact || die "kubeadm init phase $phase failed (output above)"
  done
  wait_for "cluster-info at $CLUSTER_INFO_URL" cluster_info_published || die "cluster-info is still not published after kubeadm's remaining phases"
  mark_done initialised
  log "initialised (finished or confirmed); nothing more to do"
  exit 0
fi
if [[ -e "$KUBE_DIR/manifests/kube-apiserver.yaml" ]]; then
  die "an earlier kubeadm init stopped half-way ($KUBE_DIR/manifests/kube-apiserver.yaml exists, admin.conf does not); run 'kubeadm reset -f' on $NODE_NAME and retry"
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
