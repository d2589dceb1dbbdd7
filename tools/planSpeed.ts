// How long the offline plan takes next to merely loading the SDKs it uses (issue 11's budget:
// at most 1.3 times). Runs package.json's `plan` command (without npm's start-up) and a bare
// `node -e` requiring the same SDKs, alternately, and reports medians of wall and CPU time, so
// that a load change on a shared machine hits both sides alike.
//   node -r ./tools/ts-register.js tools/planSpeed.ts [--rounds N] [--stack S] [--json]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const ROOT = join(__dirname, "..");
/** What the plan loads from npm: the program's SDKs and the policy pack's. */
export const SDKS = [
    "@pulumi/pulumi",
    "@pulumi/aws",
    "@pulumi/kubernetes",
    "@pulumi/command",
    "@pulumi/tls",
    "@pulumi/random",
    "@pulumi/policy",
];

export interface Sample {
    /** Seconds of wall time. */
    wall: number;
    /** CPU seconds (user + system) when /usr/bin/time can tell, else undefined. */
    cpu?: number;
}

export interface SpeedReport {
    rounds: number;
    plan: Sample;
    sdk: Sample;
    /** plan / sdk, medians of wall time. */
    wallRatio: number;
    cpuRatio?: number;
    /** Load average (1 min) before and after. */
    load: [number, number];
}

/** The plan's own command line, from package.json's `plan` script. */
export function planCommand(stack: string): string[] {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const [bin, ...args] = pkg.scripts.plan.split(/\s+/);
    if (bin !== "node") throw new Error(`the plan script runs ${bin}, not node`);
    return [...args, "--stack", stack];
}

const TIME = "/usr/bin/time";

function measure(args: string[]): Sample {
    const timed = existsSync(TIME);
    const argv = timed ? [TIME, "-f", "%e %U %S", process.execPath, ...args] : [process.execPath, ...args];
    const start = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    // The plan exits 1 on a mandatory violation: still a complete plan.
    if (r.status !== 0 && r.status !== 1)
        throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr.slice(-500)}`);
    if (!timed) return { wall };
    const [, user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    return { wall, cpu: user + sys };
}

export function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function loadAverage(): number {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

/** Alternates plan and SDK load `rounds` times (the order flips each round). */
export function measureSpeed(rounds: number, stack = "prod"): SpeedReport {
    const sdkArgs = ["-e", `for (const m of ${JSON.stringify(SDKS)}) require(m)`];
    const plan: Sample[] = [];
    const sdk: Sample[] = [];
    const load0 = existsSync("/proc/loadavg") ? loadAverage() : NaN;
    for (let i = 0; i < rounds; i++) {
        if (i % 2 === 0) {
            plan.push(measure(planCommand(stack)));
            sdk.push(measure(sdkArgs));
        } else {
            sdk.push(measure(sdkArgs));
            plan.push(measure(planCommand(stack)));
        }
    }
    const med = (s: Sample[]): Sample => ({
        wall: median(s.map((x) => x.wall)),
        cpu: s.every((x) => x.cpu !== undefined) ? median(s.map((x) => x.cpu!)) : undefined,
    });
    const p = med(plan);
    const k = med(sdk);
    return {
        rounds,
        plan: p,
        sdk: k,
        wallRatio: p.wall / k.wall,
        cpuRatio: p.cpu !== undefined && k.cpu !== undefined ? p.cpu / k.cpu : undefined,
        load: [load0, existsSync("/proc/loadavg") ? loadAverage() : NaN],
    };
}

if (require.main === module) {
    const { values } = parseArgs({
        options: {
            rounds: { type: "string", default: "5" },
            stack: { type: "string", default: "prod" },
            json: { type: "boolean" },
        },
    });
    const r = measureSpeed(Number(values.rounds), values.stack);
    const f = (n: number | undefined) => (n === undefined ? "?" : n.toFixed(2));
    process.stdout.write(
        values.json
            ? `${JSON.stringify(r)}\n`
            : `medians of ${r.rounds} alternated runs (load ${f(r.load[0])} → ${f(r.load[1])}):\n` +
                  `  plan --stack ${values.stack}: ${f(r.plan.wall)} s wall, ${f(r.plan.cpu)} CPU-s\n` +
                  `  SDK load:         ${f(r.sdk.wall)} s wall, ${f(r.sdk.cpu)} CPU-s\n` +
                  `  ratio:            ${f(r.wallRatio)} wall, ${f(r.cpuRatio)} CPU\n`,
    );
}
