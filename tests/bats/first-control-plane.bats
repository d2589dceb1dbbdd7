#!/usr/bin/env bats
# first-control-plane.sh: node 0 initialises a new cluster, but joins one that already answers
# (node 0 replaced) instead of starting a second etcd behind the same load balancer.

setup() {
  load helpers
  common_setup
  place_dummy_control_plane_files
}

node0_stdin() { printf '%s\n%s' "$TOKEN" "$ADMIN_KUBECONFIG"; }

@test "a new cluster: the endpoint does not answer yet, so node 0 runs kubeadm init" {
  export STUB_CURL_FAIL_FIRST=1
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_equal "$(count_calls '^kubeadm init ')" 1
  assert_equal "$(count_calls '^kubeadm join ')" 0
  # the probe trusts only this cluster's CA
  (($(line_of "^curl .*--cacert $K8S_HA_FSROOT/etc/kubernetes/pki/ca.crt .*https://$NLB:6443/readyz") == 1))
}

@test "a replaced node 0: the cluster already answers, so it joins as a control plane" {
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_output --partial "joining it (node 0 was replaced)"
  assert_equal "$(count_calls '^kubeadm init ')" 0
  assert_equal "$(count_calls '^kubeadm join --config ')" 1
  run grep -F "name: $CP0" "$STUB_STATE/kubeadm-join-config.yaml"
  assert_success
  run grep -E '^controlPlane:' "$STUB_STATE/kubeadm-join-config.yaml"
  assert_success
}

@test "an initialised node 0 re-run is a no-op, whatever the endpoint says" {
  export STUB_CURL_FAIL_FIRST=1
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  unset STUB_CURL_FAIL_FIRST
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_output --partial "already initialised; nothing to do"
  assert_equal "$(count_calls '^kubeadm (init|join)')" 1
}
