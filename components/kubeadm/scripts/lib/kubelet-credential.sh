# kube: kubectl with this node's own kubelet credential (a worker holds no other): it may read its
# own Node and kubeadm-config, nothing of other nodes' workloads.
kube() { kubectl --kubeconfig "$KUBE_DIR/kubelet.conf" --request-timeout=30s "$@"; }
