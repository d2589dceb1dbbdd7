#!/usr/bin/env bats
# join-*.sh: kubeadm join with token and CA hash in its config. A control plane refreshes the
# shared token through the NLB with the admin kubeconfig; a worker gets its own token only and
# waits until it is usable (its join-token step makes it on a control plane: workers.bats).

setup() {
  load helpers
  common_setup
}

join_stdin() { printf '%s\n%s' "$TOKEN" "$ADMIN_KUBECONFIG"; }
worker_stdin() { printf '%s\n' "$TOKEN"; }

@test "worker join passes the token and the CA hash to kubeadm in its config file" {
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_success
  assert_equal "$(count_calls '^kubeadm join --config ')" 1
  cfg="$STUB_STATE/kubeadm-join-config.yaml"
  run grep -F "token: \"$TOKEN\"" "$cfg"
  assert_success
  run grep -F -- "- $CA_HASH" "$cfg"
  assert_success
  run grep -F "apiServerEndpoint: $NLB:6443" "$cfg"
  assert_success
  run grep -F "name: $WORKER" "$cfg"
  assert_success
  # a worker's JoinConfiguration has no controlPlane section
  run grep -E '^controlPlane:' "$cfg"
  assert_failure
}

@test "control-plane join refreshes the bootstrap token through the NLB before joining" {
  place_dummy_control_plane_files
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  assert_success
  apply_line=$(line_of '^kubectl .* apply --server-side')
  join_line=$(line_of '^kubeadm join')
  ((apply_line > 0 && join_line > apply_line))
  manifest="$STUB_STATE/kubectl-apply.yaml"
  run grep -F "name: bootstrap-token-abcdef" "$manifest"
  assert_success
  run grep -F "type: bootstrap.kubernetes.io/token" "$manifest"
  assert_success
  run grep -F "data token-secret: $(printf '%s' "$TOKEN_SECRET" | base64 -w0)" "$manifest"
  assert_success
  run grep -F "literal auth-extra-groups: system:bootstrappers:kubeadm:default-node-token" "$manifest"
  assert_success
  # the new expiry lies about 30 minutes ahead
  expiration=$(sed -n 's/^literal expiration: //p' "$manifest")
  delta=$(($(date -u -d "$expiration" +%s) - $(date -u +%s)))
  ((delta > 25 * 60 && delta <= 30 * 60))
  # the kubectl calls used the admin kubeconfig that came on stdin
  run diff <(printf '%s\n' "$ADMIN_KUBECONFIG") "$STUB_STATE/kubectl-kubeconfig"
  assert_success
}

@test "defect: a worker joins with its bootstrap token alone: no admin kubeconfig read, no token made, no admin kubectl call" {
  # stdin holds the token only; the old script died waiting for the admin kubeconfig after line 1
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_success
  assert_equal "$(count_calls ' apply ')" 0
  # every kubectl call used the kubelet's own credential
  run grep -E '^kubectl ' "$STUB_LOG"
  refute_output --partial "/run/"
  assert_output --partial "--kubeconfig $K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
}

@test "a worker waits until its token is signed in cluster-info (its join-token step runs meanwhile), then joins" {
  printf 'zzzzzz\n' >"$STUB_STATE/jws-token-ids"
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_failure
  assert_output --partial "bootstrap token abcdef is not usable"
  assert_output --partial "$WORKER-join-token"
  assert_equal "$(count_calls '^kubeadm join')" 0
  printf 'zzzzzz\nabcdef\n' >"$STUB_STATE/jws-token-ids"
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_success
  assert_output --partial "bootstrap token abcdef to be usable (signed in cluster-info): ok"
  (($(line_of '/configmaps/cluster-info') < $(line_of '^kubeadm join')))
}

