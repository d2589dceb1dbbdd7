// The stand-ins' replace rules: one table (tools/engine/providers/replaceRules.ts) that knows every
// input the program sets on every type it uses, and a diff that applies it as the real providers
// do (ForceNew -> replace, unknown ForceNew value -> replace, anything else -> update).
import { strict as assert } from "node:assert";
import { plan } from "../../tools/plan";
import { REPLACE_RULES } from "../../tools/engine/providers/replaceRules";
import { UNKNOWN, diffInputs, secret } from "../../tools/engine/providers/serve";
import { TYPES } from "../../policies/lib/contract";

describe("engine: the stand-ins' replace rules", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every input of every resource type the program uses is in the table`, async () => {
            // With every optional resource: the alert rules and the API's DNS record.
            const p = await plan(stack, {
                alerts: true,
                apiDnsZoneId: "Z0EXAMPLECOM",
                apiDnsName: `api.${stack}.example.com`,
            });
            assert.equal(p.run.error, undefined);
            const unknown: string[] = [];
            // Dynamic resources (pulumi-nodejs:*) are served by the SDK's real dynamic provider, not by a stand-in.
            for (const r of p.run.resources.filter(
                (x) => x.custom && !x.type.startsWith("pulumi:providers:") && !x.type.startsWith("pulumi-nodejs:"),
            )) {
                const rule = REPLACE_RULES[r.type];
                if (!rule) {
                    unknown.push(r.type);
                    continue;
                }
                const known = new Set([...rule.replace, ...rule.update].map((k) => k.split(".")[0]));
                for (const key of Object.keys(r.inputs)) if (!known.has(key)) unknown.push(`${r.type} ${key}`);
            }
            assert.deepEqual([...new Set(unknown)], []);
        });
    }

    const I = TYPES.instance;
    const base = {
        availabilityZone: "us-west-2a",
        instanceType: "t3.medium",
        rootBlockDevice: { encrypted: true, volumeSize: 30 },
        keyName: secret("k"),
    };

    it("a ForceNew input replaces, another updates in place, nested paths too", () => {
        assert.deepEqual(diffInputs(I, base, { ...base, availabilityZone: "us-west-2b" }).replaces, [
            "availabilityZone",
        ]);
        const resize = diffInputs(I, base, { ...base, instanceType: "t3.large" });
        assert.deepEqual(
            [resize.changes, resize.replaces, resize.detailed],
            [true, [], { instanceType: { kind: "UPDATE" } }],
        );
        assert.deepEqual(
            diffInputs(I, base, { ...base, rootBlockDevice: { encrypted: false, volumeSize: 30 } }).replaces,
            ["rootBlockDevice"],
        );
        assert.deepEqual(
            diffInputs(I, base, { ...base, rootBlockDevice: { encrypted: true, volumeSize: 50 } }).replaces,
            [],
        );
        assert.equal(diffInputs(I, base, { ...base }).changes, false, "no change, secrets compared by value");
    });

    it("an unknown ForceNew value replaces; ignoreChanges is honoured", () => {
        assert.deepEqual(diffInputs(I, base, { ...base, availabilityZone: UNKNOWN }).replaces, ["availabilityZone"]);
        assert.equal(
            diffInputs(I, base, { ...base, availabilityZone: "us-west-2b" }, ["availabilityZone"]).changes,
            false,
        );
    });

    it("fails loudly for an unknown type or an input the table does not know, naming it", () => {
        assert.throws(
            () => diffInputs("aws:ebs/volume:Volume", {}, {}),
            /unknown resource type aws:ebs\/volume:Volume/,
        );
        assert.throws(() => diffInputs(I, base, { ...base, somethingNew: 1 }), /input 'somethingNew'/);
    });
});
