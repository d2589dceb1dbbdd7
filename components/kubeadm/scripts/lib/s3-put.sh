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
