#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# prepare-guard: wraps the prepare script. On a node that has joined and whose kubelet is at
# another version, a changed kubernetesVersion is the upgrade step's job, so prepare leaves the
# node alone (and does not fail, which would stop the `pulumi up` before the upgrade could run).
# Anywhere else it runs prepare unchanged.
#
# stdin: nothing
# params: NODE_NAME K8S_VERSION PREPARE_SCRIPT
# embeds: PREPARE_SCRIPT

source lib/log.sh

installed=$(dpkg-query -W -f='${Version}' kubelet 2>/dev/null || true)
if [[ -e "$KUBE_DIR/kubelet.conf" && -n $installed && $installed != "$K8S_VERSION"-* ]]; then
  log "$NODE_NAME has joined with kubelet $installed: moving it to $K8S_VERSION is the upgrade step's job; prepare leaves it alone"
  exit 0
fi
exec bash -c "$PREPARE_SCRIPT"
