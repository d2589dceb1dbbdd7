#!/usr/bin/env bats
# etcd-backup.sh (snapshot, check, upload, log, local retention) and etcd-backup-install.sh (the
# systemd timer from the configured schedule), against PATH stubs: etcdctl, curl (stubs/_s3-curl:
# IMDSv2 and S3's PutObject, the bucket under $STUB_STATE/s3), systemctl, systemd-analyze.
# tests/system/backup/s3-upload.spec.ts runs the same script with the real curl against s3rver.

setup() {
  load helpers
  common_setup
  BUCKET='k8s-ha-dev-etcd-backups-0a1b2c3'
  PREFIX="k8s-ha-dev/$CP0"
  PKI="$K8S_HA_FSROOT/etc/kubernetes/pki/etcd"
  mkdir -p "$PKI"
  for f in ca.crt healthcheck-client.crt healthcheck-client.key; do echo "dummy $f" >"$PKI/$f"; done
  BACKUPS="$K8S_HA_FSROOT/var/lib/k8s-ha/etcd-backups"
  ln -sf "$STUB_SRC/_s3-curl" "$BATS_TEST_TMPDIR/bin/curl"
}

# What stubs/_s3-curl hands out as the role's secret key and session token.
STUB_AWS_SECRET='stub/Secret+Key0123456789abcdefghijklmnop'
STUB_AWS_SESSION='stubSessionToken0123456789+/=='
S3_URL="https://k8s-ha-dev-etcd-backups-0a1b2c3.s3.us-east-1.amazonaws.com"

uploaded() { find "$STUB_STATE/s3/$BUCKET/$PREFIX" -type f -name "$1" 2>/dev/null | sort; }

@test "backup snapshots the local member with the health-check client certificate, checks it, uploads it and logs the result" {
  run bash "$S/etcd-backup.sh"
  assert_success
  assert_output --regexp "etcd backup ok: s3://$BUCKET/$PREFIX/k8s-ha-dev-cp-0-[0-9TZ]+\.db revision=4242 keys=1000 bytes=13 db_bytes=13 sha256=[0-9a-f]{64}"
  # snapshot save against kubeadm's local client URL, with the node's etcd client identity
  save=$(calls '^etcdctl .*snapshot save ')
  [[ $save == *"--endpoints=https://127.0.0.1:2379"* ]]
  [[ $save == *"--cacert=$K8S_HA_FSROOT/etc/kubernetes/pki/etcd/ca.crt"* ]]
  [[ $save == *"--cert=$K8S_HA_FSROOT/etc/kubernetes/pki/etcd/healthcheck-client.crt"* ]]
  [[ $save == *"--key=$K8S_HA_FSROOT/etc/kubernetes/pki/etcd/healthcheck-client.key"* ]]
  # checked before it is uploaded
  status=$(line_of '^etcdctl snapshot status ')
  token=$(line_of '^curl .*-X PUT .*/latest/api/token')
  upload=$(line_of '^curl .*--upload-file ')
  ((status > 0 && token > status && upload > token))
  # IMDSv2: the session token, then the role, then its credentials, from the link-local address
  assert_equal "$(calls '^curl ' | grep -c 'http://169.254.169.254/latest/')" 3
  [[ $(calls '^curl ' | grep -n 'security-credentials/k8s-ha-dev-control-plane$' | cut -d: -f1) == 3 ]]
  # uploaded under the cluster's prefix, virtual-hosted style, signed for the bucket's region,
  # asking for no encryption of its own: the bucket's SSE-KMS default (its own key) applies, and
  # its policy refuses SSE-S3 (AES256)
  put=$(calls '^curl .*--upload-file ' | head -n 1)
  [[ $put == *"--aws-sigv4 aws:amz:us-east-1:s3 "* ]]
  [[ $put == *" $S3_URL/$PREFIX/$CP0-"*".db" ]]
  [[ $(calls '^curl ') != *"x-amz-server-side-encryption"* ]]
  db=$(uploaded '*.db')
  [[ -n $db && $(basename "$db") =~ ^k8s-ha-dev-cp-0-[0-9]{8}T[0-9]{6}Z\.db$ ]]
  # the sha256 beside it matches the snapshot; S3 checks the body against both digests sent
  sha_file=$(uploaded '*.db.sha256')
  sha=$(sha256sum "$db" | cut -d' ' -f1)
  [[ "$(cut -d' ' -f1 <"$sha_file")" == "$sha" ]]
  [[ $put == *"-H x-amz-content-sha256: $sha "* ]]
  [[ $put == *"-H Content-MD5: $(openssl dgst -md5 -binary "$db" | base64) "* ]]
  # the credentials went to curl in a 0600 file, never in an argv; the file is gone
  assert_equal "$(grep -c -F -e "$STUB_AWS_SECRET" -e "$STUB_AWS_SESSION" -e stubImdsToken "$STUB_LOG")" 0
  run find "$K8S_HA_FSROOT/run" -mindepth 1
  assert_output ''
  # a local copy stays, no partial file is left behind, the last result is recorded
  run find "$BACKUPS" -name '.*'
  assert_output ''
  [[ -s $BACKUPS/$(basename "$db") ]]
  grep -q "revision=4242 keys=1000" "$K8S_HA_FSROOT/var/lib/k8s-ha/etcd-backup.last"
}

