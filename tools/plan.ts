// The offline plan: runs the real program under Pulumi's mock runtime in preview mode, evaluates
// the real policy pack on what it registered, prints the plan and exits 0 (no mandatory
// violation), 1 (a mandatory violation) or 2 (the program or its config failed).
//   npm run plan -- --stack <name> [--config key=value]... [--json] [--resources] [--diagram <file.svg>]
//   ... --render DIR: an update-mode run with real cryptography, and what every node receives
//   written into DIR (tools/plan/render.ts); the exit code is the plan's.
//   ... --render DIR --state FILE [--replace-type TYPE]...: the tls resources keep what FILE holds
//   (written by a previous such render; a missing FILE is a first `pulumi up`) and FILE is then
//   written back, as Pulumi's state keeps them between runs; every resource of a replaced type is
//   issued anew, as `pulumi up --replace=<its urn>` (the rotation runbook replaces every
//   LocallySignedCert: CAs, keys and CSRs kept, leaves re-issued).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { createColors } from "picocolors";
import { evaluatePolicies, loadPolicyConfig, type RecordedResource as PolicyResource } from "./harness/analyzer";
import { runProgram, type ProgramRun, type RunOptions } from "./harness/program";
import { listStacks } from "./harness/stackConfig";
import { readTlsState, writeTlsState, type TlsState } from "./harness/tlsEmulator";
import { redact } from "./harness/values";
import { TYPES } from "../policies/lib/contract";
import { architectureOf, renderDiagram } from "./plan/diagram";
import { assertEmptyTarget, renderNodes } from "./plan/render";
import { renderBootstrapOrder, renderLayout, renderTree, renderViolations, type Violation } from "./plan/report";

const USAGE =
    "usage: npm run plan -- --stack <name> [--config key=value]... [--json] [--resources] [--diagram <file.svg>] [--render <dir> [--state <file> [--replace-type <tls type>]...]]";

/** The tls types a render can replace (`--replace-type`): those the emulator issues. */
const TLS_TYPES: readonly string[] = [
    TYPES.privateKey,
    TYPES.selfSignedCert,
    TYPES.certRequest,
    TYPES.locallySignedCert,
];

/** `--config` values parse as JSON when they can (lists, numbers, booleans), else stay strings. */
export function parseConfigFlags(flags: readonly string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const flag of flags) {
        const eq = flag.indexOf("=");
        if (eq <= 0) throw new Error(`--config takes key=value, got '${flag}'`);
        const text = flag.slice(eq + 1);
        let value: unknown = text;
        try {
            value = JSON.parse(text);
        } catch {
            // a plain string
        }
        out[flag.slice(0, eq)] = value;
    }
    return out;
}

export interface PlanOptions extends Pick<RunOptions, "preview" | "mocks"> {
    /** What runs the program: runProgram, or in the specs a run shared with other specs (tools/harness/sharedRun.ts). */
    runner?: (options: RunOptions) => Promise<ProgramRun>;
}

export interface Plan {
    readonly run: ProgramRun;
    readonly violations: Violation[];
}

/**
 * Runs the program and the pack for one stack: a preview, or with `preview: false` an update
 * (every output computed, real cryptography). Throws only for a bad command line or policy config.
 */
export async function plan(stack: string, config: Record<string, unknown>, options: PlanOptions = {}): Promise<Plan> {
    const run = await (options.runner ?? runProgram)({
        stack,
        config,
        preview: options.preview ?? true,
        mocks: options.mocks,
    });
    if (run.error) return { run, violations: [] };
    const resources: PolicyResource[] = run.resources.map((r) => ({
        urn: r.urn,
        type: r.type,
        name: r.name,
        inputs: r.wireInputs,
        outputs: r.wireOutputs,
        parent: r.parent,
        dependencies: r.dependencies,
        propertyDependencies: r.propertyDependencies,
        protect: r.protect,
        opts: {
            protect: r.protect,
            ignoreChanges: r.ignoreChanges,
            additionalSecretOutputs: r.additionalSecretOutputs,
            deleteBeforeReplace: r.deleteBeforeReplace,
        },
    }));
    const result = await evaluatePolicies(resources, { config: loadPolicyConfig(stack) });
    const violations = result.diagnostics.map((d) => ({
        policy: d.policyName,
        enforcementLevel: d.enforcementLevel,
        message: d.message,
        urn: d.urn,
    }));
    return { run, violations };
}

export function toJson(p: Plan): string {
    return JSON.stringify(
        {
            stack: p.run.stack,
            resources: p.run.resources.map((r) => ({
                urn: r.urn,
                type: r.type,
                name: r.name,
                parent: r.parent ?? null,
                dependencies: r.dependencies,
                inputs: redact(r.inputs),
            })),
            violations: p.violations.map((v) => ({
                policy: v.policy,
                enforcementLevel: v.enforcementLevel,
                message: v.message,
                urn: v.urn ?? null,
            })),
            ...(p.run.error ? { error: p.run.error.message } : {}),
        },
        null,
        2,
    );
}

