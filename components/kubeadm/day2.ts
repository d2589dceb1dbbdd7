// Builders of the day-2 scripts: etcd backups (script, systemd service and timer, installer), the
// etcd restore for the runbook, kubelet/kubeadm installs and Kubernetes upgrades one node at a
// time, and the rollout gate that holds the next control plane's instance change until this one is
// back and healthy. Typed data in, each script's parameters out; the bash
// lives in components/kubeadm/scripts/ (etcd/, packages/, rollout/) and bash.ts composes it.
//
// stdin framing:
//   etcd-backup, etcd-backup-install, etcd-restore, rollout-gate: nothing
//   upgrade: the admin kubeconfig (all of stdin)
import { createHash } from "node:crypto";
import { renderScript, requireRole, urlHost } from "./bash";
import { KUBERNETES_VERSION_PLACEHOLDER, renderPhaseConfig } from "./config";
import { duration, positiveInt, waitParams, type UpgradeOptions, type WaitOptions } from "./options";
import { shellQuote } from "./shell";
import {
    API_PORT,
    CRI_SOCKET,
    KubeadmInputError,
    STATIC_POD_STOP_TIMEOUT_SECONDS,
    kubernetesMinorChannel,
    normalizeCluster,
    parseKubernetesVersion,
    validateNode,
    type ClusterSpec,
    type NodeRole,
    type NodeSpec,
} from "./types";

export type { UpgradeOptions, WaitOptions };

// ---------------------------------------------------------------------------------------------
// Where things live on a node

/**
 * Marks a Node an upgrade cordoned, with the version it was drained for: the upgrade (a control
 * plane's own, a worker's upgrade-uncordon step) uncordons only such a Node, and an operator's
 * cordon stays.
 */
export const DRAINED_ANNOTATION = "k8s-ha/drained-for-upgrade";
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
export const CONTROL_PLANE_MANIFESTS = [
    "kube-apiserver.yaml",
    "kube-controller-manager.yaml",
    "kube-scheduler.yaml",
    "etcd.yaml",
] as const;
/** The timer's RandomizedDelaySec: control planes do not all snapshot in the same second. */
export const ETCD_BACKUP_RANDOM_DELAY = "30min";
/**
 * The backup bucket's default encryption: SSE-KMS with the bucket's own key (components/backup.ts).
 * Uploads name no encryption, so that default applies; the bucket policy refuses any other.
 */
export const BACKUP_SSE = "aws:kms";

// ---------------------------------------------------------------------------------------------
// etcd backup

/** `s3://<bucket>/<prefix...>` (the real target) or `file:///<dir>` (a local directory standing in for S3). */
export const UPLOAD_TARGET_RE =
    /^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9._-]+)*|file:\/\/(\/[A-Za-z0-9._-]+)+)$/;

export interface EtcdBackupOptions {
    /**
     * Where snapshots go: `s3://<bucket>/<cluster>/<node>` uploads with curl's SigV4 signing and the instance role's
     * credentials from IMDSv2 (the bucket's SSE-KMS default applies); `file:///<dir>` copies into a local directory
     * (tests, or a mounted volume).
     */
    readonly uploadTarget: string;
    /** The bucket's region: the SigV4 signing region and the S3 endpoint's. */
    readonly region: string;
    /**
     * An S3-compatible endpoint such as `http://127.0.0.1:4568`, addressed path style (`<endpoint>/<bucket>/<key>`):
     * tests with a local S3. Default AWS's regional endpoint, virtual-hosted style.
     */
    readonly s3Endpoint?: string;
    /** The instance metadata service's base URL. Default `http://169.254.169.254`; tests point it at a stand-in. */
    readonly imdsUrl?: string;
    /** The member to snapshot. Default kubeadm's local client URL https://127.0.0.1:2379. */
    readonly etcdEndpoint?: string;
    /** Days local copies stay in /var/lib/k8s-ha/etcd-backups (the newest always stays). Default 3. */
    readonly localRetentionDays?: number;
    /** etcdctl --command-timeout for the snapshot. Default "120s". */
    readonly commandTimeout?: string;
}

/** IMDS's link-local address (IMDSv2: token first). */
export const DEFAULT_IMDS_URL = "http://169.254.169.254";
const HTTP_BASE_RE = /^https?:\/\/[0-9A-Za-z.[\]:-]+(:\d+)?$/;

/**
 * The target's bucket and prefix as an HTTPS URL, "" for file://. AWS: virtual-hosted style
 * (`https://<bucket>.s3.<region>.amazonaws.com/<prefix>`), AWS's recommended addressing; a bucket
 * with dots would not match the endpoint's wildcard certificate, so it goes path style. A custom
 * endpoint (a local S3) is always path style: it needs no DNS name per bucket.
 */
