#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# etcd-backup: one snapshot of this control plane's etcd member: `etcdctl snapshot save` with
# kubeadm's etcd health-check client certificate, `snapshot status` (refusing an empty or
# unreadable snapshot), a sha256 beside it, the upload (S3 with curl's SigV4 signing and the
# instance role's credentials from IMDSv2, or a file:// directory), a log line with
# revision/keys/size/sha256, and local retention. Each run makes a new timestamped
# snapshot; a lock keeps two runs from overlapping. Run by the systemd timer backup-install sets up.
#
# stdin: nothing
# params: NODE_NAME ETCD_ENDPOINT ETCD_CA ETCD_CERT ETCD_KEY UPLOAD_TARGET AWS_REGION S3_URL IMDS_URL
# params: LOCAL_RETENTION_DAYS COMMAND_TIMEOUT

source lib/log.sh

source lib/snapshot-tool.sh

source lib/workdir.sh

source lib/s3-put.sh

readonly LOCAL_DIR="$STATE_DIR/etcd-backups"
readonly LOCK_FILE="$STATE_DIR/etcd-backup.lock"
readonly LAST_FILE="$STATE_DIR/etcd-backup.last"
readonly SNAPSHOT_STATUS_RE='"revision":([0-9]+).*"totalKey":([0-9]+).*"totalSize":([0-9]+)'

etcd_client() {
  ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$FSROOT$ETCD_CA" \
    --cert="$FSROOT$ETCD_CERT" --key="$FSROOT$ETCD_KEY" \
    --dial-timeout=10s --command-timeout="$COMMAND_TIMEOUT" "$@"
}

# upload FILE NAME SHA256_HEX: to S3 (S3_URL is the target's bucket and prefix as a URL), or into
# a local directory (file://). No encryption header: the bucket encrypts with its own KMS key by
# default, and its policy refuses uploads that ask for another encryption.
upload() {
  local file=$1 name=$2 sha=$3 dir
  case $UPLOAD_TARGET in
  s3://*)
    s3_put "$file" "$S3_URL/$name" "$AWS_REGION" "$sha"
    ;;
  file://*)
    # Called as `upload … || die`, so set -e is off in here: every step says its failure itself,
    # or a copy cut short would be published.
    dir=${UPLOAD_TARGET#file://}
    mkdir -p -- "$dir" || return 1
    cp -- "$file" "$dir/.$name.partial" || {
      rm -f -- "$dir/.$name.partial"
      return 1
    }
    mv -f -- "$dir/.$name.partial" "$dir/$name" || return 1
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
make_workdir
trap 'rm -f -- "$partial" "$partial.part"; rm -rf -- "$work"' EXIT

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
size=$(stat -c %s -- "$partial") || die "cannot stat the snapshot"
# One PUT holds 5 GiB; etcd's quota-backend-bytes (8 GiB here) lets the database, and so the
# snapshot, grow past that. Keep the snapshot locally and say what to do rather than fail at S3.
if [[ $UPLOAD_TARGET == s3://* ]] && ((size > S3_MAX_PUT_BYTES)); then
  mv -f -- "$partial" "$LOCAL_DIR/$name"
  die "the snapshot is $size bytes, above S3's limit of $S3_MAX_PUT_BYTES bytes (5 GiB) for one upload; it stays in $LOCAL_DIR/$name. Defragment the members (etcdctl defrag) to shrink the database, or copy the snapshot off the node by hand"
fi
sha=$(sha256sum -- "$partial") || die "cannot hash the snapshot"
sha=${sha%% *}
mv -f -- "$partial" "$LOCAL_DIR/$name"
printf '%s  %s\n' "$sha" "$name" >"$LOCAL_DIR/$name.sha256"

# --- upload ----------------------------------------------------------------------------------------
if [[ $UPLOAD_TARGET == s3://* ]]; then
  s3_credentials "$IMDS_URL"
fi
upload "$LOCAL_DIR/$name" "$name" "$sha" || die "upload of $name to $UPLOAD_TARGET failed (the local copy stays in $LOCAL_DIR)"
sha_of_sha=$(sha256sum -- "$LOCAL_DIR/$name.sha256") || die "cannot hash $name.sha256"
upload "$LOCAL_DIR/$name.sha256" "$name.sha256" "${sha_of_sha%% *}" || die "upload of $name.sha256 to $UPLOAD_TARGET failed"
printf '%s %s revision=%s keys=%s bytes=%s db_bytes=%s sha256=%s\n' "$stamp" "$UPLOAD_TARGET/$name" "$revision" "$keys" "$size" "$db_size" "$sha" >"$LAST_FILE"
log "etcd backup ok: $UPLOAD_TARGET/$name revision=$revision keys=$keys bytes=$size db_bytes=$db_size sha256=$sha"

# --- local retention: older than LOCAL_RETENTION_DAYS go, the one just taken stays ------------------
while IFS= read -r -d '' old; do
  if [[ $old != "$LOCAL_DIR/$name" && $old != "$LOCAL_DIR/$name.sha256" ]]; then
    rm -f -- "$old"
    log "removed local copy ${old##*/} (older than $LOCAL_RETENTION_DAYS days)"
  fi
done < <(find "$LOCAL_DIR" -maxdepth 1 -type f -name "$NODE_NAME-*.db*" -mtime "+$LOCAL_RETENTION_DAYS" -print0)
