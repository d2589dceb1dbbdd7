#!/usr/bin/env bash
# The kubelet unit of a node sandbox (run by the lab's systemctl): the command line of the
# kubelet package's systemd drop-in (10-kubeadm.conf,
# https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/kubelet-integration/),
# plus the lab's overlay flags, which override the KubeletConfiguration kubeadm writes:
# - --fail-cgroupv1=false: this machine's cgroups are v1 (hybrid), which kubelet 1.35 refuses by default;
# - --cgroup-driver=cgroupfs: systemd is not PID 1;
# - --cgroup-root: a subtree per node, so that sandboxes sharing the host's cgroups never meet.
set -euo pipefail
# shellcheck source=/dev/null
source /run/k8s-ha-lab/env
KUBELET_KUBEADM_ARGS=
if [[ -f /var/lib/kubelet/kubeadm-flags.env ]]; then
  # shellcheck source=/dev/null
  source /var/lib/kubelet/kubeadm-flags.env
fi
# shellcheck disable=SC2086 # KUBELET_KUBEADM_ARGS is words, as systemd splits it
exec kubelet \
  --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf \
  --config=/var/lib/kubelet/config.yaml $KUBELET_KUBEADM_ARGS \
  --fail-cgroupv1=false --cgroup-driver=cgroupfs --cgroup-root="/k8s-ha-lab/$NODE_NAME"
