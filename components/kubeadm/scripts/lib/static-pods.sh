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
