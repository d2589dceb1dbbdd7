// shellcheck on every rendered day-2 script (components/kubeadm/scripts/{etcd,packages,rollout}):
// the sample set of tools/render-scripts.ts (which the bats suite runs), variants (file:// target,
// IPv6 node, 5 members), and the exact command lines the program hands to remote.Command for its
// day-2 steps. Any finding, at any level, fails; a missing shellcheck fails too.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import {
    renderDay2ScriptSet,
    renderEtcdBackupScript,
    renderEtcdRestoreScript,
    renderRolloutGateScript,
    renderUpgradeScript,
    type NodeSpec,
} from "../../../components/kubeadm";
import { runProgram } from "../../../tools/harness/program";
import { unwrapSecrets } from "../../../tools/harness/values";
import { SAMPLE_CLUSTER, SAMPLE_DAY2_SET, SAMPLE_NODES, renderAllSampleScripts } from "../../../tools/render-scripts";
import { shellcheck } from "../shellcheck";
import { TYPES } from "../../../policies/lib/contract";

function assertClean(name: string, text: string): void {
    const lines = text.split("\n");
    assert.deepEqual(
        shellcheck(text).map(
            (f) => `${name}:${f.line}:${f.column} SC${f.code} (${f.level}) ${f.message}\n    ${lines[f.line - 1]}`,
        ),
        [],
    );
}

/** The script inside `sudo bash -c '<script>'` (asRemoteCommand's form). */
function unwrapRemote(command: string): string {
    const prefix = "sudo bash -c '";
    assert.ok(
        command.startsWith(prefix) && command.endsWith("'"),
        `not a rendered remote command: ${command.slice(0, 60)}`,
    );
    return command
        .slice(prefix.length - 1, command.length)
        .slice(1, -1)
        .replace(/'\\''/g, "'");
}

const cps = SAMPLE_NODES.filter((n) => n.role === "control-plane");
const v6: NodeSpec = {
    name: "cp-v6",
    privateIp: "fd00:10::a",
    role: "control-plane",
    providerId: "aws:///us-east-1c/i-8d627c71039504767",
};
const five: NodeSpec[] = [
    ...cps,
    {
        name: "k8s-ha-dev-cp-3",
        privateIp: "10.0.16.11",
        role: "control-plane",
        providerId: "aws:///us-east-1b/i-72490da7828c2ce79",
    },
    {
        name: "k8s-ha-dev-cp-4",
        privateIp: "10.0.32.11",
        role: "control-plane",
        providerId: "aws:///us-east-1a/i-33d56addc594bd353",
    },
];

const variants: { fileName: string; text: string }[] = [
    ...renderDay2ScriptSet(SAMPLE_DAY2_SET),
    {
        fileName: "variants/etcd-backup-file-target.sh",
        text: renderEtcdBackupScript(SAMPLE_CLUSTER, cps[1], {
            uploadTarget: "file:///var/backups/etcd",
            region: "eu-west-1",
            etcdEndpoint: "https://10.0.32.10:2379",
            localRetentionDays: 1,
        }),
    },
    { fileName: "variants/etcd-restore-ipv6.sh", text: renderEtcdRestoreScript(SAMPLE_CLUSTER, [...cps, v6], v6) },
    {
        fileName: "variants/etcd-restore-five-members.sh",
        text: renderEtcdRestoreScript(SAMPLE_CLUSTER, five, five[4], { dataDir: "/data/etcd" }),
    },
    {
        fileName: "variants/upgrade-ipv6.sh",
        text: renderUpgradeScript(
            { ...SAMPLE_CLUSTER, kubernetesVersion: "1.36.0" },
            v6,
            { first: false },
            { drainTimeout: "10m" },
        ),
    },
    { fileName: "variants/rollout-gate-ipv6.sh", text: renderRolloutGateScript(v6, { instanceType: "m7i.2xlarge" }) },
];

describe("shellcheck on rendered day-2 scripts", () => {
    it("shellcheck is installed (a missing binary fails, never skips)", () => {
        const r = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
        assert.equal(r.error, undefined, `shellcheck is not installed: ${r.error?.message}`);
        assert.match(r.stdout, /version: \d+\.\d+/);
    });

    it("the sample set the bats suite runs has every day-2 script", () => {
        const names = renderAllSampleScripts().map((s) => s.fileName);
        for (const f of [
            "etcd-backup.sh",
            "etcd-restore.sh",
            "etcd-backup-install.sh",
            "upgrade-first-control-plane.sh",
            "upgrade-control-plane.sh",
            "upgrade-worker.sh",
            "rollout-gate.sh",
        ]) {
            assert.ok(names.includes(f), f);
        }
    });

    for (const s of variants) it(`${s.fileName} is clean`, () => assertClean(s.fileName, s.text));

    describe("the command lines the program runs for its day-2 steps (dev stack, update mode)", () => {
        const commands: { name: string; field: string; text: string }[] = [];
        before(async function () {
            this.timeout(120_000);
            const run = await runProgram({ stack: "dev", preview: false, config: { workerCount: 1 } });
            assert.ifError(run.error);
            for (const r of run.resources.filter(
                (x) => x.type === TYPES.remoteCommand && /-(etcd-backup|upgrade|rollout-gate|prepare)$/.test(x.name),
            )) {
                for (const field of ["create", "update"]) {
                    const raw = unwrapSecrets(r.inputs[field]);
                    if (typeof raw === "string" && raw !== "true")
                        commands.push({ name: r.name, field, text: unwrapRemote(raw) });
                }
            }
        });

        it("covers backup installers, upgrades, rollout gates and guarded prepares", () => {
            const kinds = new Set(commands.map((c) => c.name.replace(/^k8s-dev-(cp|worker)-\d+-/, "")));
            assert.deepEqual([...kinds].sort(), ["etcd-backup", "prepare", "rollout-gate", "upgrade"]);
            assert.equal(
                commands.filter((c) => c.name.endsWith("-upgrade")).length,
                4,
                "3 control planes and 1 worker",
            );
        });

        it("every one of them is clean", () => {
            for (const c of commands) assertClean(`${c.name}.${c.field}`, c.text);
        });
    });
});
