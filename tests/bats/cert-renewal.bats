#!/usr/bin/env bats
# renew-kubeconfigs.sh (the weekly timer's script) and cert-renewal-install.sh: kubeadm's own client
# certificates renewed before they expire, between `pulumi up` runs.

setup_file() {
  # real client certificates (ECDSA P-256: fast): one with 10 days left, one with 300
  export CERT_DIR="$BATS_FILE_TMPDIR/certs"
  mkdir -p "$CERT_DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj /CN=kubernetes -keyout "$CERT_DIR/ca.key" -out "$CERT_DIR/ca.crt" 2>/dev/null
  for days in 10 300; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client \
      -keyout "$CERT_DIR/$days.key" -out "$CERT_DIR/$days.csr" 2>/dev/null
    openssl x509 -req -in "$CERT_DIR/$days.csr" -CA "$CERT_DIR/ca.crt" -CAkey "$CERT_DIR/ca.key" \
      -days "$days" -out "$CERT_DIR/$days.crt" 2>/dev/null
  done
}

setup() {
  load helpers
  common_setup
  KD="$K8S_HA_FSROOT/etc/kubernetes"
  mkdir -p "$KD/manifests"
  echo apiserver >"$KD/manifests/kube-apiserver.yaml"
}

# kubeconfig_expiring_in DAYS FILE: a kubeconfig whose client certificate has DAYS days left
kubeconfig_expiring_in() {
  printf 'apiVersion: v1\nusers:\n- name: u\n  user:\n    client-certificate-data: %s\n    client-key-data: a2V5\n' \
    "$(base64 -w0 <"$CERT_DIR/$1.crt")" >"$2"
}

@test "renews only the certificates with under 90 days left, and restarts only the static pods whose kubeconfig was renewed" {
  kubeconfig_expiring_in 10 "$KD/admin.conf"
  kubeconfig_expiring_in 10 "$KD/controller-manager.conf"
  kubeconfig_expiring_in 300 "$KD/scheduler.conf"
  run bash "$S/renew-kubeconfigs.sh"
  assert_success
  assert_output --regexp "admin.conf: (9|10) days left, renewed"
  assert_output --regexp "scheduler.conf: (299|300) days left \(renewed under 90\); nothing to do"
  assert_equal "$(count_calls '^kubeadm certs renew admin.conf --config ')" 1
  assert_equal "$(count_calls '^kubeadm certs renew controller-manager.conf --config ')" 1
  assert_equal "$(count_calls '^kubeadm certs renew (scheduler|super-admin)')" 0
  assert_equal "$(count_calls '^crictl .* stop --timeout 45 kube-controller-manager-1$')" 1
  assert_equal "$(count_calls '^crictl .* stop ')" 1
  # the renewal's kubeadm configuration carries the installed kubeadm's version
  assert_equal "$(count_calls '^kubeadm version -o short$')" 1
}

@test "nothing to renew: no kubeadm renewal, no restart" {
  kubeconfig_expiring_in 300 "$KD/admin.conf"
  kubeconfig_expiring_in 300 "$KD/controller-manager.conf"
  run bash "$S/renew-kubeconfigs.sh"
  assert_success
  assert_equal "$(count_calls '^kubeadm certs |^crictl .* stop ')" 0
}

@test "a node without a control plane yet does nothing" {
  rm "$KD/manifests/kube-apiserver.yaml"
  run bash "$S/renew-kubeconfigs.sh"
  assert_success
  assert_output --partial "runs no control plane yet"
  assert_equal "$(count_calls '^(kubeadm|crictl) ')" 0
}

@test "an unreadable client certificate fails, naming the file" {
  printf 'users:\n- user:\n    client-certificate-data: bm90IGEgY2VydA==\n' >"$KD/admin.conf"
  run bash "$S/renew-kubeconfigs.sh"
  assert_failure
  assert_output --partial "cannot read the client certificate in $KD/admin.conf"
}

@test "the installer writes the script and the weekly timer, enables it, and a second run changes nothing" {
  run bash "$S/cert-renewal-install.sh"
  assert_success
  [[ -x $K8S_HA_FSROOT/usr/local/sbin/k8s-ha-renew-kubeconfigs ]]
  assert_equal "$(stat -c %a "$K8S_HA_FSROOT/usr/local/sbin/k8s-ha-renew-kubeconfigs")" 700
  run grep -F 'OnCalendar=weekly' "$K8S_HA_FSROOT/etc/systemd/system/k8s-ha-kubeconfig-renewal.timer"
  assert_success
  run grep -F 'ExecStart=/usr/local/sbin/k8s-ha-renew-kubeconfigs' "$K8S_HA_FSROOT/etc/systemd/system/k8s-ha-kubeconfig-renewal.service"
  assert_success
  assert_equal "$(count_calls '^systemctl daemon-reload$')" 1
  assert_equal "$(count_calls '^systemctl enable --now k8s-ha-kubeconfig-renewal.timer$')" 1
  : >"$STUB_LOG"
  run bash "$S/cert-renewal-install.sh"
  assert_success
  assert_equal "$(count_calls '^systemctl (daemon-reload|restart)')" 0
}

@test "the installed script is the rendered renewal script" {
  run bash "$S/cert-renewal-install.sh"
  assert_success
  diff <(cat "$S/renew-kubeconfigs.sh") "$K8S_HA_FSROOT/usr/local/sbin/k8s-ha-renew-kubeconfigs"
}
