// The shared whole-program runs (tools/harness/sharedRun.ts): one run per configuration, read-only.
import { strict as assert } from "node:assert";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { runProgram } from "../tools/harness/program";
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

describe("whole-program runs: stack traces", () => {
    const program = require.resolve("./fixtures/stackTraceProgram");

    it("are off while the program runs (the SDK formats one per promise) and restored after", async () => {
        const before = Error.stackTraceLimit;
        const run = await runProgram({ stack: "dev", program });
        assert.ifError(run.error);
        assert.equal(run.outputs.stackTraceLimit.value, 0, "at load");
        assert.equal(run.outputs.later.value, 0, "in an apply");
        assert.equal(Error.stackTraceLimit, before);
        assert.ok(before > 0, "mocha runs with Infinity");
    });

    it("the limit found before a whole run is the one after it, whatever the SDK or TypeScript set meanwhile", async () => {
        const outside = Error.stackTraceLimit;
        Error.stackTraceLimit = 7;
        try {
            const run = await runProgram({ stack: "dev" });
            assert.ifError(run.error);
            assert.ok(run.resources.length > 100);
            assert.equal(Error.stackTraceLimit, 7);
        } finally {
            Error.stackTraceLimit = outside;
        }
    });

    it("a program's error keeps its message, and the limit is restored after it", async () => {
        const before = Error.stackTraceLimit;
        const run = await runProgram({ stack: "dev", program, config: { "k8s-ha-control-plane:fail": "true" } });
        assert.match(String(run.error), /the program's own message/);
        assert.equal(Error.stackTraceLimit, before);
    });
});

describe("whole-program runs: memory", () => {
    const program = require.resolve("./fixtures/stackTraceProgram");

    /** A run whose program module only a weak reference holds once the call returns. */
    async function runAndWatch(): Promise<WeakRef<object>> {
        const run = await runProgram({ stack: "dev", program });
        assert.ifError(run.error);
        return new WeakRef(require.cache[program]!.exports as object);
    }

    it("keeps no earlier run's program alive (Node kept every module required anew in its parent's children)", async () => {
        const first = await runAndWatch();
        await runAndWatch();
        setFlagsFromString("--expose-gc");
        const gc = runInNewContext("gc") as () => void;
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        assert.equal(first.deref(), undefined, "the first run's program is still reachable");
    });
});
