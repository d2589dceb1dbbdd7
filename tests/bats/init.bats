#!/usr/bin/env bats
# init.sh: kubeadm init once, the token only on stdin, success only when the NLB answers.

setup() {
  load helpers
  common_setup
  place_dummy_control_plane_files
}

@test "init runs kubeadm init with the stdin token in its config, then waits for the API through the NLB" {
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  assert_equal "$(count_calls '^kubeadm init ')" 1
  assert_equal "$(count_calls '^kubeadm init --config .* --skip-token-print$')" 1
  # the config kubeadm was given carries the token (quoted) and the NLB endpoint
  run grep -F "token: \"$TOKEN\"" "$STUB_STATE/kubeadm-init-config.yaml"
  assert_success
  run grep -F "controlPlaneEndpoint: $NLB:6443" "$STUB_STATE/kubeadm-init-config.yaml"
  assert_success
  # the version is the installed kubeadm's, not text of the script (a bump must not change init)
  run grep -E '^kubernetesVersion: v1\.35\.2$' "$STUB_STATE/kubeadm-init-config.yaml"
  assert_success
  run grep -F 'k8s-ha-installed-kubeadm-version' "$STUB_STATE/kubeadm-init-config.yaml"
  assert_failure
  # the readiness probe goes through the NLB, after kubeadm init
  (($(line_of "^curl .*https://$NLB:6443/readyz") > $(line_of '^kubeadm init')))
  # the token never appears in any command line
  run grep -F "$TOKEN_SECRET" "$STUB_LOG"
  assert_failure
  # the scratch copy of the config (with the token) is gone
  run find "$K8S_HA_FSROOT/run" -mindepth 1
  assert_output ''
}

@test "a second init is a no-op" {
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  assert_output --partial "already initialised; nothing to do"
  assert_equal "$(count_calls '^kubeadm (init|join)')" 1
}

@test "init waits with bounded retries and progress until the NLB answers" {
  export STUB_CURL_FAIL_FIRST=2
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  assert_output --partial "attempt 1/120"
  assert_output --partial "attempt 2/120"
  assert_equal "$(count_calls '^sleep 5$')" 2
}

@test "init fails after the bounded wait when the NLB never answers" {
  export STUB_CURL_FAIL=always
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "did not answer within 600s"
  assert_equal "$(count_calls '^sleep ')" 120
}

@test "init fails fast, naming the input, when stdin has no token" {
  run bash "$S/init.sh" </dev/null
  assert_failure
  assert_output --partial "missing input: the bootstrap token (stdin line 1) is empty"
  assert_equal "$(count_calls '^kubeadm ')" 0
}

@test "init rejects a malformed token without echoing it" {
  run bash "$S/init.sh" <<<"ABCDEF.not-a-valid-token-x"
  assert_failure
  assert_output --partial "malformed input: the bootstrap token"
  refute_output --partial "not-a-valid-token"
  assert_equal "$(count_calls '^kubeadm ')" 0
}

@test "init refuses to run without the placed PKI, naming the missing file" {
  rm "$K8S_HA_FSROOT/etc/kubernetes/pki/ca.key"
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "missing input files"
  assert_output --partial "/etc/kubernetes/pki/ca.key"
  assert_equal "$(count_calls '^kubeadm ')" 0
}

@test "init masks the token if kubeadm prints it" {
  export STUB_KUBEADM_PRINT_TOKEN=1
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  assert_output --partial "Using token: abcdef.<redacted>"
  refute_output --partial "$TOKEN_SECRET"
}

@test "init keeps a numeric-looking token a YAML string" {
  run bash "$S/init.sh" <<<"123456.1234567890123456"
  assert_success
  run grep -F 'token: "123456.1234567890123456"' "$STUB_STATE/kubeadm-init-config.yaml"
  assert_success
}

@test "init refuses a half-initialised node instead of re-running kubeadm" {
  mkdir -p "$K8S_HA_FSROOT/etc/kubernetes/manifests"
  echo x >"$K8S_HA_FSROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "stopped half-way"
  assert_equal "$(count_calls '^kubeadm ')" 0
}

@test "init fails with a message when kubeadm init fails" {
  export STUB_KUBEADM_FAIL=init
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "kubeadm init failed"
  assert_equal "$(count_calls '^curl ')" 0
}

# What kubeadm init leaves once its kubelet-start phase ran: the kubeconfigs of the control plane's
# components, the static pod manifests and the kubelet's configuration (admin.conf and
# super-admin.conf are each test's to place).
place_started_control_plane() {
  local f
  for f in kubelet controller-manager scheduler; do
    echo "$f" >"$K8S_HA_FSROOT/etc/kubernetes/$f.conf"
  done
  mkdir -p "$K8S_HA_FSROOT/etc/kubernetes/manifests" "$K8S_HA_FSROOT/var/lib/kubelet"
  for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    echo "$f" >"$K8S_HA_FSROOT/etc/kubernetes/manifests/$f.yaml"
  done
  echo kubelet >"$K8S_HA_FSROOT/var/lib/kubelet/config.yaml"
}

