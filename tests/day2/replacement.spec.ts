// Safe node replacement under the mock runtime: the options and dependencies that make Pulumi
// (1) take a replaced node out of the cluster (quorum-guarded reset on the OLD instance) before its
// replacement exists and joins under the same name, and (2) change control-plane instances one at a
// time, each only after the previous one is back. The engine's behaviour on these options is
// Pulumi's; what is checked here is that the program asks for it (see components/rollout.ts).
import { strict as assert } from "node:assert";
import { ConfigError, validateConfig } from "../../components/config";
import { UNSET_REPLACE_TRIGGER } from "../../components/rollout";
import type { ProgramRun } from "../../tools/harness/program";
import { byUrn } from "../graph";
import {
    COMMAND,
    INSTANCE,
    ancestors,
    cmd,
    named,
    runWithOptions,
    scriptVar,
    text,
    unwrapRemote,
    waitsFor,
} from "./helpers";
import type { ExtraOptions } from "./optionsProgram";
import { TYPES } from "../../policies/lib/contract";

const CPS = ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"];
const WORKER = "k8s-dev-worker-0";

describe("safe node replacement under the mock runtime (dev: 3 control planes, 1 worker)", () => {
    let run: ProgramRun;
    let extra: Map<string, ExtraOptions>;
    before(async () => {
        ({ run, extra } = await runWithOptions({
            stack: "dev",
            preview: false,
            config: { nodeReplaceTriggers: { "k8s-dev-cp-1": "2026-11-22" } },
        }));
    });

    it("replaces every node instance delete-before-create (a node's name is its identity: the old one must leave first)", () => {
        for (const n of [...CPS, WORKER]) assert.equal(named(run, INSTANCE, n).deleteBeforeReplace, true, n);
        assert.equal(
            named(run, INSTANCE, "k8s-dev-bastion").deleteBeforeReplace,
            false,
            "the bastion keeps Pulumi's default",
        );
    });

    it("a node's replace trigger becomes its instance's replacementTrigger; every other node carries the unset marker, never no trigger", () => {
        assert.equal(extra.get("k8s-dev-cp-1")?.replacementTrigger, "2026-11-22");
        // The engine compares triggers only when both are set: without a trigger before, the first
        // value set would replace nothing (tests/engine/lifecycle.spec.ts, against the real CLI).
        for (const n of ["k8s-dev-cp-0", "k8s-dev-cp-2", WORKER])
            assert.equal(extra.get(n)?.replacementTrigger, UNSET_REPLACE_TRIGGER, n);
        assert.equal(extra.get("k8s-dev-bastion")?.replacementTrigger, undefined, "the bastion is not a node");
    });

    it("each node's reset hook is replaced with its instance, delete-before-create: the quorum-guarded reset runs on the old instance", () => {
        const node0 = cmd(run, `${CPS[0]}-init`).inputs.connection;
        // A worker's removal: node 0 drains it, it resets itself, node 0 deletes its Node; all three
        // go with the old instance.
        for (const hook of [`${WORKER}-remove-drain`, `${WORKER}-remove-node`]) {
            assert.deepEqual(
                extra.get(hook)?.replaceWith,
                [named(run, INSTANCE, WORKER).urn],
                `${hook} is replaced whenever ${WORKER} is`,
            );
            assert.equal(cmd(run, hook).deleteBeforeReplace, true, hook);
            assert.deepEqual(cmd(run, hook).inputs.connection, node0, `${hook} runs on node 0`);
        }
        assert.ok(
            waitsFor(run, cmd(run, `${WORKER}-remove-drain`)).includes(`${WORKER}-reset`),
            "the drain is deleted (runs) before the reset",
        );
        assert.ok(
            waitsFor(run, cmd(run, `${WORKER}-reset`)).includes(`${WORKER}-remove-node`),
            "the reset is deleted (runs) before the Node deletion",
        );
        for (const n of [...CPS, WORKER]) {
            const reset = cmd(run, `${n}-reset`);
            const instance = named(run, INSTANCE, n);
            assert.deepEqual(
                extra.get(`${n}-reset`)?.replaceWith,
                [instance.urn],
                `${n}-reset is replaced whenever ${n} is`,
            );
            assert.equal(reset.deleteBeforeReplace, true, `${n}-reset runs its delete before the replacement`);
            assert.equal(reset.inputs.create, "true");
            const script = unwrapRemote(text(reset, "delete")!);
            assert.equal(scriptVar(script, "NODE_NAME"), n);
            if (n !== WORKER)
                assert.match(script, /refusing to remove \$NODE_NAME: etcd would keep/, "the quorum guard");
            // It reaches the node through the connection recorded at creation: the old instance.
            assert.ok(reset.propertyDependencies.connection?.includes(instance.urn), `${n}-reset connects to ${n}`);
        }
        // No other command is replaced with the instance: prepare, place-pki and join are updated
        // onto the new instance (a changed connection updates a remote.Command).
        // A worker's join-token step is replaced too: the new instance's join gets a fresh token.
        for (const [name, o] of extra) {
            if (o.replaceWith.length > 0)
                assert.match(name, /-(reset|remove-drain|remove-node|join-token)$/, `${name} has replaceWith`);
        }
        assert.deepEqual(extra.get(`${WORKER}-join-token`)?.replaceWith, [named(run, INSTANCE, WORKER).urn]);
    });

    it("the new instance is prepared, gets its PKI and joins after it exists: every membership step depends on its own instance", () => {
        for (const [i, n] of CPS.entries()) {
            const member = cmd(run, i === 0 ? `${n}-init` : `${n}-join`);
            assert.ok(
                ancestors(run, member).has(named(run, INSTANCE, n).urn),
                `${member.name} runs on ${n}'s current instance`,
            );
            assert.ok(ancestors(run, member).has(cmd(run, `${n}-place-pki`).urn));
        }
        // and the reset hook (which must go first on a replacement) waits for the join only at
        // creation; on a replacement it is deleted before the instance, ahead of everything.
        assert.ok(waitsFor(run, cmd(run, "k8s-dev-cp-1-reset")).includes("k8s-dev-cp-1-join"));
    });

    it("control-plane instances change one at a time: instance i waits for control plane i-1's rollout gate", () => {
        CPS.forEach((n, i) => {
            const instance = named(run, INSTANCE, n);
            const gates = instance.dependencies
                .map((u) => byUrn(run, u))
                .filter((d) => d.type === COMMAND)
                .map((d) => d.name);
            assert.deepEqual(
                gates,
                i === 0 ? [] : [`${CPS[i - 1]}-rollout-gate`],
                `${n} waits for ${i === 0 ? "nothing" : CPS[i - 1]}`,
            );
        });
        // Transitively: the last control plane's instance comes after every earlier gate.
        const last = ancestors(run, named(run, INSTANCE, CPS[2]));
        for (const n of CPS.slice(0, 2))
            assert.ok(last.has(cmd(run, `${n}-rollout-gate`).urn), `${CPS[2]} after ${n}-rollout-gate`);
        // Workers are not gated.
        assert.deepEqual(
            named(run, INSTANCE, WORKER)
                .dependencies.map((u) => byUrn(run, u))
                .filter((d) => d.type === COMMAND),
            [],
        );
    });

    it("a gate does nothing at creation and, after its instance changed, waits until the node is joined, its etcd healthy and its apiserver ready", () => {
        CPS.forEach((n, i) => {
            const gate = cmd(run, `${n}-rollout-gate`);
            assert.equal(
                gate.inputs.create,
                undefined,
                `${n}: nothing runs at creation (instances still come up almost in parallel)`,
            );
            // It depends on its own node (and, through it, the earlier gates) only: not on a join,
            // not on the load balancer.
            const waited = [...ancestors(run, gate)].map((u) => byUrn(run, u));
            assert.deepEqual(
                waited
                    .filter((d) => d.type === COMMAND)
                    .map((d) => d.name)
                    .sort(),
                CPS.slice(0, i).map((p) => `${p}-rollout-gate`),
                `${n}-rollout-gate waits for no other command`,
            );
            assert.ok(
                !waited.some((d) => d.type === TYPES.loadBalancer),
                `${n}-rollout-gate does not wait for the load balancer`,
            );
            const script = unwrapRemote(text(gate, "update")!);
            assert.equal(scriptVar(script, "NODE_NAME"), n);
            assert.equal(scriptVar(script, "INSTANCE_TYPE"), "t3.medium");
            assert.equal(scriptVar(script, "REPLACE_TRIGGER"), n === "k8s-dev-cp-1" ? "2026-11-22" : "");
            for (const wait of ["joined", "etcd_healthy", "local_api_ready"])
                assert.match(script, new RegExp(`wait_for "[^"]*" ${wait} \\|\\| die`), `${n} waits for ${wait}`);
        });
    });

    it("changing controlPlaneInstanceType (an in-place stop/start on AWS) changes every gate, so each runs before the next instance changes", async () => {
        const { run: bigger } = await runWithOptions({
            stack: "dev",
            preview: false,
            config: { controlPlaneInstanceType: "m6i.xlarge", nodeReplaceTriggers: { "k8s-dev-cp-1": "2026-11-22" } },
        });
        for (const n of CPS) {
            assert.equal(plain(named(bigger, INSTANCE, n)).instanceType, "m6i.xlarge");
            const gate = unwrapRemote(text(cmd(bigger, `${n}-rollout-gate`), "update")!);
            assert.equal(scriptVar(gate, "INSTANCE_TYPE"), "m6i.xlarge");
            assert.notEqual(
                text(cmd(bigger, `${n}-rollout-gate`), "update"),
                text(cmd(run, `${n}-rollout-gate`), "update"),
                `${n}-rollout-gate's update changes`,
            );
        }
    });

    it("only names of this stack's nodes are accepted as replace triggers", () => {
        const bad = (o: Record<string, string>) => () =>
            validateConfig(
                {
                    nodeReplaceTriggers: JSON.stringify(o),
                    sshAllowedCidrs: '["203.0.113.0/24"]',
                    apiAllowedCidrs: '["203.0.113.0/24"]',
                },
                "us-east-1",
            );
        const names = (e: unknown) =>
            e instanceof ConfigError && e.problems.every((p) => p.key === "nodeReplaceTriggers");
        assert.throws(bad({ "k8s-ha-cp-3": "x" }), names, "cp-3 does not exist with 3 control planes");
        assert.throws(bad({ "k8s-ha-cp-0": "" }), names, "an empty value");
        assert.throws(bad({ "k8s-ha-cp-0": "two words" }), names, "spaces");
        assert.deepEqual(
            validateConfig(
                {
                    nodeReplaceTriggers: JSON.stringify({ "k8s-ha-cp-2": "2026-11-22.1" }),
                    sshAllowedCidrs: '["203.0.113.0/24"]',
                    apiAllowedCidrs: '["203.0.113.0/24"]',
                },
                "us-east-1",
            ).nodeReplaceTriggers,
            { "k8s-ha-cp-2": "2026-11-22.1" },
        );
    });
});

function plain(r: { inputs: Record<string, unknown> }): any {
    return r.inputs;
}
