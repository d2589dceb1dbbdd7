// Day-2 scripts, rendered as text from typed data (pure): etcd backups (script, systemd service and
// timer, installer), the etcd restore for the runbook, Kubernetes upgrades one node at a time, the
// prepare guard that hands version changes to the upgrade, and the rollout gate that holds the
// next control plane's instance change until this one is back and healthy.
//
// Same conventions as scripts.ts: `#!/usr/bin/env bash`, `set -euo pipefail`, `umask 077`,
// shell-quoted `readonly` parameters at the top, secrets (the admin kubeconfig) on stdin only,
// bounded waits, an idempotent guard before any change, commands replaced in tests through PATH
// only, and K8S_HA_FSROOT prefixing every host path.
//
// stdin framing:
//   etcd-backup, etcd-backup-install, etcd-restore, prepare-guard, rollout-gate: nothing
//   upgrade: the admin kubeconfig (all of stdin)
import { createHash } from "node:crypto";
import { PUT_FILE, READ_KUBECONFIG, WAIT_FOR, WORKDIR, compose, requireRole, sh, urlHost } from "./bash";
import { shellQuote } from "./shell";
import {
    API_PORT,
    KubeadmInputError,
    kubernetesMinorChannel,
    normalizeCluster,
    parseKubernetesVersion,
    validateNode,
    type ClusterSpec,
    type NodeRole,
    type NodeSpec,
} from "./types";

// ---------------------------------------------------------------------------------------------
// Where things live on a node

/** The backup script, installed by the backup installer. */
export const ETCD_BACKUP_SCRIPT_PATH = "/usr/local/sbin/k8s-ha-etcd-backup";
/** The restore script for the runbook, installed next to it. */
export const ETCD_RESTORE_SCRIPT_PATH = "/usr/local/sbin/k8s-ha-etcd-restore";
export const ETCD_BACKUP_UNIT = "k8s-ha-etcd-backup";
export const ETCD_BACKUP_SERVICE_PATH = `/etc/systemd/system/${ETCD_BACKUP_UNIT}.service`;
export const ETCD_BACKUP_TIMER_PATH = `/etc/systemd/system/${ETCD_BACKUP_UNIT}.timer`;
/** kubeadm's etcd data directory and files. */
export const ETCD_DATA_DIR = "/var/lib/etcd";
export const ETCD_CA_PATH = "/etc/kubernetes/pki/etcd/ca.crt";
/** The client certificate kubeadm issues for etcd health checks: a plain etcd client, clientAuth only. */
export const ETCD_CLIENT_CERT_PATH = "/etc/kubernetes/pki/etcd/healthcheck-client.crt";
export const ETCD_CLIENT_KEY_PATH = "/etc/kubernetes/pki/etcd/healthcheck-client.key";
export const ETCD_PEER_PORT = 2380;
export const ETCD_CLIENT_PORT = 2379;
/** Static pods a restore stops: etcd and everything that talks to it. */
export const CONTROL_PLANE_MANIFESTS = ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml", "etcd.yaml"] as const;
/** The timer's RandomizedDelaySec: control planes do not all snapshot in the same second. */
export const ETCD_BACKUP_RANDOM_DELAY = "30min";
/** Server-side encryption requested on every upload (the bucket also encrypts by default). */
export const BACKUP_SSE = "AES256";

// ---------------------------------------------------------------------------------------------
// Fragments of the day-2 scripts

/**
 * Offline snapshot commands (status, restore): etcd 3.5+'s etcdutl when the node has it (it matches
 * a 3.5/3.6 cluster's data format), else etcdctl, which does both in 3.4 (Debian's and Ubuntu's).
 */
const SNAPSHOT_TOOL = sh`
# snapshot_tool ARGS...: etcdutl when present (etcd 3.5+), else etcdctl (3.4 restores too).
snapshot_tool() {
  if command -v etcdutl >/dev/null 2>&1; then
    etcdutl "$@"
  else
    ETCDCTL_API=3 etcdctl "$@"
  fi
}`;

/** Version arithmetic on "v1.N.P" / "1.N.P" strings. */
const VERSIONS = sh`
# minor_of V / patch_of V: the N and P of "v1.N.P" or "1.N.P" (empty when V is malformed).
minor_of() { if [[ $1 =~ ^v?1\.([0-9]+)\.([0-9]+) ]]; then printf '%s' "\${BASH_REMATCH[1]}"; fi; }
patch_of() { if [[ $1 =~ ^v?1\.([0-9]+)\.([0-9]+) ]]; then printf '%s' "\${BASH_REMATCH[2]}"; fi; }

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
}`;

function positiveInt(field: string, v: number): number {
    if (!Number.isInteger(v) || v <= 0) throw new KubeadmInputError(field, v, "a positive integer");
    return v;
}

function duration(field: string, v: string): string {
    if (!/^\d+[smh]$/.test(v)) throw new KubeadmInputError(field, v, 'a duration such as "300s"');
    return v;
}

export interface WaitOptions {
    /** Seconds between probes. Default 5. */
    readonly waitIntervalSeconds?: number;
    /** Upper bound of every wait in seconds. */
    readonly waitTimeoutSeconds?: number;
    /** How long a script waits for stdin. Default 60. */
    readonly stdinTimeoutSeconds?: number;
}

function waits(o: WaitOptions, defaultTimeout: number) {
    const interval = positiveInt("script option waitIntervalSeconds", o.waitIntervalSeconds ?? 5);
    const timeout = positiveInt("script option waitTimeoutSeconds", o.waitTimeoutSeconds ?? defaultTimeout);
    return {
        WAIT_INTERVAL_SECONDS: interval,
        WAIT_ATTEMPTS: Math.max(1, Math.ceil(timeout / interval)),
        STDIN_TIMEOUT_SECONDS: positiveInt("script option stdinTimeoutSeconds", o.stdinTimeoutSeconds ?? 60),
    };
}

