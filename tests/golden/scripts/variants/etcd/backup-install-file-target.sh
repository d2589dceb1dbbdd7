#!/usr/bin/env bash
# shellcheck disable=SC2016
# k8s-ha etcd-backup-install: install the etcd backup timer on k8s-ha-dev-cp-1
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='etcd-backup-install'
readonly NODE_NAME='k8s-ha-dev-cp-1'
readonly SCHEDULE='Mon..Fri 02:30'
readonly RANDOM_DELAY='30min'
readonly UPLOAD_TARGET='file:///var/backups/etcd'
readonly UNIT='k8s-ha-etcd-backup'
readonly BACKUP_SCRIPT_PATH='/usr/local/sbin/k8s-ha-etcd-backup'
readonly RESTORE_SCRIPT_PATH='/usr/local/sbin/k8s-ha-etcd-restore'
readonly SERVICE_PATH='/etc/systemd/system/k8s-ha-etcd-backup.service'
readonly TIMER_PATH='/etc/systemd/system/k8s-ha-etcd-backup.timer'
readonly BACKUP_SCRIPT='#!/usr/bin/env bash
# k8s-ha etcd-backup: snapshot k8s-ha-dev-cp-1'\''s etcd member and upload it
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='\''etcd-backup'\''
readonly NODE_NAME='\''k8s-ha-dev-cp-1'\''
readonly ETCD_ENDPOINT='\''https://10.0.32.10:2379'\''
readonly ETCD_CA='\''/etc/kubernetes/pki/etcd/ca.crt'\''
readonly ETCD_CERT='\''/etc/kubernetes/pki/etcd/healthcheck-client.crt'\''
readonly ETCD_KEY='\''/etc/kubernetes/pki/etcd/healthcheck-client.key'\''
readonly UPLOAD_TARGET='\''file:///var/backups/etcd'\''
readonly AWS_REGION='\''eu-west-1'\''
readonly S3_URL='\'''\''
readonly IMDS_URL='\''http://169.254.169.254'\''
readonly LOCAL_RETENTION_DAYS='\''1'\''
readonly COMMAND_TIMEOUT='\''5m'\''
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '\''[k8s-ha %s] %s\n'\'' "$SCRIPT_NAME" "$*"; }
die() {
  printf '\''[k8s-ha %s] ERROR: %s\n'\'' "$SCRIPT_NAME" "$*" >&2
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

# A 0700 scratch directory on tmpfs for secret copies, removed whatever happens.
make_workdir() {
  mkdir -p -- "$FSROOT/run"
  work=$(mktemp -d "$FSROOT/run/k8s-ha.XXXXXXXX") || die "cannot create a scratch directory under $FSROOT/run"
  trap '\''rm -rf -- "$work"'\'' EXIT
}

# S3 uploads with curl alone (its built-in AWS SigV4 signing, curl >= 7.75) and the instance
# role'\''s temporary credentials from IMDSv2: no AWS CLI, no snap, no home directory, so it runs
# inside the hardened backup unit (ProtectHome=true). The credentials never reach argv: curl reads
# them from 0600 config files (`-K`) in the caller'\''s tmpfs workdir ($work, make_workdir).

# One PUT carries at most 5 GiB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html).
readonly S3_MAX_PUT_BYTES=5368709120

# curl config values go between double quotes: refuse anything that could break out of them.
s3_config_safe() { [[ $1 =~ ^[A-Za-z0-9+/=_.:-]+$ ]]; }

# s3_credentials IMDS_URL: writes $work/s3.curl (0600) with the role'\''s key pair (`user`) and its
# session token (`header`). IMDSv2: a session token (PUT), the role'\''s name, its credentials.
s3_credentials() {
  local imds=$1 token role creds re id secret session
  local -a get=(curl --silent --show-error --fail --noproxy '\''*'\'' --connect-timeout 2 --max-time 10 --retry 3)
  token=$("${get[@]}" -X PUT -H '\''X-aws-ec2-metadata-token-ttl-seconds: 300'\'' "$imds/latest/api/token") ||
    die "IMDSv2: no session token from $imds/latest/api/token (is the metadata service reachable from this unit?)"
  s3_config_safe "$token" || die "IMDSv2: the session token from $imds has unexpected characters"
  (umask 077 && printf '\''header = "X-aws-ec2-metadata-token: %s"\n'\'' "$token" >"$work/imds.curl")
  role=$("${get[@]}" -K "$work/imds.curl" "$imds/latest/meta-data/iam/security-credentials/") ||
    die "IMDSv2: no instance role at $imds/latest/meta-data/iam/security-credentials/ (has the instance a profile?)"
  role=${role%%$'\''\n'\''*}
  [[ $role =~ ^[A-Za-z0-9+=,.@_-]{1,64}$ ]] || die "IMDSv2: '\''$role'\'' is not an IAM role name"
  creds=$("${get[@]}" -K "$work/imds.curl" "$imds/latest/meta-data/iam/security-credentials/$role") ||
    die "IMDSv2: no credentials for role $role"
  re='\''"Code"[[:space:]]*:[[:space:]]*"Success"'\''
  [[ $creds =~ $re ]] || die "IMDSv2: the credentials of role $role are not ready (Code is not Success)"
  re='\''"AccessKeyId"[[:space:]]*:[[:space:]]*"([^"]+)"'\''
  [[ $creds =~ $re ]] || die "IMDSv2: no AccessKeyId for role $role"
  id=${BASH_REMATCH[1]}
  re='\''"SecretAccessKey"[[:space:]]*:[[:space:]]*"([^"]+)"'\''
  [[ $creds =~ $re ]] || die "IMDSv2: no SecretAccessKey for role $role"
  secret=${BASH_REMATCH[1]}
  re='\''"Token"[[:space:]]*:[[:space:]]*"([^"]+)"'\''
  [[ $creds =~ $re ]] || die "IMDSv2: no session Token for role $role"
  session=${BASH_REMATCH[1]}
  if ! s3_config_safe "$id" || ! s3_config_safe "$secret" || ! s3_config_safe "$session"; then
    die "IMDSv2: the credentials of role $role have unexpected characters"
  fi
  # printf is a builtin: the values go to the file, not to any process'\''s argv.
  (umask 077 && printf '\''user = "%s:%s"\nheader = "x-amz-security-token: %s"\n'\'' "$id" "$secret" "$session" >"$work/s3.curl")
}

