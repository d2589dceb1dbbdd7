#!/usr/bin/env bats
# upgrade-*.sh (the first install on a node that has not joined; kubeadm upgrade apply / node,
# one node at a time) and rollout-gate.sh. The sample cluster's configured kubernetesVersion is 1.35.2; the stubs play the
# live cluster: $STUB_STATE/server-version (apiserver), configured-version (kubeadm-config),
# kubelet-version-<node> (what the Node reports).

setup() {
  load helpers
  common_setup
  ln -sf "$STUB_SRC/_upgrade-systemctl" "$BATS_TEST_TMPDIR/bin/systemctl"
  mkdir -p "$K8S_HA_FSROOT/etc/kubernetes/manifests"
  echo kubelet >"$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  export STUB_KUBEADM_VERSION=v1.35.2 STUB_KUBELET_NEXT_VERSION=v1.35.2
  # what prepare leaves: Ubuntu's containerd 1.7 default configuration, systemd cgroups on
  mkdir -p "$K8S_HA_FSROOT/etc/containerd"
  printf '%s\n' '[plugins."io.containerd.grpc.v1.cri"]' '    sandbox_image = "registry.k8s.io/pause:3.8"' '          SystemdCgroup = true' >"$K8S_HA_FSROOT/etc/containerd/config.toml"
}

# live VERSION: the whole cluster (apiserver, kubeadm-config, every kubelet, node 0's manifest) at VERSION.
live() {
  echo "$1" >"$STUB_STATE/server-version"
  echo "$1" >"$STUB_STATE/configured-version"
  for n in "$CP0" "$CP1" "$CP2" "$WORKER"; do echo "$1" >"$STUB_STATE/kubelet-version-$n"; done
  echo "    image: registry.k8s.io/kube-apiserver:$1" >"$K8S_HA_FSROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
  echo "    image: registry.k8s.io/etcd:for-$1" >"$K8S_HA_FSROOT/etc/kubernetes/manifests/etcd.yaml"
}

@test "first control plane, one minor up: kubeadm first, upgrade apply, drain, kubelet/kubectl, restart, Ready, uncordon" {
  live v1.34.3
  export STUB_NODE=$CP0
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "target v1.35.2; live apiserver v1.34.3, cluster configuration v1.34.3, $CP0 kubelet v1.34.3"
  # the new minor's package channel
  grep -qx 'deb \[signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg\] https://pkgs.k8s.io/core:/stable:/v1.35/deb/ /' "$K8S_HA_FSROOT/etc/apt/sources.list.d/kubernetes.list"
  kubeadm_pkg=$(line_of '^apt-get install .* kubeadm=1\.35\.2-1\.1$')
  apply=$(line_of '^kubeadm upgrade apply -y v1\.35\.2 --certificate-renewal=false --etcd-upgrade=false')
  drain=$(line_of "^kubectl .* drain $CP0 --ignore-daemonsets --delete-emptydir-data --timeout=300s")
  kubelet_pkg=$(line_of '^apt-get install .* kubelet=1\.35\.2-1\.1 kubectl=1\.35\.2-1\.1$')
  restart=$(line_of '^systemctl restart kubelet')
  uncordon=$(line_of "^kubectl .* uncordon $CP0")
  ((kubeadm_pkg > 0 && apply > kubeadm_pkg && drain > apply && kubelet_pkg > drain && restart > kubelet_pkg && uncordon > restart))
  assert_equal "$(count_calls '^kubeadm upgrade node')" 0
  assert_output --partial "upgraded $CP0 to Kubernetes v1.35.2"
  # the admin key never appears in a command line; the scratch copy is gone
  run grep -F "$KEY_DATA" "$STUB_LOG"
  assert_failure
  run find "$K8S_HA_FSROOT/run" -mindepth 1
  assert_output ''
}

