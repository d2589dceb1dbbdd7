// The offline plan's command line, for the specs. planProcess: `npm run plan`'s own command
// (package.json), without npm's start-up, at most two at once (the machines have two cores).
// planConfiguration: the same command line (tools/plan.ts main) in this process, on a program run
// shared with the other specs that read the configuration (tools/harness/sharedRun.ts): a process
// costs a Node start and the SDKs' load on top of the run. The process's own part (flushing stdout
// before exit) is covered by the specs that call planProcess.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedRun } from "../tools/harness/sharedRun";
import { main } from "../tools/plan";
import { scratchDir } from "./scratch";

export const ROOT = join(__dirname, "..");

export interface ProcessResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface PlanJson {
    stack: string;
    resources: {
        urn: string;
        type: string;
        name: string;
        parent: string | null;
        dependencies: string[];
        inputs: any;
    }[];
    violations: { policy: string; enforcementLevel: string; message: string; urn: string | null }[];
}

/** A configuration's run: exit code, stderr, the --json document and where --diagram drew. */
export interface ConfigurationRun extends ProcessResult {
    json: PlanJson;
    diagramFile: string;
}

const LANES = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function inLane<T>(work: () => Promise<T>): Promise<T> {
    if (running >= LANES) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
        return await work();
    } finally {
        running--;
        waiting.shift()?.();
    }
}

/** Runs the plan exactly as `npm run plan -- <args>` does. */
export function planProcess(args: string[]): Promise<ProcessResult> {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const [bin, ...pre] = pkg.scripts.plan.split(/\s+/);
    assert.equal(bin, "node", "the plan script runs node");
    return inLane(
        () =>
            new Promise((resolve) => {
                execFile(
                    process.execPath,
                    [...pre, ...args],
                    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
                    (err, stdout, stderr) => {
                        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
                    },
                );
            }),
    );
}

let scratch: string | undefined;
const configurations = new Map<string, Promise<ConfigurationRun>>();

/** `plan <args>` in this process: what it writes and its exit code; program runs are shared. */
export async function planInProcess(args: string[]): Promise<ProcessResult> {
    let stdout = "";
    let stderr = "";
    const code = await main(args, {
        stdout: { write: (text: string) => (stdout += text), isTTY: false },
        stderr: { write: (text: string) => (stderr += text) },
        env: {},
        runner: sharedRun,
    });
    return { code, stdout, stderr };
}

/**
 * `plan --stack S [--config k=v]... --json --diagram <scratch>/<n>/nested/S.svg`, once per
 * configuration in this process. The diagram's directory does not exist beforehand.
 */
export function planConfiguration(stack: string, config: string[] = []): Promise<ConfigurationRun> {
    const key = JSON.stringify([stack, config]);
    let run = configurations.get(key);
    if (!run) {
        scratch ??= scratchDir("k8s-ha-plan-cli-");
        const diagramFile = join(scratch, String(configurations.size), "nested", `${stack}.svg`);
        run = planInProcess([
            "--stack",
            stack,
            ...config.flatMap((c) => ["--config", c]),
            "--json",
            "--diagram",
            diagramFile,
        ]).then((r) => {
            try {
                return { ...r, json: JSON.parse(r.stdout) as PlanJson, diagramFile };
            } catch {
                throw new Error(
                    `exit ${r.code}: stdout is not one JSON document:\n${r.stdout.slice(0, 500)}\n${r.stderr}`,
                );
            }
        });
        configurations.set(key, run);
    }
    return run;
}