export function toText(p: Plan, color: boolean, full: boolean): string {
    const c = createColors(color);
    const { run } = p;
    const mode = run.preview ? "preview" : "update (real cryptography)";
    const head = `${c.bold("Offline plan")} · stack ${c.cyan(run.stack)} · ${run.resources.length} resources · ${mode} under Pulumi's mock runtime (no cloud)`;
    if (run.error) return `${head}\n\n${c.red(c.bold("The program failed:"))}\n${run.error.message}\n`;
    const sections: [string, string | undefined][] = [
        ["Resources", renderTree(run, c, full)],
        ["Control-plane layout", renderLayout(run, c)],
        ["Bootstrap order", renderBootstrapOrder(run, c)],
        ["Policies", renderViolations(p.violations, c)],
    ];
    const mandatory = p.violations.filter((v) => v.enforcementLevel === "mandatory").length;
    const verdict =
        mandatory > 0
            ? c.red(
                  c.bold(
                      `✗ ${mandatory} mandatory violation${mandatory === 1 ? "" : "s"}: this plan would be rejected`,
                  ),
              )
            : c.green(c.bold("✓ no mandatory violation"));
    return (
        [
            head,
            ...sections.filter(([, body]) => body).map(([title, body]) => `${c.bold(c.underline(title))}\n${body}`),
            verdict,
        ].join("\n\n") + "\n"
    );
}

/** Where the command line writes: the process's streams, or in the specs buffers. */
export interface PlanIo {
    stdout: { write(text: string): unknown; isTTY?: boolean };
    stderr: { write(text: string): unknown };
    /** NO_COLOR and friends. */
    env: Record<string, string | undefined>;
    runner?: PlanOptions["runner"];
}

/** The command line: writes the plan and returns the exit code (0, 1 or 2). */
export async function main(
    argv: string[],
    io: PlanIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
    const { stdout, stderr } = io;
    let args;
    try {
        args = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" },
                config: { type: "string", multiple: true },
                json: { type: "boolean" },
                resources: { type: "boolean" },
                diagram: { type: "string" },
                render: { type: "string" },
                state: { type: "string" },
                "replace-type": { type: "string", multiple: true },
                help: { type: "boolean" },
            },
        });
    } catch (err) {
        stderr.write(`${(err as Error).message}\n${USAGE}\n`);
        return 2;
    }
    if (args.values.help) {
        stdout.write(`${USAGE}\nstacks: ${listStacks().join(", ")}\n`);
        return 0;
    }
    if (!args.values.stack) {
        stderr.write(`--stack is required (stacks: ${listStacks().join(", ")})\n${USAGE}\n`);
        return 2;
    }
    let result: Plan;
    const renderDir = args.values.render;
    const stateFile = args.values.state;
    const replaceTypes = args.values["replace-type"] ?? [];
    let tlsState: TlsState | undefined;
    try {
        if (stateFile && !renderDir)
            throw new Error(`--state ${stateFile}: a state is kept by renders only; add --render <dir>`);
        if (replaceTypes.length > 0 && !stateFile)
            throw new Error(
                `--replace-type ${replaceTypes.join(", ")}: needs --state <file> (without a kept state every resource is new anyway)`,
            );
        for (const t of replaceTypes)
            if (!TLS_TYPES.includes(t)) throw new Error(`--replace-type ${t}: not one of ${TLS_TYPES.join(", ")}`);
        if (renderDir) assertEmptyTarget(renderDir);
        if (stateFile) tlsState = existsSync(stateFile) ? readTlsState(stateFile) : {};
        result = await plan(args.values.stack, parseConfigFlags(args.values.config ?? []), {
            preview: !renderDir,
            // A run with a state of its own is not shared: it changes that state.
            runner: tlsState ? undefined : io.runner,
            mocks: tlsState ? { tls: { state: tlsState, replaceTypes } } : undefined,
        });
    } catch (err) {
        stderr.write(`${(err as Error).message}\n`);
        return 2;
    }
    const color = !args.values.json && stdout.isTTY === true && !io.env.NO_COLOR;
    stdout.write(args.values.json ? `${toJson(result)}\n` : toText(result, color, args.values.resources === true));
    if (result.run.error) {
        if (args.values.json) stderr.write(`${result.run.error.message}\n`);
        if (args.values.diagram) stderr.write(`no diagram: the program failed\n`);
        if (renderDir) stderr.write(`nothing rendered: the program failed\n`);
        return 2;
    }
    if (renderDir) {
        const summary = renderNodes(result.run, renderDir);
        stderr.write(`rendered ${summary.files} files for ${summary.nodes.length} nodes into ${renderDir}\n`);
    }
    if (stateFile && tlsState) {
        writeTlsState(stateFile, tlsState);
        const replaced = replaceTypes.length > 0 ? `, ${replaceTypes.join(", ")} issued anew` : "";
        stderr.write(`tls state kept in ${stateFile}${replaced}\n`);
    }
    if (args.values.diagram) {
        const file = args.values.diagram;
        const mandatoryViolations = result.violations.filter((v) => v.enforcementLevel === "mandatory").length;
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, renderDiagram(architectureOf(result.run), { mandatoryViolations }));
        stderr.write(`diagram written to ${file}\n`);
    }
    return result.violations.some((v) => v.enforcementLevel === "mandatory") ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => {
        // The mock runtime leaves handles open, so exit explicitly, but only once stdout is
        // flushed: a pipe is asynchronous and a large --json document would be cut short.
        process.stdout.write("", () => process.exit(code));
    });
}
