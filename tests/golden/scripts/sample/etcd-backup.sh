#!/usr/bin/env bash
# k8s-ha etcd-backup: snapshot k8s-ha-dev-cp-0's etcd member and upload it
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='etcd-backup'
readonly NODE_NAME='k8s-ha-dev-cp-0'
readonly ETCD_ENDPOINT='https://127.0.0.1:2379'
readonly ETCD_CA='/etc/kubernetes/pki/etcd/ca.crt'
readonly ETCD_CERT='/etc/kubernetes/pki/etcd/healthcheck-client.crt'
readonly ETCD_KEY='/etc/kubernetes/pki/etcd/healthcheck-client.key'
readonly UPLOAD_TARGET='s3://k8s-ha-dev-etcd-backups-0a1b2c3/k8s-ha-dev/k8s-ha-dev-cp-0'
readonly AWS_REGION='us-east-1'
readonly S3_URL='https://k8s-ha-dev-etcd-backups-0a1b2c3.s3.us-east-1.amazonaws.com/k8s-ha-dev/k8s-ha-dev-cp-0'
readonly IMDS_URL='http://169.254.169.254'
readonly LOCAL_RETENTION_DAYS='3'
readonly COMMAND_TIMEOUT='120s'
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

# A 0700 scratch directory on tmpfs for secret copies, removed whatever happens.
make_workdir() {
  mkdir -p -- "$FSROOT/run"
  work=$(mktemp -d "$FSROOT/run/k8s-ha.XXXXXXXX") || die "cannot create a scratch directory under $FSROOT/run"
  trap 'rm -rf -- "$work"' EXIT
}

# S3 uploads with curl alone (its built-in AWS SigV4 signing, curl >= 7.75) and the instance
# role's temporary credentials from IMDSv2: no AWS CLI, no snap, no home directory, so it runs
# inside the hardened backup unit (ProtectHome=true). The credentials never reach argv: curl reads
# them from 0600 config files (`-K`) in the caller's tmpfs workdir ($work, make_workdir).

# One PUT carries at most 5 GiB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html).
readonly S3_MAX_PUT_BYTES=5368709120

# curl config values go between double quotes: refuse anything that could break out of them.
s3_config_safe() { [[ $1 =~ ^[A-Za-z0-9+/=_.:-]+$ ]]; }

# s3_credentials IMDS_URL: writes $work/s3.curl (0600) with the role's key pair (`user`) and its
# session token (`header`). IMDSv2: a session token (PUT), the role's name, its credentials.
s3_credentials() {
  local imds=$1 token role creds re id secret session
  local -a get=(curl --silent --show-error --fail --noproxy '*' --connect-timeout 2 --max-time 10 --retry 3)
  token=$("${get[@]}" -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token") ||
    die "IMDSv2: no session token from $imds/latest/api/token (is the metadata service reachable from this unit?)"
  s3_config_safe "$token" || die "IMDSv2: the session token from $imds has unexpected characters"
  (umask 077 && printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$token" >"$work/imds.curl")
  role=$("${get[@]}" -K "$work/imds.curl" "$imds/latest/meta-data/iam/security-credentials/") ||
    die "IMDSv2: no instance role at $imds/latest/meta-data/iam/security-credentials/ (has the instance a profile?)"
  role=${role%%$'\n'*}
  [[ $role =~ ^[A-Za-z0-9+=,.@_-]{1,64}$ ]] || die "IMDSv2: '$role' is not an IAM role name"
  creds=$("${get[@]}" -K "$work/imds.curl" "$imds/latest/meta-data/iam/security-credentials/$role") ||
    die "IMDSv2: no credentials for role $role"
  re='"Code"[[:space:]]*:[[:space:]]*"Success"'
  [[ $creds =~ $re ]] || die "IMDSv2: the credentials of role $role are not ready (Code is not Success)"
  re='"AccessKeyId"[[:space:]]*:[[:space:]]*"([^"]+)"'
  [[ $creds =~ $re ]] || die "IMDSv2: no AccessKeyId for role $role"
  id=${BASH_REMATCH[1]}
  re='"SecretAccessKey"[[:space:]]*:[[:space:]]*"([^"]+)"'
  [[ $creds =~ $re ]] || die "IMDSv2: no SecretAccessKey for role $role"
  secret=${BASH_REMATCH[1]}
  re='"Token"[[:space:]]*:[[:space:]]*"([^"]+)"'
  [[ $creds =~ $re ]] || die "IMDSv2: no session Token for role $role"
  session=${BASH_REMATCH[1]}
  if ! s3_config_safe "$id" || ! s3_config_safe "$secret" || ! s3_config_safe "$session"; then
    die "IMDSv2: the credentials of role $role have unexpected characters"
  fi
  # printf is a builtin: the values go to the file, not to any process's argv.
  (umask 077 && printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$id" "$secret" "$session" >"$work/s3.curl")
}

# s3_put FILE URL REGION SHA256_HEX: one signed PUT. S3 checks the body against the signed
# x-amz-content-sha256 and Content-MD5 and refuses a mismatch; the object's ETag cannot be compared
# instead: under SSE-KMS it is not the MD5 of the content. Success is HTTP 200, nothing else.
s3_put() {
  local file=$1 url=$2 region=$3 sha=$4 md5 code
  md5=$(openssl dgst -md5 -binary -- "$file" | base64) || die "cannot hash $file (MD5)"
  code=$(curl --silent --show-error --aws-sigv4 "aws:amz:$region:s3" -K "$work/s3.curl" \
    -H "x-amz-content-sha256: $sha" -H "Content-MD5: $md5" -H 'Content-Type: application/octet-stream' \
    --upload-file "$file" --output "$work/s3-response" --write-out '%{http_code}' \
    --connect-timeout 10 --max-time 1800 --retry 3 "$url") || {
    log "curl PUT $url failed (exit $?)"
    return 1
  }
  if [[ $code != 200 ]]; then
    log "S3 answered HTTP $code to PUT $url: $(tr -d '\n' <"$work/s3-response" 2>/dev/null | head -c 400)"
    return 1
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
