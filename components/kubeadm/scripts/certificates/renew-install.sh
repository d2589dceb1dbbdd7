#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# renew-install: installs the weekly renewal of kubeadm's client certificates on a control plane:
# the renew-kubeconfigs script, its service and its timer; reloads systemd only when a unit
# changed; enables and starts the timer. Idempotent: a second run changes nothing.
#
# stdin: nothing
# params: NODE_NAME UNIT SCRIPT_PATH SERVICE_PATH TIMER_PATH RENEW_SCRIPT SERVICE_UNIT TIMER_UNIT
# embeds: RENEW_SCRIPT SERVICE_UNIT TIMER_UNIT

source lib/log.sh

source lib/put-file.sh

# System files get the usual modes; the script stays root-only.
umask 022

changed=0
put_file 0700 "$FSROOT$SCRIPT_PATH" "$RENEW_SCRIPT"
put_file 0644 "$FSROOT$SERVICE_PATH" "$SERVICE_UNIT"
changed=$((changed + PUT_CHANGED))
put_file 0644 "$FSROOT$TIMER_PATH" "$TIMER_UNIT"
changed=$((changed + PUT_CHANGED))

if ((changed)); then
  systemctl daemon-reload
fi
systemctl enable --now "$UNIT.timer"
if ((changed)); then
  systemctl restart "$UNIT.timer"
fi
log "client certificate renewal of $NODE_NAME: timer $UNIT.timer"
