# Shared setup for the script tests: a scratch filesystem root, stubs first on PATH, a call log.
# Every command a script could use to change the machine (kubeadm, kubectl, systemctl, swapoff,
# apt-get, iptables-*, sleep, ...) is a stub here, and K8S_HA_FSROOT points every path the
# scripts touch into the test's own directory.
# shellcheck disable=SC2034  # the constants and $S are used by the .bats files that load this
bats_load_library bats-support
bats_load_library bats-assert

STUB_SRC="$(cd "$BATS_TEST_DIRNAME/stubs" && pwd)"

# The sample cluster of tools/render-scripts.ts, whose scripts the suite runs.
NLB='k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com'
CP0='k8s-ha-dev-cp-0'
CP1='k8s-ha-dev-cp-1'
CP2='k8s-ha-dev-cp-2'
WORKER='k8s-ha-dev-worker-0'
CA_HASH='sha256:3f6a1c9e0b7d2a4c8e5f1b3d7a9c0e2f4b6d8a1c3e5f7b9d0a2c4e6f8b1d3a5c'
TOKEN='abcdef.0123456789abcdef'
TOKEN_SECRET='0123456789abcdef'
KEY_DATA='S0VZLURBVEEtVEhBVC1NVVNULU5FVkVSLUJFLUlOLUFSR1Y='
ADMIN_KUBECONFIG="apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://$NLB:6443
  name: k8s-ha-dev
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: $KEY_DATA
"

common_setup() {
  : "${K8S_HA_SCRIPTS:?setup_suite.bash points at the rendered sample scripts}"
  export K8S_HA_FSROOT="$BATS_TEST_TMPDIR/root"
  export STUB_STATE="$BATS_TEST_TMPDIR/stub-state"
  export STUB_LOG="$STUB_STATE/calls.log"
  [[ -n $K8S_HA_FSROOT && $K8S_HA_FSROOT != / ]] || return 1
  mkdir -p "$K8S_HA_FSROOT/etc/kubernetes" "$STUB_STATE" "$BATS_TEST_TMPDIR/bin"
  : >"$STUB_LOG"
  local stub name
  for stub in "$STUB_SRC"/*; do
    ln -s "$stub" "$BATS_TEST_TMPDIR/bin/${stub##*/}"
  done
  for name in sleep systemctl hostnamectl swapoff modprobe sysctl apt-get apt-mark \
    iptables-save iptables-restore ip6tables-save ip6tables-restore ipvsadm; do
    ln -s "$STUB_SRC/_record" "$BATS_TEST_TMPDIR/bin/$name"
  done
  export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
  S="$K8S_HA_SCRIPTS"
  # the etcd cluster kubectl exec finds, until a test says otherwise: cp-0 and cp-2
  etcd_members "$CP0 True" "$CP2 True"
}

# etcd_members "NAME HEALTHY [learner [CLIENT_URL]]"...: the etcd cluster as etcdctl (in the etcd
# pods) reports it; NAME "-" is a member that never started
etcd_members() {
  local i=0 m name healthy learner url
  : >"$STUB_STATE/etcd-members"
  for m in "$@"; do
    read -r name healthy learner url <<<"$m"
    i=$((i + 1))
    printf '%016x %s %s %s %s\n' "$((0x8e9e0000 + i))" "$name" "${url:-https://10.0.$i.10:2379}" "$healthy" "${learner:-false}" >>"$STUB_STATE/etcd-members"
  done
}

# Every file init/join of a control plane requires, with dummy content.
place_dummy_control_plane_files() {
  local f
  for f in ca.crt ca.key etcd/ca.crt etcd/ca.key front-proxy-ca.crt front-proxy-ca.key sa.key sa.pub \
    apiserver.crt apiserver.key apiserver-kubelet-client.crt apiserver-kubelet-client.key \
    apiserver-etcd-client.crt apiserver-etcd-client.key front-proxy-client.crt front-proxy-client.key \
    etcd/server.crt etcd/server.key etcd/peer.crt etcd/peer.key \
    etcd/healthcheck-client.crt etcd/healthcheck-client.key encryption-config.yaml; do
    mkdir -p "$(dirname "$K8S_HA_FSROOT/etc/kubernetes/pki/$f")"
    echo "dummy $f" >"$K8S_HA_FSROOT/etc/kubernetes/pki/$f"
  done
  echo "audit policy" >"$K8S_HA_FSROOT/etc/kubernetes/audit-policy.yaml"
}

# calls PATTERN: the recorded calls matching an extended regex.
calls() { grep -E -- "$1" "$STUB_LOG" || true; }
# count_calls PATTERN
count_calls() { grep -c -E -- "$1" "$STUB_LOG" || true; }
# line_of PATTERN [N]: line number of the Nth (default first) recorded call matching PATTERN (0 if none).
line_of() {
  local n
  n=$(grep -n -E -- "$1" "$STUB_LOG" | sed -n "${2:-1}p" | cut -d: -f1)
  echo "${n:-0}"
}
