#!/usr/bin/env bats
# worker-*.sh: what a control plane runs for a worker with the admin kubeconfig, which never goes
# to the worker: its bootstrap token for the length of its join, the drain and uncordon around its
# upgrade, the drain before and the Node deletion after its removal.

setup() {
  load helpers
  common_setup
}

token_stdin() { printf '%s\n%s' "$TOKEN" "$ADMIN_KUBECONFIG"; }

@test "join-token: makes the worker's token, waits for its Node, then deletes the token" {
  export STUB_NODE_APPEARS_AFTER=3
  run bash "$S/worker-join-token.sh" < <(token_stdin)
  assert_success
  manifest="$STUB_STATE/kubectl-apply.yaml"
  run grep -F "name: bootstrap-token-abcdef" "$manifest"
  assert_success
  run grep -F "literal description: k8s-ha: join of $WORKER" "$manifest"
  assert_success
  expiration=$(sed -n 's/^literal expiration: //p' "$manifest")
  delta=$(($(date -u -d "$expiration" +%s) - $(date -u +%s)))
  ((delta > 25 * 60 && delta <= 30 * 60))
  run cat "$STUB_STATE/deleted-secrets"
  assert_output "bootstrap-token-abcdef"
  (($(line_of ' apply --server-side') < $(line_of ' delete secret ')))
  # the kubectl calls used the admin kubeconfig from stdin, and no secret reached argv
  run diff <(printf '%s\n' "$ADMIN_KUBECONFIG") "$STUB_STATE/kubectl-kubeconfig"
  assert_success
  run grep -F -e "$TOKEN_SECRET" -e "$KEY_DATA" "$STUB_LOG"
  assert_failure
}

@test "defect: join-token: one dropped API call while deleting the token (Node registered) is retried, not the step's failure" {
  export STUB_NODE_APPEARS_AFTER=1 STUB_KUBECTL_DELETE_FAIL_FIRST=2
  run bash "$S/worker-join-token.sh" < <(token_stdin)
  assert_success
  assert_output --partial "Node $WORKER registered; its bootstrap token is deleted"
  assert_equal "$(count_calls ' delete secret ')" 3
  run cat "$STUB_STATE/deleted-secrets"
  assert_output "bootstrap-token-abcdef"
}

@test "join-token: a join that never registers the Node fails this step too, and the token is deleted" {
  run bash "$S/worker-join-token.sh" < <(token_stdin)
  assert_failure
  assert_output --partial "Node $WORKER did not register within the token's 30 minutes"
  assert_output --partial "attempt 360/360"
  run cat "$STUB_STATE/deleted-secrets"
  assert_output "bootstrap-token-abcdef"
}

@test "join-token: a worker that has joined needs no token (none is made, any left is deleted)" {
  touch "$STUB_STATE/node-$WORKER"
  run bash "$S/worker-join-token.sh" < <(token_stdin)
  assert_success
  assert_output --partial "it needs no bootstrap token"
  assert_equal "$(count_calls ' apply ')" 0
}

@test "join-token: fails fast, naming the input, without the admin kubeconfig" {
  run bash "$S/worker-join-token.sh" <<<"$TOKEN"
  assert_failure
  assert_output --partial "missing input: the admin kubeconfig (stdin after line 1) is empty"
  assert_equal "$(count_calls '^kubectl ')" 0
}

@test "upgrade-drain: annotates and drains a worker whose kubelet is not at the version" {
  touch "$STUB_STATE/node-$WORKER"
  echo v1.34.3 >"$STUB_STATE/kubelet-version-$WORKER"
  run bash "$S/worker-upgrade-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  run cat "$STUB_STATE/annotation-$WORKER"
  assert_output "k8s-ha/drained-for-upgrade=v1.35.2"
  (($(line_of " annotate node $WORKER") < $(line_of " drain $WORKER ")))
}

@test "upgrade-drain: nothing for a worker that has not joined (its first install) or runs the version" {
  run bash "$S/worker-upgrade-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "not joined yet"
  touch "$STUB_STATE/node-$WORKER"
  run bash "$S/worker-upgrade-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "already runs v1.35.2"
  assert_equal "$(count_calls ' drain | annotate ')" 0
}