@test "defect: etcd restarts at the new version only with the apiserver stopped first; kubeadm never restarts it under a serving one" {
  live v1.34.3
  export STUB_NODE=$CP0
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  manifests="$K8S_HA_FSROOT/etc/kubernetes/manifests"
  # the new kubeadm renders the manifest from the configuration at its own version
  render=$(line_of '^kubeadm init phase etcd local --dry-run --config ')
  grep -qx '    image: registry.k8s.io/etcd:for-v1.35.2' "$manifests/etcd.yaml"
  assert_equal "$(stat -c %a "$manifests/etcd.yaml")" 600
  grep -qx '    image: registry.k8s.io/etcd:for-v1.34.3' "$K8S_HA_FSROOT/var/lib/k8s-ha/etcd.yaml.before-v1.35.2"
  run find "$manifests" -name '.*'
  assert_output ''
  api_stop=$(line_of '^crictl .* stop --timeout 45 kube-apiserver-1$')
  etcd_up=$(line_of '^curl .*http://127\.0\.0\.1:2381/health')
  api_up=$(line_of '^curl .*https://10\.0\.16\.10:6443/readyz')
  apply=$(line_of '^kubeadm upgrade apply ')
  ((render > 0 && api_stop > render && etcd_up > api_stop && api_up > etcd_up && apply > api_up))
  # the kubelet restart: the kubelet stops, then the apiserver leaves gracefully, then the new kubelet
  drain=$(line_of " drain $CP0 ")
  kubelet_stop=$(line_of '^systemctl stop kubelet$')
  api_stop2=$(line_of '^crictl .* stop --timeout 45 kube-apiserver-[0-9]+$' 2)
  kubelet_pkg=$(line_of '^apt-get install .* kubelet=')
  ((kubelet_stop > drain && api_stop2 > kubelet_stop && kubelet_pkg > api_stop2))
  assert_equal "$(count_calls '^kubeadm upgrade .*--etcd-upgrade=false')" 1
  assert_equal "$(count_calls '^crictl .* stop ')" 2
}

@test "a second run finds etcd at the new manifest: no etcd restart, no apiserver stop before kubeadm" {
  live v1.34.3
  export STUB_NODE=$CP0
  echo "    image: registry.k8s.io/etcd:for-v1.35.2" >"$K8S_HA_FSROOT/etc/kubernetes/manifests/etcd.yaml"
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "etcd runs the manifest of kubeadm v1.35.2 already"
  (($(line_of '^crictl .* stop ') > $(line_of '^kubeadm upgrade apply ')))
  assert_equal "$(count_calls '^crictl .* stop ')" 1
}

@test "an etcd that is not healthy at the new manifest gets the old one back, and kubeadm does not run" {
  live v1.34.3
  export STUB_NODE=$CP1
  echo v1.35.2 >"$STUB_STATE/configured-version"
  echo '2381/health 7' >"$STUB_STATE/curl-rules"
  run bash "$S/upgrade-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "etcd did not come back healthy on the manifest of kubeadm v1.35.2; the old manifest is back in place"
  grep -qx '    image: registry.k8s.io/etcd:for-v1.34.3' "$K8S_HA_FSROOT/etc/kubernetes/manifests/etcd.yaml"
  assert_equal "$(count_calls '^kubeadm upgrade ')" 0
}

@test "a failure after the kubelet's stop starts the kubelet again" {
  live v1.34.3
  export STUB_NODE=$CP0 STUB_KUBEADM_FAIL=config
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "kubeadm config images list --kubernetes-version v1.35.2 failed"
  (($(line_of '^systemctl start kubelet$') > $(line_of '^systemctl stop kubelet$')))
  assert_equal "$(count_calls 'uncordon')" 0
}

@test "a patch upgrade is allowed" {
  live v1.35.1
  export STUB_NODE=$CP0
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_equal "$(count_calls '^kubeadm upgrade apply -y v1\.35\.2')" 1
}

@test "refuses to skip a minor version, judged against the live apiserver, before changing anything" {
  live v1.33.5
  export STUB_NODE=$CP0
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "refusing to skip a minor version: the live apiserver is at v1.33.5 and the configured kubernetesVersion is 1.35.2; upgrade to 1.34.x first"
  assert_equal "$(count_calls '^(apt-get|apt-mark|kubeadm) |drain')" 0
}

@test "refuses to downgrade a minor" {
  live v1.36.0
  export STUB_NODE=$CP0
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "refusing to downgrade: the live apiserver is at v1.36.0 and the configured kubernetesVersion is 1.35.2"
  assert_equal "$(count_calls '^(apt-get|apt-mark|kubeadm) |drain')" 0
}

@test "refuses to downgrade a patch" {
  live v1.35.3
  export STUB_NODE=$CP0
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "refusing to downgrade"
  assert_equal "$(count_calls '^kubeadm ')" 0
}

@test "refuses when this node's kubelet lags more than one minor behind, even if the apiserver is current" {
  live v1.35.2
  echo v1.33.9 >"$STUB_STATE/kubelet-version-$WORKER"
  export STUB_NODE=$WORKER
  run bash "$S/upgrade-worker.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "refusing to skip a minor version: the kubelet of $WORKER is at v1.33.9"
}

