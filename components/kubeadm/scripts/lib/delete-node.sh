delete_node() { kube delete node "$NODE_NAME" --ignore-not-found >/dev/null; }
