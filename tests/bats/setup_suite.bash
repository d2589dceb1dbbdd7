# The suite runs the rendered sample scripts as committed in tests/golden/scripts/sample/ (the
# sample cluster of tools/render-scripts.ts). tests/kubeadm/golden.spec.ts (npm test) and
# tests/system/kubeadm/bats.spec.ts keep them byte-identical to what the builders render from
# components/kubeadm/scripts/; after changing a script, `npm run golden:update` rewrites them.
setup_suite() {
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  export K8S_HA_SCRIPTS="$repo/tests/golden/scripts/sample"
  [[ -s "$K8S_HA_SCRIPTS/init.sh" ]]
}
