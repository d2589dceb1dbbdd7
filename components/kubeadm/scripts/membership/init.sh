#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# init: `kubeadm init` on the first control-plane node with the certificates place-pki put in
# place, then a wait for the API through the NLB.
#
# stdin: line 1 = the bootstrap token (SECRET)
# params: NODE_NAME API_ENDPOINT API_READYZ_URL TOKEN_RE TOKEN_PLACEHOLDER VERSION_PLACEHOLDER
# params: KUBEADM_CONFIG_TEMPLATE STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS
# params: WAIT_ATTEMPTS REQUIRED_FILES[]

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/token.sh

source lib/require-files.sh

source lib/api-ready.sh

source lib/kubeadm-version.sh

# --- guard: initialised before? ------------------------------------------------------------------
if [[ -e "$KUBE_DIR/admin.conf" ]]; then
  log "$KUBE_DIR/admin.conf exists: initialised before; checking the API through the NLB"
  wait_for "the API at $API_READYZ_URL" api_ready ||
    die "admin.conf exists but $API_READYZ_URL does not answer; not re-running kubeadm init (inspect $NODE_NAME, or 'kubeadm reset -f' it and retry)"
  log "already initialised; nothing to do"
  exit 0
fi
if [[ -e "$KUBE_DIR/manifests/kube-apiserver.yaml" ]]; then
  die "an earlier kubeadm init stopped half-way ($KUBE_DIR/manifests/kube-apiserver.yaml exists, admin.conf does not); run 'kubeadm reset -f' on $NODE_NAME and retry"
fi

# --- inputs ---------------------------------------------------------------------------------------
require_files
read_token
make_workdir
config=$(with_installed_version "$KUBEADM_CONFIG_TEMPLATE")
printf '%s\n' "${config//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/kubeadm.yaml"

# --- init -----------------------------------------------------------------------------------------
# Every certificate is already in place (place-pki), so the certs phase reuses them.
# --skip-token-print keeps the token out of the log; redact masks it should it appear anyway.
log "kubeadm init of $NODE_NAME, control-plane endpoint $API_ENDPOINT"
kubeadm init --config "$work/kubeadm.yaml" --skip-token-print 2>&1 | redact ||
  die "kubeadm init failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"

# --- success means: the API answers through the NLB ---------------------------------------------
wait_for "the API at $API_READYZ_URL" api_ready ||
  die "kubeadm init finished but $API_READYZ_URL did not answer within $((WAIT_ATTEMPTS * WAIT_INTERVAL_SECONDS))s (NLB target health, security groups, hairpinning?)"
log "initialised $NODE_NAME; the API answers at $API_READYZ_URL"
