import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..");

interface PlanResult {
    code: number;
    json: { stack: string; resources: { urn: string; type: string; name: string; parent: string | null; dependencies: string[]; inputs: any }[]; violations: { policy: string; enforcementLevel: string; message: string; urn: string | null }[] };
    stderr: string;
}

/** Runs the offline plan exactly as the README says, with --json. */
function planCli(stack: string, config: string[] = []): Promise<PlanResult> {
    // The command `npm run plan` runs (package.json), without npm's own start-up.
    const args = ["-r", "sucrase/register/ts", "tools/plan.ts", "--stack", stack, "--json", ...config.flatMap((c) => ["--config", c])];
    return new Promise((resolve, reject) => {
        execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
            try {
                resolve({ code, json: JSON.parse(stdout), stderr });
            } catch {
                reject(new Error(`exit ${code}: stdout is not one JSON document:\n${stdout.slice(0, 500)}\n${stderr}`));
            }
        });
    });
}

const mandatory = (r: PlanResult) => [...new Set(r.json.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy))].sort();

describe("offline plan command line (--json)", function () {
    this.timeout(120_000);

    // Each case: stack, overrides, expected exit code, mandatory policies expected to fail (exactly).
    const cases: [string, string, string[], number, string[]][] = [
        ["dev as committed passes", "dev", [], 0, []],
        ["prod as committed passes", "prod", [], 0, []],
        ["2 control planes fail odd-count (and cannot survive a zone loss)", "dev", ["controlPlaneCount=2"], 1, ["control-plane-az-quorum", "control-plane-odd-count"]],
        ["4 control planes fail odd-count (2,1,1 also loses quorum with zone a)", "dev", ["controlPlaneCount=4"], 1, ["control-plane-az-quorum", "control-plane-odd-count"]],
        ["1 control plane fails in prod", "prod", ["controlPlaneCount=1"], 1, ["control-plane-odd-count"]],
        ["3 in one zone fail multi-az (and quorum)", "dev", ['availabilityZones=["us-west-2a"]'], 1, ["control-plane-az-quorum", "control-plane-multi-az"]],
        ["3 in two zones fail az-quorum", "dev", ['availabilityZones=["us-west-2a","us-west-2b"]'], 1, ["control-plane-az-quorum", "control-plane-multi-az"]],
        ["5 in two zones fail az-quorum", "prod", ['availabilityZones=["us-east-1a","us-east-1b"]'], 1, ["control-plane-az-quorum", "control-plane-multi-az"]],
        ["5 over three zones pass", "dev", ["controlPlaneCount=5"], 0, []],
        ["7 over three zones pass", "prod", ["controlPlaneCount=7"], 0, []],
        ["SSH from the world fails", "dev", ['sshAllowedCidrs=["0.0.0.0/0"]'], 1, ["no-world-open-sensitive-ports"]],
    ];

    const results = new Map<string, Promise<PlanResult>>();
    before(() => {
        // Two at a time: the machines have two cores.
        const chain: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
        cases.forEach(([title, stack, config], i) => {
            const p = chain[i % 2].then(() => planCli(stack, config));
            chain[i % 2] = p.catch(() => undefined);
            results.set(title, p);
        });
    });

    for (const [title, stack, , code, policies] of cases) {
        it(title, async () => {
            const r = await results.get(title)!;
            assert.deepEqual(mandatory(r), [...policies].sort(), JSON.stringify(r.json.violations.filter((v) => v.enforcementLevel === "mandatory"), null, 1));
            assert.equal(r.code, code);
            assert.equal(r.json.stack, stack);
            assert.ok(r.json.resources.length > 50);
        });
    }

    it("prints the documented document: resources with urn, type, name, parent, dependencies, inputs; secrets redacted", async () => {
        const r = await results.get("dev as committed passes")!;
        for (const res of r.json.resources) assert.deepEqual(Object.keys(res), ["urn", "type", "name", "parent", "dependencies", "inputs"]);
        const text = JSON.stringify(r.json);
        assert.ok(!/BEGIN [A-Z ]*PRIVATE KEY/.test(text), "no private key in the plan");
        const cp = r.json.resources.find((x) => x.name === "k8s-dev-cp-0")!;
        assert.equal(cp.inputs.availabilityZone, "us-west-2a");
        assert.equal(cp.inputs.subnetId, "[unknown]", "computed values are unknown in preview");
    });

    it("a bad config value exits 2 and names the key", async () => {
        const r = await planCli("dev", ["controlPlaneCount=eight"]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /controlPlaneCount: "eight" is not allowed; expected an integer/);
        assert.equal(r.json.resources.length, 0);
    });
});
