# with_installed_version TEXT: TEXT with VERSION_PLACEHOLDER replaced by the installed kubeadm's
# version ("v1.N.P"). The kubeadm configs of init and rotate carry the placeholder instead of the
# configured version, so that a version bump changes only the upgrade step's text; the upgrade
# step is also what installs kubeadm, at the configured version, before init or join.
with_installed_version() {
  local version
  version=$(kubeadm version -o short) || die "cannot run 'kubeadm version' (the upgrade step installs kubeadm first)"
  [[ $version =~ ^v1\.[0-9]+\.[0-9]+$ ]] || die "kubeadm reports version '$version', not v1.N.P"
  printf '%s' "${1//"$VERSION_PLACEHOLDER"/"$version"}"
}
