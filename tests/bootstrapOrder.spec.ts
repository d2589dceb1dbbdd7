// The bootstrap's step table (components/bootstrapSteps.ts) is what the program registers, and
// the offline plan's "Bootstrap order" is printed from it (tools/plan/report.ts).
import { strict as assert } from "node:assert";
import { createColors } from "picocolors";
import { BOOTSTRAP_STEPS, planSteps } from "../components/bootstrapSteps";
import { sharedRun } from "../tools/harness/sharedRun";
import { renderBootstrapOrder } from "../tools/plan/report";
import { controlPlanes, ofType, plain, T } from "./graph";
import { TYPES } from "../policies/lib/contract";

const plainColors = createColors(false);

describe("the bootstrap's step table", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: the program registers exactly the table's commands, each waiting for what the table says`, async () => {
            const run = await sharedRun({ stack });
            assert.ifError(run.error);
            const workers = ofType(run, T.instance)
                .filter((r) => plain(r).tags?.["k8s-ha/role"] === "worker")
                .map((r) => r.name);
            const planned = planSteps(
                controlPlanes(run).map((r) => r.name),
                workers,
                { etcdBackup: true },
            );
            const commands = run.resources.filter((r) => r.type === TYPES.remoteCommand);
            // (The mock monitor records registrations as they complete, not in the program's order.)
            assert.deepEqual(
                commands.map((r) => r.name).sort(),
                planned.map((p) => p.name).sort(),
                "the same commands",
            );
            const urnOf = new Map(commands.map((r) => [r.name, r.urn]));
            for (const p of planned) {
                const registered = commands.find((r) => r.name === p.name)!;
                for (const d of p.after)
                    if ("step" in d)
                        assert.ok(
                            registered.dependencies.includes(urnOf.get(d.step)!),
                            `${p.name} waits for ${d.step}`,
                        );
            }
        });
    }

    it("names each step once per set of nodes, and every step runs at some time", () => {
        const keys = BOOTSTRAP_STEPS.map((s) => `${s.action}/${s.nodes}`);
        assert.equal(new Set(keys).size, keys.length);
        for (const s of BOOTSTRAP_STEPS) assert.ok(s.when.length > 0, s.action);
        for (const s of BOOTSTRAP_STEPS.filter((x) => x.when.includes("change") && !x.when.includes("removal")))
            assert.ok(s.note, `${s.action}: the plan says when it runs`);
    });
});

describe("the plan's bootstrap order, from the step table (prod: 5 control planes, 3 workers)", () => {
    let text: string;
    before(async () => {
        const run = await sharedRun({ stack: "prod" });
        assert.ifError(run.error);
        text = renderBootstrapOrder(run, plainColors)!;
    });

    /** The wave (numbered line) where `action` runs on `node`. */
    const wave = (action: string, node: string) => {
        const line = text
            .split("\n")
            .find(
                (l) =>
                    /^\s*\d+\. /.test(l) &&
                    new RegExp(`(^|; )${action} +[^;]*\\b${node}\\b`).test(l.replace(/^\s*\d+\. /, "")),
            );
        assert.ok(line, `${action} ${node} in:\n${text}`);
        return Number(/^\s*(\d+)\./.exec(line)![1]);
    };

    it("installs workers one after another after the last control plane's install (their no-op drain and uncordon still order them)", () => {
        assert.ok(wave("upgrade", "cp-4") < wave("upgrade", "worker-0"), text);
        assert.ok(wave("upgrade", "worker-0") < wave("upgrade", "worker-1"), text);
        assert.ok(wave("upgrade", "worker-1") < wave("upgrade", "worker-2"), text);
        assert.ok(wave("join", "cp-4") < wave("join", "worker-0"), text);
    });

    it("joins control planes one at a time after init, and prepares every node first", () => {
        assert.equal(wave("prepare", "cp-0"), 1);
        assert.equal(wave("prepare", "worker-2"), 1);
        for (let i = 1; i < 5; i++)
            assert.ok(wave("join", `cp-${i}`) > wave(i === 1 ? "init" : "join", `cp-${i - 1}`), text);
    });

    it("a version change runs the whole upgrade chain, each worker between its drain and uncordon", () => {
        assert.ok(
            text.includes(
                "when kubernetesVersion changes, one node at a time: upgrade cp-0 → upgrade cp-1 → upgrade cp-2 → upgrade cp-3 → upgrade cp-4 → " +
                    "upgrade-drain worker-0 → upgrade worker-0 → upgrade-uncordon worker-0 → upgrade-drain worker-1",
            ),
            text,
        );
    });

    it("a certificate change places the files everywhere, then rotates one node at a time; removal goes workers first, node 0 last", () => {
        assert.ok(
            text.includes(
                "when a certificate changes: place-pki cp-0, cp-1, cp-2, cp-3, cp-4 → rotate cp-0 → rotate cp-1",
            ),
            text,
        );
        assert.ok(
            text.includes(
                "in this order: remove-drain worker-0, worker-1, worker-2 → reset worker-0, worker-1, worker-2 → remove-node worker-0, worker-1, worker-2 → reset cp-4 → reset cp-3",
            ),
            text,
        );
        assert.ok(text.endsWith("reset cp-1 → reset cp-0"), text);
    });
});
