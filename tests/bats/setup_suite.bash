# Renders every script once for the whole bats run (tools/render-scripts.ts, the sample cluster).
setup_suite() {
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  export K8S_HA_SCRIPTS="$BATS_SUITE_TMPDIR/scripts"
  (cd "$repo" && npx --no-install ts-node --transpile-only tools/render-scripts.ts "$K8S_HA_SCRIPTS" >/dev/null)
  [[ -s "$K8S_HA_SCRIPTS/init.sh" ]]
}
