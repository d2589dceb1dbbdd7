# mark_done STEP: record that STEP finished on this node (the time, for whoever looks), for
# done_before (lib/markers.sh).
mark_done() {
  mkdir -p -- "$STATE_DIR"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE_DIR/$1"
}