// ---------------------------------------------------------------------------------------------
// etcd backup

/** `s3://<bucket>/<prefix...>` (the real target) or `file:///<dir>` (a local directory standing in for S3). */
export const UPLOAD_TARGET_RE = /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9._-]+)*|file:\/\/(\/[A-Za-z0-9._-]+)+)$/;

export interface EtcdBackupOptions {
    /**
     * Where snapshots go: `s3://<bucket>/<cluster>/<node>` uploads with `aws s3 cp` and SSE;
     * `file:///<dir>` copies into a local directory (tests, or a mounted volume).
     */
    readonly uploadTarget: string;
    /** The bucket's region, for `aws s3 cp --region`. */
    readonly region: string;
    /** The member to snapshot. Default kubeadm's local client URL https://127.0.0.1:2379. */
    readonly etcdEndpoint?: string;
    /** Days local copies stay in /var/lib/k8s-ha/etcd-backups (the newest always stays). Default 3. */
    readonly localRetentionDays?: number;
    /** etcdctl --command-timeout for the snapshot. Default "120s". */
    readonly commandTimeout?: string;
}

function backupVars(cluster: ClusterSpec, node: NodeSpec, o: EtcdBackupOptions) {
    if (!UPLOAD_TARGET_RE.test(o.uploadTarget)) {
        throw new KubeadmInputError("uploadTarget", o.uploadTarget, "s3://<bucket>/<prefix> or file:///<absolute directory>");
    }
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(o.region)) throw new KubeadmInputError("region", o.region, "an AWS region such as us-east-1");
    const endpoint = o.etcdEndpoint ?? `https://127.0.0.1:${ETCD_CLIENT_PORT}`;
    if (!/^https:\/\/[0-9a-zA-Z.:[\]-]+:\d+$/.test(endpoint)) throw new KubeadmInputError("etcdEndpoint", endpoint, "https://<address>:<port>");
    normalizeCluster(cluster);
    return {
        NODE_NAME: node.name,
        ETCD_ENDPOINT: endpoint,
        ETCD_CA: ETCD_CA_PATH,
        ETCD_CERT: ETCD_CLIENT_CERT_PATH,
        ETCD_KEY: ETCD_CLIENT_KEY_PATH,
        UPLOAD_TARGET: o.uploadTarget.replace(/\/+$/, ""),
        AWS_REGION: o.region,
        S3_SSE: BACKUP_SSE,
        LOCAL_RETENTION_DAYS: positiveInt("localRetentionDays", o.localRetentionDays ?? 3),
        COMMAND_TIMEOUT: duration("commandTimeout", o.commandTimeout ?? "120s"),
    };
}

/**
 * One etcd snapshot of this control plane's member: `etcdctl snapshot save` with kubeadm's etcd
 * health-check client certificate, `etcdctl snapshot status` (refusing an empty or unreadable
 * snapshot), a sha256 beside it, the upload, a log line with revision/keys/size/sha256, and local
 * retention. Each run makes a new timestamped snapshot; a lock keeps two runs from overlapping.
 */