export function s3Url(uploadTarget: string, region: string, endpoint?: string): string {
    if (!uploadTarget.startsWith("s3://")) return "";
    const [bucket, ...prefix] = uploadTarget.slice("s3://".length).split("/");
    const path = prefix.length > 0 ? `/${prefix.join("/")}` : "";
    if (endpoint !== undefined) return `${endpoint.replace(/\/+$/, "")}/${bucket}${path}`;
    if (bucket.includes(".")) return `https://s3.${region}.amazonaws.com/${bucket}${path}`;
    return `https://${bucket}.s3.${region}.amazonaws.com${path}`;
}

function backupVars(cluster: ClusterSpec, node: NodeSpec, o: EtcdBackupOptions) {
    if (!UPLOAD_TARGET_RE.test(o.uploadTarget)) {
        throw new KubeadmInputError(
            "uploadTarget",
            o.uploadTarget,
            "s3://<bucket>/<prefix> or file:///<absolute directory>",
        );
    }
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(o.region))
        throw new KubeadmInputError("region", o.region, "an AWS region such as us-east-1");
    const endpoint = o.etcdEndpoint ?? `https://127.0.0.1:${ETCD_CLIENT_PORT}`;
    if (!/^https:\/\/[0-9a-zA-Z.:[\]-]+:\d+$/.test(endpoint))
        throw new KubeadmInputError("etcdEndpoint", endpoint, "https://<address>:<port>");
    normalizeCluster(cluster);
    const imds = o.imdsUrl ?? DEFAULT_IMDS_URL;
    if (!HTTP_BASE_RE.test(imds))
        throw new KubeadmInputError("imdsUrl", imds, "http(s)://<host>[:<port>] without a path");
    if (o.s3Endpoint !== undefined && !HTTP_BASE_RE.test(o.s3Endpoint)) {
        throw new KubeadmInputError("s3Endpoint", o.s3Endpoint, "http(s)://<host>[:<port>] without a path");
    }
    return {
        NODE_NAME: node.name,
        ETCD_ENDPOINT: endpoint,
        ETCD_CA: ETCD_CA_PATH,
        ETCD_CERT: ETCD_CLIENT_CERT_PATH,
        ETCD_KEY: ETCD_CLIENT_KEY_PATH,
        UPLOAD_TARGET: o.uploadTarget.replace(/\/+$/, ""),
        AWS_REGION: o.region,
        S3_URL: s3Url(o.uploadTarget.replace(/\/+$/, ""), o.region, o.s3Endpoint),
        IMDS_URL: imds,
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
    return renderScript("etcd/backup.sh", {
        name: "etcd-backup",
        title: `snapshot ${node.name}'s etcd member and upload it`,
        role: node.role,
        params: backupVars(c, node, o),
    });
}

export interface EtcdBackupUnits {
    readonly service: string;
    readonly timer: string;
}

