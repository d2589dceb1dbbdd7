# Every file kubeadm must find in place; without them kubeadm would silently mint its own CA.
require_files() {
  local f missing=()
  for f in "${REQUIRED_FILES[@]}"; do
    if [[ ! -s "$FSROOT$f" ]]; then
      missing+=("$f")
    fi
  done
  if ((${#missing[@]} > 0)); then
    die "missing input files (run prepare and place-pki first): ${missing[*]}"
  fi
}