export function renderEtcdBackupScript(cluster: ClusterSpec, node: NodeSpec, o: EtcdBackupOptions): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "etcd runs on control-plane nodes");
    const body = sh`
readonly LOCAL_DIR="$STATE_DIR/etcd-backups"
readonly LOCK_FILE="$STATE_DIR/etcd-backup.lock"
readonly LAST_FILE="$STATE_DIR/etcd-backup.last"
readonly SNAPSHOT_STATUS_RE='"revision":([0-9]+).*"totalKey":([0-9]+).*"totalSize":([0-9]+)'

etcd_client() {
  ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINT" --cacert="$FSROOT$ETCD_CA" \
    --cert="$FSROOT$ETCD_CERT" --key="$FSROOT$ETCD_KEY" \
    --dial-timeout=10s --command-timeout="$COMMAND_TIMEOUT" "$@"
}

# upload FILE NAME: to S3 with server-side encryption, or into a local directory (file://).
upload() {
  local file=$1 name=$2 dir
  case $UPLOAD_TARGET in
  s3://*)
    aws s3 cp --only-show-errors --no-progress --region "$AWS_REGION" --sse "$S3_SSE" \
      "$file" "$UPLOAD_TARGET/$name"
    ;;
  file://*)
    dir=\${UPLOAD_TARGET#file://}
    mkdir -p -- "$dir"
    cp -- "$file" "$dir/.$name.partial"
    mv -f -- "$dir/.$name.partial" "$dir/$name"
    ;;
  *)
    die "unsupported upload target $UPLOAD_TARGET"
    ;;
  esac
}

# --- inputs -----------------------------------------------------------------------------------------
for f in "$ETCD_CA" "$ETCD_CERT" "$ETCD_KEY"; do
  if [[ ! -s "$FSROOT$f" ]]; then
    die "missing $f: is $NODE_NAME a joined control plane?"
  fi
done
command -v etcdctl >/dev/null 2>&1 || die "etcdctl is not installed (the backup installer installs etcd-client)"
mkdir -p -- "$LOCAL_DIR"
chmod 0700 -- "$LOCAL_DIR"

# --- one run at a time (the timer, or an operator by hand) -------------------------------------
exec 9>"$LOCK_FILE"
flock -n 9 || die "another etcd backup is running (lock $LOCK_FILE)"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="$NODE_NAME-$stamp.db"
partial="$LOCAL_DIR/.$name.partial"
trap 'rm -f -- "$partial" "$partial.part"' EXIT

# --- snapshot and check it -----------------------------------------------------------------------
log "snapshot of $ETCD_ENDPOINT on $NODE_NAME"
etcd_client snapshot save "$partial" >/dev/null || die "etcdctl snapshot save from $ETCD_ENDPOINT failed"
status=$(snapshot_tool snapshot status "$partial" -w json) ||
  die "snapshot status: the snapshot is unreadable"
if [[ ! $status =~ $SNAPSHOT_STATUS_RE ]]; then
  die "snapshot status printed no revision/totalKey/totalSize: $status"
fi
revision=\${BASH_REMATCH[1]}
keys=\${BASH_REMATCH[2]}
db_size=\${BASH_REMATCH[3]}
if ((keys == 0)); then
  die "the snapshot holds no keys (revision $revision); refusing to keep it"
fi
sha=$(sha256sum -- "$partial") || die "cannot hash the snapshot"
sha=\${sha%% *}
size=$(stat -c %s -- "$partial") || die "cannot stat the snapshot"
mv -f -- "$partial" "$LOCAL_DIR/$name"
printf '%s  %s\n' "$sha" "$name" >"$LOCAL_DIR/$name.sha256"

# --- upload ----------------------------------------------------------------------------------------
upload "$LOCAL_DIR/$name" "$name" || die "upload of $name to $UPLOAD_TARGET failed (the local copy stays in $LOCAL_DIR)"
upload "$LOCAL_DIR/$name.sha256" "$name.sha256" || die "upload of $name.sha256 to $UPLOAD_TARGET failed"
printf '%s %s revision=%s keys=%s bytes=%s db_bytes=%s sha256=%s\n' "$stamp" "$UPLOAD_TARGET/$name" "$revision" "$keys" "$size" "$db_size" "$sha" >"$LAST_FILE"
log "etcd backup ok: $UPLOAD_TARGET/$name revision=$revision keys=$keys bytes=$size db_bytes=$db_size sha256=$sha"

# --- local retention: older than LOCAL_RETENTION_DAYS go, the one just taken stays ------------------
while IFS= read -r -d '' old; do
  if [[ $old != "$LOCAL_DIR/$name" && $old != "$LOCAL_DIR/$name.sha256" ]]; then
    rm -f -- "$old"
    log "removed local copy \${old##*/} (older than $LOCAL_RETENTION_DAYS days)"
  fi
done < <(find "$LOCAL_DIR" -maxdepth 1 -type f -name "$NODE_NAME-*.db*" -mtime "+$LOCAL_RETENTION_DAYS" -print0)
`;
    return compose({
        generator: "day2.ts",
        name: "etcd-backup",
        title: `snapshot ${node.name}'s etcd member and upload it`,
        stdin: "nothing",
        vars: backupVars(c, node, o),
        fragments: [SNAPSHOT_TOOL],
        body,
    });
}

export interface EtcdBackupUnits {
    readonly service: string;
    readonly timer: string;
}

/** The systemd service (oneshot, runs the backup script) and timer (OnCalendar = schedule). */
export function renderEtcdBackupUnits(node: NodeSpec, schedule: string, uploadTarget: string): EtcdBackupUnits {
    validateNode(node);
    if (!/^[A-Za-z0-9*:,./~ -]{1,100}$/.test(schedule) || schedule.trim() !== schedule) {
        throw new KubeadmInputError("etcdBackupSchedule", schedule, "a systemd OnCalendar expression such as *-*-* 03:00:00");
    }
    if (!UPLOAD_TARGET_RE.test(uploadTarget)) throw new KubeadmInputError("uploadTarget", uploadTarget, "s3://<bucket>/<prefix> or file:///<dir>");
    const service = [
        "# Generated by components/kubeadm/day2.ts; installed by k8s-ha's etcd backup step.",
        "[Unit]",
        `Description=k8s-ha: snapshot ${node.name}'s etcd member to ${uploadTarget}`,
        "Wants=network-online.target",
        "After=network-online.target",
        // Only where kubeadm runs an etcd member.
        "ConditionPathExists=/etc/kubernetes/manifests/etcd.yaml",
        "",
        "[Service]",
        "Type=oneshot",
        // The AWS CLI comes as a snap on Ubuntu: /snap/bin must be on the service's PATH.
        "Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin",
        `ExecStart=${ETCD_BACKUP_SCRIPT_PATH}`,
        "Nice=10",
        "IOSchedulingClass=best-effort",
        "IOSchedulingPriority=7",
        "TimeoutStartSec=30min",
        "PrivateTmp=true",
        "ProtectHome=true",
        "",
    ].join("\n");
    const timer = [
        "# Generated by components/kubeadm/day2.ts; installed by k8s-ha's etcd backup step.",
        "[Unit]",
        `Description=k8s-ha: etcd snapshot of ${node.name} on schedule "${schedule}"`,
        "",
        "[Timer]",
        `OnCalendar=${schedule}`,
        `RandomizedDelaySec=${ETCD_BACKUP_RANDOM_DELAY}`,
        "Persistent=true",
        "AccuracySec=1min",
        `Unit=${ETCD_BACKUP_UNIT}.service`,
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ].join("\n");
    return { service, timer };
}

export interface EtcdBackupInstallInput {
    readonly backupScript: string;
    readonly restoreScript: string;
    readonly units: EtcdBackupUnits;
    readonly schedule: string;
    readonly uploadTarget: string;
}

