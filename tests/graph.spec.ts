// The resource graph the program registers for dev and prod, kept under tests/golden/graph/: every
// resource with its parent, dependencies, property dependencies, resource options, and a digest of
// each input as the plan's --json prints it (secrets redacted). A refactor of how resources are
// built (the bootstrap's step table, say) must leave it as it is; a change of what the program
// builds updates it deliberately, reviewed in its diff:
//   UPDATE_GOLDEN=1 npx mocha tests/graph.spec.ts      (npm run golden:update)
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RecordedResource } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { redact } from "../tools/harness/values";

const GOLDEN_DIR = join(__dirname, "golden", "graph");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/**
 * One input's digest: short, but any changed byte of it changes the digest. What differs from one
 * run to the next (what derives from the keys the update mode generates: PEM blocks, the CA's
 * discovery hash, certificate fingerprints, the SSH public key) is replaced by a placeholder
 * first: PEM blocks, then every run of 40 or more base64 or hex characters.
 */
const digest = (value: unknown) =>
    createHash("sha256")
        .update(
            (JSON.stringify(value) ?? "undefined")
                .replace(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g, "<pem $1>")
                .replace(/[A-Za-z0-9+/]{40,}={0,2}/g, "<random>"),
        )
        .digest("hex")
        .slice(0, 16);

/** "type::name" of a URN (its stack, project and parent types are the same or kept in parent). */
const short = (urn: string) => {
    const [, , types, name] = urn.split("::");
    return `${types.split("$").pop()}::${name}`;
};

/** A resource as the golden keeps it: everything that makes the graph, inputs as digests. */
export function graphEntry(r: RecordedResource): Record<string, unknown> {
    const inputs = redact(r.inputs) as Record<string, unknown>;
    return {
        urn: short(r.urn),
        parent: r.parent ? short(r.parent) : null,
        dependencies: r.dependencies.map(short),
        propertyDependencies: Object.fromEntries(
            Object.entries(r.propertyDependencies).map(([k, urns]) => [k, urns.map(short)]),
        ),
        options: {
            protect: r.protect,
            deleteBeforeReplace: r.deleteBeforeReplace,
            replaceWith: r.replaceWith.map(short),
            ignoreChanges: r.ignoreChanges,
            additionalSecretOutputs: r.additionalSecretOutputs,
            provider: r.provider ?? null,
        },
        // A dynamic resource's __provider is its provider's code as serialized by the SDK: its
        // text depends on the TypeScript transpiler that loaded it (ts-node here, sucrase in npm test).
        inputs: Object.fromEntries(
            Object.keys(inputs)
                .sort()
                .map((k) => [k, k === "__provider" ? "<serialized dynamic provider>" : digest(inputs[k])]),
        ),
    };
}

/** The graph in URN order: the order of registration is not part of it. */
function graphOf(resources: readonly RecordedResource[]): Record<string, unknown>[] {
    return resources.map(graphEntry).sort((a, b) => String(a.urn).localeCompare(String(b.urn)));
}

describe("the recorded resource graph (tests/golden/graph)", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: the same resources, parents, dependencies, options and inputs as the golden`, async () => {
            // Update mode: every input known, so that script texts count too.
            const run = await sharedRun({ stack, preview: false });
            assert.ifError(run.error);
            const graph = graphOf(run.resources);
            assert.equal(
                new Set(graph.map((e) => e.urn)).size,
                graph.length,
                "type and name tell every resource apart",
            );
            const file = join(GOLDEN_DIR, `${stack}.json`);
            if (UPDATE) {
                mkdirSync(GOLDEN_DIR, { recursive: true });
                writeFileSync(file, `${JSON.stringify(graph, null, 1)}\n`);
            }
            const golden = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>[];
            const urns = (g: Record<string, unknown>[]) => g.map((e) => String(e.urn));
            assert.deepEqual(
                urns(graph).filter((u) => !urns(golden).includes(u)),
                [],
                "resources the golden does not have",
            );
            assert.deepEqual(
                urns(golden).filter((u) => !urns(graph).includes(u)),
                [],
                "resources of the golden no longer registered",
            );
            // One resource at a time, so that a failure names it.
            golden.forEach((expected, i) => assert.deepEqual(graph[i], expected, String(expected.urn)));
        });
    }
});
