node_kubelet_version() { kube get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}'; }
node_at_target() { [[ "$(node_kubelet_version 2>/dev/null)" == "v$K8S_VERSION" ]]; }
node_ready() { [[ "$(kube get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; }