/**
 * Installs the backup and restore scripts, the service and the timer; installs etcdctl (Ubuntu's
 * etcd-client) and, for an S3 target, the AWS CLI when missing; checks the schedule with
 * `systemd-analyze calendar` before touching the timer; reloads systemd only when a unit changed;
 * enables and starts the timer. Idempotent: a second run changes nothing.
 */
export function renderEtcdBackupInstallScript(cluster: ClusterSpec, node: NodeSpec, i: EtcdBackupInstallInput): string {
    normalizeCluster(cluster);
    requireRole(node, "control-plane", "etcd runs on control-plane nodes");
    const body = sh`
# System files get the usual modes; the scripts stay root-only.
umask 022

# --- the schedule must be one systemd understands, before anything changes ----------------------
systemd-analyze calendar "$SCHEDULE" >/dev/null 2>&1 ||
  die "etcdBackupSchedule '$SCHEDULE' is not a valid systemd OnCalendar expression (systemd-analyze calendar)"

# --- tools: etcdctl (Ubuntu's etcd-client); the AWS CLI for an S3 target -------------------------
export DEBIAN_FRONTEND=noninteractive
if ! command -v etcdctl >/dev/null 2>&1; then
  log "installing etcd-client (etcdctl)"
  apt-get update -q
  apt-get install -y -q etcd-client
fi
if [[ $UPLOAD_TARGET == s3://* ]] && ! command -v aws >/dev/null 2>&1; then
  log "installing the AWS CLI"
  snap install aws-cli --classic
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
`;
    return compose({
        generator: "day2.ts",
        name: "etcd-backup-install",
        title: `install the etcd backup timer on ${node.name}`,
        stdin: "nothing",
        vars: {
            NODE_NAME: node.name,
            SCHEDULE: i.schedule,
            RANDOM_DELAY: ETCD_BACKUP_RANDOM_DELAY,
            UPLOAD_TARGET: i.uploadTarget,
            UNIT: ETCD_BACKUP_UNIT,
            BACKUP_SCRIPT_PATH: ETCD_BACKUP_SCRIPT_PATH,
            RESTORE_SCRIPT_PATH: ETCD_RESTORE_SCRIPT_PATH,
            SERVICE_PATH: ETCD_BACKUP_SERVICE_PATH,
            TIMER_PATH: ETCD_BACKUP_TIMER_PATH,
            // put_file compares with $(<file), which drops trailing newlines: compare like with like.
            BACKUP_SCRIPT: i.backupScript.trimEnd(),
            RESTORE_SCRIPT: i.restoreScript.trimEnd(),
            SERVICE_UNIT: i.units.service.trimEnd(),
            TIMER_UNIT: i.units.timer.trimEnd(),
        },
        fragments: [PUT_FILE],
        body,
        embedsScripts: true,
    });
}

// ---------------------------------------------------------------------------------------------
// etcd restore

export interface EtcdRestoreOptions extends WaitOptions {
    /** The member's data directory. Default kubeadm's /var/lib/etcd. */
    readonly dataDir?: string;
}

/** `--initial-cluster` of every control plane: name=https://ip:2380, in node order. */
export function etcdInitialCluster(members: readonly NodeSpec[]): string {
    return members.map((m) => `${m.name}=https://${urlHost(m.privateIp)}:${ETCD_PEER_PORT}`).join(",");
}

/**
 * Restores this node's etcd member from a snapshot, for the runbook (every control plane, same
 * snapshot file):
 *
 *   k8s-ha-etcd-restore stop               on every control plane: stop the apiserver, controller-
 *                                          manager, scheduler and etcd (their static pod manifests
 *                                          move aside) and wait until etcd no longer listens;
 *   k8s-ha-etcd-restore restore SNAPSHOT   on every control plane: check the snapshot (sha256 file
 *                                          beside it when present, `snapshot status`),
 *                                          `snapshot restore` (etcdutl when installed, as etcd
 *                                          3.5+ wants; else 3.4's etcdctl) with this member's --name,
 *                                          the cluster's --initial-cluster, this member's
 *                                          --initial-advertise-peer-urls and a cluster token derived
 *                                          from the snapshot's sha256 (the same on every member) into
 *                                          a fresh directory, swap it in (the old data dir is kept
 *                                          as <dir>.pre-restore-<time>), start etcd again;
 *   k8s-ha-etcd-restore start              on every control plane once etcd is restored everywhere:
 *                                          bring back the apiserver, controller-manager, scheduler.
 *
 * Refuses to restore while this member's etcd still listens on its peer port or its manifest is
 * still in place. Restoring twice from the same snapshot is a no-op.
 */
