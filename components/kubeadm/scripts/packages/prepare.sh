#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# prepare: node preparation: hostname, swap off, kernel modules and sysctls, containerd with the
# systemd cgroup driver, and on control planes the apiserver's audit policy. No Kubernetes
# version: the upgrade step (upgrade.sh) installs kubelet/kubeadm/kubectl, so a kubernetesVersion
# bump leaves this script's text, and so this step, alone. PREPARE_FINGERPRINT covers everything
# the script does, so a changed script is applied again once; otherwise a prepared node is left alone.
#
# stdin: nothing
# params: NODE_NAME NODE_ROLE
#@if control-plane
# params: AUDIT_POLICY_PATH AUDIT_LOG_DIR AUDIT_POLICY
#@endif
# params: PREPARE_FINGERPRINT

source lib/log.sh

source lib/put-file.sh

# Nothing secret here: system files get the usual modes (apt's _apt user must read the keyring).
umask 022
readonly MARKER="$STATE_DIR/prepared"

# --- guard: prepared by this very script before? ----------------------------------------------
if [[ -f $MARKER && "$(<"$MARKER")" == "$PREPARE_FINGERPRINT" ]]; then
  log "already prepared ($MARKER); nothing to do"
  exit 0
fi

log "preparing $NODE_NAME ($NODE_ROLE)"

# --- hostname -----------------------------------------------------------------------------------
hostnamectl set-hostname "$NODE_NAME"

# --- swap off, now and after reboot -------------------------------------------------------------
swapoff -a
if [[ -f "$FSROOT/etc/fstab" ]]; then
  sed -i -E 's/^([^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/# k8s-ha: \1/' "$FSROOT/etc/fstab"
fi

# --- kernel modules and sysctls -----------------------------------------------------------------
put_file 0644 "$FSROOT/etc/modules-load.d/k8s-ha.conf" $'overlay\nbr_netfilter'
modprobe overlay
modprobe br_netfilter
put_file 0644 "$FSROOT/etc/sysctl.d/99-k8s-ha.conf" $'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1'
sysctl --system >/dev/null

# --- containerd from Ubuntu's archive, systemd cgroups ------------------------------------------
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# --no-upgrade: applying a changed prepare again on a live node must not upgrade its runtime.
apt-get install -y -q --no-upgrade apt-transport-https ca-certificates curl gpg containerd conntrack socat
# Held, so that unattended-upgrades never restarts the runtime under running pods.
apt-mark hold containerd runc >/dev/null
default_config=$(containerd config default) || die "containerd config default failed"
containerd_config=${default_config//SystemdCgroup = false/SystemdCgroup = true}
if [[ $containerd_config != *"SystemdCgroup = true"* ]]; then
  die "containerd's default configuration has no SystemdCgroup option to enable"
fi
put_file 0644 "$FSROOT/etc/containerd/config.toml" "$containerd_config"
systemctl enable containerd
if ((PUT_CHANGED)); then
  systemctl restart containerd
fi

#@if control-plane
# --- control plane: the apiserver's audit policy and log directory (mounted by kubeadm) ---------
put_file 0600 "$FSROOT$AUDIT_POLICY_PATH" "$AUDIT_POLICY"
mkdir -p -- "$FSROOT$AUDIT_LOG_DIR"

#@endif
mkdir -p -- "$STATE_DIR"
printf '%s\n' "$PREPARE_FINGERPRINT" >"$MARKER"
log "prepared $NODE_NAME"
