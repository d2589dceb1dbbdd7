// Writes every rendered kubeadm script, for every node role, to a directory:
//   npx ts-node --transpile-only tools/render-scripts.ts <outdir>
// Uses a realistic sample cluster (3 control planes behind an NLB, 2 workers), whose renders are
// also kept in tests/golden/scripts/sample/ (the bats suite runs those). Pulumi renders the same
// builders in-process; the bash itself lives in components/kubeadm/scripts/.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
    renderDay2ScriptSet,
    renderScriptSet,
    renderWorkerAdminScripts,
    type ClusterSpec,
    type Day2ScriptSetInput,
    type NodeSpec,
    type ScriptSetInput,
} from "../components/kubeadm";

export const SAMPLE_CLUSTER: ClusterSpec = {
    clusterName: "k8s-ha-dev",
    kubernetesVersion: "1.35.2",
    apiEndpointHost: "k8s-ha-dev-api-0a1b2c3d4e5f6789.elb.us-east-1.amazonaws.com",
    podCidr: "10.244.0.0/16",
    serviceCidr: "10.96.0.0/12",
    extraSans: ["api.k8s-ha-dev.example.com"],
};

export const SAMPLE_NODES: readonly NodeSpec[] = [
    {
        name: "k8s-ha-dev-cp-0",
        privateIp: "10.0.16.10",
        role: "control-plane",
        providerId: "aws:///us-east-1a/i-50740ee351feefe93",
    },
    {
        name: "k8s-ha-dev-cp-1",
        privateIp: "10.0.32.10",
        role: "control-plane",
        providerId: "aws:///us-east-1b/i-53498b04ab6af053c",
    },
    {
        name: "k8s-ha-dev-cp-2",
        privateIp: "10.0.48.10",
        role: "control-plane",
        providerId: "aws:///us-east-1c/i-2f3aaea82b42ca54d",
    },
    {
        name: "k8s-ha-dev-worker-0",
        privateIp: "10.0.16.20",
        role: "worker",
        providerId: "aws:///us-east-1a/i-896a93317ebeaa54b",
    },
    {
        name: "k8s-ha-dev-worker-1",
        privateIp: "10.0.32.20",
        role: "worker",
        providerId: "aws:///us-east-1b/i-da5b8a4086849cd32",
    },
];

/** A well-formed discovery hash (the real one is computed from the CA by the PKI component). */
export const SAMPLE_CA_CERT_HASH = "sha256:" + "3f6a1c9e0b7d2a4c8e5f1b3d7a9c0e2f4b6d8a1c3e5f7b9d0a2c4e6f8b1d3a5c";

export const SAMPLE_SCRIPT_SET: ScriptSetInput = {
    cluster: SAMPLE_CLUSTER,
    initNode: SAMPLE_NODES[0],
    joinControlPlane: SAMPLE_NODES[1],
    worker: SAMPLE_NODES[3],
    caCertHash: SAMPLE_CA_CERT_HASH,
};

/** Day-2 scripts of the sample cluster: backups to its bucket, restore, upgrades, guards. */
export const SAMPLE_DAY2_SET: Day2ScriptSetInput = {
    cluster: SAMPLE_CLUSTER,
    controlPlanes: SAMPLE_NODES.filter((n) => n.role === "control-plane"),
    worker: SAMPLE_NODES[3],
    backup: { uploadTarget: "s3://k8s-ha-dev-etcd-backups-0a1b2c3/k8s-ha-dev/k8s-ha-dev-cp-0", region: "us-east-1" },
    schedule: "*-*-* 03:00:00",
    instanceType: "m6i.large",
};

/** Every script the project renders for the sample cluster: bootstrap (scripts.ts) and day 2 (day2.ts). */
export function renderAllSampleScripts(): { fileName: string; text: string }[] {
    return [
        ...renderScriptSet(SAMPLE_SCRIPT_SET),
        ...renderDay2ScriptSet(SAMPLE_DAY2_SET),
        ...renderWorkerAdminScripts(SAMPLE_CLUSTER, SAMPLE_SCRIPT_SET.worker),
    ];
}

export function renderSampleScripts(outDir: string): string[] {
    mkdirSync(outDir, { recursive: true });
    return renderAllSampleScripts().map((s) => {
        const file = join(outDir, s.fileName);
        writeFileSync(file, s.text, { mode: 0o755 });
        return file;
    });
}

if (require.main === module) {
    const outDir = process.argv[2];
    if (!outDir) {
        process.stderr.write("usage: ts-node --transpile-only tools/render-scripts.ts <outdir>\n");
        process.exit(2);
    }
    for (const file of renderSampleScripts(outDir)) process.stdout.write(`${file}\n`);
}
