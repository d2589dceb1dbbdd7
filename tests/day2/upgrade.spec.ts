// A kubernetesVersion change under the mock runtime: which commands change, and the order the
// dependency graph forces on them (the engine lane checks the same on the real engine). Two runs of the prod stack (5 control planes, 3 workers) in
// update mode, before and after the change; a step whose inputs differ is one `pulumi up` runs.
import { strict as assert } from "node:assert";
import { runProgram, type ProgramRun, type RecordedResource } from "../../tools/harness/program";
import { sharedRun } from "../../tools/harness/sharedRun";
import { isSecretValue } from "../../tools/harness/values";
import { COMMAND, cmd, scriptVar, text, unwrapRemote, waitsFor, waves } from "./helpers";
import { TYPES } from "../../policies/lib/contract";

const CPS = ["k8s-prod-cp-0", "k8s-prod-cp-1", "k8s-prod-cp-2", "k8s-prod-cp-3", "k8s-prod-cp-4"];
const WORKERS = ["k8s-prod-worker-0", "k8s-prod-worker-1", "k8s-prod-worker-2"];
const ORDER = [...CPS, ...WORKERS].map((n) => `${n}-upgrade`);
/** Around each worker's upgrade, on node 0: its drain and uncordon (they carry the version too). */
const AROUND_WORKERS = WORKERS.flatMap((n) => [`${n}-upgrade-drain`, `${n}-upgrade-uncordon`]);

/**
 * The commands whose command text differs between two runs (what the engine would update). Only
 * create/update/delete: the mocks re-issue certificates on every run, so stdin (PKI files) and the
 * rotation triggers (certificate fingerprints) differ between any two runs.
 */
function changedCommands(a: ProgramRun, b: ProgramRun): RecordedResource[] {
    const fields = ["create", "update", "delete"];
    return b.resources
        .filter((r) => r.type === COMMAND)
        .filter((r) => {
            const old = a.resources.find((x) => x.urn === r.urn);
            assert.ok(old, `${r.name} exists in both runs`);
            return fields.some((f) => JSON.stringify(old.inputs[f]) !== JSON.stringify(r.inputs[f]));
        });
}

