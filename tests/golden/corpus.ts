// The golden corpus: every node script the project renders, for the sample cluster of
// tools/render-scripts.ts, plus the variants the specs exercise (IPv6 node, extra SANs, wait and
// drain options, a file:// backup target, five etcd members, the next minor). A changed byte of a
// rendered script re-runs that command on every node at the next `pulumi up`, so every one of them
// is kept under tests/golden/scripts/ and compared byte for byte (tests/kubeadm/golden.spec.ts).
import {
    renderEtcdBackupInstallScript,
    renderEtcdBackupScript,
    renderEtcdBackupUnits,
    renderEtcdRestoreScript,
    renderFirstControlPlaneScript,
    renderInitScript,
    renderJoinScript,
    renderNodeScripts,
    renderPlacePkiScript,
    renderPrepareScript,
    renderResetScript,
    renderRolloutGateScript,
    renderRotateScript,
    renderUpgradeScript,
    renderWorkerAdminScripts,
    type NodeSpec,
    type ScriptOptions,
} from "../../components/kubeadm";
import { SAMPLE_CA_CERT_HASH, SAMPLE_CLUSTER, SAMPLE_NODES, renderAllSampleScripts } from "../../tools/render-scripts";

export interface GoldenFile {
    /** Path under tests/golden/scripts/. */
    readonly path: string;
    readonly text: string;
}

const cps = SAMPLE_NODES.filter((n) => n.role === "control-plane");
const worker = SAMPLE_NODES[3];
const v6: NodeSpec = { name: "cp-v6", privateIp: "fd00:10::a", role: "control-plane", providerId: "aws:///us-east-1c/i-8d627c71039504767" };
const v6Worker: NodeSpec = { name: "worker-v6", privateIp: "fd00:10::14", role: "worker", providerId: "aws:///us-east-1c/i-56674259912f9e511" };
const five: NodeSpec[] = [...cps, { name: "k8s-ha-dev-cp-3", privateIp: "10.0.16.11", role: "control-plane", providerId: "aws:///us-east-1b/i-72490da7828c2ce79" }, { name: "k8s-ha-dev-cp-4", privateIp: "10.0.32.11", role: "control-plane", providerId: "aws:///us-east-1a/i-33d56addc594bd353" }];
const exoticCluster = { ...SAMPLE_CLUSTER, extraSans: ["*.api.example.com", "203.0.113.9"] };
const nextMinor = { ...SAMPLE_CLUSTER, kubernetesVersion: "1.36.0" };
/** Every option away from its default. */
const options: ScriptOptions = { waitIntervalSeconds: 10, waitTimeoutSeconds: 300, stdinTimeoutSeconds: 15, tokenTtlMinutes: 45, drainTimeout: "10m" };
const s3Target = "s3://k8s-ha-dev-etcd-backups-0a1b2c3/k8s-ha-dev/k8s-ha-dev-cp-1";
const fileTarget = "file:///var/backups/etcd";