@test "defect: a control plane an operator cordoned before its upgrade stays cordoned after it" {
  live v1.34.3
  export STUB_NODE=$CP0
  touch "$STUB_STATE/unschedulable-$CP0"
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "$CP0 was cordoned before its upgrade: it stays cordoned afterwards"
  assert_equal "$(count_calls "^kubectl .* drain $CP0 ")" 1
  assert_equal "$(count_calls ' uncordon ')" 0
  [[ -e $STUB_STATE/unschedulable-$CP0 ]]
}

@test "defect: a run that failed after the kubelet's restart (the node at the version, still cordoned by it) is finished by the retry" {
  live v1.35.2
  export STUB_NODE=$CP0
  touch "$STUB_STATE/unschedulable-$CP0"
  echo "k8s-ha/drained-for-upgrade=v1.35.2" >"$STUB_STATE/annotation-$CP0"
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "still cordoned by its upgrade: finishing it"
  assert_equal "$(count_calls "^kubectl .* uncordon $CP0")" 1
  [[ ! -e $STUB_STATE/unschedulable-$CP0 && ! -e $STUB_STATE/annotation-$CP0 ]]
  assert_equal "$(count_calls '^(apt-get|apt-mark|kubeadm) | drain ')" 0
}

@test "a node already at the version is a no-op" {
  live v1.35.2
  export STUB_NODE=$CP0
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "$CP0 already runs Kubernetes v1.35.2; nothing to do"
  assert_equal "$(count_calls '^(apt-get|apt-mark|kubeadm) | drain | uncordon ')" 0
}

@test "a node that has not joined: pins kubelet/kubeadm/kubectl to the exact version, reads no stdin, touches no cluster" {
  rm "$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  export STUB_KUBELET_VERSION=''
  run bash "$S/upgrade-worker.sh" </dev/null
  assert_success
  assert_output --partial "has not joined a cluster: installing kubelet, kubeadm and kubectl 1.35.2"
  run cat "$K8S_HA_FSROOT/etc/apt/sources.list.d/kubernetes.list"
  assert_output 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.35/deb/ /'
  assert_equal "$(stat -c %a "$K8S_HA_FSROOT/etc/apt/keyrings")" 755
  assert_equal "$(stat -c %a "$K8S_HA_FSROOT/etc/apt/keyrings/kubernetes-apt-keyring.gpg")" 644
  assert_equal "$(stat -c %a "$K8S_HA_FSROOT/etc/apt/sources.list.d/kubernetes.list")" 644
  assert_equal "$(count_calls '^apt-get install .*kubelet=1.35.2-1.1 kubeadm=1.35.2-1.1 kubectl=1.35.2-1.1$')" 1
  assert_equal "$(count_calls '^apt-mark hold kubelet kubeadm kubectl$')" 1
  (($(line_of '^apt-mark hold') > $(line_of '^apt-get install .*kubelet=')))
  assert_equal "$(count_calls '^kubectl |^kubeadm (init|join|upgrade|reset)')" 0  # only the local `kubeadm config images list`
}

@test "a node that has not joined, with the version installed already: nothing to do" {
  rm "$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  export STUB_KUBELET_VERSION=1.35.2-1.1
  run bash "$S/upgrade-control-plane.sh" </dev/null
  assert_success
  assert_output --partial "kubelet and kubeadm 1.35.2 are installed already"
  assert_equal "$(count_calls '^(apt-get|kubectl|kubeadm) ')" 0
}

@test "a node that has not joined: fails, naming the version, when the repository lacks it" {
  rm "$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  export STUB_KUBELET_VERSION='' STUB_APT_VERSIONS="1.35.1-1.1 1.35.10-1.1"
  run bash "$S/upgrade-worker.sh" </dev/null
  assert_failure
  assert_output --partial "kubeadm 1.35.2 is not available from https://pkgs.k8s.io/core:/stable:/v1.35/deb/"
}

@test "the other control planes run kubeadm upgrade node, only after upgrade apply reached the cluster configuration" {
  live v1.34.3
  export STUB_NODE=$CP1
  # node 0 not upgraded yet: refuse
  run bash "$S/upgrade-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "the cluster configuration is at v1.34.3, not v1.35.2: 'kubeadm upgrade apply' must succeed on the first control plane before $CP1 is upgraded"
  assert_equal "$(count_calls '^kubeadm upgrade')" 0
  # node 0 upgraded: go
  echo v1.35.2 >"$STUB_STATE/configured-version"
  echo v1.35.2 >"$STUB_STATE/server-version"
  : >"$STUB_LOG"
  run bash "$S/upgrade-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_equal "$(count_calls '^kubeadm upgrade node --certificate-renewal=false')" 1
  assert_equal "$(count_calls '^kubeadm upgrade apply')" 0
  ((  $(line_of '^kubeadm upgrade node') < $(line_of " drain $CP1 ") ))
  grep -q 'kube-apiserver:v1.35.2' "$K8S_HA_FSROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
}