@test "upgrade-drain: stops when the drain fails" {
  touch "$STUB_STATE/node-$WORKER"
  echo v1.34.3 >"$STUB_STATE/kubelet-version-$WORKER"
  export STUB_KUBECTL_DRAIN_RC=1
  run bash "$S/worker-upgrade-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "kubectl drain $WORKER failed"
}

@test "upgrade-uncordon: uncordons once the Node is at the version and Ready, and only what upgrade-drain cordoned" {
  touch "$STUB_STATE/node-$WORKER"
  run bash "$S/worker-upgrade-uncordon.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "was not drained for an upgrade"
  assert_equal "$(count_calls ' uncordon ')" 0
  echo "k8s-ha/drained-for-upgrade=v1.35.2" >"$STUB_STATE/annotation-$WORKER"
  run bash "$S/worker-upgrade-uncordon.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_equal "$(count_calls " uncordon $WORKER")" 1
  [[ ! -e $STUB_STATE/annotation-$WORKER ]]
}

@test "defect: a worker an operator cordoned before its upgrade is drained, not marked, and stays cordoned after upgrade-uncordon" {
  touch "$STUB_STATE/node-$WORKER" "$STUB_STATE/unschedulable-$WORKER"
  echo v1.34.3 >"$STUB_STATE/kubelet-version-$WORKER"
  run bash "$S/worker-upgrade-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "$WORKER was cordoned before its upgrade: it stays cordoned afterwards"
  assert_equal "$(count_calls " drain $WORKER ")" 1
  [[ ! -e $STUB_STATE/annotation-$WORKER ]]
  echo v1.35.2 >"$STUB_STATE/kubelet-version-$WORKER"
  run bash "$S/worker-upgrade-uncordon.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_equal "$(count_calls ' uncordon ')" 0
  [[ -e $STUB_STATE/unschedulable-$WORKER ]]
}

@test "a retried upgrade-drain (its first run cordoned and marked the worker, then the drain failed) keeps its mark, so the worker is uncordoned after" {
  touch "$STUB_STATE/node-$WORKER" "$STUB_STATE/unschedulable-$WORKER"
  echo "k8s-ha/drained-for-upgrade=v1.35.2" >"$STUB_STATE/annotation-$WORKER"
  echo v1.34.3 >"$STUB_STATE/kubelet-version-$WORKER"
  run bash "$S/worker-upgrade-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  refute_output --partial "stays cordoned"
  echo v1.35.2 >"$STUB_STATE/kubelet-version-$WORKER"
  run bash "$S/worker-upgrade-uncordon.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  [[ ! -e $STUB_STATE/unschedulable-$WORKER && ! -e $STUB_STATE/annotation-$WORKER ]]
}

@test "upgrade-uncordon: a Node not back at the version stays cordoned" {
  touch "$STUB_STATE/node-$WORKER"
  echo "k8s-ha/drained-for-upgrade=v1.35.2" >"$STUB_STATE/annotation-$WORKER"
  echo v1.34.3 >"$STUB_STATE/kubelet-version-$WORKER"
  run bash "$S/worker-upgrade-uncordon.sh" <<<"$ADMIN_KUBECONFIG"
  assert_failure
  assert_output --partial "does not report kubelet v1.35.2 (it stays cordoned)"
  assert_equal "$(count_calls ' uncordon ')" 0
}

@test "removal: drain (control plane), reset (worker, no credential), delete Node (control plane), in that order" {
  touch "$STUB_STATE/node-$WORKER"
  echo kubelet >"$K8S_HA_FSROOT/etc/kubernetes/kubelet.conf"
  run bash "$S/worker-remove-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  run bash "$S/reset-worker.sh" </dev/null
  assert_success
  run bash "$S/worker-remove-node.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  drain=$(line_of "^kubectl .* drain $WORKER ")
  reset=$(line_of '^kubeadm reset -f')
  delete=$(line_of "^kubectl .* delete node $WORKER")
  ((drain > 0 && reset > drain && delete > reset))
  [[ ! -e $STUB_STATE/node-$WORKER ]]
}

@test "removal: nothing to drain for a worker without a Node; the Node deletion is idempotent" {
  run bash "$S/worker-remove-drain.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_output --partial "has no Node: nothing to drain"
  run bash "$S/worker-remove-node.sh" <<<"$ADMIN_KUBECONFIG"
  assert_success
  assert_equal "$(count_calls ' drain ')" 0
}
