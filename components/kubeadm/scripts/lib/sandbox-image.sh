# align_sandbox_image: containerd's sandbox (pause) image set to the one the installed kubeadm
# expects for K8S_VERSION (Ubuntu's containerd 1.7 defaults to an older pause, and kubeadm warns
# about the mismatch); containerd restarts only when the file changed (running containers keep
# running under their shims). Needs put_file (lib/put-file.sh).
align_sandbox_image() {
  local images pause config aligned file="$FSROOT/etc/containerd/config.toml"
  images=$(kubeadm config images list --kubernetes-version "v$K8S_VERSION") ||
    die "kubeadm config images list --kubernetes-version v$K8S_VERSION failed"
  pause=$(grep -m1 '/pause:' <<<"$images") || die "kubeadm config images list named no pause image for v$K8S_VERSION"
  config=$(<"$file") || die "cannot read $file (prepare writes it)"
  if [[ ! $config =~ (^|$'\n')[[:space:]]*sandbox_image[[:space:]]*= ]]; then
    die "$file has no sandbox_image setting to align with kubeadm's $pause"
  fi
  aligned=$(sed -E "s#^([[:space:]]*sandbox_image[[:space:]]*=[[:space:]]*).*#\1\"$pause\"#" <<<"$config")
  put_file 0644 "$file" "$aligned"
  if ((PUT_CHANGED)); then
    systemctl restart containerd
    log "containerd's sandbox image is now $pause"
  fi
}
