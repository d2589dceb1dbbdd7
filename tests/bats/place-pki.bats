#!/usr/bin/env bats
# place-pki.sh: "<mode> <path> <base64>" lines from stdin, confined to /etc/kubernetes.

setup() {
  load helpers
  common_setup
  PKI="$K8S_HA_FSROOT/etc/kubernetes/pki"
}

entry() { printf '%s %s %s\n' "$1" "$2" "$(printf '%s' "$3" | base64 -w0)"; }

@test "place-pki writes every file with its mode and reports what changed" {
  run bash "$S/place-pki.sh" < <(
    entry 0644 /etc/kubernetes/pki/ca.crt "CA CERT"
    entry 0600 /etc/kubernetes/pki/ca.key "CA KEY"
    entry 0600 /etc/kubernetes/pki/etcd/peer.key "PEER KEY"
  )
  assert_success
  assert_output --partial "changed /etc/kubernetes/pki/ca.crt"
  assert_output --partial "summary: 3 changed, 0 unchanged"
  assert_equal "$(cat "$PKI/ca.crt")" "CA CERT"
  assert_equal "$(cat "$PKI/etcd/peer.key")" "PEER KEY"
  assert_equal "$(stat -c %a "$PKI/ca.crt")" 644
  assert_equal "$(stat -c %a "$PKI/ca.key")" 600
  assert_equal "$(stat -c %a "$PKI/etcd/peer.key")" 600
  run cat "$K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed"
  assert_output "$(printf '%s\n' /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/ca.key /etc/kubernetes/pki/etcd/peer.key)"
  # no temporary files are left behind
  run find "$K8S_HA_FSROOT" -name '.k8s-ha-place.*'
  assert_output ''
}

@test "place-pki rewrites only changed files and records them for rotate" {
  input() {
    entry 0644 /etc/kubernetes/pki/ca.crt "CA CERT"
    entry 0644 /etc/kubernetes/pki/apiserver.crt "$1"
  }
  run bash "$S/place-pki.sh" < <(input v1)
  assert_success
  rm "$K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed"
  ino=$(stat -c %i "$PKI/ca.crt")
  run bash "$S/place-pki.sh" < <(input v1)
  assert_success
  assert_output --partial "summary: 0 changed, 2 unchanged"
  [[ ! -e $K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed ]]
  run bash "$S/place-pki.sh" < <(input v2)
  assert_success
  assert_output --partial "changed /etc/kubernetes/pki/apiserver.crt"
  assert_output --partial "summary: 1 changed, 1 unchanged"
  assert_equal "$(cat "$PKI/apiserver.crt")" v2
  assert_equal "$(stat -c %i "$PKI/ca.crt")" "$ino"
  run cat "$K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed"
  assert_output /etc/kubernetes/pki/apiserver.crt
}

@test "place-pki fixes a wrong mode without counting the file as changed" {
  run bash "$S/place-pki.sh" < <(entry 0600 /etc/kubernetes/pki/sa.key "SA")
  assert_success
  chmod 0640 "$PKI/sa.key"
  run bash "$S/place-pki.sh" < <(entry 0600 /etc/kubernetes/pki/sa.key "SA")
  assert_success
  assert_output --partial "mode of /etc/kubernetes/pki/sa.key set to 0600"
  assert_output --partial "summary: 0 changed, 1 unchanged"
  assert_equal "$(stat -c %a "$PKI/sa.key")" 600
}

@test "place-pki refuses a path outside /etc/kubernetes and writes nothing" {
  for bad in /etc/passwd /etc/kubernetes/../passwd /etc/kubernetes/pki/./ca.crt /tmp/ca.crt /etc/kubernetesX/ca.crt; do
    run bash "$S/place-pki.sh" < <(
      entry 0644 /etc/kubernetes/pki/ca.crt "CA CERT"
      entry 0644 "$bad" "EVIL"
    )
    assert_failure
    assert_output --partial "refusing stdin line 2: $bad is not a plain path under /etc/kubernetes/"
  done
  [[ ! -e $PKI/ca.crt ]]
  [[ ! -e $K8S_HA_FSROOT/etc/passwd ]]
}

@test "place-pki refuses a private key that is not 0600, and writable modes" {
  run bash "$S/place-pki.sh" < <(entry 0644 /etc/kubernetes/pki/ca.key "KEY")
  assert_failure
  assert_output --partial "private key /etc/kubernetes/pki/ca.key must have mode 0600, not 0644"
  run bash "$S/place-pki.sh" < <(entry 0666 /etc/kubernetes/pki/ca.crt "CERT")
  assert_failure
  assert_output --partial "is group- or world-writable"
  [[ ! -e $PKI ]]
}

@test "place-pki fails fast, naming the input, on empty stdin" {
  run bash "$S/place-pki.sh" </dev/null
  assert_failure
  assert_output --partial "missing input: no PKI entries on stdin"
}

@test "place-pki rejects malformed lines, bad base64 and duplicates without echoing content" {
  run bash "$S/place-pki.sh" <<<"0644 /etc/kubernetes/pki/ca.crt"
  assert_failure
  assert_output --partial "stdin line 1 is not '<octal mode> <absolute path> <base64 content>'"
  run bash "$S/place-pki.sh" <<<"0644 /etc/kubernetes/pki/ca.crt Q0FDRVJU="
  assert_failure
  assert_output --partial "is not valid base64"
  run bash "$S/place-pki.sh" < <(entry 0644 /etc/kubernetes/pki/ca.crt A; entry 0644 /etc/kubernetes/pki/ca.crt B)
  assert_failure
  assert_output --partial "appears twice"
  [[ ! -e $PKI ]]
}