@test "defect: an init that failed after admin.conf (cluster-info never published) is finished, not reported done" {
  place_started_control_plane
  echo admin >"$K8S_HA_FSROOT/etc/kubernetes/admin.conf"
  # the API answers, cluster-info does not (yet): the bootstrap-token phase never ran
  export STUB_CURL_FAIL_FIRST=0
  printf '%s\n' "cluster-info 22" >"$STUB_STATE/curl-rules"
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "did not finish: running its remaining phases"
  for phase in "upload-config all" "mark-control-plane" "bootstrap-token" "kubelet-finalize all" "addon all"; do
    assert_equal "$(count_calls "^kubeadm init phase $phase --config ")" 1
  done
  assert_equal "$(count_calls '^kubeadm init --config')" 0
  # still not published after the phases: not marked, so the next run tries again
  [[ ! -e $K8S_HA_FSROOT/var/lib/k8s-ha/initialised ]]
  # once cluster-info is there, the node is marked initialised
  rm "$STUB_STATE/curl-rules"
  : >"$STUB_LOG"
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  [[ -e $K8S_HA_FSROOT/var/lib/k8s-ha/initialised ]]
  assert_output --partial "initialised (finished or confirmed)"
  assert_equal "$(count_calls '^kubeadm init --config')" 0
}

@test "a complete init is marked only after cluster-info is published" {
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  [[ -e $K8S_HA_FSROOT/var/lib/k8s-ha/initialised ]]
  (($(line_of "^curl .*kube-public/configmaps/cluster-info") > $(line_of '^kubeadm init')))
}

@test "defect: an init killed right after its kubeconfig phase runs its kubeconfig, etcd, control-plane and kubelet-start phases, then finishes" {
  # what kubeadm init's kubeconfig phase wrote before the instance died: no manifest, no kubelet config
  for f in admin super-admin kubelet controller-manager scheduler; do
    echo "$f" >"$K8S_HA_FSROOT/etc/kubernetes/$f.conf"
  done
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  assert_output --partial "stopped before the kubelet ran the control plane ($K8S_HA_FSROOT/etc/kubernetes/manifests/etcd.yaml is missing)"
  local previous=0 phase n
  for phase in "kubeconfig all" "etcd local" "control-plane all" "kubelet-start"; do
    assert_equal "$(count_calls "^kubeadm init phase $phase --config ")" 1
    n=$(line_of "^kubeadm init phase $phase ")
    ((n > previous))
    previous=$n
  done
  # the API is awaited only after them, and kubeadm init itself never runs again
  (($(line_of "^curl .*https://$NLB:6443/readyz") > previous))
  assert_equal "$(count_calls '^kubeadm init --config')" 0
  # their config carries the stdin token, read once, and the installed kubeadm's version
  run grep -F "token: \"$TOKEN\"" "$STUB_STATE/kubeadm-phase-config.yaml"
  assert_success
  run grep -E '^kubernetesVersion: v1\.35\.2$' "$STUB_STATE/kubeadm-phase-config.yaml"
  assert_success
  [[ -e $K8S_HA_FSROOT/var/lib/k8s-ha/initialised ]]
  run grep -F "$TOKEN_SECRET" "$STUB_LOG"
  assert_failure
}

@test "an unfinished init after its kubelet-start phase runs no phase before kubelet-start again" {
  place_started_control_plane
  echo admin >"$K8S_HA_FSROOT/etc/kubernetes/admin.conf"
  echo super-admin >"$K8S_HA_FSROOT/etc/kubernetes/super-admin.conf"
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  assert_equal "$(count_calls '^kubeadm init phase (kubeconfig|etcd|control-plane|kubelet-start)')" 0
  assert_output --partial "initialised (finished or confirmed)"
}

@test "defect: an init that failed after publishing cluster-info (in kubelet-finalize or the add-ons) runs those phases again before it is marked" {
  # cluster-info comes with the bootstrap-token phase, before kubelet-finalize and the add-ons:
  # that it answers does not mean CoreDNS and kube-proxy were installed
  place_started_control_plane
  echo admin >"$K8S_HA_FSROOT/etc/kubernetes/admin.conf"
  echo super-admin >"$K8S_HA_FSROOT/etc/kubernetes/super-admin.conf"
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_success
  local previous=0 phase n
  for phase in "upload-config all" "mark-control-plane" "bootstrap-token" "kubelet-finalize all" "addon all"; do
    assert_equal "$(count_calls "^kubeadm init phase $phase --config ")" 1
    n=$(line_of "^kubeadm init phase $phase ")
    ((n > previous))
    previous=$n
  done
  assert_equal "$(count_calls '^kubeadm init --config')" 0
  [[ -e $K8S_HA_FSROOT/var/lib/k8s-ha/initialised ]]
}

@test "admin.conf with no control plane and no super-admin.conf (a join's, not an init's) is refused: no etcd of its own" {
  echo admin >"$K8S_HA_FSROOT/etc/kubernetes/admin.conf"
  run bash "$S/init.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "there is no super-admin.conf: not an unfinished init of $CP0"
  assert_equal "$(count_calls '^kubeadm ')" 0
  assert_equal "$(count_calls '^curl ')" 0
}