@test "backup refuses an empty snapshot and uploads nothing" {
  export STUB_ETCD_KEYS=0
  run bash "$S/etcd-backup.sh"
  assert_failure
  assert_output --partial "the snapshot holds no keys (revision 4242); refusing to keep it"
  assert_equal "$(count_calls '^curl ')" 0
  run find "$BACKUPS" -type f
  assert_output ''
}

@test "backup fails when the snapshot cannot be taken, leaving no partial file" {
  export STUB_ETCDCTL_FAIL=save
  run bash "$S/etcd-backup.sh"
  assert_failure
  assert_output --partial "etcdctl snapshot save from https://127.0.0.1:2379 failed"
  assert_equal "$(count_calls '^curl ')" 0
  run find "$BACKUPS" -type f
  assert_output ''
}

@test "backup fails loudly when S3 refuses the upload (any answer but 200), keeping the local copy" {
  export STUB_S3_STATUS=403
  run bash "$S/etcd-backup.sh"
  assert_failure
  assert_output --regexp "S3 answered HTTP 403 to PUT $S3_URL/$PREFIX/k8s-ha-dev-cp-0-[0-9TZ]+\.db: .*<Code>AccessDenied</Code>"
  assert_output --partial "failed (the local copy stays in"
  refute_output --partial "etcd backup ok"
  run find "$BACKUPS" -name '*.db'
  assert_line --regexp 'k8s-ha-dev-cp-0-[0-9TZ]+\.db$'
  run find "$K8S_HA_FSROOT/run" -mindepth 1
  assert_output ''
}

@test "backup to a file:// target fails when the copy is cut short, publishing nothing and keeping the local copy" {
  # The file:// variant, its target moved into the test's directory.
  target="$BATS_TEST_TMPDIR/target"
  sed "s|^readonly UPLOAD_TARGET=.*|readonly UPLOAD_TARGET='file://$target'|" \
    "$S/../variants/etcd/backup-file-target.sh" >"$BATS_TEST_TMPDIR/backup.sh"
  # A cp that writes half of the file, then fails (a full disk, an I/O error).
  cat >"$BATS_TEST_TMPDIR/bin/cp" <<'STUB'
#!/usr/bin/env bash
src=${@: -2:1} dst=${@: -1}
head -c "$(($(stat -c %s "$src") / 2))" "$src" >"$dst"
echo "cp: error writing '$dst': No space left on device" >&2
exit 1
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/cp"
  run bash "$BATS_TEST_TMPDIR/backup.sh"
  assert_failure
  assert_output --partial "failed (the local copy stays in"
  refute_output --partial "etcd backup ok"
  run find "$target" -type f
  assert_output ''
  run find "$BACKUPS" -name '*.db'
  assert_line --regexp 'k8s-ha-dev-cp-1-[0-9TZ]+\.db$'
  [[ ! -e $K8S_HA_FSROOT/var/lib/k8s-ha/etcd-backup.last ]]
}

@test "backup fails loudly when the instance metadata service gives no credentials, uploading nothing and keeping the local copy" {
  export STUB_IMDS_FAIL=1
  run bash "$S/etcd-backup.sh"
  assert_failure
  assert_output --partial "IMDSv2: no session token from http://169.254.169.254/latest/api/token"
  refute_output --partial "etcd backup ok"
  assert_equal "$(count_calls '^curl .*--upload-file')" 0
  run find "$BACKUPS" -name '*.db'
  assert_line --regexp 'k8s-ha-dev-cp-0-[0-9TZ]+\.db$'
}

@test "backup refuses a snapshot above S3's 5 GiB for one PUT before hashing or uploading it, keeping it locally" {
  # etcdctl's snapshot, made sparse and 1 byte over 5 GiB (etcd's quota here allows 8 GiB)
  cat >"$BATS_TEST_TMPDIR/bin/etcdctl.big" <<EOF
#!/usr/bin/env bash
"$STUB_SRC/etcdctl" "\$@" || exit
[[ " \$* " != *" snapshot save "* ]] || truncate -s 5368709121 "\${*: -1}"
EOF
  chmod +x "$BATS_TEST_TMPDIR/bin/etcdctl.big"
  ln -sf "$BATS_TEST_TMPDIR/bin/etcdctl.big" "$BATS_TEST_TMPDIR/bin/etcdctl"
  run bash "$S/etcd-backup.sh"
  assert_failure
  assert_output --regexp "the snapshot is 5368709121 bytes, above S3's limit of 5368709120 bytes \(5 GiB\) for one upload; it stays in .*/etcd-backups/k8s-ha-dev-cp-0-[0-9TZ]+\.db\. Defragment"
  assert_equal "$(count_calls '^curl ')" 0
  run find "$BACKUPS" -name '*.db' -size +5G
  assert_line --regexp 'k8s-ha-dev-cp-0-[0-9TZ]+\.db$'
}

