// The engine lane: the real Pulumi CLI (built from Go modules into .lab/bin by `npm run lab:tools`)
// on a local file backend, against stand-in provider plugins (tools/engine/providers) and the
// project's policy pack.
//   npm run engine -- <preview|up|destroy|refresh> --stack S [--config k=v]... [--state DIR] [-- <pulumi flags>]
// - backend: file://DIR/backend (default DIR: .lab/state), passphrase secrets provider;
// - the stand-ins' "cloud" (aws objects, the command journal) lives in DIR/cloud;
// - the stack's configuration plus the overrides go to a copy (DIR/config/Pulumi.S.yaml) passed
//   with --config-file: Pulumi.S.yaml is never written;
// - preview and up run with --policy-pack policies --policy-pack-config policies/config.S.json;
// - PULUMI_HOME is .lab/pulumi-home: nothing touches ~/.pulumi; no update checks, no plugin downloads.
// The exit code is the CLI's (2 for this wrapper's own usage errors).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { parseConfigFlags } from "../plan";
import { readProject } from "../harness/stackConfig";

export const ROOT = resolve(__dirname, "..", "..");
/** Where `npm run lab:tools` puts the CLI (K8S_HA_LAB_BIN overrides it, for the specs of a missing CLI). */
export const LAB_BIN = process.env.K8S_HA_LAB_BIN ?? join(ROOT, ".lab", "bin");
export const PULUMI = join(LAB_BIN, "pulumi");
export const LANGUAGE_HOST = join(LAB_BIN, "pulumi-language-nodejs");
export const STAND_INS = join(ROOT, "tools", "engine", "plugins");
/** Where @pulumi/pulumi keeps pulumi-resource-pulumi-nodejs, the host of dynamic providers. */
export const DYNAMIC_PROVIDER_DIR = join(ROOT, "node_modules", "@pulumi", "pulumi");
export const DEFAULT_STATE = join(ROOT, ".lab", "state");
/** The lab's passphrase: the state is a local test fixture, never a real stack's. */
export const LAB_PASSPHRASE = "k8s-ha engine lane";

const USAGE =
    "usage: npm run engine -- <preview|up|destroy|refresh> --stack S [--config k=v]... [--state DIR] [-- <pulumi flags>]";
const COMMANDS = ["preview", "up", "destroy", "refresh"] as const;
export type EngineCommand = (typeof COMMANDS)[number];

export interface EngineOptions {
    command: EngineCommand;
    stack: string;
    config?: Record<string, unknown>;
    state?: string;
    /** More flags for the CLI (`--target`, `--diff`, `--json`, ...). */
    extra?: string[];
}

export class MissingToolsError extends Error {}

/** The environment the CLI runs in: stand-ins and our language host first on PATH. */
export function engineEnv(state: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.PULUMI_IGNORE_AMBIENT_PLUGINS;
    delete env.PULUMI_ACCESS_TOKEN;
    delete env.PULUMI_BACKEND_URL;
    return {
        ...env,
        // The SDK's own dynamic-provider host (pulumi-resource-pulumi-nodejs, which the CLI's
        // distribution also ships) serves the program's dynamic resources: it is no stand-in.
        PATH: [STAND_INS, LAB_BIN, DYNAMIC_PROVIDER_DIR, env.PATH ?? ""].join(delimiter),
        PULUMI_HOME: join(ROOT, ".lab", "pulumi-home"),
        PULUMI_BACKEND_URL: `file://${join(state, "backend")}`,
        PULUMI_CONFIG_PASSPHRASE: env.PULUMI_CONFIG_PASSPHRASE ?? LAB_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        // The program is type-checked by `npm test` (tsc); here ts-node only transpiles, as the
        // offline plan's sucrase does.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        K8S_HA_ENGINE_CLOUD_DIR: join(state, "cloud"),
    };
}

export function checkTools(): void {
    const missing = [PULUMI, LANGUAGE_HOST].filter((f) => !existsSync(f));
    if (missing.length) {
        throw new MissingToolsError(
            `the Pulumi CLI and its Node.js language host are not built (${missing.join(", ")} missing): run \`npm run lab:tools\``,
        );
    }
}

/** Writes DIR/config/Pulumi.S.yaml: the stack file plus overrides, and the stack's salt. */
export function writeConfigCopy(stack: string, overrides: Record<string, unknown>, state: string): string {
    const project = readProject().name;
    const source = join(ROOT, `Pulumi.${stack}.yaml`);
    const doc = (existsSync(source) ? parse(readFileSync(source, "utf8")) : {}) ?? {};
    const config: Record<string, unknown> = { ...(doc.config ?? {}) };
    for (const [key, value] of Object.entries(overrides)) config[key.includes(":") ? key : `${project}:${key}`] = value;
    const saltFile = join(state, "stacks", stack, `Pulumi.${stack}.yaml`);
    const salt = existsSync(saltFile) ? (parse(readFileSync(saltFile, "utf8")) ?? {}).encryptionsalt : undefined;
    const dir = join(state, "config");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `Pulumi.${stack}.yaml`);
    // Every string double-quoted: the CLI reads YAML 1.1, where an unquoted 2026-11-29 is a timestamp.
    writeFileSync(
        file,
        stringify(
            { ...(salt ? { encryptionsalt: salt } : {}), config },
            { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" },
        ),
    );
    return file;
}

