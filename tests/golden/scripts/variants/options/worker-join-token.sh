#!/usr/bin/env bash
# k8s-ha worker-join-token: the bootstrap token of k8s-ha-dev-worker-1, for as long as its join takes
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: line 1 = the worker's bootstrap token, then the admin kubeconfig (SECRET, both)
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='worker-join-token'
readonly NODE_NAME='k8s-ha-dev-worker-1'
readonly API_ENDPOINT='k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443'
readonly API_READYZ_URL='https://k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com:6443/readyz'
readonly TOKEN_RE='^[a-z0-9]{6}\.[a-z0-9]{16}$'
readonly TOKEN_GROUP='system:bootstrappers:kubeadm:default-node-token'
readonly TOKEN_TTL_MINUTES='45'
readonly STDIN_TIMEOUT_SECONDS='15'
readonly WAIT_INTERVAL_SECONDS='10'
readonly WAIT_ATTEMPTS='270'
readonly FSROOT="${K8S_HA_FSROOT:-}"

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

# The API through the NLB. -k: this is a liveness probe; nothing secret is sent.
api_ready() { curl -ksf --max-time 5 -o /dev/null "$API_READYZ_URL"; }

# refresh_token: (re)create the bootstrap token Secret with a fresh expiry, through the NLB. The
# secret half goes through a 0600 file and a pipe, never argv. Server-side apply makes it an
# upsert: an existing token (from init or an earlier join) just gets the new expiry.
refresh_token() {
  local expiration token_id=${token%%.*}
  expiration=$(date -u -d "+${TOKEN_TTL_MINUTES} minutes" '+%Y-%m-%dT%H:%M:%SZ') ||
    die "cannot compute the token expiry"
  printf '%s' "$token_secret" >"$work/token-secret"
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

node_registered() { [[ -n "$(kube get node "$NODE_NAME" --ignore-not-found -o name)" ]]; }
delete_token() { kube -n kube-system delete secret "bootstrap-token-${token%%.*}" --ignore-not-found >/dev/null; }

# --- inputs ---------------------------------------------------------------------------------------
read_token
make_workdir
read_admin_kubeconfig "stdin after line 1"
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot make the bootstrap token of $NODE_NAME"

# --- guard: joined already? -------------------------------------------------------------------------
if node_registered; then
  delete_token || die "could not delete the bootstrap token of $NODE_NAME"
  log "Node $NODE_NAME is registered: it needs no bootstrap token (none is left)"
  exit 0
fi

# --- the token, for as long as the join takes ---------------------------------------------------------
refresh_token
if ! wait_for "Node $NODE_NAME to register (its join runs on the worker)" node_registered; then
  delete_token || log "could not delete the bootstrap token of $NODE_NAME (it expires by itself)"
  die "Node $NODE_NAME did not register within the token's ${TOKEN_TTL_MINUTES} minutes: its join failed (see its output); the next pulumi up retries both with a fresh token"
fi
# Retried: one call through the NLB may meet an apiserver going out of rotation (caught by the node
# sandboxes: "Unable to connect to the server: EOF"), and the join itself has succeeded.
wait_for "the deletion of bootstrap token ${token%%.*}" delete_token ||
  die "Node $NODE_NAME registered, but its bootstrap token could not be deleted"
log "Node $NODE_NAME registered; its bootstrap token is deleted"
