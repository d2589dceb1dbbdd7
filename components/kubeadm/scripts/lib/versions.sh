# minor_of V / patch_of V: the N and P of "v1.N.P" or "1.N.P" (empty when V is malformed).
minor_of() { if [[ $1 =~ ^v?1\.([0-9]+)\.([0-9]+) ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi; }
patch_of() { if [[ $1 =~ ^v?1\.([0-9]+)\.([0-9]+) ]]; then printf '%s' "${BASH_REMATCH[2]}"; fi; }

# check_step WHAT CURRENT: refuse a downgrade or a skipped minor from CURRENT to K8S_VERSION.
check_step() {
  local what=$1 current=$2 cmin cpatch tmin tpatch
  cmin=$(minor_of "$current")
  cpatch=$(patch_of "$current")
  tmin=$(minor_of "$K8S_VERSION")
  tpatch=$(patch_of "$K8S_VERSION")
  if [[ -z $cmin ]]; then
    die "cannot read the $what version (got '$current')"
  fi
  if ((tmin < cmin || (tmin == cmin && tpatch < cpatch))); then
    die "refusing to downgrade: the $what is at $current and the configured kubernetesVersion is $K8S_VERSION; kubeadm cannot downgrade (restore an etcd backup taken before the upgrade instead)"
  fi
  if ((tmin > cmin + 1)); then
    die "refusing to skip a minor version: the $what is at $current and the configured kubernetesVersion is $K8S_VERSION; upgrade to 1.$((cmin + 1)).x first, then to $K8S_VERSION"
  fi
}
