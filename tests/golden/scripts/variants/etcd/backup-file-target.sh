#!/usr/bin/env bash
# k8s-ha etcd-backup: snapshot k8s-ha-dev-cp-1's etcd member and upload it
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='etcd-backup'
readonly NODE_NAME='k8s-ha-dev-cp-1'
readonly ETCD_ENDPOINT='https://10.0.32.10:2379'
readonly ETCD_CA='/etc/kubernetes/pki/etcd/ca.crt'
readonly ETCD_CERT='/etc/kubernetes/pki/etcd/healthcheck-client.crt'
readonly ETCD_KEY='/etc/kubernetes/pki/etcd/healthcheck-client.key'
readonly UPLOAD_TARGET='file:///var/backups/etcd'
readonly AWS_REGION='eu-west-1'
readonly LOCAL_RETENTION_DAYS='1'
readonly COMMAND_TIMEOUT='5m'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '[k8s-ha %s] %s\n' "$SCRIPT_NAME" "$*"; }
die() {
  printf '[k8s-ha %s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}

# snapshot_tool ARGS...: etcdutl when present (etcd 3.5+), else etcdctl (3.4 restores too).
snapshot_tool() {
  if command -v etcdutl >/dev/null 2>&1; then
    etcdutl "$@"
  else
    ETCDCTL_API=3 etcdctl "$@"
  fi
}

readonly LOCAL_DIR="$STATE_DIR/etcd-backups"
readonly LOCK_FILE="$STATE_DIR/etcd-backup.lock"
readonly LAST_FILE="$STATE_DIR/etcd-backup.last"
readonly SNAPSHOT_STATUS_RE='"revision":([0-9]+).*"totalKey":([0-9]+).*"totalSize":([0-9]+)'

etcd_client() {
  ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$FSROOT$ETCD_CA" \
    --cert="$FSROOT$ETCD_CERT" --key="$FSROOT$ETCD_KEY" \
    --dial-timeout=10s --command-timeout="$COMMAND_TIMEOUT" "$@"
}

# upload FILE NAME: to S3, or into a local directory (file://). No --sse: the bucket encrypts with
# its own KMS key by default, and its policy refuses uploads that ask for another encryption.
upload() {
  local file=$1 name=$2 dir
  case $UPLOAD_TARGET in
  s3://*)
    aws s3 cp --only-show-errors --no-progress --region "$AWS_REGION" \
      "$file" "$UPLOAD_TARGET/$name"
    ;;
  file://*)
    dir=${UPLOAD_TARGET#file://}
    mkdir -p -- "$dir"
    cp -- "$file" "$dir/.$name.partial"
    mv -f -- "$dir/.$name.partial" "$dir/$name"
    ;;
  *)
    die "unsupported upload target $UPLOAD_TARGET"
    ;;
  esac
}

# --- inputs -----------------------------------------------------------------------------------------
for f in "$ETCD_CA" "$ETCD_CERT" "$ETCD_KEY"; do
  if [[ ! -s "$FSROOT$f" ]]; then
    die "missing $f: is $NODE_NAME a joined control plane?"
  fi
done
command -v etcdctl >/dev/null 2>&1 || die "etcdctl is not installed (the backup installer installs etcd-client)"
mkdir -p -- "$LOCAL_DIR"
chmod 0700 -- "$LOCAL_DIR"

# --- one run at a time (the timer, or an operator by hand) -------------------------------------
exec 9>"$LOCK_FILE"
flock -n 9 || die "another etcd backup is running (lock $LOCK_FILE)"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="$NODE_NAME-$stamp.db"
partial="$LOCAL_DIR/.$name.partial"
trap 'rm -f -- "$partial" "$partial.part"' EXIT

# --- snapshot and check it -----------------------------------------------------------------------
log "snapshot of $ETCD_ENDPOINT on $NODE_NAME"
etcd_client snapshot save "$partial" >/dev/null || die "etcdctl snapshot save from $ETCD_ENDPOINT failed"
status=$(snapshot_tool snapshot status "$partial" -w json) ||
  die "snapshot status: the snapshot is unreadable"
if [[ ! $status =~ $SNAPSHOT_STATUS_RE ]]; then
  die "snapshot status printed no revision/totalKey/totalSize: $status"
fi
revision=${BASH_REMATCH[1]}
keys=${BASH_REMATCH[2]}
db_size=${BASH_REMATCH[3]}
if ((keys == 0)); then
  die "the snapshot holds no keys (revision $revision); refusing to keep it"
fi
sha=$(sha256sum -- "$partial") || die "cannot hash the snapshot"
sha=${sha%% *}
size=$(stat -c %s -- "$partial") || die "cannot stat the snapshot"
mv -f -- "$partial" "$LOCAL_DIR/$name"
printf '%s  %s\n' "$sha" "$name" >"$LOCAL_DIR/$name.sha256"

# --- upload ----------------------------------------------------------------------------------------
upload "$LOCAL_DIR/$name" "$name" || die "upload of $name to $UPLOAD_TARGET failed (the local copy stays in $LOCAL_DIR)"
upload "$LOCAL_DIR/$name.sha256" "$name.sha256" || die "upload of $name.sha256 to $UPLOAD_TARGET failed"
printf '%s %s revision=%s keys=%s bytes=%s db_bytes=%s sha256=%s\n' "$stamp" "$UPLOAD_TARGET/$name" "$revision" "$keys" "$size" "$db_size" "$sha" >"$LAST_FILE"
log "etcd backup ok: $UPLOAD_TARGET/$name revision=$revision keys=$keys bytes=$size db_bytes=$db_size sha256=$sha"

# --- local retention: older than LOCAL_RETENTION_DAYS go, the one just taken stays ------------------
while IFS= read -r -d '' old; do
  if [[ $old != "$LOCAL_DIR/$name" && $old != "$LOCAL_DIR/$name.sha256" ]]; then
    rm -f -- "$old"
    log "removed local copy ${old##*/} (older than $LOCAL_RETENTION_DAYS days)"
  fi
done < <(find "$LOCAL_DIR" -maxdepth 1 -type f -name "$NODE_NAME-*.db*" -mtime "+$LOCAL_RETENTION_DAYS" -print0)
