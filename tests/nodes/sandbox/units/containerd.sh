#!/usr/bin/env bash
# The containerd unit of a node sandbox (run by the lab's systemctl). It runs Debian's containerd
# with the configuration prepare.sh wrote to /etc/containerd/config.toml, changed by the lab's
# overlay only where the sandbox differs from an EC2 instance:
# - SystemdCgroup = false: systemd does not manage cgroups here (the kubelet uses cgroupfs too);
# - sandbox_image: the pause image kubeadm names, which the lab imports (upgrade.sh sets the same
#   on an instance, in the step the lab's staged packages skip);
# - bin_dir: Debian's containernetworking-plugins live in /usr/lib/cni;
# - restrict_oom_score_adj = true: this machine withholds CAP_SYS_RESOURCE even from root, so no
#   process may lower its oom_score_adj, and runc would fail every static pod (kubelet asks
#   -997 for them) with "failed to update /proc/self/oom_score_adj: Permission denied".
set -euo pipefail
# shellcheck source=/dev/null
source /run/k8s-ha-lab/env
config=$(cat /etc/containerd/config.toml 2>/dev/null || containerd config default)
pause=$(kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" | grep -m1 '/pause:')
config=$(sed -E \
  -e 's/SystemdCgroup = true/SystemdCgroup = false/' \
  -e "s#^([[:space:]]*sandbox_image[[:space:]]*=).*#\1 \"$pause\"#" \
  -e 's#^([[:space:]]*bin_dir[[:space:]]*=).*#\1 "/usr/lib/cni"#' \
  -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' <<<"$config")
[[ $config == *"restrict_oom_score_adj = true"* ]] || { echo "lab containerd: no restrict_oom_score_adj setting to enable" >&2; exit 1; }
printf '%s\n' "$config" >/run/k8s-ha-lab/containerd.toml
exec containerd --config /run/k8s-ha-lab/containerd.toml
