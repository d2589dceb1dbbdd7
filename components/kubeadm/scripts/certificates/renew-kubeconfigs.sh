#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# renew-kubeconfigs: the control plane's weekly timer. kubeadm signs the client certificates in
# admin.conf, super-admin.conf, controller-manager.conf and scheduler.conf for a year at init and
# join; rotate renews them whenever `pulumi up` re-issues the leaves, and this renews each one that
# has fewer than RENEW_BEFORE_DAYS left, whether or not anyone ran `pulumi up`. A renewed
# controller-manager or scheduler kubeconfig is read only at start: that static pod is restarted
# gracefully and waited for. Idempotent: certificates with time left are left alone.
#
# stdin: nothing
# params: NODE_NAME CRI_SOCKET VERSION_PLACEHOLDER KUBEADM_PHASE_CONFIG RENEW_BEFORE_DAYS
# params: STOP_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS RENEWED_KUBECONFIGS[]

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/kubeadm-version.sh

source lib/static-pods.sh

# days_left FILE: whole days until the client certificate in kubeconfig FILE expires.
days_left() {
  local data end
  data=$(sed -n -E 's/^[[:space:]]*client-certificate-data:[[:space:]]*//p' "$1" | sed -n 1p)
  [[ -n $data ]] || return 1
  end=$(printf '%s' "$data" | base64 -d 2>/dev/null | openssl x509 -noout -enddate 2>/dev/null) || return 1
  end=$(date -u -d "${end#notAfter=}" +%s) || return 1
  printf '%d' $(((end - $(date -u +%s)) / 86400))
}

# --- guard: a control plane kubeadm has set up? --------------------------------------------------
if [[ ! -e "$KUBE_DIR/manifests/kube-apiserver.yaml" ]]; then
  log "$NODE_NAME runs no control plane yet; nothing to renew"
  exit 0
fi

make_workdir
with_installed_version "$KUBEADM_PHASE_CONFIG" >"$work/kubeadm.yaml"
restart=()
for file in "${RENEWED_KUBECONFIGS[@]}"; do
  if [[ ! -e "$KUBE_DIR/$file" ]]; then
    continue
  fi
  left=$(days_left "$KUBE_DIR/$file") || die "cannot read the client certificate in $KUBE_DIR/$file"
  if ((left >= RENEW_BEFORE_DAYS)); then
    log "$file: $left days left (renewed under $RENEW_BEFORE_DAYS); nothing to do"
    continue
  fi
  kubeadm certs renew "$file" --config "$work/kubeadm.yaml" >/dev/null || die "kubeadm certs renew $file failed"
  log "$file: $left days left, renewed"
  case $file in
  controller-manager.conf) restart+=("kube-controller-manager controller_manager_healthy") ;;
  scheduler.conf) restart+=("kube-scheduler scheduler_healthy") ;;
  esac
done
for entry in "${restart[@]}"; do
  # shellcheck disable=SC2086  # a name and its health check
  restart_static_pod $entry
done
log "client certificates of $NODE_NAME checked"