@test "defect: a worker upgrades with its kubelet's credential, no stdin: kubeadm upgrade node, kubelet; no drain or uncordon of its own" {
  live v1.34.3
  echo v1.35.2 >"$STUB_STATE/configured-version"
  export STUB_NODE=$WORKER
  run bash "$S/upgrade-worker.sh" </dev/null
  assert_success
  refute_output --partial "local apiserver"
  assert_equal "$(count_calls '^kubeadm upgrade node')" 1
  assert_equal "$(count_calls ' drain | uncordon ')" 0
  run grep -E '^kubectl ' "$STUB_LOG"
  refute_output --partial "/run/"
  assert_output --partial "--kubeconfig $K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
}

@test "stops with the node cordoned when the drain fails" {
  live v1.34.3
  export STUB_NODE=$CP0 STUB_KUBECTL_DRAIN_RC=1
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "kubectl drain $CP0 failed"
  assert_equal "$(count_calls 'kubelet=|uncordon')" 0
}

@test "fails when the kubelet does not come back at the new version" {
  live v1.34.3
  export STUB_NODE=$CP0 STUB_KUBELET_NEXT_VERSION=v1.34.3
  run bash "$S/upgrade-first-control-plane.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "the kubelet of $CP0 did not come back at v1.35.2"
  assert_equal "$(count_calls 'uncordon')" 0
}

@test "reads the admin kubeconfig from stdin and fails fast without it" {
  live v1.34.3
  run bash "$S/upgrade-first-control-plane.sh" </dev/null
  assert_failure
  assert_output --partial "missing input: the admin kubeconfig (all of stdin) is empty"
  assert_equal "$(count_calls '^(kubectl|kubeadm) ')" 0
}

@test "rollout gate: returns once the changed control plane is joined, its etcd healthy and its apiserver ready" {
  run bash "$S/rollout-gate.sh"
  assert_success
  assert_output --partial "$CP0 is back: the next control plane may change"
  [[ $(calls '^curl ') == *"http://127.0.0.1:2381/health"* ]]
  [[ $(calls '^curl ') == *"https://10.0.16.10:6443/readyz"* ]]
}

@test "rollout gate: holds the next control plane while this one is not healthy" {
  export STUB_CURL_FAIL=always
  run bash "$S/rollout-gate.sh"
  assert_failure
  assert_output --partial "the etcd member on $CP0 is not healthy"
  refute_output --partial "may change"
}

@test "defect: containerd's sandbox image becomes the pause image kubeadm expects (Ubuntu's containerd 1.7 defaults to pause:3.8), restarting containerd once" {
  rm "$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  run bash "$S/upgrade-worker.sh" </dev/null
  assert_success
  run grep -F 'sandbox_image = "registry.k8s.io/pause:3.10.1"' "$K8S_HA_FSROOT/etc/containerd/config.toml"
  assert_success
  run grep -c 'SystemdCgroup = true' "$K8S_HA_FSROOT/etc/containerd/config.toml"
  assert_output 1
  assert_equal "$(count_calls '^systemctl restart containerd')" 1
  (($(line_of '^kubeadm config images list --kubernetes-version v1.35.2') > $(line_of '^apt-get install .* kubeadm=')))
  # on a joined node's upgrade, the file is aligned already: no second restart
  echo kubelet >"$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  live v1.34.3
  echo v1.35.2 >"$STUB_STATE/configured-version"
  export STUB_NODE=$WORKER
  run bash "$S/upgrade-worker.sh" </dev/null
  assert_success
  assert_equal "$(count_calls '^systemctl restart containerd')" 1
}

@test "refuses a containerd configuration without a sandbox_image setting, naming the file" {
  rm "$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  printf '%s\n' 'version = 3' >"$K8S_HA_FSROOT/etc/containerd/config.toml"
  run bash "$S/upgrade-worker.sh" </dev/null
  assert_failure
  assert_output --partial "etc/containerd/config.toml has no sandbox_image setting to align with kubeadm's registry.k8s.io/pause:3.10.1"
}
