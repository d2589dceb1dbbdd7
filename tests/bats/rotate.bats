#!/usr/bin/env bats
# rotate.sh: after place-pki changed certificates, restart what reads them, one at a time.

setup_file() {
  # two real CAs (ECDSA P-256: fast) for the kubeconfig CA comparison
  export CA_DIR="$BATS_FILE_TMPDIR/cas"
  mkdir -p "$CA_DIR"
  for n in old new; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj /CN=kubernetes -keyout "$CA_DIR/$n.key" -out "$CA_DIR/$n.crt" 2>/dev/null
  done
}

setup() {
  load helpers
  common_setup
  KD="$K8S_HA_FSROOT/etc/kubernetes"
  mkdir -p "$KD/pki" "$K8S_HA_FSROOT/var/lib/k8s-ha"
  echo kubelet >"$KD/kubelet.conf"
  cp "$CA_DIR/old.crt" "$KD/pki/ca.crt"
}

record_changes() { printf '%s\n' "$@" >"$K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed"; }
kubeconfig_with_ca() {
  printf 'apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n    server: https://x:6443\n  name: k\n' \
    "$(base64 -w0 <"$1")" >"$2"
}

@test "rotate is a no-op when place-pki recorded no change" {
  run bash "$S/rotate.sh"
  assert_success
  assert_output --partial "nothing to rotate"
  assert_equal "$(count_calls '^(crictl|kubeadm|systemctl) ')" 0
}

@test "a renewed apiserver certificate restarts apiserver, controller-manager and scheduler in turn, not etcd" {
  record_changes /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.key
  run bash "$S/rotate.sh"
  assert_success
  assert_equal "$(count_calls '^crictl .* stop --timeout 45 kube-apiserver-1$')" 1
  assert_equal "$(count_calls '^crictl .* stop --timeout 45 kube-controller-manager-1$')" 1
  assert_equal "$(count_calls '^crictl .* stop --timeout 45 kube-scheduler-1$')" 1
  assert_equal "$(count_calls '^crictl .* stop etcd')" 0
  # each restart waits for the component's health before the next one
  api_ok=$(line_of '^curl .*https://10.0.16.10:6443/readyz')
  cm_stop=$(line_of 'stop --timeout 45 kube-controller-manager')
  cm_ok=$(line_of '^curl .*127.0.0.1:10257/healthz')
  sched_stop=$(line_of 'stop --timeout 45 kube-scheduler')
  ((api_ok > 0 && cm_stop > api_ok && cm_ok > cm_stop && sched_stop > cm_ok))
  # a leaf renewal regenerates no kubeconfig (none here to renew) and keeps the kubelet
  assert_equal "$(count_calls '^(kubeadm (init|certs)|systemctl) ')" 0
  [[ ! -e $K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed ]]
}

@test "defect: a renewed etcd certificate stops the apiserver first (out of the load balancer), restarts etcd while it is out, and waits for both" {
  # The apiserver reads only the local etcd: left in the load balancer while etcd restarted, it
  # timed out requests through the NLB stand-in (tests/nodes/rotation.spec.ts).
  record_changes /etc/kubernetes/pki/etcd/server.crt
  run bash "$S/rotate.sh"
  assert_success
  api_stop=$(line_of '^crictl .* stop --timeout 45 kube-apiserver-1$')
  etcd_stop=$(line_of '^crictl .* stop --timeout 45 etcd-1$')
  etcd_ok=$(line_of '^curl .*http://127.0.0.1:2381/health')
  api_ok=$(line_of '^curl .*https://10.0.16.10:6443/readyz')
  cm_stop=$(line_of 'stop --timeout 45 kube-controller-manager')
  ((api_stop > 0 && etcd_stop > api_stop && etcd_ok > etcd_stop && api_ok > etcd_ok && cm_stop > api_ok))
  # nothing between the apiserver's stop and etcd's but etcd's lookup: no wait for the apiserver
  assert_equal "$(sed -n "$((api_stop + 1)),$((etcd_stop - 1))p" "$STUB_LOG" | grep -cv '^crictl .* ps ')" 0
  assert_equal "$(count_calls '^crictl .* stop ')" 4
}