@test "join never puts the token's secret or the admin key in a command line, and removes its copies" {
  place_dummy_control_plane_files
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  assert_success
  run grep -F -e "$TOKEN_SECRET" -e "$KEY_DATA" "$STUB_LOG"
  assert_failure
  run find "$K8S_HA_FSROOT/run" -mindepth 1
  assert_output ''
}

@test "worker join succeeds only once the Node is registered (bounded wait)" {
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_success
  assert_output --partial "Node $WORKER registered: ok"
  rm -rf "$K8S_HA_FSROOT/etc/kubernetes" "$K8S_HA_FSROOT/var/lib/k8s-ha" "$STUB_STATE/node-$WORKER"
  export STUB_KUBEADM_NO_NODE=1
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_failure
  assert_output --partial "attempt 120/120"
  assert_output --partial "joined, but Node $WORKER did not appear"
}

@test "a second join is a no-op" {
  place_dummy_control_plane_files
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  assert_success
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  assert_success
  assert_output --partial "already joined"
  assert_equal "$(count_calls '^kubeadm ')" 1
  assert_equal "$(count_calls ' apply ')" 1
}

@test "control-plane join adds controlPlane.localAPIEndpoint and waits for the local apiserver" {
  place_dummy_control_plane_files
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  assert_success
  cfg="$STUB_STATE/kubeadm-join-config.yaml"
  run grep -A3 -E '^controlPlane:' "$cfg"
  assert_output --partial "advertiseAddress: 10.0.32.10"
  assert_output --partial "bindPort: 6443"
  run grep -F certificateKey "$cfg"
  assert_failure
  (($(line_of '^curl .*https://10.0.32.10:6443/readyz') > $(line_of '^kubeadm join')))
}

@test "control-plane join refuses to run without the placed PKI" {
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  assert_failure
  assert_output --partial "missing input files"
  assert_output --partial "/etc/kubernetes/pki/etcd/ca.key"
  assert_equal "$(count_calls '^kubeadm ')" 0
}

@test "join fails fast, naming the input, when stdin is empty" {
  run bash "$S/join-worker.sh" </dev/null
  assert_failure
  assert_output --partial "missing input: the bootstrap token (stdin line 1) is empty"
  assert_equal "$(count_calls '^(kubeadm|kubectl) ')" 0
}

@test "control-plane join fails fast, naming the input, when the admin kubeconfig is missing" {
  place_dummy_control_plane_files
  run bash "$S/join-control-plane.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "missing input: the admin kubeconfig (stdin after line 1) is empty"
  assert_equal "$(count_calls '^(kubeadm|kubectl) ')" 0
}

@test "join removes its secret copies when kubeadm join fails" {
  export STUB_KUBEADM_FAIL=join
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_failure
  assert_output --partial "kubeadm join failed"
  run find "$K8S_HA_FSROOT/run" -mindepth 1
  assert_output ''
}

@test "defect: a worker join that stopped after kubelet-start (Node never registered) is undone and redone, not reported done" {
  echo kubelet >"$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_success
  assert_output --partial "an earlier kubeadm join of $WORKER did not finish (it left $K8S_HA_FSROOT/etc/kubernetes/kubelet.conf)"
  assert_output --partial "undoing it"
  reset=$(line_of '^kubeadm reset -f')
  join=$(line_of '^kubeadm join --config ')
  ((reset > 0 && join > reset))
  [[ -e $K8S_HA_FSROOT/var/lib/k8s-ha/joined ]]
}

@test "defect: a worker join that failed before the kubelet's TLS bootstrap (CA and kubelet config written, no kubelet.conf) is undone and redone" {
  # kubeadm's preflight refuses a join over the CA it wrote: without the undo every retry fails
  mkdir -p "$K8S_HA_FSROOT/etc/kubernetes/pki" "$K8S_HA_FSROOT/var/lib/kubelet"
  echo ca >"$K8S_HA_FSROOT/etc/kubernetes/pki/ca.crt"
  echo config >"$K8S_HA_FSROOT/var/lib/kubelet/config.yaml"
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_success
  assert_output --partial "did not finish (it left $K8S_HA_FSROOT/var/lib/kubelet/config.yaml $K8S_HA_FSROOT/etc/kubernetes/pki/ca.crt)"
  refute_output --partial "to answer after an earlier join"
  reset=$(line_of '^kubeadm reset -f')
  join=$(line_of '^kubeadm join --config ')
  ((reset > 0 && join > reset))
  [[ -e $K8S_HA_FSROOT/var/lib/k8s-ha/joined ]]
}

