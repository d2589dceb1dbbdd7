// policies/README.md's table of rules is what a reviewer reads: it must name every rule of the
// pack, its kind, its default level (and prod's, when the prod config differs) and every knob
// with its default, so that a new rule or a changed level cannot leave it behind.
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { policies } from "../../policies/pack";

const DIR = join(__dirname, "..", "..", "policies");

/** The table's rows by policy name: [kind, default, knobs]. */
function readmeRows(): Map<string, string[]> {
    const rows = new Map<string, string[]>();
    for (const line of readFileSync(join(DIR, "README.md"), "utf8").split("\n")) {
        const cells = /^\| ([a-z0-9-]+) \|(.*)\|$/.exec(line);
        if (cells)
            rows.set(
                cells[1],
                cells[2].split(" | ").map((c) => c.trim()),
            );
    }
    return rows;
}

describe("policies/README.md's table of rules", () => {
    const rows = readmeRows();
    const prod = JSON.parse(readFileSync(join(DIR, "config.prod.json"), "utf8")) as Record<
        string,
        { enforcementLevel?: string }
    >;

    it("has one row per rule of the pack, and none for a rule it does not have", () => {
        assert.deepEqual([...rows.keys()].sort(), policies.map((p) => p.name).sort());
    });

    for (const p of policies) {
        it(`${p.name}: its kind, default level (prod's when it differs) and knobs with their defaults`, () => {
            const [kind, level, knobs] = rows.get(p.name) ?? [];
            assert.equal(kind, "validateStack" in p ? "stack" : "resource", "kind");
            const prodLevel = prod[p.name]?.enforcementLevel;
            const expected =
                prodLevel && prodLevel !== p.enforcementLevel
                    ? `${p.enforcementLevel} (prod: ${prodLevel})`
                    : p.enforcementLevel;
            assert.equal(level, expected, "default level");
            const props = (p.configSchema?.properties ?? {}) as Record<string, { default?: unknown }>;
            for (const [knob, schema] of Object.entries(props)) {
                if (knob === "enforcementLevel") continue;
                const shown = `${knob} (${JSON.stringify(schema.default).replace(/,(?=\S)/g, ", ")})`;
                assert.ok(knobs.includes(shown), `knob ${shown} missing from "${knobs}"`);
            }
        });
    }
});
