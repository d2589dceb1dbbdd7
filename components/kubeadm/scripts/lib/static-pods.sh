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

# restart_static_pod NAME CHECK: stop NAME's container gracefully (SIGTERM, SIGKILL only after
# STOP_TIMEOUT_SECONDS: the apiserver first fails /readyz for its shutdown delay so that the NLB
# drains it, and etcd hands its leadership over); the kubelet starts a new container, which
# reads the new files. Then wait for the new container, and for CHECK.
restart_static_pod() {
  local name=$1 check=$2 old
  old=$(running_ids "$name") || die "crictl cannot list containers"
  if [[ -n $old ]]; then
    local ids=()
    mapfile -t ids <<<"$old"
    log "restarting $name"
    crictl_ stop --timeout "$STOP_TIMEOUT_SECONDS" "${ids[@]}" >/dev/null || die "could not stop $name"
  else
    log "$name has no running container; waiting for the kubelet to start it"
  fi
  wait_for "a new $name container" new_container_running "$name" "$old" || die "$name did not come back"
  wait_for "$name healthy" "$check" || die "$name did not become healthy after the restart"
}
