#!/usr/bin/env bash
# k8s-ha prepare: prepare cp-v6 (control-plane) for Kubernetes 1.35.2
# Rendered by k8s-ha from typed data; do not edit by hand.
# stdin: nothing
# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);
# commands are replaced through PATH.
set -euo pipefail
umask 077

readonly SCRIPT_NAME='prepare'
readonly NODE_NAME='cp-v6'
readonly NODE_ROLE='control-plane'
readonly K8S_VERSION='1.35.2'
readonly K8S_REPO='https://pkgs.k8s.io/core:/stable:/v1.35/deb/'
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
readonly PREPARE_FINGERPRINT='a8c1cefa1595d75acf4d414d53da6240a335c5ed72e2e3957ed92bc0eb66bcd4'
readonly FSROOT="${K8S_HA_FSROOT:-}"
readonly KUBE_DIR="$FSROOT/etc/kubernetes"
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

# pkgs.k8s.io, the Kubernetes package repository: K8S_REPO is the channel of K8S_VERSION's minor.
readonly KEYRING_PATH='/etc/apt/keyrings/kubernetes-apt-keyring.gpg'
readonly SOURCES_PATH='/etc/apt/sources.list.d/kubernetes.list'

# use_k8s_repo: apt takes kubelet, kubeadm and kubectl from $K8S_REPO, checked with its signing key
# (both files world-readable: apt's _apt user reads them); apt-get update; pkg_version is then the
# package version of $K8S_VERSION there.
use_k8s_repo() {
  mkdir -p -- "$FSROOT/etc/apt/keyrings"
  chmod 0755 -- "$FSROOT/etc/apt/keyrings"
  curl -fsSL "${K8S_REPO}Release.key" | gpg --dearmor --batch --yes -o "$FSROOT$KEYRING_PATH" ||
    die "cannot fetch the signing key of $K8S_REPO"
  chmod 0644 -- "$FSROOT$KEYRING_PATH"
  put_file 0644 "$FSROOT$SOURCES_PATH" "deb [signed-by=$KEYRING_PATH] $K8S_REPO /"
  if ((PUT_CHANGED)); then
    log "apt source of kubelet, kubeadm and kubectl: $K8S_REPO"
  fi
  apt-get update -q
  pkg_version=$(apt-cache madison kubeadm | awk -F'|' -v want="$K8S_VERSION-" '{ gsub(/[[:space:]]/, "", $2); if (index($2, want) == 1) { print $2; exit } }')
  if [[ -z $pkg_version ]]; then
    die "kubeadm $K8S_VERSION is not available from $K8S_REPO"
  fi
}

# Nothing secret here: system files get the usual modes (apt's _apt user must read the keyring).
umask 022
readonly MARKER="$STATE_DIR/prepared"

# --- guard: prepared by this very script before? ----------------------------------------------
if [[ -f $MARKER && "$(<"$MARKER")" == "$PREPARE_FINGERPRINT" ]]; then
  log "already prepared for Kubernetes $K8S_VERSION ($MARKER); nothing to do"
  exit 0
fi
# shellcheck disable=SC2016  # ${Version} is dpkg-query's format, not a shell expansion
installed=$(dpkg-query -W -f='${Version}' kubelet 2>/dev/null || true)
if [[ -n $installed && $installed != "$K8S_VERSION"-* && -e "$KUBE_DIR/kubelet.conf" ]]; then
  die "kubelet $installed is installed on a joined node; changing it to $K8S_VERSION is an upgrade (kubeadm upgrade), which prepare does not do"
fi

log "preparing $NODE_NAME ($NODE_ROLE) for Kubernetes $K8S_VERSION"

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
apt-get install -y -q apt-transport-https ca-certificates curl gpg containerd conntrack socat
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

# --- kubelet, kubeadm, kubectl pinned to $K8S_VERSION from pkgs.k8s.io --------------------------
use_k8s_repo
apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
apt-get install -y -q --allow-downgrades --allow-change-held-packages \
  "kubelet=$pkg_version" "kubeadm=$pkg_version" "kubectl=$pkg_version"
apt-mark hold kubelet kubeadm kubectl
systemctl enable kubelet

# --- control plane: the apiserver's audit policy and log directory (mounted by kubeadm) ---------
put_file 0600 "$FSROOT$AUDIT_POLICY_PATH" "$AUDIT_POLICY"
mkdir -p -- "$FSROOT$AUDIT_LOG_DIR"

mkdir -p -- "$STATE_DIR"
printf '%s\n' "$PREPARE_FINGERPRINT" >"$MARKER"
log "prepared $NODE_NAME for Kubernetes $K8S_VERSION (kubelet/kubeadm/kubectl $pkg_version, held)"
