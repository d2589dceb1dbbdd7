// The cloud checks' transformation (components/config.ts afterChecks) on every resource of the
// cluster: each registration waits for the checks and keeps its own dependsOn, and none of it is
// an Output whose value holds resources. The SDK walks every resolved Output value looking for
// unknowns (output.js containsUnknowns), and a resource reaches the whole component tree through
// its parent: one such Output per resource made a run quadratic in the number of resources.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { afterChecks } from "../components/config";

const { gatherExplicitDependencies } = require("@pulumi/pulumi/runtime/dependsOn") as {
    gatherExplicitDependencies(dependsOn: unknown): Promise<pulumi.Resource[]>;
};

/** Passes the SDK's Resource.isInstance, as a registered resource does. */
function fakeResource(name: string): pulumi.Resource {
    return { __pulumiResource: true, name } as unknown as pulumi.Resource;
}

function transformed(
    verified: pulumi.Output<pulumi.Resource[]>,
    dependsOn?: pulumi.ResourceOptions["dependsOn"],
): unknown {
    const result = afterChecks(verified)({
        type: "test:index:Thing",
        name: "thing",
        props: {},
        opts: { dependsOn },
        resource: fakeResource("thing") as pulumi.Resource,
    });
    assert.ok(result, "the transformation returns the resource's arguments");
    return result.opts.dependsOn;
}

/** Every resolved Output value inside dependsOn (arrays and promises followed). */
async function outputValues(value: unknown): Promise<unknown[]> {
    const v = await value;
    if (Array.isArray(v)) return (await Promise.all(v.map(outputValues))).flat();
    if (pulumi.Output.isInstance(v)) return [await (v as unknown as { promise(): Promise<unknown> }).promise()];
    return [];
}

function holdsResource(value: unknown, seen = new Set<unknown>()): boolean {
    if (value === null || typeof value !== "object" || seen.has(value)) return false;
    seen.add(value);
    if (pulumi.Resource.isInstance(value)) return true;
    return Object.values(value).some((v) => holdsResource(v, seen));
}

describe("afterChecks: every resource waits for the cloud checks", () => {
    const a = fakeResource("a");
    const b = fakeResource("b");

    for (const [title, dependsOn, expected] of [
        ["no dependsOn", undefined, []],
        ["one resource", a, [a]],
        ["a list", [a, b], [a, b]],
        ["an Output of a list", pulumi.output([a, b]), [a, b]],
    ] as const) {
        it(`keeps the resource's own dependencies (${title})`, async () => {
            const deps = await gatherExplicitDependencies(
                transformed(
                    pulumi.output(Promise.resolve([] as pulumi.Resource[])),
                    dependsOn as pulumi.ResourceOptions["dependsOn"],
                ),
            );
            assert.deepEqual(deps, expected);
        });
    }

    it("holds no Output whose value holds resources (the SDK would walk the whole tree for each)", async () => {
        const values = await outputValues(transformed(pulumi.output(Promise.resolve([] as pulumi.Resource[])), [a, b]));
        assert.ok(values.length > 0, "the checks' Output is there");
        assert.deepEqual(
            values.filter((v) => holdsResource(v)),
            [],
        );
    });

    it("waits for the checks, and fails when they fail", async () => {
        let pass: (r: pulumi.Resource[]) => void = () => undefined;
        const gathered = gatherExplicitDependencies(
            transformed(pulumi.output(new Promise<pulumi.Resource[]>((resolve) => (pass = resolve))), [a]),
        );
        let done = false;
        void gathered.then(() => (done = true));
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(done, false, "not before the checks pass");
        pass([]);
        assert.deepEqual(await gathered, [a]);

        const failure = new Error("amiId: refuted");
        const failed = pulumi.output(Promise.reject(failure) as Promise<pulumi.Resource[]>);
        await assert.rejects(gatherExplicitDependencies(transformed(failed, [a])), failure);
    });
});
