# snapshot_tool ARGS...: etcdutl when present (etcd 3.5+), else etcdctl (3.4 restores too).
snapshot_tool() {
  if command -v etcdutl >/dev/null 2>&1; then
    etcdutl "$@"
  else
    ETCDCTL_API=3 etcdctl "$@"
  fi
}