function variants(): GoldenFile[] {
    const v = (name: string, text: string): GoldenFile => ({ path: `variants/${name}`, text });
    const backupFile = renderEtcdBackupScript(SAMPLE_CLUSTER, cps[1], { uploadTarget: fileTarget, region: "eu-west-1", etcdEndpoint: "https://10.0.32.10:2379", localRetentionDays: 1, commandTimeout: "5m" });
    const restoreFive = renderEtcdRestoreScript(SAMPLE_CLUSTER, five, five[4], { dataDir: "/data/etcd", waitIntervalSeconds: 2, waitTimeoutSeconds: 30 });
    const unitsFile = renderEtcdBackupUnits(cps[1], "Mon..Fri 02:30", fileTarget);
    const unitsS3 = renderEtcdBackupUnits(cps[1], "*-*-* 03,15:00:00", s3Target);
    return [
        // bootstrap: an IPv6 control plane and worker, hostile-looking but valid SANs
        ...renderNodeScripts(exoticCluster, v6, { isInitNode: false, caCertHash: SAMPLE_CA_CERT_HASH }).map((s) => v(`cp-v6/${s.fileName}`, s.text)),
        ...renderNodeScripts(exoticCluster, v6Worker, { isInitNode: false, caCertHash: SAMPLE_CA_CERT_HASH }).map((s) => v(`worker-v6/${s.fileName}`, s.text)),
        v("cp-v6/first-control-plane.sh", renderFirstControlPlaneScript(exoticCluster, v6, SAMPLE_CA_CERT_HASH, ["fd00:10::b", "fd00:10::c"])),
        // bootstrap: every option set
        v("options/prepare-control-plane.sh", renderPrepareScript(SAMPLE_CLUSTER, cps[0], options)),
        v("options/place-pki.sh", renderPlacePkiScript(options)),
        v("options/init.sh", renderInitScript(SAMPLE_CLUSTER, cps[0], options)),
        v("options/first-control-plane.sh", renderFirstControlPlaneScript(SAMPLE_CLUSTER, cps[0], SAMPLE_CA_CERT_HASH, cps.slice(1).map((n) => n.privateIp), options)),
        v("options/join-control-plane.sh", renderJoinScript(SAMPLE_CLUSTER, cps[2], SAMPLE_CA_CERT_HASH, options)),
        v("options/join-worker.sh", renderJoinScript(SAMPLE_CLUSTER, SAMPLE_NODES[4], SAMPLE_CA_CERT_HASH, options)),
        v("options/reset-control-plane.sh", renderResetScript(SAMPLE_CLUSTER, cps[2], options)),
        v("options/reset-worker.sh", renderResetScript(SAMPLE_CLUSTER, SAMPLE_NODES[4], options)),
        v("options/rotate.sh", renderRotateScript(SAMPLE_CLUSTER, cps[2], options)),
        ...renderWorkerAdminScripts(SAMPLE_CLUSTER, SAMPLE_NODES[4], options).map((s) => v(`options/${s.fileName}`, s.text)),
        // day 2
        v("etcd/backup-file-target.sh", backupFile),
        v("etcd/restore-ipv6.sh", renderEtcdRestoreScript(SAMPLE_CLUSTER, [...cps, v6], v6)),
        v("etcd/restore-five-members.sh", restoreFive),
        v("etcd/backup-file-target.service", unitsFile.service),
        v("etcd/backup-file-target.timer", unitsFile.timer),
        v("etcd/backup-s3.service", unitsS3.service),
        v("etcd/backup-s3.timer", unitsS3.timer),
        v("etcd/backup-install-file-target.sh", renderEtcdBackupInstallScript(SAMPLE_CLUSTER, cps[1], { backupScript: backupFile, restoreScript: restoreFive, units: unitsFile, schedule: "Mon..Fri 02:30", uploadTarget: fileTarget })),
        v("upgrade/first-control-plane-next-minor.sh", renderUpgradeScript(nextMinor, cps[0], { first: true }, { waitIntervalSeconds: 10, waitTimeoutSeconds: 900, stdinTimeoutSeconds: 30, drainTimeout: "15m" })),
        v("upgrade/control-plane-ipv6.sh", renderUpgradeScript(nextMinor, v6, { first: false }, { drainTimeout: "10m" })),
        v("upgrade/worker-next-minor.sh", renderUpgradeScript(nextMinor, SAMPLE_NODES[4], { first: false })),
        v("rollout/rollout-gate-ipv6.sh", renderRolloutGateScript(v6, { instanceType: "m7i.2xlarge" })),
        v("rollout/rollout-gate-options.sh", renderRolloutGateScript(cps[2], { instanceType: "c7i.xlarge", replaceTrigger: "it's $(new)" }, { waitIntervalSeconds: 3, waitTimeoutSeconds: 60 })),
        v("packages/prepare-worker-next-minor.sh", renderPrepareScript(nextMinor, worker)),
    ];
}

/** Every golden file, in a stable order. */
export function goldenCorpus(): GoldenFile[] {
    const files: GoldenFile[] = [
        // what the bats suite runs (tools/render-scripts.ts writes the same set)
        ...renderAllSampleScripts().map((s) => ({ path: `sample/${s.fileName}`, text: s.text })),
        // what the program hands each sample node
        ...SAMPLE_NODES.flatMap((n, i) => renderNodeScripts(SAMPLE_CLUSTER, n, { isInitNode: i === 0, caCertHash: SAMPLE_CA_CERT_HASH }).map((s) => ({ path: `nodes/${n.name}/${s.fileName}`, text: s.text }))),
        ...variants(),
    ];
    const seen = new Set<string>();
    for (const f of files) {
        if (seen.has(f.path)) throw new Error(`golden corpus: ${f.path} twice`);
        seen.add(f.path);
    }
    return files;
}
