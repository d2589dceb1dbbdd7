#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# first-control-plane: what node 0 runs: `kubeadm init` on a new cluster, `kubeadm join
# --control-plane` on an existing one. Node 0 is replaced like any other node (lost instance, new
# subnet, a replace trigger), and a plain init next to a live cluster would start a second
# one-member etcd behind the same load balancer: a split brain. So init runs only when the
# cluster provably does not exist yet:
# - this node's own record first: it initialised (init.sh's marker, or super-admin.conf, which
#   only kubeadm init writes: a join writes admin.conf too, early, so a join that failed half-way
#   is no init) or joined before: that script again (its guard);
# - else every other control plane is probed directly (apiserver 6443, etcd 2379, with the
#   cluster's CAs and etcd's health-check client certificate), and the NLB: anything that
#   answers means the cluster exists, so join; every one refusing the connection (the hosts are
#   up, nothing listens: they wait for this init) means it does not, so init; a probe that gets
#   no answer at all (timeout, no route) decides nothing, and after PROBE_ATTEMPTS rounds the
#   script refuses to guess.
# stdin is the join's (token, then the admin kubeconfig); the init reads only the token line.
#
# stdin: line 1 = the bootstrap token, then the admin kubeconfig (SECRET)
# params: NODE_NAME API_READYZ_URL PROBE_ATTEMPTS PROBE_INTERVAL_SECONDS INIT_SCRIPT JOIN_SCRIPT
# params: OTHER_CONTROL_PLANES[]
# embeds: INIT_SCRIPT JOIN_SCRIPT

source lib/log.sh

source lib/markers.sh

readonly PKI="$KUBE_DIR/pki"

# probe ARGS...: curl ARGS; 0 = something answered (any HTTP status, even a TLS refusal: a
# member listens there), 1 = connection refused (up, nothing listening), 2 = no answer.
probe() {
  local rc=0
  curl -s --connect-timeout 3 --max-time 5 -o /dev/null "$@" || rc=$?
  case $rc in
  0 | 35 | 52 | 56 | 58 | 60) return 0 ;;
  7) return 1 ;;
  *) return 2 ;;
  esac
}

# cluster_state: "exists", "absent" (every probe refused) or "unknown" (some never answered).
cluster_state() {
  local ip host service unknown=0 rc
  if curl -sf --max-time 5 --cacert "$PKI/ca.crt" -o /dev/null "$API_READYZ_URL"; then
    printf exists
    return
  fi
  for ip in "${OTHER_CONTROL_PLANES[@]}"; do
    host=$ip
    if [[ $ip == *:* ]]; then
      host="[$ip]"
    fi
    for service in apiserver etcd; do
      rc=0
      case $service in
      apiserver) probe "https://$host:6443/readyz" --cacert "$PKI/ca.crt" || rc=$? ;;
      etcd)
        probe "https://$host:2379/health" --cacert "$PKI/etcd/ca.crt" \
          --cert "$PKI/etcd/healthcheck-client.crt" --key "$PKI/etcd/healthcheck-client.key" || rc=$?
        ;;
      esac
      if ((rc == 0)); then
        printf exists
        return
      fi
      if ((rc == 2)); then
        unknown=1
      fi
    done
  done
  if ((unknown)); then
    printf unknown
  else
    printf absent
  fi
}

# --- this node's own record ------------------------------------------------------------------------
if done_before joined; then
  exec bash -c "$JOIN_SCRIPT"
fi
if done_before initialised || [[ -e "$KUBE_DIR/super-admin.conf" ]]; then
  exec bash -c "$INIT_SCRIPT"
fi

# --- does the cluster exist? ---------------------------------------------------------------------------
for ((attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++)); do
  state=$(cluster_state)
  case $state in
  exists)
    log "the cluster already answers and $NODE_NAME never initialised: joining it (node 0 was replaced)"
    exec bash -c "$JOIN_SCRIPT"
    ;;
  absent)
    log "no other control plane runs etcd or an apiserver (${#OTHER_CONTROL_PLANES[@]} probed, every connection refused): a new cluster"
    exec bash -c "$INIT_SCRIPT"
    ;;
  esac
  log "cannot tell yet whether the cluster exists: a control plane does not answer at all (round $attempt of $PROBE_ATTEMPTS)"
  sleep "$PROBE_INTERVAL_SECONDS"
done
die "refusing kubeadm init on $NODE_NAME: after $PROBE_ATTEMPTS rounds some control planes (${OTHER_CONTROL_PLANES[*]}) still do not answer, so the cluster may exist without being reachable; an init now could start a second etcd (split brain). Check the other control planes and the security groups, then re-run pulumi up"
