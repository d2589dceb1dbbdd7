# Markers of finished membership steps (initialised, joined) under STATE_DIR: init.sh and join.sh
# write them (lib/mark-done.sh) once kubeadm succeeded and the node answers; first-control-plane.sh
# reads them to tell what node 0 did before.

# done_before STEP: whether STEP finished on this node before.
done_before() { [[ -e "$STATE_DIR/$1" ]]; }
