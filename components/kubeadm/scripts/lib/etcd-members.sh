# etcdctl_on NODE ARGS...: etcdctl inside NODE's etcd static pod (kubeadm names it etcd-<node>),
# through the API (needs kube from lib/admin-kubeconfig.sh), with the member's own CA and
# health-check client certificate.
etcdctl_on() {
  local node=$1
  shift
  kube -n kube-system exec "etcd-$node" -- etcdctl --endpoints=https://127.0.0.1:2379 \
    --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
    --key=/etc/kubernetes/pki/etcd/healthcheck-client.key --command-timeout=10s "$@"
}

# etcd_pod_nodes: the nodes that run an etcd pod, as the API lists them.
etcd_pod_nodes() {
  kube -n kube-system get pods -l component=etcd,tier=control-plane -o jsonpath='{.items[*].spec.nodeName}' 2>/dev/null || true
}

# remove_member_of NAME PEER_URL: ask the first other member that answers whether NAME still has
# an etcd member (voting or learner) and remove it. A learner that never started has no name yet:
# it is found by its peer URL. Fails when no other member answers.
remove_member_of() {
  local name=$1 peer=$2 n out id
  for n in $(etcd_pod_nodes); do
    if [[ $n == "$name" ]]; then
      continue
    fi
    out=$(etcdctl_on "$n" member list -w simple 2>/dev/null) || continue
    id=$(awk -F', ' -v me="$name" -v peer="$peer" '$3 == me || $4 == peer { print $1; exit }' <<<"$out")
    if [[ -z $id ]]; then
      log "$name has no etcd member (checked on $n)"
      return 0
    fi
    log "removing the etcd member $id of $name through $n"
    etcdctl_on "$n" member remove "$id" >/dev/null || die "could not remove the etcd member $id of $name through $n"
    return 0
  done
  die "cannot check the etcd member of $name: no other etcd member answers (kubectl exec etcd-<node> -- etcdctl member list)"
}
