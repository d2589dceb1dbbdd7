#!/usr/bin/env bats
# prepare-*.sh: kernel/sysctl/swap/containerd setup, once; no Kubernetes packages (upgrade.bats).

setup() {
  load helpers
  common_setup
  mkdir -p "$K8S_HA_FSROOT/etc"
  printf '%s\n' 'LABEL=root / ext4 defaults 0 1' '/swap.img none swap sw 0 0' >"$K8S_HA_FSROOT/etc/fstab"
}

@test "prepare configures the node and installs no Kubernetes package" {
  run bash "$S/prepare-control-plane.sh"
  assert_success
  assert_equal "$(count_calls "^hostnamectl set-hostname $CP0\$")" 1
  assert_equal "$(count_calls '^swapoff -a$')" 1
  run grep -c '^# k8s-ha: /swap.img none swap' "$K8S_HA_FSROOT/etc/fstab"
  assert_output 1
  run grep -c '^LABEL=root / ext4' "$K8S_HA_FSROOT/etc/fstab"
  assert_output 1
  assert_equal "$(cat "$K8S_HA_FSROOT/etc/modules-load.d/k8s-ha.conf")" "$(printf 'overlay\nbr_netfilter')"
  run cat "$K8S_HA_FSROOT/etc/sysctl.d/99-k8s-ha.conf"
  assert_line 'net.bridge.bridge-nf-call-iptables = 1'
  assert_line 'net.bridge.bridge-nf-call-ip6tables = 1'
  assert_line 'net.ipv4.ip_forward = 1'
  run grep -F 'SystemdCgroup = true' "$K8S_HA_FSROOT/etc/containerd/config.toml"
  assert_success
  # kubelet/kubeadm/kubectl are the upgrade step's: a version bump must not change this script
  assert_equal "$(count_calls '(kubelet|kubeadm|kubectl)')" 0
  [[ ! -e $K8S_HA_FSROOT/etc/apt/sources.list.d/kubernetes.list ]]
  # control planes get the audit policy the apiserver mounts
  run grep -F 'kind: Policy' "$K8S_HA_FSROOT/etc/kubernetes/audit-policy.yaml"
  assert_success
  [[ -d $K8S_HA_FSROOT/var/log/kubernetes/audit ]]
}

@test "a second prepare is a no-op" {
  run bash "$S/prepare-worker.sh"
  assert_success
  : >"$STUB_LOG"
  run bash "$S/prepare-worker.sh"
  assert_success
  assert_output --partial "already prepared"
  assert_equal "$(count_calls '^(apt-get|systemctl|hostnamectl|swapoff|modprobe) ')" 0
  # workers get no audit policy
  [[ ! -e $K8S_HA_FSROOT/etc/kubernetes/audit-policy.yaml ]]
}

@test "prepare writes system files world-readable, the audit policy root-only" {
  run bash "$S/prepare-control-plane.sh"
  assert_success
  assert_equal "$(stat -c %a "$K8S_HA_FSROOT/etc/containerd/config.toml")" 644
  assert_equal "$(stat -c %a "$K8S_HA_FSROOT/etc/kubernetes/audit-policy.yaml")" 600
}

@test "defect: containerd and runc are held (unattended-upgrades must not restart the runtime under pods), and a re-applied prepare upgrades nothing" {
  run bash "$S/prepare-worker.sh"
  assert_success
  assert_equal "$(count_calls '^apt-mark hold containerd runc$')" 1
  assert_equal "$(count_calls '^apt-get install -y -q --no-upgrade .*containerd')" 1
  (($(line_of '^apt-mark hold containerd runc$') > $(line_of '^apt-get install .*containerd')))
}