/**
 * Creates the stack in the backend once, for stacks that have a Pulumi.S.yaml. `stack init` writes
 * the passphrase salt into the stack file of its working directory, so it runs in a scratch copy of
 * the project file (same project name, same stack in the backend), never in the repository.
 */
export function ensureStack(stack: string, state: string, env: NodeJS.ProcessEnv): void {
    if (!existsSync(join(ROOT, `Pulumi.${stack}.yaml`))) return; // the CLI names the unknown stack
    const scratch = join(state, "stacks", stack);
    const project = readProject().name;
    if (
        existsSync(join(state, "backend", ".pulumi", "stacks", project, `${stack}.json`)) &&
        existsSync(join(scratch, `Pulumi.${stack}.yaml`))
    )
        return;
    mkdirSync(scratch, { recursive: true });
    writeFileSync(join(scratch, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
    const r = spawnSync(PULUMI, ["stack", "init", stack, "--secrets-provider", "passphrase", "--non-interactive"], {
        cwd: scratch,
        env,
        encoding: "utf8",
    });
    if (r.status !== 0 && !/already exists/.test(r.stderr))
        throw new Error(`pulumi stack init ${stack} failed:\n${r.stdout}${r.stderr}`);
}

/** The CLI's arguments for one command. */
export function cliArgs(o: EngineOptions, configFile: string): string[] {
    const args: string[] = [o.command, "--stack", o.stack, "--config-file", configFile, "--non-interactive"];
    if (o.command === "preview" || o.command === "up") {
        args.push(
            "--policy-pack",
            join(ROOT, "policies"),
            "--policy-pack-config",
            join(ROOT, "policies", `config.${o.stack}.json`),
        );
    }
    if (o.command !== "preview") args.push("--yes");
    return [...args, ...(o.extra ?? [])];
}

export interface EngineRun {
    code: number;
    stdout: string;
    stderr: string;
}

/** The processes (pids) whose environment carries `entry` ("KEY=value"), this one aside: Linux's /proc. */
function processesWithEnv(entry: string): number[] {
    const pids: number[] = [];
    for (const name of readdirSync("/proc")) {
        const pid = Number(name);
        if (!Number.isInteger(pid) || pid === process.pid) continue;
        try {
            if (readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(entry)) pids.push(pid);
        } catch {
            // gone meanwhile, or not ours to read
        }
    }
    return pids;
}

/** The processes running on this state's backend: only a run on it carries its URL in their environment. */
export function processesOnState(state: string): number[] {
    return processesWithEnv(`PULUMI_BACKEND_URL=${engineEnv(state).PULUMI_BACKEND_URL}`);
}

/**
 * Stops what the CLI left running on this state's backend, and returns how many. The CLI starts
 * each plugin in a process group of its own and, when it fails early (a stack it does not know),
 * can exit before it stops the language host it started: that host then outlives it for good.
 */
export async function stopLeftovers(state: string): Promise<number> {
    const left = processesOnState(state);
    if (left.length === 0) return 0;
    const signal = (pid: number, sig: NodeJS.Signals) => {
        try {
            process.kill(pid, sig);
        } catch {
            // already gone
        }
    };
    for (const pid of left) signal(pid, "SIGTERM");
    for (let waited = 0; waited < 2000 && processesOnState(state).length > 0; waited += 100)
        await new Promise((r) => setTimeout(r, 100));
    for (const pid of processesOnState(state)) signal(pid, "SIGKILL");
    return left.length;
}

/** Runs one CLI command; `inherit` streams its output instead of capturing it. */
export async function runEngine(o: EngineOptions, inherit = false): Promise<EngineRun> {
    checkTools();
    const state = resolve(o.state ?? DEFAULT_STATE);
    const env = engineEnv(state);
    mkdirSync(join(state, "backend"), { recursive: true });
    mkdirSync(env.PULUMI_HOME!, { recursive: true });
    ensureStack(o.stack, state, env);
    const configFile = writeConfigCopy(o.stack, o.config ?? {}, state);
    return new Promise((done) => {
        const child = spawn(PULUMI, cliArgs(o, configFile), { cwd: ROOT, env, stdio: inherit ? "inherit" : "pipe" });
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (d) => (stdout += d));
        child.stderr?.on("data", (d) => (stderr += d));
        child.on("close", (code, signal) =>
            stopLeftovers(state).then(() => done({ code: code ?? (signal ? 128 : 1), stdout, stderr })),
        );
    });
}

async function main(argv: string[]): Promise<number> {
    const dash = argv.indexOf("--");
    const extra = dash >= 0 ? argv.slice(dash + 1) : [];
    let args;
    try {
        args = parseArgs({
            args: dash >= 0 ? argv.slice(0, dash) : argv,
            allowPositionals: true,
            options: {
                stack: { type: "string" },
                config: { type: "string", multiple: true },
                state: { type: "string" },
                help: { type: "boolean" },
            },
        });
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
        return 2;
    }
    if (args.values.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const command = args.positionals[0] as EngineCommand;
    if (!COMMANDS.includes(command) || args.positionals.length !== 1 || !args.values.stack) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
    }
    try {
        const config = parseConfigFlags(args.values.config ?? []);
        const r = await runEngine({ command, stack: args.values.stack, config, state: args.values.state, extra }, true);
        return r.code;
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        return 2;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code));
}
