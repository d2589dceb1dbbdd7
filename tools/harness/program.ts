// Runs the real program (index.ts) under Pulumi's mock runtime and records every resource
// registration as the engine would see it: type, name, URN, parent, dependencies, property
// dependencies, inputs (secrets and unknowns kept as the runtime represents them) and options.
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { realisticMocks, type MockOptions } from "./mocks";
import { ROOT, readProject, stackConfig } from "./stackConfig";
import { settle } from "./values";

const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void>; getMonitor(): unknown };
const rpc = require("@pulumi/pulumi/runtime/rpc") as {
    deserializeProperties(s: unknown, keepUnknowns?: boolean): Record<string, unknown>;
};

export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parent?: string;
    readonly dependencies: string[];
    readonly propertyDependencies: Record<string, string[]>;
    readonly inputs: Record<string, unknown>;
    /** What the (mock) provider returned; in preview only the inputs. */
    readonly outputs: Record<string, unknown>;
    /** Inputs and outputs as on the wire to the engine (what a policy pack is handed). */
    readonly wireInputs: Record<string, unknown>;
    readonly wireOutputs: Record<string, unknown>;
    readonly protect: boolean;
    readonly ignoreChanges: string[];
    readonly additionalSecretOutputs: string[];
    readonly deleteBeforeReplace: boolean;
    /** The resources whose replacement replaces this one too (the replaceWith option). */
    readonly replaceWith: string[];
    readonly provider?: string;
}

export interface StackOutput {
    readonly known: boolean;
    readonly secret: boolean;
    readonly value?: unknown;
}

export interface ProgramRun {
    readonly stack: string;
    readonly project: string;
    readonly preview: boolean;
    readonly config: Record<string, string>;
    readonly resources: RecordedResource[];
    readonly outputs: Record<string, StackOutput>;
    /** The program or its config failed; resources holds what was registered before. */
    readonly error?: Error;
}

export interface RunOptions {
    stack: string;
    /** Overrides on top of Pulumi.yaml defaults and Pulumi.<stack>.yaml (key or namespace:key). */
    config?: Record<string, unknown>;
    /** Preview (default) or update mode. */
    preview?: boolean;
    /** Extra mock behaviour: fixed private addresses, per-type emulations. */
    mocks?: Pick<MockOptions, "privateIps" | "overrides" | "images" | "instances" | "tls">;
    /** The program module; defaults to the project's index.ts. */
    program?: string;
}

/** Runs in progress in this process, and the stack-trace depth to restore when the last ends. */
let runsUnderway = 0;
let stackTraceLimitOutside = Error.stackTraceLimit;

/** Runs the program once and returns everything it registered. Never throws for program errors. */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
    const project = readProject().name;
    const preview = options.preview ?? true;
    const config = stackConfig(options.stack, options.config ?? {});
    const region = config["aws:region"] ?? "us-east-1";

    await pulumi.runtime.setMocks(
        realisticMocks({ preview, region, ...options.mocks }),
        project,
        options.stack,
        preview,
    );
    pulumi.runtime.setAllConfig(config, []);

    const resources: RecordedResource[] = [];
    recordRegistrations(settings.getMonitor(), resources);

    const failures: Error[] = [];
    // A configuration the cloud checks refute (components/config.ts cloudChecks) fails every
    // registration and leaves their outputs unresolved for good: the real language host exits
    // then, and so does this wait instead of waiting for RPCs that never finish.
    let refuted: () => void = () => undefined;
    const configRefuted = new Promise<void>((resolve) => (refuted = resolve));
    const onRejection = (reason: unknown) => {
        failures.push(reason instanceof Error ? reason : new Error(String(reason)));
        if (reason instanceof Error && reason.name === "ConfigError") refuted();
    };
    process.on("unhandledRejection", onRejection);
    // Without an extension: index.ts under ts-node, index.js when compiled.
    const programPath = options.program ?? join(ROOT, "index");
    let exported: Record<string, unknown> = {};
    // The SDK formats a stack trace for every promise and resource it makes (debugging aids and
    // source positions for the engine's display): a third of a mock run's CPU. Nothing here reads
    // them, so they are off while the program runs; errors keep their messages.
    if (runsUnderway++ === 0) {
        stackTraceLimitOutside = Error.stackTraceLimit;
        // Loading TypeScript (the SDK does, to serialize a dynamic provider) raises the limit to
        // 100 for good: loaded first, it cannot raise it in the middle of a run.
        require("@pulumi/pulumi/typescript-shim");
    }
    Error.stackTraceLimit = 0;
    try {
        const resolved = require.resolve(programPath);
        delete require.cache[resolved];
        exported = require(programPath);
        // Node keeps a module required anew in its parent's `children` for good, and with it all
        // that the run registered: 8 MB a run, a gigabyte per test worker, its collections slower
        // with every run. Dropped from there, a run is kept only as long as its results are.
        module.children = module.children.filter((m) => m.id !== resolved);
        await Promise.race([settings.waitForRPCs(), configRefuted]);
    } catch (err) {
        failures.push(err instanceof Error ? err : new Error(String(err)));
    } finally {
        await new Promise((resolve) => setImmediate(resolve));
        if (--runsUnderway === 0) Error.stackTraceLimit = stackTraceLimitOutside;
        process.off("unhandledRejection", onRejection);
    }

    const outputs: Record<string, StackOutput> = {};
    if (failures.length === 0) {
        for (const [key, value] of Object.entries(exported)) outputs[key] = await settle(value);
    }
    return { stack: options.stack, project, preview, config, resources, outputs, error: failures[0] };
}

/** Wraps the mock monitor's registerResource to capture the request the engine would receive. */
function recordRegistrations(monitor: unknown, into: RecordedResource[]): void {
    const m = monitor as { registerResource(req: any, cb: (err: unknown, resp: any) => void): Promise<void> };
    const original = m.registerResource.bind(m);
    m.registerResource = (req, callback) =>
        original(req, (err, resp) => {
            if (!err && resp) {
                const propertyDependencies: Record<string, string[]> = {};
                req.getPropertydependenciesMap().forEach(
                    (deps: any, key: string) => (propertyDependencies[key] = deps.getUrnsList()),
                );
                into.push({
                    urn: resp.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    parent: req.getParent() || undefined,
                    dependencies: req.getDependenciesList(),
                    propertyDependencies,
                    inputs: rpc.deserializeProperties(req.getObject(), true),
                    outputs: rpc.deserializeProperties(resp.getObject(), true),
                    wireInputs: req.getObject()?.toJavaScript() ?? {},
                    wireOutputs: resp.getObject()?.toJavaScript() ?? {},
                    protect: req.getProtect() ?? false,
                    ignoreChanges: req.getIgnorechangesList(),
                    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
                    deleteBeforeReplace: req.getDeletebeforereplace(),
                    replaceWith: req.getReplaceWithList(),
                    provider: req.getProvider() || undefined,
                });
            }
            callback(err, resp);
        });
}