# s3_put FILE URL REGION SHA256_HEX: one signed PUT. S3 checks the body against the signed
# x-amz-content-sha256 and Content-MD5 and refuses a mismatch; the object'\''s ETag cannot be compared
# instead: under SSE-KMS it is not the MD5 of the content. Success is HTTP 200, nothing else.
s3_put() {
  local file=$1 url=$2 region=$3 sha=$4 md5 code
  md5=$(openssl dgst -md5 -binary -- "$file" | base64) || die "cannot hash $file (MD5)"
  code=$(curl --silent --show-error --aws-sigv4 "aws:amz:$region:s3" -K "$work/s3.curl" \
    -H "x-amz-content-sha256: $sha" -H "Content-MD5: $md5" -H '\''Content-Type: application/octet-stream'\'' \
    --upload-file "$file" --output "$work/s3-response" --write-out '\''%{http_code}'\'' \
    --connect-timeout 10 --max-time 1800 --retry 3 "$url") || {
    log "curl PUT $url failed (exit $?)"
    return 1
  }
  if [[ $code != 200 ]]; then
    log "S3 answered HTTP $code to PUT $url: $(tr -d '\''\n'\'' <"$work/s3-response" 2>/dev/null | head -c 400)"
    return 1
  fi
}

readonly LOCAL_DIR="$STATE_DIR/etcd-backups"
readonly LOCK_FILE="$STATE_DIR/etcd-backup.lock"
readonly LAST_FILE="$STATE_DIR/etcd-backup.last"
readonly SNAPSHOT_STATUS_RE='\''"revision":([0-9]+).*"totalKey":([0-9]+).*"totalSize":([0-9]+)'\''

etcd_client() {
  ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$FSROOT$ETCD_CA" \
    --cert="$FSROOT$ETCD_CERT" --key="$FSROOT$ETCD_KEY" \
    --dial-timeout=10s --command-timeout="$COMMAND_TIMEOUT" "$@"
}

