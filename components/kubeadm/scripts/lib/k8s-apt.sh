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