describe("Kubernetes upgrades under the mock runtime (prod: 5 control planes, 3 workers)", () => {
    let before1352: ProgramRun;
    let after1354: ProgramRun;
    before(async () => {
        before1352 = await sharedRun({ stack: "prod", preview: false, config: { kubernetesVersion: "1.35.2" } });
        assert.ifError(before1352.error);
        after1354 = await sharedRun({ stack: "prod", preview: false, config: { kubernetesVersion: "1.35.4" } });
        assert.ifError(after1354.error);
    });

    it("creates an upgrade step per node whose one script installs at creation and upgrades on a change; control planes secretly read the admin kubeconfig, workers nothing", () => {
        for (const name of ORDER) {
            const step = cmd(after1354, name);
            assert.match(
                unwrapRemote(text(step, "create")!),
                /has not joined a cluster: installing kubelet, kubeadm and kubectl/,
                `${name}: installs on a new node`,
            );
            assert.equal(step.inputs.update, undefined, `${name}: an update runs the same script`);
            if (name.includes("-cp-")) {
                assert.ok(isSecretValue(step.inputs.stdin), `${name}: the admin kubeconfig on stdin is secret`);
                assert.equal(step.inputs.logging, "none");
                for (const out of ["stdout", "stderr"]) assert.ok(step.additionalSecretOutputs.includes(out));
            } else {
                assert.equal(step.inputs.stdin, undefined, `${name}: a worker's upgrade gets no credential`);
            }
        }
        // A worker's drain and uncordon run on node 0, only on a change (create is a no-op).
        const node0 = cmd(after1354, "k8s-prod-cp-0-init").inputs.connection;
        for (const name of AROUND_WORKERS) {
            const step = cmd(after1354, name);
            assert.equal(step.inputs.create, "true", name);
            assert.match(unwrapRemote(text(step, "update")!), /k8s-ha worker-upgrade-(drain|uncordon)/, name);
            assert.deepEqual(step.inputs.connection, node0, `${name} runs on node 0`);
            assert.ok(isSecretValue(step.inputs.stdin), `${name}: the admin kubeconfig on stdin is secret`);
        }
    });

    it("the update runs `kubeadm upgrade apply` on node 0 and `kubeadm upgrade node` everywhere else, to the configured version", () => {
        ORDER.forEach((name, i) => {
            const script = unwrapRemote(text(cmd(after1354, name), "create")!);
            assert.equal(scriptVar(script, "K8S_VERSION"), "1.35.4", name);
            assert.equal(scriptVar(script, "K8S_REPO"), "https://pkgs.k8s.io/core:/stable:/v1.35/deb/", name);
            assert.equal(scriptVar(script, "IS_FIRST"), i === 0 ? "1" : "0", name);
            assert.equal(scriptVar(script, "IS_CONTROL_PLANE"), i < CPS.length ? "1" : "0", name);
            assert.equal(scriptVar(script, "NODE_NAME"), name.replace(/-upgrade$/, ""));
            // the refusals are in every script
            assert.ok(
                script.includes("refusing to skip a minor version") && script.includes("refusing to downgrade"),
                name,
            );
        });
    });

    it("defect: a version change changes the upgrade steps and no other command (prepare, init and rotate used to re-run)", () => {
        const changed = changedCommands(before1352, after1354);
        assert.deepEqual(changed.map((r) => r.name).sort(), [...ORDER, ...AROUND_WORKERS].sort());
        // Upgrade steps have no triggers: a changed trigger would replace the step (create, not update).
        for (const u of ORDER) assert.equal(cmd(after1354, u).inputs.triggers, undefined, `${u} has no triggers`);
        // No reset hook changes its delete script into something that runs: deletes only run on removal.
        for (const r of changed.filter((x) => x.name.endsWith("-reset"))) assert.equal(r.inputs.create, "true");
        // Instances and everything else outside the commands stay as they are.
        for (const r of after1354.resources.filter((x) => x.type === TYPES.instance)) {
            const old = before1352.resources.find((x) => x.urn === r.urn)!;
            assert.deepEqual(r.inputs, old.inputs, `${r.name} is not touched by a version change`);
        }
    });

    it("the changed steps run strictly one node after another: node 0, the other control planes in order, then each worker", () => {
        const changed = changedCommands(before1352, after1354);
        const wave = waves(after1354, changed);
        const upgradeWaves = ORDER.map((n) => wave.get(n)!);
        for (let i = 1; i < upgradeWaves.length; i++) {
            assert.ok(
                upgradeWaves[i] > upgradeWaves[i - 1],
                `${ORDER[i]} (wave ${upgradeWaves[i]}) runs after ${ORDER[i - 1]} (wave ${upgradeWaves[i - 1]})`,
            );
        }
        // No two upgrades ever share a wave, and each directly waits for its predecessor.
        assert.equal(new Set(upgradeWaves).size, ORDER.length);
        // (a worker through its drain, which waits for the previous node's upgrade or uncordon).
        const chain = [
            ...CPS.map((n) => `${n}-upgrade`),
            ...WORKERS.flatMap((n) => [`${n}-upgrade-drain`, `${n}-upgrade`, `${n}-upgrade-uncordon`]),
        ];
        chain
            .slice(1)
            .forEach((n, i) =>
                assert.ok(waitsFor(after1354, cmd(after1354, n)).includes(chain[i]), `${n} waits for ${chain[i]}`),
            );
        // A node installs before it joins; and since the chain runs in order, a node added in the
        // same `pulumi up` as a bump installs the new version only after every node before it was
        // upgraded: no kubelet newer than the control plane ever joins.
        for (const n of [...CPS, ...WORKERS]) {
            const joins = n === CPS[0] ? `${n}-init` : `${n}-join`;
            assert.ok(
                waitsFor(after1354, cmd(after1354, joins)).includes(`${n}-upgrade`),
                `${joins} waits for ${n}-upgrade`,
            );
        }
        assert.ok(
            waitsFor(after1354, cmd(after1354, `${WORKERS[0]}-upgrade-drain`)).includes(
                `${CPS[CPS.length - 1]}-upgrade`,
            ),
            "the workers install after the last control plane's upgrade",
        );
    });

    it("prepare stays parallel and carries no version; init and rotate take the installed kubeadm's", () => {
        for (const n of [...CPS, ...WORKERS]) {
            const prepare = cmd(after1354, `${n}-prepare`);
            assert.deepEqual(
                waitsFor(after1354, prepare).filter(
                    (w) => w.startsWith("k8s-prod-cp-") || w.startsWith("k8s-prod-worker-"),
                ),
                [n],
                `${n}-prepare waits only for its instance`,
            );
            const script = unwrapRemote(text(prepare, "create")!);
            assert.doesNotMatch(script, /^readonly K8S_VERSION=/m);
            assert.doesNotMatch(script, /1\.35|kubeadm=/);
        }
        const init = unwrapRemote(text(cmd(after1354, "k8s-prod-cp-0-init"), "create")!);
        assert.doesNotMatch(init, /v1\.35\.4/);
        assert.match(init, /kubernetesVersion: k8s-ha-installed-kubeadm-version/);
        const rotate = unwrapRemote(
            text(cmd(after1354, "k8s-prod-cp-1-rotate"), "update")!.replace(/ # certificates \S+$/, ""),
        );
        assert.match(rotate, /kubernetesVersion: k8s-ha-installed-kubeadm-version/);
    });

    it("a patch change upgrades too; the same version changes no upgrade step", async () => {
        const patch = await sharedRun({ stack: "prod", preview: false, config: { kubernetesVersion: "1.35.3" } });
        assert.ifError(patch.error);
        assert.ok(changedCommands(before1352, patch).some((r) => r.name === "k8s-prod-cp-0-upgrade"));
        // a run of its own: the same configuration run twice must give the same commands
        const same = await runProgram({ stack: "prod", preview: false, config: { kubernetesVersion: "1.35.2" } });
        assert.ifError(same.error);
        assert.deepEqual(
            changedCommands(before1352, same).map((r) => r.name),
            [],
        );
    });
});
