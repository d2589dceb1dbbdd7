// How long the offline plan takes next to merely loading the SDKs it uses (issue 11's budget:
// at most 1.3 times). Runs package.json's `plan` command (without npm's start-up), a bare
// `node -e` requiring the same SDKs, and the SDK's floor (tools/sdkFloor.js: the same SDKs, then as
// many registrations of each kind as the plan makes, under the SDK's mock runtime, with none of
// this project's code), in turn, and reports medians of wall and CPU time, so that a load change
// on a shared machine hits every side alike.
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
    floor: Sample;
    /** What the floor registered, counted in the plan's resources. */
    registrations: RegistrationCounts;
    /** plan / sdk, medians of wall time. */
    wallRatio: number;
    cpuRatio?: number;
    /** floor / sdk, medians of wall time: what the SDK alone needs for the plan's registrations. */
    floorRatio: number;
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

/** Runs argv from the repository's root; the plan exits 1 on a mandatory violation: still a complete plan. */
function run(argv: string[]): { stdout: string; stderr: string } {
    const r = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (r.status !== 0 && r.status !== 1)
        throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr.slice(-500)}`);
    return r;
}

function measure(args: string[]): Sample {
    const timed = existsSync(TIME);
    const argv = timed ? [TIME, "-f", "%e %U %S", process.execPath, ...args] : [process.execPath, ...args];
    const start = process.hrtime.bigint();
    const r = run(argv);
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
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

export interface RegistrationCounts {
    custom: number;
    components: number;
    dynamic: number;
}

/** The plan's registrations by kind, from `plan --json` (types as the SDK registers them). */
export function countRegistrations(types: string[]): RegistrationCounts {
    const dynamic = types.filter((t) => t.startsWith("pulumi-nodejs:dynamic:")).length;
    const components = types.filter((t) => t.startsWith("k8s-ha:")).length;
    return { custom: types.length - dynamic - components, components, dynamic };
}

function planRegistrations(stack: string): RegistrationCounts {
    const { stdout } = run([process.execPath, ...planCommand(stack), "--json"]);
    const { resources } = JSON.parse(stdout) as { resources: { type: string }[] };
    return countRegistrations(resources.map((x) => x.type));
}

type Side = "plan" | "sdk" | "floor";

/** Runs plan, SDK load and floor `rounds` times each, the order rotating every round. */
export function measureSpeed(rounds: number, stack = "prod"): SpeedReport {
    const registrations = planRegistrations(stack);
    const { custom, components, dynamic } = registrations;
    const sdkArgs = ["-e", `for (const m of ${JSON.stringify(SDKS)}) require(m)`];
    const floorArgs = [
        join(ROOT, "tools", "sdkFloor.js"),
        JSON.stringify(SDKS),
        ...[custom, components, dynamic].map(String),
    ];
    const samples: Record<Side, Sample[]> = { plan: [], sdk: [], floor: [] };
    const commands: [Side, string[]][] = [
        ["plan", planCommand(stack)],
        ["sdk", sdkArgs],
        ["floor", floorArgs],
    ];
    const load0 = existsSync("/proc/loadavg") ? loadAverage() : NaN;
    for (let i = 0; i < rounds; i++) {
        for (let j = 0; j < commands.length; j++) {
            const [name, args] = commands[(i + j) % commands.length];
            samples[name].push(measure(args));
        }
    }
    const med = (s: Sample[]): Sample => ({
        wall: median(s.map((x) => x.wall)),
        cpu: s.every((x) => x.cpu !== undefined) ? median(s.map((x) => x.cpu!)) : undefined,
    });
    const p = med(samples.plan);
    const k = med(samples.sdk);
    const fl = med(samples.floor);
    return {
        rounds,
        plan: p,
        sdk: k,
        floor: fl,
        registrations,
        floorRatio: fl.wall / k.wall,
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
                  `  ratio:            ${f(r.wallRatio)} wall, ${f(r.cpuRatio)} CPU\n` +
                  `  SDK floor:        ${f(r.floor.wall)} s wall, ${f(r.floor.cpu)} CPU-s, ${f(r.floorRatio)} × the load ` +
                  `(${r.registrations.custom} custom, ${r.registrations.components} component and ` +
                  `${r.registrations.dynamic} dynamic registrations, none of this project's code)\n`,
    );
}