@test "a new cluster CA regenerates exactly the kubeconfigs that embed the old one, and restarts the kubelet" {
  cp "$CA_DIR/new.crt" "$KD/pki/ca.crt"
  kubeconfig_with_ca "$CA_DIR/old.crt" "$KD/admin.conf"
  kubeconfig_with_ca "$CA_DIR/old.crt" "$KD/controller-manager.conf"
  kubeconfig_with_ca "$CA_DIR/new.crt" "$KD/scheduler.conf"
  kubeconfig_with_ca "$CA_DIR/old.crt" "$KD/kubelet.conf"
  record_changes /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/ca.key
  run bash "$S/rotate.sh"
  assert_success
  assert_equal "$(count_calls '^kubeadm init phase kubeconfig admin --config ')" 1
  assert_equal "$(count_calls '^kubeadm init phase kubeconfig controller-manager ')" 1
  assert_equal "$(count_calls '^kubeadm init phase kubeconfig kubelet ')" 1
  assert_equal "$(count_calls 'kubeconfig (scheduler|super-admin) ')" 0
  assert_equal "$(count_calls '^systemctl restart kubelet$')" 1
  # the phase config is this node's InitConfiguration + ClusterConfiguration, without a token
  run grep -c -E '^kind: (InitConfiguration|ClusterConfiguration)$' "$STUB_STATE/kubeadm-phase-config.yaml"
  assert_output 2
  run grep -E 'token|bootstrapTokens' "$STUB_STATE/kubeadm-phase-config.yaml"
  assert_failure
  # ... at the installed kubeadm's version (a version bump must not change rotate's text)
  run grep -E '^kubernetesVersion: v1\.35\.2$' "$STUB_STATE/kubeadm-phase-config.yaml"
  assert_success
  # the old files are kept aside
  run find "$K8S_HA_FSROOT/var/lib/k8s-ha" -path '*kubeconfig-backup-*' -name admin.conf
  refute_output ''
}

@test "defect: a kubeconfig that fails to regenerate stays in place with the change record, and the retry regenerates it" {
  cp "$CA_DIR/new.crt" "$KD/pki/ca.crt"
  kubeconfig_with_ca "$CA_DIR/old.crt" "$KD/kubelet.conf"
  kubeconfig_with_ca "$CA_DIR/old.crt" "$KD/admin.conf"
  record_changes /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/ca.key
  export STUB_KUBEADM_KUBECONFIG_FAIL=kubelet
  run bash "$S/rotate.sh"
  assert_failure
  assert_output --partial "kubeadm init phase kubeconfig kubelet failed"
  # nothing was moved away: the node still counts as joined, the record waits for the retry
  grep -qF "$(base64 -w0 <"$CA_DIR/old.crt")" "$KD/kubelet.conf"
  [[ -s $K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed ]]
  unset STUB_KUBEADM_KUBECONFIG_FAIL
  : >"$STUB_LOG"
  run bash "$S/rotate.sh"
  assert_success
  refute_output --partial "has not joined yet"
  grep -qF "$(base64 -w0 <"$CA_DIR/new.crt")" "$KD/kubelet.conf"
  grep -qF "$(base64 -w0 <"$CA_DIR/new.crt")" "$KD/admin.conf"
  assert_equal "$(count_calls '^systemctl restart kubelet$')" 1
  run find "$KD" -name '.kubeconfigs-new'
  assert_output ''
}

@test "rotate before the node joined only clears the record" {
  rm "$KD/kubelet.conf"
  record_changes /etc/kubernetes/pki/apiserver.crt
  run bash "$S/rotate.sh"
  assert_success
  assert_output --partial "has not joined yet"
  assert_equal "$(count_calls '^crictl ')" 0
  [[ ! -e $K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed ]]
}

@test "rotate fails after a bounded wait when the apiserver stays unhealthy, keeping the record for a retry" {
  record_changes /etc/kubernetes/pki/apiserver.crt
  export STUB_CURL_FAIL=always
  run bash "$S/rotate.sh"
  assert_failure
  assert_output --partial "kube-apiserver did not become healthy after the restart"
  assert_equal "$(count_calls '^sleep ')" 120
  [[ -s $K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed ]]
}

@test "defect: every rotation renews the client certificates kubeadm signed into the control plane's kubeconfigs, before the restarts" {
  for f in admin.conf controller-manager.conf scheduler.conf; do kubeconfig_with_ca "$CA_DIR/old.crt" "$KD/$f"; done
  record_changes /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.key
  run bash "$S/rotate.sh"
  assert_success
  for f in admin.conf controller-manager.conf scheduler.conf; do
    assert_equal "$(count_calls "^kubeadm certs renew $f --config ")" 1
  done
  # super-admin.conf does not exist on this node (kubeadm writes it on node 0 only): skipped;
  # kubelet.conf is the kubelet's own business (it rotates its client certificate itself)
  assert_equal "$(count_calls '^kubeadm certs renew (super-admin|kubelet)')" 0
  (($(line_of '^kubeadm certs renew scheduler.conf') < $(line_of 'stop --timeout 45 kube-controller-manager')))
}

@test "a failed renewal stops the rotation before any restart, and keeps the change record for the retry" {
  kubeconfig_with_ca "$CA_DIR/old.crt" "$KD/admin.conf"
  record_changes /etc/kubernetes/pki/apiserver.crt
  export STUB_KUBEADM_FAIL=certs
  run bash "$S/rotate.sh"
  assert_failure
  assert_output --partial "kubeadm certs renew admin.conf failed"
  assert_equal "$(count_calls '^crictl .* stop ')" 0
  [[ -s $K8S_HA_FSROOT/var/lib/k8s-ha/pki-changed ]]
}