@test "a worker joined before the markers existed is recognised, not reset" {
  echo kubelet >"$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  touch "$STUB_STATE/node-$WORKER"
  run bash "$S/join-worker.sh" < <(worker_stdin)
  assert_success
  assert_output --partial "joined before"
  assert_equal "$(count_calls '^kubeadm ')" 0
  [[ -e $K8S_HA_FSROOT/var/lib/k8s-ha/joined ]]
}

@test "defect: a control-plane join removes the etcd member an earlier attempt left (a learner blocks the next), keeping the placed PKI" {
  place_dummy_control_plane_files
  etcd_members "$CP0 True" "$CP1 False true" "$CP2 True"
  echo kubelet >"$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  export STUB_CURL_FAIL_FIRST=0
  printf '%s\n' "10.0.32.10:6443/readyz 7" >"$STUB_STATE/curl-rules"
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  # the local apiserver never answers in this test, so the redone join fails at its last wait;
  # what matters is what happened before it
  assert_output --partial "undoing it, keeping the placed PKI"
  assert_output --partial "removing the etcd member"
  run grep -c " $CP1 " "$STUB_STATE/etcd-members"
  assert_output 0
  (($(line_of ' member remove ') < $(line_of '^kubeadm join --config ')))
  [[ -s $K8S_HA_FSROOT/etc/kubernetes/pki/ca.key ]]
}

@test "defect: a control-plane join that failed before kubelet.conf (kubeconfigs and manifests written, its learner left) is undone and redone, keeping the placed PKI" {
  place_dummy_control_plane_files
  etcd_members "$CP0 True" "- False true https://10.0.32.10:2379" "$CP2 True"
  mkdir -p "$K8S_HA_FSROOT/etc/kubernetes/manifests"
  for f in admin.conf controller-manager.conf scheduler.conf manifests/kube-apiserver.yaml manifests/etcd.yaml; do
    echo "$f" >"$K8S_HA_FSROOT/etc/kubernetes/$f"
  done
  export STUB_CURL_FAIL_FIRST=0
  printf '%s\n' "10.0.32.10:6443/readyz 7" >"$STUB_STATE/curl-rules"
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  # the local apiserver never answers in this test, so the redone join fails at its last wait
  assert_output --partial "did not finish (it left $K8S_HA_FSROOT/etc/kubernetes/admin.conf"
  assert_output --partial "undoing it, keeping the placed PKI"
  reset=$(line_of '^kubeadm reset -f')
  join=$(line_of '^kubeadm join --config ')
  ((reset > 0 && join > reset))
  (($(line_of ' member remove ') < join))
  [[ -s $K8S_HA_FSROOT/etc/kubernetes/pki/ca.key ]]
}

@test "defect: a learner that never started (no name yet) is found by this node's peer URL and removed before the join" {
  place_dummy_control_plane_files
  etcd_members "$CP0 True" "- False true https://10.0.32.10:2379" "$CP2 True"
  export STUB_CURL_FAIL_FIRST=0
  printf '%s\n' "10.0.32.10:6443/readyz 7" >"$STUB_STATE/curl-rules"
  run bash "$S/join-control-plane.sh" < <(join_stdin)
  assert_output --partial "removing the etcd member 000000008e9e0002 of $CP1"
  run grep -c "10.0.32.10" "$STUB_STATE/etcd-members"
  assert_output 0
}
