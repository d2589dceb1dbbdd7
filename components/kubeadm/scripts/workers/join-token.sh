#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# join-token: one worker's bootstrap token, made on a control plane (the admin kubeconfig never
# leaves the control planes) while the worker's join runs: create the worker's own token (valid
# TOKEN_TTL_MINUTES), wait until the worker's Node is registered, then delete the token. When the
# join fails, the Node never appears and this step fails too; so the next `pulumi up` runs both
# again, and the retried join gets a fresh token. A worker that has joined needs no token.
#
# stdin: line 1 = the worker's bootstrap token, then the admin kubeconfig (SECRET, both)
# params: NODE_NAME API_ENDPOINT API_READYZ_URL TOKEN_RE TOKEN_GROUP TOKEN_TTL_MINUTES
# params: STDIN_TIMEOUT_SECONDS WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS

source lib/log.sh

source lib/wait.sh

source lib/workdir.sh

source lib/token.sh

source lib/admin-kubeconfig.sh

source lib/api-ready.sh

source lib/refresh-token.sh

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