/** The systemd service (oneshot, runs the backup script) and timer (OnCalendar = schedule). */
export function renderEtcdBackupUnits(node: NodeSpec, schedule: string, uploadTarget: string): EtcdBackupUnits {
    validateNode(node);
    if (!/^[A-Za-z0-9*:,./~_+ -]{1,100}$/.test(schedule) || schedule.trim() !== schedule) {
        throw new KubeadmInputError(
            "etcdBackupSchedule",
            schedule,
            "a systemd OnCalendar expression such as *-*-* 03:00:00",
        );
    }
    if (!UPLOAD_TARGET_RE.test(uploadTarget))
        throw new KubeadmInputError("uploadTarget", uploadTarget, "s3://<bucket>/<prefix> or file:///<dir>");
    const service = [
        "# Rendered by k8s-ha; installed by its etcd backup step.",
        "[Unit]",
        `Description=k8s-ha: snapshot ${node.name}'s etcd member to ${uploadTarget}`,
        "Wants=network-online.target",
        "After=network-online.target",
        // Only where kubeadm runs an etcd member.
        "ConditionPathExists=/etc/kubernetes/manifests/etcd.yaml",
        "",
        "[Service]",
        "Type=oneshot",
        "Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        `ExecStart=${ETCD_BACKUP_SCRIPT_PATH}`,
        "Nice=10",
        "IOSchedulingClass=best-effort",
        "IOSchedulingPriority=7",
        "TimeoutStartSec=30min",
        // The script needs no home directory (curl uploads, not the snap's AWS CLI) and writes only
        // /var/lib/k8s-ha and /run; it needs the network: etcd on 2379, IMDS at 169.254.169.254:80
        // and S3 on 443. So no PrivateNetwork=, IPAddressDeny= or RestrictAddressFamilies= without AF_INET.
        "PrivateTmp=true",
        "ProtectHome=true",
        "",
    ].join("\n");
    const timer = [
        "# Rendered by k8s-ha; installed by its etcd backup step.",
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
 * etcd-client) and, for an S3 target, curl when missing (it signs the upload; no AWS CLI); checks the schedule with
 * `systemd-analyze calendar` before touching the timer; reloads systemd only when a unit changed;
 * enables and starts the timer. Idempotent: a second run changes nothing.
 */
export function renderEtcdBackupInstallScript(cluster: ClusterSpec, node: NodeSpec, i: EtcdBackupInstallInput): string {
    normalizeCluster(cluster);
    requireRole(node, "control-plane", "etcd runs on control-plane nodes");
    return renderScript("etcd/backup-install.sh", {
        name: "etcd-backup-install",
        title: `install the etcd backup timer on ${node.name}`,
        role: node.role,
        params: {
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
    });
}

// ---------------------------------------------------------------------------------------------
// etcd restore

export interface EtcdRestoreOptions extends WaitOptions {
    /** The member's data directory. Default kubeadm's /var/lib/etcd. */
    readonly dataDir?: string;
}

/** A control plane's etcd peer URL, as kubeadm advertises it: https://<address>:2380. */
export function etcdPeerUrl(node: NodeSpec): string {
    return `https://${urlHost(node.privateIp)}:${ETCD_PEER_PORT}`;
}

/** `--initial-cluster` of every control plane: name=https://ip:2380, in node order. */
export function etcdInitialCluster(members: readonly NodeSpec[]): string {
    return members.map((m) => `${m.name}=${etcdPeerUrl(m)}`).join(",");
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
export function renderEtcdRestoreScript(
    cluster: ClusterSpec,
    members: readonly NodeSpec[],
    node: NodeSpec,
    o: EtcdRestoreOptions = {},
): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "etcd runs on control-plane nodes");
    members.forEach((m) => requireRole(m, "control-plane", "every etcd member is a control plane"));
    if (!members.some((m) => m.name === node.name && m.privateIp === node.privateIp)) {
        throw new KubeadmInputError(
            "restore members",
            members.map((m) => m.name),
            `a list that includes ${node.name} with ${node.privateIp}`,
        );
    }
    if (new Set(members.map((m) => m.name)).size !== members.length)
        throw new KubeadmInputError(
            "restore members",
            members.map((m) => m.name),
            "unique names",
        );
    const dataDir = o.dataDir ?? ETCD_DATA_DIR;
    if (!/^\/[A-Za-z0-9._/-]+[^/]$/.test(dataDir) || dataDir.includes(".."))
        throw new KubeadmInputError("dataDir", dataDir, "an absolute path");
    const w = waitParams(o, 300);
    return renderScript("etcd/restore.sh", {
        name: "etcd-restore",
        title: `restore ${node.name}'s etcd member from a snapshot (runbook)`,
        role: node.role,
        params: {
            CLUSTER_NAME: c.clusterName,
            NODE_NAME: node.name,
            NODE_IP: node.privateIp,
            PEER_PORT: ETCD_PEER_PORT,
            PEER_URL: etcdPeerUrl(node),
            INITIAL_CLUSTER: etcdInitialCluster(members),
            ETCD_DATA_DIR: dataDir,
            WAIT_INTERVAL_SECONDS: w.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: w.WAIT_ATTEMPTS,
        },
        arrays: { MANIFESTS_TO_STOP: [...CONTROL_PLANE_MANIFESTS] },
    });
}

// ---------------------------------------------------------------------------------------------
// upgrade

/**
 * One node's Kubernetes upgrade to the configured version, the kubeadm way:
 * - refuses a downgrade or a skipped minor, judged against the LIVE cluster (the apiserver's
 *   version through the admin kubeconfig, kubeadm-config's ClusterConfiguration) and this node's
 *   kubelet as the Node reports it;
 * - on a node that has not joined, the first install of kubelet/kubeadm/kubectl at the version
 *   (pinned, held), before init or join; this is the only script whose text carries the version;
 * - a no-op when the node already runs the version (and, on control planes, its apiserver
 *   manifest does);
 * - the pkgs.k8s.io channel of the new minor, kubeadm first; on a control plane, etcd at the new
 *   kubeadm's manifest with the apiserver out of the load balancer meanwhile; then `kubeadm upgrade
 *   apply vX` on the first control plane or `kubeadm upgrade node` elsewhere (certificate renewal
 *   off: Pulumi owns the PKI; etcd upgrade off: done before); every node after the first checks
 *   that the cluster configuration is at the version;
 * - drain, kubelet and kubectl, kubelet restart (on a control plane, the apiserver out of the load
 *   balancer first), wait for the Node to report the version and be Ready (and the local
 *   apiserver), uncordon.
 */
export function renderUpgradeScript(
    cluster: ClusterSpec,
    node: NodeSpec,
    how: { first: boolean },
    o: UpgradeOptions = {},
): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    if (how.first && node.role !== "control-plane")
        throw new KubeadmInputError(
            `node ${node.name} role`,
            node.role,
            '"control-plane" (kubeadm upgrade apply runs on the first control plane)',
        );
    parseKubernetesVersion(c.kubernetesVersion);
    const w = waitParams(o, 600);
    const cp = node.role === "control-plane";
    const repo = `https://pkgs.k8s.io/core:/stable:/${kubernetesMinorChannel(c.kubernetesVersion)}/deb/`;
    return renderScript("packages/upgrade.sh", {
        name: `upgrade-${node.role}`,
        title: `upgrade ${node.name} to Kubernetes ${c.kubernetesVersion}${how.first ? " (kubeadm upgrade apply)" : " (kubeadm upgrade node)"}`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            K8S_VERSION: c.kubernetesVersion,
            K8S_REPO: repo,
            IS_FIRST: how.first ? 1 : 0,
            IS_CONTROL_PLANE: cp ? 1 : 0,
            // A worker is drained and uncordoned from a control plane (renderWorkerUpgradeDrainScript)
            // and reads nothing on stdin.
            ...(cp
                ? {
                      LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz`,
                      DRAIN_TIMEOUT: duration("script option drainTimeout", o.drainTimeout ?? "300s"),
                      ...w,
                      CRI_SOCKET,
                      STOP_TIMEOUT_SECONDS: STATIC_POD_STOP_TIMEOUT_SECONDS,
                      // The installed kubeadm's version goes in on the node: the etcd manifest of
                      // the new version is rendered by the new kubeadm, from this configuration.
                      VERSION_PLACEHOLDER: KUBERNETES_VERSION_PLACEHOLDER,
                      KUBEADM_PHASE_CONFIG: renderPhaseConfig(c, node, {
                          kubernetesVersion: KUBERNETES_VERSION_PLACEHOLDER,
                      }),
                      DRAINED_ANNOTATION,
                  }
                : { WAIT_INTERVAL_SECONDS: w.WAIT_INTERVAL_SECONDS, WAIT_ATTEMPTS: w.WAIT_ATTEMPTS }),
        },
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
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(i.instanceType))
        throw new KubeadmInputError("instanceType", i.instanceType, "an EC2 instance type");
    const w = waitParams(o, 1800);
    return renderScript("rollout/rollout-gate.sh", {
        name: "rollout-gate",
        title: `wait until ${node.name} is back after an instance change`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            INSTANCE_TYPE: i.instanceType,
            REPLACE_TRIGGER: i.replaceTrigger ?? "",
            LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz`,
            WAIT_INTERVAL_SECONDS: w.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: w.WAIT_ATTEMPTS,
        },
    });
}

// ---------------------------------------------------------------------------------------------
// The whole set, for tools/render-scripts.ts and the tests.

export type Day2ScriptKind = "etcd-backup" | "etcd-backup-install" | "etcd-restore" | "upgrade" | "rollout-gate";

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
        {
            fileName: "etcd-backup.sh",
            kind: "etcd-backup",
            role: "control-plane",
            node: first.name,
            text: backupScript,
        },
        {
            fileName: "etcd-restore.sh",
            kind: "etcd-restore",
            role: "control-plane",
            node: first.name,
            text: restoreScript,
        },
        {
            fileName: "etcd-backup-install.sh",
            kind: "etcd-backup-install",
            role: "control-plane",
            node: first.name,
            text: renderEtcdBackupInstallScript(s.cluster, first, {
                backupScript,
                restoreScript,
                units,
                schedule: s.schedule,
                uploadTarget: s.backup.uploadTarget,
            }),
        },
        {
            fileName: "upgrade-first-control-plane.sh",
            kind: "upgrade",
            role: "control-plane",
            node: first.name,
            text: renderUpgradeScript(s.cluster, first, { first: true }, s.waits),
        },
        {
            fileName: "upgrade-control-plane.sh",
            kind: "upgrade",
            role: "control-plane",
            node: second.name,
            text: renderUpgradeScript(s.cluster, second, { first: false }, s.waits),
        },
        {
            fileName: "upgrade-worker.sh",
            kind: "upgrade",
            role: "worker",
            node: s.worker.name,
            text: renderUpgradeScript(s.cluster, s.worker, { first: false }, s.waits),
        },
        {
            fileName: "rollout-gate.sh",
            kind: "rollout-gate",
            role: "control-plane",
            node: first.name,
            text: renderRolloutGateScript(
                first,
                { instanceType: s.instanceType, replaceTrigger: "2026-11-22" },
                s.waits,
            ),
        },
    ];
}

/** A stable digest of a script, for change detection in tests and logs. */
export function scriptDigest(text: string): string {
    return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** Exposed for tests: how the scripts quote values. */
export { shellQuote };
