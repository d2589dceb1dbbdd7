#!/usr/bin/env bats
# first-control-plane.sh: node 0 initialises a new cluster, but joins one that already answers
# (node 0 replaced) instead of starting a second etcd behind the same load balancer. The sample's
# other control plane in the sample (cp-1) is at 10.0.32.10.

setup() {
  load helpers
  common_setup
  place_dummy_control_plane_files
}

node0_stdin() { printf '%s\n%s' "$TOKEN" "$ADMIN_KUBECONFIG"; }
# peers CODE: what curl gets from the other control plane's apiserver and etcd (7 refused, 28 no answer)
peers() { printf '%s\n' "10.0.32.10:6443 $1" "10.0.32.10:2379 $1" >"$STUB_STATE/curl-rules"; }

@test "a new cluster: the endpoint does not answer yet and every other control plane refuses, so node 0 runs kubeadm init" {
  export STUB_CURL_FAIL_FIRST=1
  peers 7
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_output --partial "every connection refused): a new cluster"
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

@test "defect: a replaced node 0 whose join failed half-way (admin.conf and manifests, no super-admin.conf) joins again, never init" {
  # a control-plane join writes admin.conf early; only kubeadm init writes super-admin.conf
  mkdir -p "$K8S_HA_FSROOT/etc/kubernetes/manifests"
  echo admin >"$K8S_HA_FSROOT/etc/kubernetes/admin.conf"
  echo apiserver >"$K8S_HA_FSROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_output --partial "joining it (node 0 was replaced)"
  assert_equal "$(count_calls '^kubeadm init')" 0
  (($(line_of '^kubeadm reset -f') > 0 && $(line_of '^kubeadm join --config ') > $(line_of '^kubeadm reset -f')))
  [[ ! -e $K8S_HA_FSROOT/var/lib/k8s-ha/initialised && -e $K8S_HA_FSROOT/var/lib/k8s-ha/joined ]]
}

@test "an initialised node 0 re-run is a no-op, whatever the endpoint says" {
  export STUB_CURL_FAIL_FIRST=1
  peers 7
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  unset STUB_CURL_FAIL_FIRST
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_output --partial "already initialised; nothing to do"
  assert_equal "$(count_calls '^kubeadm (init|join)')" 1
}

@test "defect: a replaced node 0 whose NLB probe fails once still joins: the other control planes answer directly" {
  export STUB_CURL_FAIL_FIRST=1
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_output --partial "joining it (node 0 was replaced)"
  assert_equal "$(count_calls '^kubeadm init')" 0
  # the etcd probe uses the etcd CA and the health-check client certificate
  run grep -E "^curl .*https://10.0.32.10:(6443|2379)/" "$STUB_LOG"
  assert_success
}

@test "defect: an etcd member that answers on 2379 (apiserver down) is a cluster: join, never init" {
  export STUB_CURL_FAIL_FIRST=1
  printf '%s\n' "10.0.32.10:6443 7" >"$STUB_STATE/curl-rules"
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_success
  assert_equal "$(count_calls '^kubeadm init')" 0
  run grep -E "^curl .*https://10.0.32.10:2379/health .*--cert $K8S_HA_FSROOT/etc/kubernetes/pki/etcd/healthcheck-client.crt" "$STUB_LOG"
  assert_success
}

@test "defect: a control plane that does not answer at all: refuses kubeadm init after the probe rounds, naming it" {
  printf '%s\n' "$NLB:6443/readyz 7" >"$STUB_STATE/curl-rules"
  peers 28
  printf '%s\n' "$NLB:6443/readyz 7" >>"$STUB_STATE/curl-rules"
  run bash "$S/first-control-plane.sh" < <(node0_stdin)
  assert_failure
  assert_output --partial "refusing kubeadm init on $CP0: after 24 rounds some control planes (10.0.32.10) still do not answer"
  assert_equal "$(count_calls '^kubeadm ')" 0
  assert_equal "$(count_calls '^sleep ')" 24
}
