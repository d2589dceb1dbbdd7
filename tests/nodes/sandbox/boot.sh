#!/usr/bin/env bash
# PID 1 of a node sandbox (tests/nodes): run by `unshare --mount --uts --pid --fork --mount-proc`
# inside the node's network namespace. It gives the node its own /etc/kubernetes, /var/lib/kubelet,
# /var/lib/etcd, containerd state, /run and hosts file (bind mounts of NODE_DIR/root/...), its
# hostname and a cgroup subtree for its kubelet, then becomes the lab's pause program, which
# reaps the orphans a PID 1 inherits. Everything else is the host's filesystem, read as is.
set -euo pipefail
readonly NODE_NAME=$1 NODE_DIR=$2 PAUSE=$3

hostname "$NODE_NAME"
mount --make-rprivate /

# The node's own state: each path of the node that kubeadm, the kubelet, containerd or the
# stack's scripts write is a directory of its own under NODE_DIR/root.
# /etc/cni, not /etc/cni/net.d: reset removes net.d, which a mount point would refuse.
for path in /etc/kubernetes /etc/containerd /etc/cni /etc/modules-load.d /etc/sysctl.d \
  /var/lib/kubelet /var/lib/etcd /var/lib/containerd /var/lib/k8s-ha /var/lib/cni \
  /var/log/pods /var/log/containers /var/log/kubernetes; do
  mkdir -p "$NODE_DIR/root$path" "$path"
  mount --bind "$NODE_DIR/root$path" "$path"
done
mount -t tmpfs -o mode=0755 "run-$NODE_NAME" /run
mkdir -p /run/k8s-ha-lab
# What the lab's systemctl and units need to know about this node.
printf 'NODE_NAME=%q\nNODE_DIR=%q\n' "$NODE_NAME" "$NODE_DIR" >/run/k8s-ha-lab/env
# /etc/hosts: the NLB's name resolves to the NLB stand-in (there is no DNS here).
touch "$NODE_DIR/hosts"
mount --bind "$NODE_DIR/hosts" /etc/hosts
# No resolver: a name that is not in /etc/hosts fails at once instead of timing out.
printf '# k8s-ha lab: no DNS here; names are in /etc/hosts\n' >"$NODE_DIR/resolv.conf"
mount --bind "$NODE_DIR/resolv.conf" /etc/resolv.conf

# The node's cgroups: the kubelet's --cgroup-root in every v1 hierarchy, so that two nodes'
# kubepods never meet. cpuset needs its cpus and mems set before a task may join.
for hierarchy in /sys/fs/cgroup/*/; do
  [[ -f ${hierarchy}cgroup.procs ]] || continue
  dir=${hierarchy}k8s-ha-lab/$NODE_NAME
  mkdir -p "$dir"
  if [[ -f ${hierarchy}cpuset.cpus ]]; then
    for f in cpuset.cpus cpuset.mems; do
      cat "${hierarchy}$f" >"${hierarchy}k8s-ha-lab/$f"
      cat "${hierarchy}$f" >"$dir/$f"
    done
  fi
done

printf '%s\n' "$$" >"$NODE_DIR/ready"
exec "$PAUSE"
