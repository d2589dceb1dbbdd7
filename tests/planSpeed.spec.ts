// npm run plan:speed's pieces: the plan's registrations counted by kind, and the SDK floor that
// registers as many with none of this project's code (tools/sdkFloor.js).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { TYPES } from "../policies/lib/contract";
import { runProgram } from "../tools/harness/program";
import { countRegistrations } from "../tools/planSpeed";

const FLOOR = join(__dirname, "..", "tools", "sdkFloor.js");
const floor = (...args: string[]) => spawnSync(process.execPath, [FLOOR, ...args], { encoding: "utf8" });

describe("plan:speed", () => {
    it("counts the plan's registrations as custom, component (this project's types) and dynamic", () => {
        assert.deepEqual(
            countRegistrations([
                "k8s-ha:index:Cluster",
                TYPES.vpc,
                TYPES.apiEndpointGuard,
                TYPES.kubernetesProvider,
                "k8s-ha:network:Network",
                TYPES.privateKey,
            ]),
            { custom: 3, components: 2, dynamic: 1 },
        );
    });

    it("the floor registers what it is told through the SDK's mock runtime, as deep in stack traces as a harness run, and refuses bad counts", async () => {
        const run = await runProgram({ stack: "dev", program: require.resolve("./fixtures/stackTraceProgram") });
        assert.ifError(run.error);
        const ok = floor("[]", "3", "2", "1");
        assert.equal(ok.status, 0, ok.stderr);
        assert.equal(ok.stdout, `6 registrations resolved, stack traces ${run.outputs.later.value} deep\n`);
        for (const bad of [
            ["[]", "3", "x", "1"],
            ["{}", "3", "2", "1"],
            ["[]", "-1", "0", "0"],
        ]) {
            const r = floor(...bad);
            assert.notEqual(r.status, 0, bad.join(" "));
            assert.match(r.stderr, /usage: node tools\/sdkFloor\.js SDKS_JSON CUSTOM COMPONENTS DYNAMIC/);
        }
    });
});
