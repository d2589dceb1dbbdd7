#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# etcd-backup-install: installs the backup and restore scripts, the service and the timer;
# installs etcdctl (Ubuntu's etcd-client) and, for an S3 target, curl when missing; checks
# the schedule with `systemd-analyze calendar` before touching the timer; reloads systemd only when
# a unit changed; enables and starts the timer. Idempotent: a second run changes nothing.
#
# stdin: nothing
# params: NODE_NAME SCHEDULE RANDOM_DELAY UPLOAD_TARGET UNIT BACKUP_SCRIPT_PATH
# params: RESTORE_SCRIPT_PATH SERVICE_PATH TIMER_PATH BACKUP_SCRIPT RESTORE_SCRIPT
# params: SERVICE_UNIT TIMER_UNIT
# embeds: BACKUP_SCRIPT RESTORE_SCRIPT SERVICE_UNIT TIMER_UNIT

source lib/log.sh

source lib/put-file.sh

# System files get the usual modes; the scripts stay root-only.
umask 022

# --- the schedule must be one systemd understands, before anything changes ----------------------
systemd-analyze calendar "$SCHEDULE" >/dev/null 2>&1 ||
  die "etcdBackupSchedule '$SCHEDULE' is not a valid systemd OnCalendar expression (systemd-analyze calendar)"

# --- tools: etcdctl (Ubuntu's etcd-client); curl for an S3 target ------------------------------
# The upload is curl's own SigV4 (curl >= 7.75; Ubuntu 24.04 has 8.5), not the AWS CLI: the CLI
# comes as a snap on Ubuntu, and the snap dies in the unit (ProtectHome=true) for want of /root/snap.
export DEBIAN_FRONTEND=noninteractive
if ! command -v etcdctl >/dev/null 2>&1; then
  log "installing etcd-client (etcdctl)"
  apt-get update -q
  apt-get install -y -q etcd-client
fi
if [[ $UPLOAD_TARGET == s3://* ]] && ! command -v curl >/dev/null 2>&1; then
  log "installing curl"
  apt-get update -q
  apt-get install -y -q curl
fi

# --- files -------------------------------------------------------------------------------------------
changed=0
put_file 0700 "$FSROOT$BACKUP_SCRIPT_PATH" "$BACKUP_SCRIPT"
put_file 0700 "$FSROOT$RESTORE_SCRIPT_PATH" "$RESTORE_SCRIPT"
put_file 0644 "$FSROOT$SERVICE_PATH" "$SERVICE_UNIT"
changed=$((changed + PUT_CHANGED))
put_file 0644 "$FSROOT$TIMER_PATH" "$TIMER_UNIT"
changed=$((changed + PUT_CHANGED))
mkdir -p -- "$STATE_DIR"

# --- systemd: reload only when a unit changed; enabling an enabled timer is a no-op --------------
if ((changed)); then
  systemctl daemon-reload
fi
systemctl enable --now "$UNIT.timer"
if ((changed)); then
  systemctl restart "$UNIT.timer"
fi
log "etcd backups of $NODE_NAME: timer $UNIT.timer on '$SCHEDULE' (+ up to $RANDOM_DELAY), to $UPLOAD_TARGET"
