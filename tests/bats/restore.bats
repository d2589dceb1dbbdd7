#!/usr/bin/env bats
# etcd-restore.sh (the runbook's restore on one control plane): stop, restore SNAPSHOT, start,
# and its refusals. etcdutl runs from an etcd image through containerd's ctr, a stub here
# (stubs/ctr: the node's images are $STUB_STATE/ctr-images, the registry's $STUB_STATE/ctr-registry);
# "etcd listens on the peer port" is $STUB_STATE/etcd-listening.

KUBEADM_IMAGE='registry.k8s.io/etcd:3.6.6-0'
UPSTREAM_IMAGE='gcr.io/etcd-development/etcd:v3.6.6'
RESTORE_CALL='^ctr --namespace k8s.io run --rm .* /usr/local/bin/etcdutl snapshot restore '

setup() {
  load helpers
  common_setup
  # The restore probes the member's peer port with `timeout 2 bash -c ...`; answer from a file.
  ln -sf "$STUB_SRC/_listening-timeout" "$BATS_TEST_TMPDIR/bin/timeout"
  MANIFESTS="$K8S_HA_FSROOT/etc/kubernetes/manifests"
  STASH="$K8S_HA_FSROOT/var/lib/k8s-ha/restore-stash"
  DATA="$K8S_HA_FSROOT/var/lib/etcd"
  mkdir -p "$MANIFESTS" "$DATA/member/snap"
  for m in kube-apiserver kube-controller-manager kube-scheduler; do echo "$m manifest" >"$MANIFESTS/$m.yaml"; done
  # As kubeadm 1.35 writes it, as far as the restore reads it.
  printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - command:\n    - etcd\n    image: %s\n    name: etcd\n' \
    "$KUBEADM_IMAGE" >"$MANIFESTS/etcd.yaml"
  echo "old data" >"$DATA/member/snap/db"
  SNAP="$BATS_TEST_TMPDIR/$CP0-20261122T030000Z.db"
  echo "the snapshot" >"$SNAP"
  sha256sum "$SNAP" | sed "s#  .*#  $(basename "$SNAP")#" >"$SNAP.sha256"
  SHA=$(cut -d' ' -f1 <"$SNAP.sha256")
  SNAP_ABS=$(realpath "$SNAP")
  LIB_ABS=$(realpath "$K8S_HA_FSROOT/var/lib")
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

@test "restore runs etcdutl from kubeadm's etcd image with ctr (never an etcdctl or etcdutl from PATH), with the cluster's settings, --bump-revision and --mark-compacted, and swaps the data dir" {
  # both on PATH: neither may run (etcdctl is a stub already)
  ln -s "$STUB_SRC/_record" "$BATS_TEST_TMPDIR/bin/etcdutl"
  bash "$S/etcd-restore.sh" stop
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  assert_equal "$(count_calls '^etcdctl ')" 0
  assert_equal "$(count_calls '^etcdutl ')" 0
  assert_equal "$(count_calls "$RESTORE_CALL")" 1
  restore=$(calls "$RESTORE_CALL")
  # containerd runs kubeadm's image (named by the stashed manifest) with the snapshot (read-only)
  # and the data dir's parent mounted at their own paths.
  [[ $restore == "ctr --namespace k8s.io run --rm --mount type=bind,src=$SNAP_ABS,dst=$SNAP_ABS,options=rbind:ro --mount type=bind,src=$LIB_ABS,dst=$LIB_ABS,options=rbind:rw $KUBEADM_IMAGE k8s-ha-etcd-restore-"* ]]
  [[ $restore == *" /usr/local/bin/etcdutl snapshot restore $SNAP_ABS "* ]]
  [[ $restore == *" --name $CP0 "* ]]
  [[ $restore == *" --initial-cluster $CP0=https://10.0.16.10:2380,$CP1=https://10.0.32.10:2380,$CP2=https://10.0.48.10:2380 "* ]]
  [[ $restore == *" --initial-cluster-token k8s-ha-dev-restore-${SHA:0:16} "* ]]
  [[ $restore == *" --initial-advertise-peer-urls https://10.0.16.10:2380 "* ]]
  [[ $restore == *" --data-dir $DATA.restore-"* ]]
  [[ $restore == *" --bump-revision 1000000000 --mark-compacted" ]]
  # its etcdutl was checked to be 3.6 (the minor of the image's etcd), then the snapshot, then the restore
  (( $(line_of "^ctr --namespace k8s.io run --rm $KUBEADM_IMAGE k8s-ha-etcd-restore-[0-9-]+ /usr/local/bin/etcdutl version$") > 0 ))
  (( $(line_of '/usr/local/bin/etcdutl version$') < $(line_of " /usr/local/bin/etcdutl snapshot status $SNAP_ABS -w json$") ))
  (( $(line_of ' /usr/local/bin/etcdutl snapshot status ') < $(line_of "$RESTORE_CALL") ))
  assert_output --partial "etcdutl 3.6 from $KUBEADM_IMAGE (this node runs etcd 3.6.6 from $KUBEADM_IMAGE)"
  assert_equal "$(count_calls '^ctr --namespace k8s.io images pull ')" 0
  # the restored data is in place, the old data kept aside, etcd started again (only etcd)
  assert_equal "$(cat "$DATA/member/snap/db")" "the snapshot"
  assert_equal "$(stat -c '%a' "$DATA")" 700
  old=$(find "$K8S_HA_FSROOT/var/lib" -maxdepth 1 -name 'etcd.pre-restore-*')
  assert_equal "$(cat "$old/member/snap/db")" "old data"
  [[ -e $MANIFESTS/etcd.yaml && ! -e $MANIFESTS/kube-apiserver.yaml ]]
  assert_output --partial "when every control plane is restored, run 'etcd-restore start' on each"
}

@test "restore takes etcdutl from etcd's own image of the same version when kubeadm's image has none" {
  echo "$KUBEADM_IMAGE etcd,etcdctl" >"$STUB_STATE/ctr-images"
  bash "$S/etcd-restore.sh" stop
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  assert_output --partial "$KUBEADM_IMAGE has no usable etcdutl"
  assert_equal "$(calls '^ctr --namespace k8s.io images pull ')" "ctr --namespace k8s.io images pull $UPSTREAM_IMAGE"
  [[ $(calls "$RESTORE_CALL") == *" $UPSTREAM_IMAGE k8s-ha-etcd-restore-"* ]]
  [[ $(calls ' /usr/local/bin/etcdutl snapshot status ') == *" $UPSTREAM_IMAGE "* ]]
  assert_equal "$(cat "$DATA/member/snap/db")" "the snapshot"
}

@test "restore pulls kubeadm's etcd image when containerd no longer has it" {
  : >"$STUB_STATE/ctr-images"
  bash "$S/etcd-restore.sh" stop
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  assert_equal "$(calls '^ctr --namespace k8s.io images pull ')" "ctr --namespace k8s.io images pull $KUBEADM_IMAGE"
  [[ $(calls "$RESTORE_CALL") == *" $KUBEADM_IMAGE k8s-ha-etcd-restore-"* ]]
}

@test "restore refuses an etcdutl of another minor than the etcd it restores for, or none at all, and falls back to no etcdctl" {
  export STUB_ETCDUTL_VERSION=3.5.21
  bash "$S/etcd-restore.sh" stop
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "$KUBEADM_IMAGE has etcdutl 3.5, not 3.6"
  assert_output --partial "no etcdutl 3.6 in $KUBEADM_IMAGE or $UPSTREAM_IMAGE; an etcdctl cannot restore for etcd 3.6"
  assert_equal "$(count_calls "$RESTORE_CALL")" 0
  assert_equal "$(count_calls '^etcdctl ')" 0
  assert_equal "$(cat "$DATA/member/snap/db")" "old data"
  # nor when no image with etcdutl can be had
  unset STUB_ETCDUTL_VERSION
  echo "$KUBEADM_IMAGE etcd,etcdctl" >"$STUB_STATE/ctr-images"
  export STUB_CTR_FAIL=pull
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "cannot pull $UPSTREAM_IMAGE"
  assert_output --partial "no etcdutl 3.6 in $KUBEADM_IMAGE or $UPSTREAM_IMAGE"
  assert_equal "$(count_calls "$RESTORE_CALL")" 0
  assert_equal "$(cat "$DATA/member/snap/db")" "old data"
}

@test "restore refuses without a stashed etcd manifest that names a versioned etcd image" {
  bash "$S/etcd-restore.sh" stop
  rm "$STASH/etcd.yaml"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "no $STASH/etcd.yaml: run 'etcd-restore stop' first"
  assert_equal "$(count_calls '^ctr ')" 0
  # nor with one whose image tag tells no etcd version
  printf '    image: registry.k8s.io/etcd@sha256:%s\n' "$SHA" >"$STASH/etcd.yaml"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "cannot tell the etcd version from registry.k8s.io/etcd@sha256:$SHA"
  assert_equal "$(count_calls '^ctr ')" 0
}

@test "the same snapshot on every member gives every member the same cluster token" {
  bash "$S/etcd-restore.sh" stop
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  first=$(calls "$RESTORE_CALL" | grep -o 'initial-cluster-token [^ ]*')
  [[ -n $first ]]
  # another node's restore of a copy of the same file
  copy="$BATS_TEST_TMPDIR/copy.db"
  cp "$SNAP" "$copy"
  rm -rf "$K8S_HA_FSROOT/var/lib/k8s-ha/etcd-restored"
  mv "$MANIFESTS/etcd.yaml" "$STASH/etcd.yaml"
  : >"$STUB_LOG"
  run bash "$S/etcd-restore.sh" restore "$copy"
  assert_success
  assert_equal "$(calls "$RESTORE_CALL" | grep -o 'initial-cluster-token [^ ]*')" "$first"
}

@test "restore refuses while the etcd manifest is still in place (stop first)" {
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "etcd.yaml is in place, so the kubelet keeps etcd running; run 'etcd-restore stop' first"
  assert_equal "$(count_calls '^ctr ')" 0
  assert_equal "$(cat "$DATA/member/snap/db")" "old data"
}

@test "restore refuses while etcd still listens on its peer port" {
  bash "$S/etcd-restore.sh" stop
  touch "$STUB_STATE/etcd-listening"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "etcd still listens on 10.0.16.10:2380; run 'etcd-restore stop' first"
  assert_equal "$(count_calls '^ctr ')" 0
}

@test "restore refuses a snapshot that does not match its sha256" {
  bash "$S/etcd-restore.sh" stop
  echo "tampered" >>"$SNAP"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "does not match $SNAP.sha256"
  assert_equal "$(count_calls '^ctr ')" 0
}

@test "restore refuses a file that is not a readable snapshot" {
  bash "$S/etcd-restore.sh" stop
  rm "$SNAP.sha256"
  export STUB_ETCDUTL_FAIL=status
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "is not a readable etcd snapshot"
  assert_equal "$(count_calls ' /usr/local/bin/etcdutl snapshot status ')" 1
  assert_equal "$(count_calls "$RESTORE_CALL")" 0
}

@test "a failed etcdutl restore leaves the data dir and the stopped control plane as they were" {
  bash "$S/etcd-restore.sh" stop
  export STUB_ETCDUTL_FAIL=restore
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_failure
  assert_output --partial "snapshot restore into $DATA.restore-"
  assert_equal "$(cat "$DATA/member/snap/db")" "old data"
  [[ ! -e $MANIFESTS/etcd.yaml && -e $STASH/etcd.yaml ]]
  [[ ! -e $K8S_HA_FSROOT/var/lib/k8s-ha/etcd-restored ]]
}

@test "restoring twice from the same snapshot is a no-op" {
  bash "$S/etcd-restore.sh" stop
  bash "$S/etcd-restore.sh" restore "$SNAP"
  : >"$STUB_LOG"
  run bash "$S/etcd-restore.sh" restore "$SNAP"
  assert_success
  assert_output --partial "was already restored from this snapshot"
  assert_equal "$(count_calls '^ctr ')" 0
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
