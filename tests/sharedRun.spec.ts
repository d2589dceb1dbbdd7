// The shared whole-program runs (tools/harness/sharedRun.ts): one run per configuration, read-only.
import { strict as assert } from "node:assert";
import { sharedRun } from "../tools/harness/sharedRun";

describe("shared program runs", () => {
    it("the same configuration, however written, is one run; another configuration is another", async () => {
        const a = await sharedRun({ stack: "dev" });
        assert.ifError(a.error);
        assert.equal(await sharedRun({ config: {}, preview: true, stack: "dev" }), a);
        const bad = await sharedRun({ stack: "dev", config: { controlPlaneCount: "three", workerCount: 1 } });
        assert.notEqual(bad, a);
        assert.equal(
            await sharedRun({ stack: "dev", config: { workerCount: 1, controlPlaneCount: "three" } }),
            bad,
            "key order does not matter",
        );
        assert.match(String(bad.error), /controlPlaneCount/);
    });

    it("a shared run cannot be changed by the spec that reads it", async () => {
        const run = await sharedRun({ stack: "dev" });
        const first = run.resources[0];
        assert.throws(() => run.resources.push(first), TypeError);
        assert.throws(() => {
            (first as { name: string }).name = "changed";
        }, TypeError);
        assert.throws(() => {
            (first.inputs as Record<string, unknown>).extra = 1;
        }, TypeError);
    });
});
