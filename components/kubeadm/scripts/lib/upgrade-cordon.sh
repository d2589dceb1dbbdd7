# The cordon an upgrade owns. The Node carries ANNOTATION=<version> while an upgrade holds it
# cordoned, so that the upgrade uncordons only what it cordoned (a Node an operator cordoned
# stays cordoned), and so that a retry after a failure past the drain still uncordons it.

# node_drained_for ANNOTATION: the version an upgrade cordoned the Node for, "" when none.
node_drained_for() { kube get node "$NODE_NAME" -o "jsonpath={.metadata.annotations.${1//./\\.}}"; }

# cordon_for_upgrade ANNOTATION VERSION: mark the Node as cordoned by this upgrade, unless it was
# cordoned without the mark before (an operator's: it stays so). A retry finds its own mark.
cordon_for_upgrade() {
  local unschedulable drained
  unschedulable=$(kube get node "$NODE_NAME" -o 'jsonpath={.spec.unschedulable}') ||
    die "cannot read whether Node $NODE_NAME is cordoned"
  drained=$(node_drained_for "$1") || die "cannot read Node $NODE_NAME's annotations"
  if [[ $unschedulable == true && -z $drained ]]; then
    log "$NODE_NAME was cordoned before its upgrade: it stays cordoned afterwards"
    return 0
  fi
  kube annotate node "$NODE_NAME" --overwrite "$1=$2" >/dev/null || die "could not annotate Node $NODE_NAME"
}

# uncordon_after_upgrade ANNOTATION: uncordon the Node and drop the mark, if this upgrade cordoned it.
uncordon_after_upgrade() {
  local drained
  drained=$(node_drained_for "$1") || die "cannot read Node $NODE_NAME's annotations"
  if [[ -z $drained ]]; then
    log "$NODE_NAME was not cordoned by an upgrade: it stays as it is"
    return 0
  fi
  kube uncordon "$NODE_NAME" >/dev/null || die "kubectl uncordon $NODE_NAME failed"
  kube annotate node "$NODE_NAME" "$1-" >/dev/null || die "could not remove $1 from Node $NODE_NAME"
  log "uncordoned $NODE_NAME"
}