# upload FILE NAME SHA256_HEX: to S3 (S3_URL is the target'\''s bucket and prefix as a URL), or into
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
trap '\''rm -f -- "$partial" "$partial.part"; rm -rf -- "$work"'\'' EXIT

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
# One PUT holds 5 GiB; etcd'\''s quota-backend-bytes (8 GiB here) lets the database, and so the
# snapshot, grow past that. Keep the snapshot locally and say what to do rather than fail at S3.
if [[ $UPLOAD_TARGET == s3://* ]] && ((size > S3_MAX_PUT_BYTES)); then
  mv -f -- "$partial" "$LOCAL_DIR/$name"
  die "the snapshot is $size bytes, above S3'\''s limit of $S3_MAX_PUT_BYTES bytes (5 GiB) for one upload; it stays in $LOCAL_DIR/$name. Defragment the members (etcdctl defrag) to shrink the database, or copy the snapshot off the node by hand"
fi
sha=$(sha256sum -- "$partial") || die "cannot hash the snapshot"
sha=${sha%% *}
mv -f -- "$partial" "$LOCAL_DIR/$name"
printf '\''%s  %s\n'\'' "$sha" "$name" >"$LOCAL_DIR/$name.sha256"

# --- upload ----------------------------------------------------------------------------------------
if [[ $UPLOAD_TARGET == s3://* ]]; then
  s3_credentials "$IMDS_URL"
fi
upload "$LOCAL_DIR/$name" "$name" "$sha" || die "upload of $name to $UPLOAD_TARGET failed (the local copy stays in $LOCAL_DIR)"
sha_of_sha=$(sha256sum -- "$LOCAL_DIR/$name.sha256") || die "cannot hash $name.sha256"
upload "$LOCAL_DIR/$name.sha256" "$name.sha256" "${sha_of_sha%% *}" || die "upload of $name.sha256 to $UPLOAD_TARGET failed"
printf '\''%s %s revision=%s keys=%s bytes=%s db_bytes=%s sha256=%s\n'\'' "$stamp" "$UPLOAD_TARGET/$name" "$revision" "$keys" "$size" "$db_size" "$sha" >"$LAST_FILE"
log "etcd backup ok: $UPLOAD_TARGET/$name revision=$revision keys=$keys bytes=$size db_bytes=$db_size sha256=$sha"

# --- local retention: older than LOCAL_RETENTION_DAYS go, the one just taken stays ------------------
while IFS= read -r -d '\'''\'' old; do
  if [[ $old != "$LOCAL_DIR/$name" && $old != "$LOCAL_DIR/$name.sha256" ]]; then
    rm -f -- "$old"
    log "removed local copy ${old##*/} (older than $LOCAL_RETENTION_DAYS days)"
  fi
done < <(find "$LOCAL_DIR" -maxdepth 1 -type f -name "$NODE_NAME-*.db*" -mtime "+$LOCAL_RETENTION_DAYS" -print0)'
readonly RESTORE_SCRIPT='#!/usr/bin/env bash
# k8s-ha etcd-restore: restore k8s-ha-dev-cp-4'\''s etcd member from a snapshot (runbook)
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='\''etcd-restore'\''
readonly CLUSTER_NAME='\''k8s-ha-dev'\''
readonly NODE_NAME='\''k8s-ha-dev-cp-4'\''
readonly NODE_IP='\''10.0.32.11'\''
readonly PEER_PORT='\''2380'\''
readonly PEER_URL='\''https://10.0.32.11:2380'\''
readonly INITIAL_CLUSTER='\''k8s-ha-dev-cp-0=https://10.0.16.10:2380,k8s-ha-dev-cp-1=https://10.0.32.10:2380,k8s-ha-dev-cp-2=https://10.0.48.10:2380,k8s-ha-dev-cp-3=https://10.0.16.11:2380,k8s-ha-dev-cp-4=https://10.0.32.11:2380'\''
readonly ETCD_DATA_DIR='\''/data/etcd'\''
readonly WAIT_INTERVAL_SECONDS='\''2'\''
readonly WAIT_ATTEMPTS='\''15'\''
readonly -a MANIFESTS_TO_STOP=('\''kube-apiserver.yaml'\'' '\''kube-controller-manager.yaml'\'' '\''kube-scheduler.yaml'\'' '\''etcd.yaml'\'')
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '\''[k8s-ha %s] %s\n'\'' "$SCRIPT_NAME" "$*"; }
die() {
  printf '\''[k8s-ha %s] ERROR: %s\n'\'' "$SCRIPT_NAME" "$*" >&2
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

readonly MANIFESTS="$KUBE_DIR/manifests"
readonly STASH="$STATE_DIR/restore-stash"
readonly DATA_DIR="$FSROOT$ETCD_DATA_DIR"
readonly SNAPSHOT_STATUS_RE='\''"revision":([0-9]+).*"totalKey":([0-9]+)'\''
# containerd'\''s namespace of the kubelet'\''s images; where etcd images keep etcdutl.
readonly CTR_NAMESPACE=k8s.io
readonly ETCDUTL=/usr/local/bin/etcdutl
readonly UPSTREAM_ETCD_IMAGE=gcr.io/etcd-development/etcd
# kubeadm tags its etcd image <etcd version>-<image revision>, e.g. registry.k8s.io/etcd:3.6.6-0.
readonly KUBEADM_ETCD_TAG_RE='\'':([0-9]+\.[0-9]+)\.([0-9]+)(-[0-9]+)?$'\''
readonly ETCDUTL_VERSION_RE='\''etcdutl version: ([0-9]+\.[0-9]+)\.[0-9]+'\''
# --bump-revision: the restored store starts this many revisions past the snapshot'\''s. Clients
# (kube-apiserver'\''s watch cache, informers, controllers) have seen revisions the old cluster handed
# out after the snapshot; without a bump the restored cluster would hand those numbers out again for
# other data, and a watch resumed from one of them would silently miss events. 1e9 is more than a
# cluster writes between a snapshot and a restore (a day at 1000 writes/s is 8.6e7) and far below
# the int64 limit (9.2e18), so even many restores cannot overflow it. --mark-compacted (required
# with a bump) marks everything up to there compacted: a watch or read at an older revision gets
# "required revision has been compacted" and the client re-lists.
readonly BUMP_REVISION=1000000000
ETCDUTL_IMAGE='\'''\''

usage() {
  printf '\''usage: %s stop | restore SNAPSHOT | start\n'\'' "$SCRIPT_NAME" >&2
  exit 2
}

# Something accepts connections on this member'\''s peer URL: its etcd still runs.
# shellcheck disable=SC2016  # $0 and $1 expand in the inner bash, which gets them as arguments
etcd_listening() { timeout 2 bash -c '\'': >"/dev/tcp/$0/$1"'\'' "$1" "$2" 2>/dev/null; }
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

# etcdutl_in IMAGE [--mount SPEC]... -- ARGS...: etcdutl ARGS in a throwaway container of IMAGE.
etcdutl_in() {
  local image=$1 options=()
  shift
  while [[ $1 != -- ]]; do
    options+=("$1")
    shift
  done
  shift
  ctr --namespace "$CTR_NAMESPACE" run --rm "${options[@]}" "$image" "k8s-ha-etcd-restore-$$-$RANDOM" "$ETCDUTL" "$@"
}

# Sets ETCDUTL_IMAGE: the first of kubeadm'\''s etcd image (from the stashed manifest) and the etcd
# project'\''s image of the same version whose etcdutl is of that etcd minor; pulls what is missing.
choose_etcdutl_image() {
  local manifest="$STASH/etcd.yaml" image version minor candidate out
  [[ -f $manifest ]] || die "no $manifest: run '\''$SCRIPT_NAME stop'\'' first (the restore takes etcdutl from the etcd image that manifest names)"
  image=$(sed -n '\''s/^[[:space:]]*image:[[:space:]]*//p'\'' "$manifest" | head -n 1)
  image=${image//\"/}
  [[ $image =~ ^[A-Za-z0-9][A-Za-z0-9._/:@-]*$ ]] || die "$manifest names no etcd image (image: '\''$image'\'')"
  [[ $image =~ $KUBEADM_ETCD_TAG_RE ]] || die "cannot tell the etcd version from $image (expected a tag like 3.6.6-0)"
  minor=${BASH_REMATCH[1]}
  version=${BASH_REMATCH[1]}.${BASH_REMATCH[2]}
  command -v ctr >/dev/null 2>&1 || die "ctr (containerd'\''s client) is not installed; the restore runs etcdutl from an etcd image with it"
  for candidate in "$image" "$UPSTREAM_ETCD_IMAGE:v$version"; do
    if [[ -z $(ctr --namespace "$CTR_NAMESPACE" images ls -q "name==$candidate") ]]; then
      log "pulling $candidate"
      if ! ctr --namespace "$CTR_NAMESPACE" images pull "$candidate" >/dev/null; then
        log "cannot pull $candidate"
        continue
      fi
    fi
    if ! out=$(etcdutl_in "$candidate" -- version 2>&1); then
      log "$candidate has no usable etcdutl: ${out##*$'\''\n'\''}"
    elif [[ ! $out =~ $ETCDUTL_VERSION_RE ]]; then
      log "$candidate: etcdutl printed no version: $out"
    elif [[ ${BASH_REMATCH[1]} != "$minor" ]]; then
      log "$candidate has etcdutl ${BASH_REMATCH[1]}, not $minor"
    else
      ETCDUTL_IMAGE=$candidate
      log "etcdutl ${BASH_REMATCH[1]} from $candidate (this node runs etcd $version from $image)"
      return 0
    fi
  done
  die "no etcdutl $minor in $image or $UPSTREAM_ETCD_IMAGE:v$version; an etcdctl cannot restore for etcd $minor"
}

do_stop() {
  local m
  for m in "${MANIFESTS_TO_STOP[@]}"; do
    stash_manifest "$m"
  done
  wait_for "etcd on $NODE_IP:$PEER_PORT to stop" etcd_stopped ||
    die "etcd still listens on $NODE_IP:$PEER_PORT; stop it before restoring"
  log "the control plane of $NODE_NAME is stopped; run '\''$SCRIPT_NAME restore SNAPSHOT'\'' here and on every other control plane"
}

do_restore() {
  local snapshot=$1 sha expected status token stamp fresh parent abs
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
  [[ ! -f "$MANIFESTS/etcd.yaml" ]] || die "$MANIFESTS/etcd.yaml is in place, so the kubelet keeps etcd running; run '\''$SCRIPT_NAME stop'\'' first"
  etcd_stopped || die "etcd still listens on $NODE_IP:$PEER_PORT; run '\''$SCRIPT_NAME stop'\'' first"
  choose_etcdutl_image
  # The container sees the snapshot and the data dir'\''s parent at their own paths, nothing else.
  abs=$(realpath -e -- "$snapshot") || die "cannot resolve $snapshot"
  parent=${DATA_DIR%/*}
  mkdir -p -- "$parent"
  status=$(etcdutl_in "$ETCDUTL_IMAGE" --mount "type=bind,src=$abs,dst=$abs,options=rbind:ro" -- snapshot status "$abs" -w json) ||
    die "snapshot status: $snapshot is not a readable etcd snapshot"
  [[ $status =~ $SNAPSHOT_STATUS_RE ]] || die "snapshot status printed no revision/totalKey: $status"
  log "snapshot $snapshot: revision ${BASH_REMATCH[1]}, ${BASH_REMATCH[2]} keys, sha256 $sha"

  # Same snapshot on every member => same token => one cluster id, unlike the old cluster'\''s.
  token="$CLUSTER_NAME-restore-${sha:0:16}"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)-$$"
  fresh="$DATA_DIR.restore-$stamp"
  rm -rf -- "$fresh"
  etcdutl_in "$ETCDUTL_IMAGE" \
    --mount "type=bind,src=$abs,dst=$abs,options=rbind:ro" \
    --mount "type=bind,src=$parent,dst=$parent,options=rbind:rw" -- \
    snapshot restore "$abs" \
    --name "$NODE_NAME" \
    --initial-cluster "$INITIAL_CLUSTER" \
    --initial-cluster-token "$token" \
    --initial-advertise-peer-urls "$PEER_URL" \
    --data-dir "$fresh" \
    --bump-revision "$BUMP_REVISION" \
    --mark-compacted || die "snapshot restore into $fresh failed"
  chmod 0700 -- "$fresh"
  if [[ -e $DATA_DIR ]]; then
    mv -f -- "$DATA_DIR" "$DATA_DIR.pre-restore-$stamp"
    log "the previous data dir is kept as $DATA_DIR.pre-restore-$stamp"
  fi
  mv -f -- "$fresh" "$DATA_DIR"
  mkdir -p -- "$STATE_DIR"
  printf '\''%s\n'\'' "$sha" >"$STATE_DIR/etcd-restored"
  unstash_manifest etcd.yaml
  log "restored etcd member $NODE_NAME ($PEER_URL) from $snapshot into $ETCD_DATA_DIR; members: $INITIAL_CLUSTER"
  log "when every control plane is restored, run '\''$SCRIPT_NAME start'\'' on each"
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
esac'
readonly SERVICE_UNIT='# Rendered by k8s-ha; installed by its etcd backup step.
[Unit]
Description=k8s-ha: snapshot k8s-ha-dev-cp-1'\''s etcd member to file:///var/backups/etcd
Wants=network-online.target
After=network-online.target
ConditionPathExists=/etc/kubernetes/manifests/etcd.yaml

[Service]
Type=oneshot
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/usr/local/sbin/k8s-ha-etcd-backup
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
TimeoutStartSec=30min
PrivateTmp=true
ProtectHome=true'
readonly TIMER_UNIT='# Rendered by k8s-ha; installed by its etcd backup step.
[Unit]
Description=k8s-ha: etcd snapshot of k8s-ha-dev-cp-1 on schedule "Mon..Fri 02:30"

[Timer]
OnCalendar=Mon..Fri 02:30
RandomizedDelaySec=30min
Persistent=true
AccuracySec=1min
Unit=k8s-ha-etcd-backup.service

[Install]
WantedBy=timers.target'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '[k8s-ha %s] %s\n' "$SCRIPT_NAME" "$*"; }
die() {
  printf '[k8s-ha %s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}

# put_file MODE PATH CONTENT: atomic write when the content differs; PUT_CHANGED=1 when it did.
put_file() {
  local mode=$1 path=$2 content=$3 tmp
  PUT_CHANGED=0
  mkdir -p -- "${path%/*}"
  if [[ -f $path && "$(<"$path")" == "$content" ]]; then
    chmod "$mode" -- "$path"
    return 0
  fi
  tmp=$(mktemp "$path.k8s-ha.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$path"
  PUT_CHANGED=1
}

# System files get the usual modes; the scripts stay root-only.
umask 022

# --- the schedule must be one systemd understands, before anything changes ----------------------
systemd-analyze calendar "$SCHEDULE" >/dev/null 2>&1 ||
  die "etcdBackupSchedule '$SCHEDULE' is not a valid systemd OnCalendar expression (systemd-analyze calendar)"

# --- tools: etcdctl (Ubuntu's etcd-client); curl for an S3 target ------------------------------
# The upload is curl's own SigV4 (curl >= 7.75; Ubuntu 24.04 has 8.5), not the AWS CLI: the CLI
# comes as a snap on Ubuntu, and the snap dies in the unit (ProtectHome=true) for want of /root/snap.
export DEBIAN_FRONTEND=noninteractive
if ! command -v etcdctl >/dev/null 2>&1; then
  log "installing etcd-client (etcdctl)"
  apt-get update -q
  apt-get install -y -q etcd-client
fi
if [[ $UPLOAD_TARGET == s3://* ]] && ! command -v curl >/dev/null 2>&1; then
  log "installing curl"
  apt-get update -q
  apt-get install -y -q curl
fi

# --- files -------------------------------------------------------------------------------------------
changed=0
put_file 0700 "$FSROOT$BACKUP_SCRIPT_PATH" "$BACKUP_SCRIPT"
put_file 0700 "$FSROOT$RESTORE_SCRIPT_PATH" "$RESTORE_SCRIPT"
put_file 0644 "$FSROOT$SERVICE_PATH" "$SERVICE_UNIT"
changed=$((changed + PUT_CHANGED))
put_file 0644 "$FSROOT$TIMER_PATH" "$TIMER_UNIT"
changed=$((changed + PUT_CHANGED))
mkdir -p -- "$STATE_DIR"

# --- systemd: reload only when a unit changed; enabling an enabled timer is a no-op --------------
if ((changed)); then
  systemctl daemon-reload
fi
systemctl enable --now "$UNIT.timer"
if ((changed)); then
  systemctl restart "$UNIT.timer"
fi
log "etcd backups of $NODE_NAME: timer $UNIT.timer on '$SCHEDULE' (+ up to $RANDOM_DELAY), to $UPLOAD_TARGET"
