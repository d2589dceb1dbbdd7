#!/usr/bin/env bash
# Runs a command in network and mount namespaces of its own, so that the lab's nodes can have
# the stack's own private addresses (kubeadm refuses a loopback advertise address) with none of
# that traffic leaving: lo and a bridge, lab0, with no route out. The lab puts each node in a
# network namespace of its own, wired to lab0 (tests/lab/controlPlane.ts); a private mount
# namespace keeps those namespaces' names (/run/netns) to this run. Needs root.
set -euo pipefail

if [ "${K8S_HA_LAB_NETNS:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the lab needs root to make its network namespaces (unshare --net --mount); run it as root or with sudo" >&2
    exit 1
  fi
  exec unshare --net --mount --propagation private -- env K8S_HA_LAB_NETNS=1 "$0" "$@"
fi
# Namespace names live in /run/netns: a tmpfs of this mount namespace's own, gone with it.
mkdir -p /run/netns
mount -t tmpfs -o mode=0755 k8s-ha-lab /run/netns
ip link set lo up
ip link add lab0 type bridge
ip link set lab0 up
exec "$@"
