// The real CLI's `pulumi preview --policy-pack policies` on the stand-ins gives the same verdicts as
// the offline plan on the same cases, and registers the same resources (URNs and types).
import { strict as assert } from "node:assert";
import { plan } from "../../tools/plan";
import { Lab, transcript } from "./engine";
import { TYPES } from "../../policies/lib/contract";

interface Case {
    readonly title: string;
    readonly stack: string;
    readonly config: Record<string, unknown>;
    /** The mandatory policy that must reject it, or undefined when it must pass. */
    readonly rejectedBy?: string;
}

const CASES: Case[] = [
    { title: "prod as committed passes", stack: "prod", config: {} },
    {
        title: "four control planes",
        stack: "dev",
        config: { controlPlaneCount: 4 },
        rejectedBy: "control-plane-odd-count",
    },
    {
        title: "one zone",
        stack: "dev",
        config: { availabilityZones: ["us-west-2a"] },
        rejectedBy: "control-plane-multi-az",
    },
    {
        title: "five control planes in two zones",
        stack: "dev",
        config: { controlPlaneCount: 5, availabilityZones: ["us-west-2a", "us-west-2b"] },
        rejectedBy: "control-plane-az-quorum",
    },
    {
        title: "SSH from the world",
        stack: "dev",
        config: { sshAllowedCidrs: ["0.0.0.0/0"] },
        rejectedBy: "no-world-open-sensitive-ports",
    },
];

/** The CLI prints `- [mandatory] [severity: high]  <policy>  (<type>: <name>)`. */
const SEVERITY = "(?:\\s+\\[severity: \\w+\\])?";

/**
 * A resource as "<type>::<name> under <parent's type>::<parent's name>". The URNs themselves differ
 * in form: the engine puts the whole chain of parent types in a URN
 * (`k8s-ha:index:Cluster$k8s-ha:network:Network$<vpc type>`), Pulumi's mock runtime only the
 * direct parent's (`k8s-ha:network:Network$<vpc type>`); names, types and parents must agree.
 */
const key = (urn: string | undefined) =>
    urn ? `${urn.split("::")[2].split("$").pop()}::${urn.split("::")[3]}` : "(stack)";

/** What a `pulumi preview --json` would create, without the engine's own resources (stack, default providers). */
function previewResources(stdout: string): Map<string, string> {
    const doc = JSON.parse(stdout) as { steps?: { urn: string; newState?: { type: string; parent?: string } }[] };
    const out = new Map<string, string>();
    for (const s of doc.steps ?? []) {
        const type = s.newState?.type ?? key(s.urn).split("::")[0];
        if (
            type === TYPES.stack ||
            (type.startsWith("pulumi:providers:") && s.urn.split("::")[3].startsWith("default"))
        )
            continue;
        const parent = s.newState?.parent;
        out.set(
            `${key(s.urn)} under ${parent && !parent.includes(`::${TYPES.stack}::`) ? key(parent) : "(stack)"}`,
            type,
        );
    }
    return out;
}

describe("engine: pulumi preview with the policy pack (real CLI, stand-in providers)", () => {
    for (const c of CASES) {
        it(`${c.title}: ${c.rejectedBy ? `rejected by ${c.rejectedBy}` : "passes"}, as in the offline plan`, async () => {
            const offline = await plan(c.stack, c.config);
            assert.equal(offline.run.error, undefined, String(offline.run.error));
            const offlineMandatory = [
                ...new Set(offline.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy)),
            ];
            const lab = new Lab(c.stack);
            try {
                const r = await lab.run("preview", c.config);
                const out = r.stdout + r.stderr;
                if (c.rejectedBy) {
                    assert.notEqual(r.code, 0, transcript(r));
                    assert.match(out, new RegExp(`\\[mandatory\\]${SEVERITY}\\s+${c.rejectedBy}\\s`), transcript(r));
                    assert.ok(
                        offlineMandatory.includes(c.rejectedBy),
                        `the offline plan does not reject it with ${c.rejectedBy}: ${offlineMandatory}`,
                    );
                } else {
                    assert.equal(r.code, 0, transcript(r));
                    assert.doesNotMatch(out, /\[mandatory\]/, transcript(r));
                    assert.deepEqual(offlineMandatory, []);
                }
                // The same mandatory verdicts, policy by policy.
                for (const policy of offlineMandatory)
                    assert.match(
                        out,
                        new RegExp(`\\[mandatory\\][^\\n]*${policy}`),
                        `${policy} (offline plan) missing from the engine's preview\n${transcript(r)}`,
                    );
                const engineMandatory = [
                    ...out.matchAll(new RegExp(`\\[mandatory\\]${SEVERITY}\\s+([a-z0-9-]+)`, "g")),
                ].map((m) => m[1]);
                assert.deepEqual([...new Set(engineMandatory)].sort(), [...offlineMandatory].sort(), transcript(r));
            } finally {
                lab.dispose();
            }
        });
    }

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: the engine's preview and the offline plan register the same resources (type, name, parent)`, async () => {
            const offline = await plan(stack, {});
            const expected = new Map(
                offline.run.resources.map((r) => [`${key(r.urn)} under ${key(r.parent)}`, r.type]),
            );
            const lab = new Lab(stack);
            try {
                const r = await lab.run("preview", {}, ["--json"]);
                assert.equal(r.code, 0, transcript(r));
                const actual = previewResources(r.stdout);
                const missing = [...expected.keys()].filter((u) => !actual.has(u));
                const extra = [...actual.keys()].filter((u) => !expected.has(u));
                assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
                for (const [urn, type] of expected) assert.equal(actual.get(urn), type, urn);
            } finally {
                lab.dispose();
            }
        });
    }
});