export function renderEtcdRestoreScript(cluster: ClusterSpec, members: readonly NodeSpec[], node: NodeSpec, o: EtcdRestoreOptions = {}): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "etcd runs on control-plane nodes");
    members.forEach((m) => requireRole(m, "control-plane", "every etcd member is a control plane"));
    if (!members.some((m) => m.name === node.name && m.privateIp === node.privateIp)) {
        throw new KubeadmInputError("restore members", members.map((m) => m.name), `a list that includes ${node.name} with ${node.privateIp}`);
    }
    if (new Set(members.map((m) => m.name)).size !== members.length) throw new KubeadmInputError("restore members", members.map((m) => m.name), "unique names");
    const dataDir = o.dataDir ?? ETCD_DATA_DIR;
    if (!/^\/[A-Za-z0-9._/-]+[^/]$/.test(dataDir) || dataDir.includes("..")) throw new KubeadmInputError("dataDir", dataDir, "an absolute path");
    const w = waits(o, 300);
    const body = sh`
readonly MANIFESTS="$KUBE_DIR/manifests"
readonly STASH="$STATE_DIR/restore-stash"
readonly DATA_DIR="$FSROOT$ETCD_DATA_DIR"
readonly SNAPSHOT_STATUS_RE='"revision":([0-9]+).*"totalKey":([0-9]+)'

usage() {
  printf 'usage: %s stop | restore SNAPSHOT | start\n' "$SCRIPT_NAME" >&2
  exit 2
}

# Something accepts connections on this member's peer URL: its etcd still runs.
# shellcheck disable=SC2016  # $0 and $1 expand in the inner bash, which gets them as arguments
etcd_listening() { timeout 2 bash -c ': >"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }
etcd_stopped() { ! etcd_listening "$NODE_IP" "$PEER_PORT"; }

stash_manifest() {
  local m=$1
  if [[ -f "$MANIFESTS/$m" ]]; then
    mkdir -p -- "$STASH"
    mv -f -- "$MANIFESTS/$m" "$STASH/$m"
    log "stopped $m (manifest moved to $STASH)"
  fi
}

unstash_manifest() {
  local m=$1
  if [[ -f "$STASH/$m" ]]; then
    mkdir -p -- "$MANIFESTS"
    mv -f -- "$STASH/$m" "$MANIFESTS/$m"
    log "started $m (manifest back in $MANIFESTS)"
  fi
}

do_stop() {
  local m
  for m in "\${MANIFESTS_TO_STOP[@]}"; do
    stash_manifest "$m"
  done
  wait_for "etcd on $NODE_IP:$PEER_PORT to stop" etcd_stopped ||
    die "etcd still listens on $NODE_IP:$PEER_PORT; stop it before restoring"
  log "the control plane of $NODE_NAME is stopped; run '$SCRIPT_NAME restore SNAPSHOT' here and on every other control plane"
}

do_restore() {
  local snapshot=$1 sha expected status token stamp fresh
  [[ -f $snapshot ]] || die "no snapshot file $snapshot"
  sha=$(sha256sum -- "$snapshot") || die "cannot hash $snapshot"
  sha=\${sha%% *}
  if [[ -f "$snapshot.sha256" ]]; then
    expected=$(<"$snapshot.sha256")
    expected=\${expected%% *}
    [[ $sha == "$expected" ]] || die "$snapshot does not match $snapshot.sha256 (sha256 $sha, expected $expected); refusing a damaged snapshot"
  fi
  # --- guard: restored from this very snapshot before? ---
  if [[ -f "$STATE_DIR/etcd-restored" && "$(<"$STATE_DIR/etcd-restored")" == "$sha" && -d "$DATA_DIR/member" ]]; then
    log "$NODE_NAME was already restored from this snapshot (sha256 $sha); nothing to do"
    unstash_manifest etcd.yaml
    return 0
  fi
  [[ ! -f "$MANIFESTS/etcd.yaml" ]] || die "$MANIFESTS/etcd.yaml is in place, so the kubelet keeps etcd running; run '$SCRIPT_NAME stop' first"
  etcd_stopped || die "etcd still listens on $NODE_IP:$PEER_PORT; run '$SCRIPT_NAME stop' first"
  status=$(snapshot_tool snapshot status "$snapshot" -w json) || die "snapshot status: $snapshot is not a readable etcd snapshot"
  [[ $status =~ $SNAPSHOT_STATUS_RE ]] || die "snapshot status printed no revision/totalKey: $status"
  log "snapshot $snapshot: revision \${BASH_REMATCH[1]}, \${BASH_REMATCH[2]} keys, sha256 $sha"

  # Same snapshot on every member => same token => one cluster id, unlike the old cluster's.
  token="$CLUSTER_NAME-restore-\${sha:0:16}"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)-$$"
  fresh="$DATA_DIR.restore-$stamp"
  rm -rf -- "$fresh"
  mkdir -p -- "\${DATA_DIR%/*}"
  snapshot_tool snapshot restore "$snapshot" \
    --name "$NODE_NAME" \
    --initial-cluster "$INITIAL_CLUSTER" \
    --initial-cluster-token "$token" \
    --initial-advertise-peer-urls "$PEER_URL" \
    --data-dir "$fresh" || die "snapshot restore into $fresh failed"
  chmod 0700 -- "$fresh"
  if [[ -e $DATA_DIR ]]; then
    mv -f -- "$DATA_DIR" "$DATA_DIR.pre-restore-$stamp"
    log "the previous data dir is kept as $DATA_DIR.pre-restore-$stamp"
  fi
  mv -f -- "$fresh" "$DATA_DIR"
  mkdir -p -- "$STATE_DIR"
  printf '%s\n' "$sha" >"$STATE_DIR/etcd-restored"
  unstash_manifest etcd.yaml
  log "restored etcd member $NODE_NAME ($PEER_URL) from $snapshot into $ETCD_DATA_DIR; members: $INITIAL_CLUSTER"
  log "when every control plane is restored, run '$SCRIPT_NAME start' on each"
}

do_start() {
  local m
  for m in "\${MANIFESTS_TO_STOP[@]}"; do
    unstash_manifest "$m"
  done
  log "the control plane of $NODE_NAME is starting"
}

case \${1:-} in
stop) do_stop ;;
restore)
  [[ -n \${2:-} ]] || usage
  do_restore "$2"
  ;;
start) do_start ;;
*) usage ;;
esac
`;
    return compose({
        generator: "day2.ts",
        name: "etcd-restore",
        title: `restore ${node.name}'s etcd member from a snapshot (runbook)`,
        stdin: "nothing",
        vars: {
            CLUSTER_NAME: c.clusterName,
            NODE_NAME: node.name,
            NODE_IP: node.privateIp,
            PEER_PORT: ETCD_PEER_PORT,
            PEER_URL: `https://${urlHost(node.privateIp)}:${ETCD_PEER_PORT}`,
            INITIAL_CLUSTER: etcdInitialCluster(members),
            ETCD_DATA_DIR: dataDir,
            WAIT_INTERVAL_SECONDS: w.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: w.WAIT_ATTEMPTS,
        },
        arrays: { MANIFESTS_TO_STOP: [...CONTROL_PLANE_MANIFESTS] },
        fragments: [WAIT_FOR, SNAPSHOT_TOOL],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// upgrade

export interface UpgradeOptions extends WaitOptions {
    /** kubectl drain --timeout. Default "300s". */
    readonly drainTimeout?: string;
}

/**
 * One node's Kubernetes upgrade to the configured version, the kubeadm way:
 * - refuses a downgrade or a skipped minor, judged against the LIVE cluster (the apiserver's
 *   version through the admin kubeconfig, kubeadm-config's ClusterConfiguration) and this node's
 *   kubelet as the Node reports it;
 * - a no-op when the node already runs the version (and, on control planes, its apiserver
 *   manifest does), or when the node has not joined yet (prepare installs the version);
 * - the pkgs.k8s.io channel of the new minor, kubeadm first; then `kubeadm upgrade apply vX` on the
 *   first control plane or `kubeadm upgrade node` elsewhere (certificate renewal off: Pulumi owns
 *   the PKI); every node after the first checks that the cluster configuration is at the version;
 * - drain, kubelet and kubectl, kubelet restart, wait for the Node to report the version and be
 *   Ready (and the local apiserver), uncordon.
 */
export function renderUpgradeScript(cluster: ClusterSpec, node: NodeSpec, how: { first: boolean }, o: UpgradeOptions = {}): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    if (how.first && node.role !== "control-plane") throw new KubeadmInputError(`node ${node.name} role`, node.role, '"control-plane" (kubeadm upgrade apply runs on the first control plane)');
    parseKubernetesVersion(c.kubernetesVersion);
    const w = waits(o, 600);
    const cp = node.role === "control-plane";
    const repo = `https://pkgs.k8s.io/core:/stable:/${kubernetesMinorChannel(c.kubernetesVersion)}/deb/`;
    const body = sh`
readonly KEYRING_PATH='/etc/apt/keyrings/kubernetes-apt-keyring.gpg'
readonly SOURCES_PATH='/etc/apt/sources.list.d/kubernetes.list'

server_version() {
  local out
  out=$(kube version -o json) || return 1
  if [[ $out =~ \"serverVersion\"[^}]*\"gitVersion\":[[:space:]]*\"(v[0-9]+\.[0-9]+\.[0-9]+) ]]; then
    printf '%s' "\${BASH_REMATCH[1]}"
  else
    return 1
  fi
}
configured_version() {
  local out
  out=$(kube -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}') || return 1
  if [[ $out =~ kubernetesVersion:[[:space:]]*\"?(v[0-9]+\.[0-9]+\.[0-9]+) ]]; then
    printf '%s' "\${BASH_REMATCH[1]}"
  else
    return 1
  fi
}
node_kubelet_version() { kube get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}'; }
node_at_target() { [[ "$(node_kubelet_version 2>/dev/null)" == "v$K8S_VERSION" ]]; }
node_ready() { [[ "$(kube get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; }
local_api_ready() { curl -ksf --max-time 5 -o /dev/null "$LOCAL_READYZ_URL"; }
manifest_version() {
  local f="$KUBE_DIR/manifests/kube-apiserver.yaml"
  if [[ -f $f && "$(<"$f")" =~ kube-apiserver:(v[0-9]+\.[0-9]+\.[0-9]+) ]]; then
    printf '%s' "\${BASH_REMATCH[1]}"
  fi
}

# --- guard: a node that has not joined gets the version from prepare ---------------------------
if [[ ! -e "$KUBE_DIR/kubelet.conf" ]]; then
  log "$NODE_NAME has not joined a cluster; prepare installs Kubernetes $K8S_VERSION, nothing to upgrade"
  exit 0
fi

# --- inputs: the live cluster's versions --------------------------------------------------------
make_workdir
read_admin_kubeconfig "all of stdin"
live=$(server_version) || die "cannot read the apiserver's version (kubectl version -o json through the admin kubeconfig)"
configured=$(configured_version) || die "cannot read kubernetesVersion from the kubeadm-config ConfigMap"
node_version=$(node_kubelet_version) || die "cannot read Node $NODE_NAME's kubelet version"
log "target v$K8S_VERSION; live apiserver $live, cluster configuration $configured, $NODE_NAME kubelet $node_version"
check_step "live apiserver" "$live"
check_step "cluster configuration (kubeadm-config)" "$configured"
check_step "kubelet of $NODE_NAME" "$node_version"

# --- guard: done before? ------------------------------------------------------------------------------
if [[ $node_version == "v$K8S_VERSION" ]] && { ((!IS_CONTROL_PLANE)) || [[ "$(manifest_version)" == "v$K8S_VERSION" ]]; }; then
  log "$NODE_NAME already runs Kubernetes v$K8S_VERSION; nothing to do"
  exit 0
fi
if ((!IS_FIRST)) && [[ $configured != "v$K8S_VERSION" ]]; then
  die "the cluster configuration is at $configured, not v$K8S_VERSION: 'kubeadm upgrade apply' must succeed on the first control plane before $NODE_NAME is upgraded"
fi

# --- packages: the new minor's channel, kubeadm first -------------------------------------------
export DEBIAN_FRONTEND=noninteractive
if [[ "$(cat "$FSROOT$SOURCES_PATH" 2>/dev/null)" != "deb [signed-by=$KEYRING_PATH] $K8S_REPO /" ]]; then
  log "switching the kubernetes apt source to $K8S_REPO"
  mkdir -p -- "$FSROOT/etc/apt/keyrings" "$FSROOT/etc/apt/sources.list.d"
  curl -fsSL "\${K8S_REPO}Release.key" | gpg --dearmor --batch --yes -o "$FSROOT$KEYRING_PATH" ||
    die "cannot fetch the signing key of $K8S_REPO"
  chmod 0644 -- "$FSROOT$KEYRING_PATH"
  printf 'deb [signed-by=%s] %s /\n' "$KEYRING_PATH" "$K8S_REPO" >"$FSROOT$SOURCES_PATH"
  chmod 0644 -- "$FSROOT$SOURCES_PATH"
fi
apt-get update -q
pkg_version=$(apt-cache madison kubeadm | awk -F'|' -v want="$K8S_VERSION-" '{ gsub(/[[:space:]]/, "", $2); if (index($2, want) == 1) { print $2; exit } }')
[[ -n $pkg_version ]] || die "kubeadm $K8S_VERSION is not available from $K8S_REPO"
apt-mark unhold kubeadm >/dev/null
apt-get install -y -q --allow-change-held-packages "kubeadm=$pkg_version"
apt-mark hold kubeadm >/dev/null
[[ "$(kubeadm version -o short)" == "v$K8S_VERSION" ]] || die "kubeadm is not at v$K8S_VERSION after installing $pkg_version"

# --- kubeadm: the control plane (apply on the first, node elsewhere) -----------------------------
if ((IS_FIRST)); then
  log "kubeadm upgrade apply v$K8S_VERSION on $NODE_NAME"
  kubeadm upgrade apply -y "v$K8S_VERSION" --certificate-renewal=false || die "kubeadm upgrade apply v$K8S_VERSION failed"
else
  log "kubeadm upgrade node on $NODE_NAME"
  kubeadm upgrade node --certificate-renewal=false || die "kubeadm upgrade node failed"
fi

# --- drain, kubelet and kubectl, restart, uncordon -----------------------------------------------
log "draining $NODE_NAME"
kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --timeout="$DRAIN_TIMEOUT" ||
  die "kubectl drain $NODE_NAME failed (the node stays cordoned; kubeadm has already upgraded it)"
apt-mark unhold kubelet kubectl >/dev/null
apt-get install -y -q --allow-change-held-packages "kubelet=$pkg_version" "kubectl=$pkg_version"
apt-mark hold kubelet kubectl >/dev/null
systemctl daemon-reload
systemctl restart kubelet
wait_for "Node $NODE_NAME to report kubelet v$K8S_VERSION" node_at_target || die "the kubelet of $NODE_NAME did not come back at v$K8S_VERSION"
wait_for "Node $NODE_NAME Ready" node_ready || die "Node $NODE_NAME is not Ready after the kubelet restart"
if ((IS_CONTROL_PLANE)); then
  wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready || die "the apiserver of $NODE_NAME is not ready after the upgrade"
fi
kube uncordon "$NODE_NAME" >/dev/null || die "kubectl uncordon $NODE_NAME failed"
log "upgraded $NODE_NAME to Kubernetes v$K8S_VERSION"
`;
    return compose({
        generator: "day2.ts",
        name: `upgrade-${node.role}`,
        title: `upgrade ${node.name} to Kubernetes ${c.kubernetesVersion}${how.first ? " (kubeadm upgrade apply)" : " (kubeadm upgrade node)"}`,
        stdin: "the admin kubeconfig (SECRET)",
        vars: {
            NODE_NAME: node.name,
            K8S_VERSION: c.kubernetesVersion,
            K8S_REPO: repo,
            IS_FIRST: how.first ? 1 : 0,
            IS_CONTROL_PLANE: cp ? 1 : 0,
            LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz`,
            DRAIN_TIMEOUT: duration("drainTimeout", o.drainTimeout ?? "300s"),
            ...w,
        },
        fragments: [WAIT_FOR, WORKDIR, READ_KUBECONFIG, VERSIONS],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// prepare guard

/**
 * Wraps the prepare script: on a node that has joined and whose kubelet is at another version,
 * a changed kubernetesVersion is the upgrade step's job, so prepare leaves the node alone (and
 * does not fail, which would stop the `pulumi up` before the upgrade could run). Anywhere else it
 * runs prepare unchanged.
 */
export function renderPrepareGuardScript(cluster: ClusterSpec, node: NodeSpec, prepareScript: string): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    if (!prepareScript.startsWith("#!/usr/bin/env bash")) throw new KubeadmInputError("prepare script", prepareScript.slice(0, 40), "a rendered bash script");
    const body = sh`
installed=$(dpkg-query -W -f='\${Version}' kubelet 2>/dev/null || true)
if [[ -e "$KUBE_DIR/kubelet.conf" && -n $installed && $installed != "$K8S_VERSION"-* ]]; then
  log "$NODE_NAME has joined with kubelet $installed: moving it to $K8S_VERSION is the upgrade step's job; prepare leaves it alone"
  exit 0
fi
exec bash -c "$PREPARE_SCRIPT"
`;
    return compose({
        generator: "day2.ts",
        name: "prepare-guard",
        title: `prepare ${node.name}, unless a joined node awaits its upgrade`,
        stdin: "nothing",
        vars: { NODE_NAME: node.name, K8S_VERSION: c.kubernetesVersion, PREPARE_SCRIPT: prepareScript },
        fragments: [],
        body,
        embedsScripts: true,
    });
}

// ---------------------------------------------------------------------------------------------
// rollout gate

export interface RolloutGateInput {
    /** The instance type the node runs: a change updates the instance in place (stop, start). */
    readonly instanceType: string;
    /** The node's replace trigger, if any (documentation; a change replaces the instance). */
    readonly replaceTrigger?: string;
}

/**
 * Runs on a control plane after its instance changed (type changed in place, or replaced) and
 * holds the next control plane's instance change until this node is back: joined (a replaced node
 * joins in parallel with this wait), its etcd member healthy and its apiserver ready. It needs
 * nothing of the cluster but the node itself, so that it (and the next instance, which waits for
 * it) does not wait for the load balancer.
 */
export function renderRolloutGateScript(node: NodeSpec, i: RolloutGateInput, o: WaitOptions = {}): string {
    requireRole(node, "control-plane", "control planes change one at a time");
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(i.instanceType)) throw new KubeadmInputError("instanceType", i.instanceType, "an EC2 instance type");
    const w = waits(o, 1800);
    const body = sh`
joined() { [[ -e "$KUBE_DIR/kubelet.conf" ]]; }
etcd_healthy() { curl -sf --max-time 5 -o /dev/null http://127.0.0.1:2381/health; }
local_api_ready() { curl -ksf --max-time 5 -o /dev/null "$LOCAL_READYZ_URL"; }

log "$NODE_NAME ($INSTANCE_TYPE, replace trigger '$REPLACE_TRIGGER') changed: holding the next control plane until it is back"
wait_for "$NODE_NAME joined" joined || die "$NODE_NAME did not join; the next control plane is not touched"
wait_for "the etcd member on $NODE_NAME healthy" etcd_healthy || die "the etcd member on $NODE_NAME is not healthy"
wait_for "the apiserver on $NODE_NAME ready" local_api_ready || die "the apiserver on $NODE_NAME is not ready"
log "$NODE_NAME is back: the next control plane may change"
`;
    return compose({
        generator: "day2.ts",
        name: "rollout-gate",
        title: `wait until ${node.name} is back after an instance change`,
        stdin: "nothing",
        vars: {
            NODE_NAME: node.name,
            INSTANCE_TYPE: i.instanceType,
            REPLACE_TRIGGER: i.replaceTrigger ?? "",
            LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz`,
            WAIT_INTERVAL_SECONDS: w.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: w.WAIT_ATTEMPTS,
        },
        fragments: [WAIT_FOR],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// The whole set, for tools/render-scripts.ts and the tests.

export type Day2ScriptKind = "etcd-backup" | "etcd-backup-install" | "etcd-restore" | "upgrade" | "prepare-guard" | "rollout-gate";

export interface RenderedDay2Script {
    readonly fileName: string;
    readonly kind: Day2ScriptKind;
    readonly role?: NodeRole;
    readonly node?: string;
    readonly text: string;
}

export interface Day2ScriptSetInput {
    readonly cluster: ClusterSpec;
    /** Every control plane, node 0 first. */
    readonly controlPlanes: readonly NodeSpec[];
    readonly worker: NodeSpec;
    readonly backup: EtcdBackupOptions;
    readonly schedule: string;
    /** The prepare script the guard wraps (any rendered script works for tests). */
    readonly prepareScript: string;
    readonly instanceType: string;
    readonly waits?: WaitOptions;
}

/** Every day-2 script, one sample per role. */
export function renderDay2ScriptSet(s: Day2ScriptSetInput): RenderedDay2Script[] {
    const [first, second] = s.controlPlanes;
    const backupScript = renderEtcdBackupScript(s.cluster, first, s.backup);
    const restoreScript = renderEtcdRestoreScript(s.cluster, s.controlPlanes, first, s.waits);
    const units = renderEtcdBackupUnits(first, s.schedule, s.backup.uploadTarget);
    return [
        { fileName: "etcd-backup.sh", kind: "etcd-backup", role: "control-plane", node: first.name, text: backupScript },
        { fileName: "etcd-restore.sh", kind: "etcd-restore", role: "control-plane", node: first.name, text: restoreScript },
        {
            fileName: "etcd-backup-install.sh", kind: "etcd-backup-install", role: "control-plane", node: first.name,
            text: renderEtcdBackupInstallScript(s.cluster, first, { backupScript, restoreScript, units, schedule: s.schedule, uploadTarget: s.backup.uploadTarget }),
        },
        { fileName: "upgrade-first-control-plane.sh", kind: "upgrade", role: "control-plane", node: first.name, text: renderUpgradeScript(s.cluster, first, { first: true }, s.waits) },
        { fileName: "upgrade-control-plane.sh", kind: "upgrade", role: "control-plane", node: second.name, text: renderUpgradeScript(s.cluster, second, { first: false }, s.waits) },
        { fileName: "upgrade-worker.sh", kind: "upgrade", role: "worker", node: s.worker.name, text: renderUpgradeScript(s.cluster, s.worker, { first: false }, s.waits) },
        { fileName: "prepare-guard.sh", kind: "prepare-guard", role: "control-plane", node: first.name, text: renderPrepareGuardScript(s.cluster, first, s.prepareScript) },
        { fileName: "rollout-gate.sh", kind: "rollout-gate", role: "control-plane", node: first.name, text: renderRolloutGateScript(first, { instanceType: s.instanceType, replaceTrigger: "2026-11-22" }, s.waits) },
    ];
}

/** A stable digest of a script, for change detection in tests and logs. */
export function scriptDigest(text: string): string {
    return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** Exposed for tests: how the scripts quote values. */
export { shellQuote };