@test "backup names the missing certificate on a node that has not joined" {
  rm "$PKI/healthcheck-client.key"
  run bash "$S/etcd-backup.sh"
  assert_failure
  assert_output --partial "missing /etc/kubernetes/pki/etcd/healthcheck-client.key: is $CP0 a joined control plane?"
  assert_equal "$(count_calls '^etcdctl ')" 0
}

@test "backup keeps local copies for 3 days: older ones go, the new one stays" {
  mkdir -p "$BACKUPS"
  old="$BACKUPS/$CP0-20260101T030000Z.db"
  recent="$BACKUPS/$CP0-20260120T030000Z.db"
  echo old >"$old"
  echo old >"$old.sha256"
  echo recent >"$recent"
  touch -d '10 days ago' "$old" "$old.sha256"
  touch -d '1 day ago' "$recent"
  run bash "$S/etcd-backup.sh"
  assert_success
  [[ ! -e $old && ! -e $old.sha256 ]]
  [[ -e $recent ]]
  assert_output --partial "removed local copy $(basename "$old") (older than 3 days)"
  assert_equal "$(find "$BACKUPS" -name '*.db' | wc -l)" 2
}

@test "two backups never run at once: the second one stops at the lock" {
  mkdir -p "$K8S_HA_FSROOT/var/lib/k8s-ha"
  exec 8>"$K8S_HA_FSROOT/var/lib/k8s-ha/etcd-backup.lock"
  flock -n 8
  run bash "$S/etcd-backup.sh"
  exec 8>&-
  assert_failure
  assert_output --partial "another etcd backup is running"
  assert_equal "$(count_calls '^etcdctl ')" 0
}

@test "install puts the scripts and units in place, checks the schedule and starts the timer; a second run changes nothing" {
  run bash "$S/etcd-backup-install.sh"
  assert_success
  [[ $(calls '^systemd-analyze ') == "systemd-analyze calendar *-*-* 03:00:00" ]]
  timer="$K8S_HA_FSROOT/etc/systemd/system/k8s-ha-etcd-backup.timer"
  service="$K8S_HA_FSROOT/etc/systemd/system/k8s-ha-etcd-backup.service"
  grep -qx 'OnCalendar=\*-\*-\* 03:00:00' "$timer"
  grep -qx 'RandomizedDelaySec=30min' "$timer"
  grep -qx 'Persistent=true' "$timer"
  grep -qx 'ExecStart=/usr/local/sbin/k8s-ha-etcd-backup' "$service"
  assert_equal "$(stat -c '%a' "$K8S_HA_FSROOT/usr/local/sbin/k8s-ha-etcd-backup")" 700
  assert_equal "$(stat -c '%a' "$K8S_HA_FSROOT/usr/local/sbin/k8s-ha-etcd-restore")" 700
  assert_equal "$(stat -c '%a' "$timer")" 644
  # the installed backup script is the rendered one
  diff <(cat "$S/etcd-backup.sh") "$K8S_HA_FSROOT/usr/local/sbin/k8s-ha-etcd-backup"
  diff <(cat "$S/etcd-restore.sh") "$K8S_HA_FSROOT/usr/local/sbin/k8s-ha-etcd-restore"
  reload=$(line_of '^systemctl daemon-reload')
  enable=$(line_of '^systemctl enable --now k8s-ha-etcd-backup.timer')
  ((reload > 0 && enable > reload))

  : >"$STUB_LOG"
  run bash "$S/etcd-backup-install.sh"
  assert_success
  assert_equal "$(count_calls '^systemctl (daemon-reload|restart)')" 0
  assert_equal "$(count_calls '^systemctl enable --now k8s-ha-etcd-backup.timer')" 1
}

@test "install refuses a schedule systemd does not understand, before touching anything" {
  export STUB_BAD_CALENDAR='*-*-* 03:00:00'
  run bash "$S/etcd-backup-install.sh"
  assert_failure
  assert_output --partial "is not a valid systemd OnCalendar expression"
  [[ ! -e $K8S_HA_FSROOT/etc/systemd/system/k8s-ha-etcd-backup.timer ]]
  assert_equal "$(count_calls '^systemctl ')" 0
}
