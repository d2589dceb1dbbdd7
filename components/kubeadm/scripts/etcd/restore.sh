#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# etcd-restore: restores this node's etcd member from a snapshot, for the runbook (every control
# plane, same snapshot file):
#   stop               on every control plane: stop the apiserver, controller-manager, scheduler
#                      and etcd (their static pod manifests move aside) and wait until etcd no
#                      longer listens;
#   restore SNAPSHOT   on every control plane: check the snapshot (sha256 file beside it when
#                      present, `snapshot status`), `snapshot restore` (etcdutl when installed, as
#                      etcd 3.5+ wants; else 3.4's etcdctl) with this member's --name, the
#                      cluster's --initial-cluster, this member's --initial-advertise-peer-urls
#                      and a cluster token derived from the snapshot's sha256 (the same on every
#                      member) into a fresh directory, swap it in (the old data dir is kept as
#                      <dir>.pre-restore-<time>), start etcd again;
#   start              on every control plane once etcd is restored everywhere: bring back the
#                      apiserver, controller-manager and scheduler.
# Refuses to restore while this member's etcd still listens on its peer port or its manifest is
# still in place. Restoring twice from the same snapshot is a no-op.
#
# stdin: nothing
# params: CLUSTER_NAME NODE_NAME NODE_IP PEER_PORT PEER_URL INITIAL_CLUSTER ETCD_DATA_DIR
# params: WAIT_INTERVAL_SECONDS WAIT_ATTEMPTS MANIFESTS_TO_STOP[]

source lib/log.sh

source lib/wait.sh

source lib/snapshot-tool.sh

readonly MANIFESTS="$KUBE_DIR/manifests"
readonly STASH="$STATE_DIR/restore-stash"
readonly DATA_DIR="$FSROOT$ETCD_DATA_DIR"
readonly SNAPSHOT_STATUS_RE='"revision":([0-9]+).*"totalKey":([0-9]+)'

usage() {
  printf 'usage: %s stop | restore SNAPSHOT | start\n' "$SCRIPT_NAME" >&2
  exit 2
}

# Something accepts connections on this member's peer URL: its etcd still runs.
# shellcheck disable=SC2016  # $0 and $1 expand in the inner bash, which gets them as arguments
etcd_listening() { timeout 2 bash -c ': >"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }
etcd_stopped() { ! etcd_listening "$NODE_IP" "$PEER_PORT"; }

stash_manifest() {
  local m=$1
  if [[ -f "$MANIFESTS/$m" ]]; then
    mkdir -p -- "$STASH"
    mv -f -- "$MANIFESTS/$m" "$STASH/$m"
    log "stopped $m (manifest moved to $STASH)"
  fi
}

unstash_manifest() {
  local m=$1
  if [[ -f "$STASH/$m" ]]; then
    mkdir -p -- "$MANIFESTS"
    mv -f -- "$STASH/$m" "$MANIFESTS/$m"
    log "started $m (manifest back in $MANIFESTS)"
  fi
}

do_stop() {
  local m
  for m in "${MANIFESTS_TO_STOP[@]}"; do
    stash_manifest "$m"
  done
  wait_for "etcd on $NODE_IP:$PEER_PORT to stop" etcd_stopped ||
    die "etcd still listens on $NODE_IP:$PEER_PORT; stop it before restoring"
  log "the control plane of $NODE_NAME is stopped; run '$SCRIPT_NAME restore SNAPSHOT' here and on every other control plane"
}

do_restore() {
  local snapshot=$1 sha expected status token stamp fresh
  [[ -f $snapshot ]] || die "no snapshot file $snapshot"
  sha=$(sha256sum -- "$snapshot") || die "cannot hash $snapshot"
  sha=${sha%% *}
  if [[ -f "$snapshot.sha256" ]]; then
    expected=$(<"$snapshot.sha256")
    expected=${expected%% *}
    [[ $sha == "$expected" ]] || die "$snapshot does not match $snapshot.sha256 (sha256 $sha, expected $expected); refusing a damaged snapshot"
  fi
  # --- guard: restored from this very snapshot before? ---
  if [[ -f "$STATE_DIR/etcd-restored" && "$(<"$STATE_DIR/etcd-restored")" == "$sha" && -d "$DATA_DIR/member" ]]; then
    log "$NODE_NAME was already restored from this snapshot (sha256 $sha); nothing to do"
    unstash_manifest etcd.yaml
    return 0
  fi
  [[ ! -f "$MANIFESTS/etcd.yaml" ]] || die "$MANIFESTS/etcd.yaml is in place, so the kubelet keeps etcd running; run '$SCRIPT_NAME stop' first"
  etcd_stopped || die "etcd still listens on $NODE_IP:$PEER_PORT; run '$SCRIPT_NAME stop' first"
  status=$(snapshot_tool snapshot status "$snapshot" -w json) || die "snapshot status: $snapshot is not a readable etcd snapshot"
  [[ $status =~ $SNAPSHOT_STATUS_RE ]] || die "snapshot status printed no revision/totalKey: $status"
  log "snapshot $snapshot: revision ${BASH_REMATCH[1]}, ${BASH_REMATCH[2]} keys, sha256 $sha"

  # Same snapshot on every member => same token => one cluster id, unlike the old cluster's.
  token="$CLUSTER_NAME-restore-${sha:0:16}"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)-$$"
  fresh="$DATA_DIR.restore-$stamp"
  rm -rf -- "$fresh"
  mkdir -p -- "${DATA_DIR%/*}"
  snapshot_tool snapshot restore "$snapshot" \
    --name "$NODE_NAME" \
    --initial-cluster "$INITIAL_CLUSTER" \
    --initial-cluster-token "$token" \
    --initial-advertise-peer-urls "$PEER_URL" \
    --data-dir "$fresh" || die "snapshot restore into $fresh failed"
  chmod 0700 -- "$fresh"
  if [[ -e $DATA_DIR ]]; then
    mv -f -- "$DATA_DIR" "$DATA_DIR.pre-restore-$stamp"
    log "the previous data dir is kept as $DATA_DIR.pre-restore-$stamp"
  fi
  mv -f -- "$fresh" "$DATA_DIR"
  mkdir -p -- "$STATE_DIR"
  printf '%s\n' "$sha" >"$STATE_DIR/etcd-restored"
  unstash_manifest etcd.yaml
  log "restored etcd member $NODE_NAME ($PEER_URL) from $snapshot into $ETCD_DATA_DIR; members: $INITIAL_CLUSTER"
  log "when every control plane is restored, run '$SCRIPT_NAME start' on each"
}

do_start() {
  local m
  for m in "${MANIFESTS_TO_STOP[@]}"; do
    unstash_manifest "$m"
  done
  log "the control plane of $NODE_NAME is starting"
}

case ${1:-} in
stop) do_stop ;;
restore)
  [[ -n ${2:-} ]] || usage
  do_restore "$2"
  ;;
start) do_start ;;
*) usage ;;
esac
