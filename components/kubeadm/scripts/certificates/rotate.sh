#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# rotate: after place-pki changed a control-plane node's certificates, regenerate the kubeconfigs
# that embed an old cluster CA (only when ca.crt changed), renew the client certificates kubeadm
# itself signed into the control plane's kubeconfigs (admin, super-admin, controller-manager,
# scheduler: kubeadm issues them for a year at init and join, and nothing else renews them; the
# stack re-issues its leaves in their last 30 days, so renewing these with them keeps every
# certificate on one cycle), restart the static pods one at a time (etcd only when its files
# changed, with the apiserver out of the load balancer meanwhile), waiting for each to be healthy,
# then clear the change record.
# Limits: a cluster-CA change also needs the workers' trust updated and service-account tokens
# re-issued; that is a separate, multi-step procedure this script does not attempt.
#
# stdin: nothing
# params: NODE_NAME CRI_SOCKET LOCAL_READYZ_URL VERSION_PLACEHOLDER KUBEADM_PHASE_CONFIG WAIT_INTERVAL_SECONDS
# params: WAIT_ATTEMPTS STOP_TIMEOUT_SECONDS KUBECONFIG_PHASES[] RENEWED_KUBECONFIGS[]

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/local-api-ready.sh

source lib/kubeadm-version.sh

readonly CHANGED_FILE="$STATE_DIR/pki-changed"

source lib/etcd-healthy.sh

source lib/static-pods.sh

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
