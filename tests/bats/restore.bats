#!/usr/bin/env bats
# etcd-restore.sh (the runbook's restore on one control plane): stop, restore SNAPSHOT, start,
# and its refusals. etcdctl is a stub; "etcd listens on the peer port" is $STUB_STATE/etcd-listening.

setup() {
  load helpers
  common_setup
  # The restore probes the member's peer port with `timeout 2 bash -c ...`; answer from a file.
  ln -sf "$STUB_SRC/_listening-timeout" "$BATS_TEST_TMPDIR/bin/timeout"
  MANIFESTS="$K8S_HA_FSROOT/etc/kubernetes/manifests"
  STASH="$K8S_HA_FSROOT/var/lib/k8s-ha/restore-stash"
  DATA="$K8S_HA_FSROOT/var/lib/etcd"
  mkdir -p "$MANIFESTS" "$DATA/member/snap"
  for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo "$m manifest" >"$MANIFESTS/$m.yaml"; done
  echo "old data" >"$DATA/member/snap/db"
  SNAP="$BATS_TEST_TMPDIR/$CP0-20261122T030000Z.db"
  echo "the snapshot" >"$SNAP"
  sha256sum "$SNAP" | sed "s#  .*#  $(basename "$SNAP")#" >"$SNAP.sha256"
  SHA=$(cut -d' ' -f1 <"$SNAP.sha256")
}

@test "stop moves every control-plane static pod aside and waits until etcd no longer listens" {
  run bash "$S/etcd-restore.sh" stop
  assert_success
  for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    [[ ! -e $MANIFESTS/$m.yaml && -e $STASH/$m.yaml ]]
  done
  assert_output --partial "the control plane of $CP0 is stopped"
  [[ $(calls '^timeout ') == "timeout 2 bash -c "*" 10.0.16.10 2380" ]]
}

@test "stop fails while etcd keeps listening" {
  touch "$STUB_STATE/etcd-listening"
  run bash "$S/etcd-restore.sh" stop
  assert_failure
  assert_output --partial "etcd still listens on 10.0.16.10:2380; stop it before restoring"
}

@test "restore rebuilds this member from the snapshot with the cluster's initial-cluster settings and swaps the data dir" {
  bash "$S/etcd-restore.sh" stop
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  restore=$(calls '^etcdctl snapshot restore ')
  [[ $restore == *" --name $CP0 "* ]]
  [[ $restore == *" --initial-cluster $CP0=https://10.0.16.10:2380,$CP1=https://10.0.32.10:2380,$CP2=https://10.0.48.10:2380 "* ]]
  [[ $restore == *" --initial-cluster-token k8s-ha-dev-restore-${SHA:0:16} "* ]]
  [[ $restore == *" --initial-advertise-peer-urls https://10.0.16.10:2380 "* ]]
  [[ $restore == *" --data-dir $DATA.restore-"* ]]
  # checked before restoring
  ((  $(line_of '^etcdctl snapshot status ') < $(line_of '^etcdctl snapshot restore ') ))
  # the restored data is in place, the old data kept aside, etcd started again (only etcd)
  assert_equal "$(cat "$DATA/member/snap/db")" "the snapshot"
  assert_equal "$(stat -c '%a' "$DATA")" 700
  old=$(find "$K8S_HA_FSROOT/var/lib" -maxdepth 1 -name 'etcd.pre-restore-*')
  assert_equal "$(cat "$old/member/snap/db")" "old data"
  [[ -e $MANIFESTS/etcd.yaml && ! -e $MANIFESTS/kube-apiserver.yaml ]]
  assert_output --partial "when every control plane is restored, run 'etcd-restore start' on each"
}

@test "the same snapshot on every member gives every member the same cluster token" {
  bash "$S/etcd-restore.sh" stop
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  first=$(calls '^etcdctl snapshot restore ' | grep -o 'initial-cluster-token [^ ]*')
  # another node's restore of a copy of the same file
  copy="$BATS_TEST_TMPDIR/copy.db"
  cp "$SNAP" "$copy"
  rm -rf "$K8S_HA_FSROOT/var/lib/k8s-ha/etcd-restored"
  mv "$MANIFESTS/etcd.yaml" "$STASH/etcd.yaml"
  : >"$STUB_LOG"
  run bash "$S/etcd-restore.sh" restore "$copy"
  assert_success
  assert_equal "$(calls '^etcdctl snapshot restore ' | grep -o 'initial-cluster-token [^ ]*')" "$first"
}

@test "restore refuses while the etcd manifest is still in place (stop first)" {
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "etcd.yaml is in place, so the kubelet keeps etcd running; run 'etcd-restore stop' first"
  assert_equal "$(count_calls '^etcdctl snapshot restore')" 0
  assert_equal "$(cat "$DATA/member/snap/db")" "old data"
}

@test "restore refuses while etcd still listens on its peer port" {
  bash "$S/etcd-restore.sh" stop
  touch "$STUB_STATE/etcd-listening"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "etcd still listens on 10.0.16.10:2380; run 'etcd-restore stop' first"
  assert_equal "$(count_calls '^etcdctl snapshot restore')" 0
}

@test "restore refuses a snapshot that does not match its sha256" {
  bash "$S/etcd-restore.sh" stop
  echo "tampered" >>"$SNAP"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "does not match $SNAP.sha256"
  assert_equal "$(count_calls '^etcdctl ')" 0
}

@test "restore refuses a file that is not a readable snapshot" {
  bash "$S/etcd-restore.sh" stop
  rm "$SNAP.sha256"
  export STUB_ETCDCTL_FAIL=status
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "is not a readable etcd snapshot"
  assert_equal "$(count_calls '^etcdctl snapshot restore')" 0
}

@test "restoring twice from the same snapshot is a no-op" {
  bash "$S/etcd-restore.sh" stop
  bash "$S/etcd-restore.sh" restore "$SNAP"
  : >"$STUB_LOG"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  assert_output --partial "was already restored from this snapshot"
  assert_equal "$(count_calls '^etcdctl snapshot restore')" 0
  assert_equal "$(find "$K8S_HA_FSROOT/var/lib" -maxdepth 1 -name 'etcd.pre-restore-*' | wc -l)" 1
}

@test "start brings back the apiserver, controller-manager and scheduler" {
  bash "$S/etcd-restore.sh" stop
  bash "$S/etcd-restore.sh" restore "$SNAP"
  run bash "$S/etcd-restore.sh" start
  assert_success
  for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do [[ -e $MANIFESTS/$m.yaml ]]; done
  run find "$STASH" -type f
  assert_output ''
}

@test "a missing or unknown phase prints the usage" {
  run bash "$S/etcd-restore.sh"
  assert_equal "$status" 2
  assert_output --partial "usage: etcd-restore stop | restore SNAPSHOT | start"
  run bash "$S/etcd-restore.sh" restore
  assert_equal "$status" 2
}
