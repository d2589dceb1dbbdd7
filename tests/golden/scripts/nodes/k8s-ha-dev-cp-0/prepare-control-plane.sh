#!/usr/bin/env bash
# k8s-ha prepare: prepare k8s-ha-dev-cp-0 (control-plane) for Kubernetes
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='prepare'
readonly NODE_NAME='k8s-ha-dev-cp-0'
readonly NODE_ROLE='control-plane'
readonly AUDIT_POLICY_PATH='/etc/kubernetes/audit-policy.yaml'
readonly AUDIT_LOG_DIR='/var/log/kubernetes/audit'
readonly AUDIT_POLICY='apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  - level: None
    nonResourceURLs:
      - /healthz*
      - /livez*
      - /readyz*
      - /version
      - /metrics
  - level: None
    verbs:
      - get
      - update
    resources:
      - group: coordination.k8s.io
        resources:
          - leases
  - level: None
    resources:
      - group: ""
        resources:
          - events
      - group: events.k8s.io
        resources:
          - events
  - level: Metadata
    resources:
      - group: ""
        resources:
          - secrets
          - configmaps
          - serviceaccounts/token
      - group: authentication.k8s.io
        resources:
          - tokenreviews
  - level: Request
    verbs:
      - create
      - update
      - patch
      - delete
      - deletecollection
    resources:
      - group: rbac.authorization.k8s.io
  - level: Metadata
'
readonly PREPARE_FINGERPRINT='caa97467a462dd727d615fae3ef98872db2cb6589e9675f2066f9ee60acb088e'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"

log() { printf '[k8s-ha %s] %s\n' "$SCRIPT_NAME" "$*"; }
die() {
  printf '[k8s-ha %s] ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}

# put_file MODE PATH CONTENT: atomic write when the content differs; PUT_CHANGED=1 when it did.
put_file() {
  local mode=$1 path=$2 content=$3 tmp
  PUT_CHANGED=0
  mkdir -p -- "${path%/*}"
  if [[ -f $path && "$(<"$path")" == "$content" ]]; then
    chmod "$mode" -- "$path"
    return 0
  fi
  tmp=$(mktemp "$path.k8s-ha.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$path"
  PUT_CHANGED=1
}

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

# --- control plane: the apiserver's audit policy and log directory (mounted by kubeadm) ---------
put_file 0600 "$FSROOT$AUDIT_POLICY_PATH" "$AUDIT_POLICY"
mkdir -p -- "$FSROOT$AUDIT_LOG_DIR"

mkdir -p -- "$STATE_DIR"
printf '%s\n' "$PREPARE_FINGERPRINT" >"$MARKER"
log "prepared $NODE_NAME"
