// Evaluating the policy pack in-process on recorded resources (the offline plan, the specs). It
// lives in the harness, not in policies/: the pack ships only its rules and their library, and the
// engine loads nothing of this.
//
// This does what @pulumi/policy 1.21's analyzer server (node_modules/@pulumi/policy/server.js) does
// for the Analyze and AnalyzeStack RPCs, with the same pieces where they are reachable:
//   - properties go through a real protobuf Struct, @pulumi/policy's own `deserializeProperties`
//     (secrets unwrapped to plain values) and its `unknownCheckingProxy` (reading an unknown throws
//     UnknownValueError);
//   - enforcement level = policy config level || policy level || pack level; "disabled" skips,
//     "remediate" reports as mandatory;
//   - UnknownValueError escaping a policy becomes an advisory "can't run policy ... during preview";
//     notApplicable() is collected; any other error aborts, as the server fails the RPC;
//   - string violations read "<description>\n<message>"; object violations keep their fields.
// The server keeps its config in module state set by the Configure RPC, which is not exported, so
// this module re-implements that small part; tests/policies/analyzer.grpc.spec.ts checks that the
// real server and this function report the same diagnostics for the same input.

import {
    EnforcementLevel,
    Policies,
    Policy,
    PolicyPackConfig,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { packEnforcementLevel, packName, packVersion, policies as packPolicies } from "../../policies/pack";
import { isUnknownValueError, policyRuntime } from "../../policies/lib/values";

export {
    defaultEnforcementLevels,
    loadPolicyConfig,
    packDir,
    packEnforcementLevel,
    packName,
    packVersion,
    policies,
    policyConfigPath,
} from "../../policies/pack";

const deserialize = require("@pulumi/policy/deserialize") as {
    deserializeProperties(
        struct: { toJavaScript(): Record<string, unknown> },
        proxySecrets: boolean,
    ): Record<string, unknown>;
};

/** Wire-format markers (from @pulumi/pulumi/runtime/rpc). */
export const WIRE = {
    /** What the engine and the SDK send for an unknown value during preview. */
    unknown: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    sigKey: "4dabf18193072939515e22adb298388d",
    secretSig: "1b47061264138c4ac30d75fd1eb44270",
    resourceSig: "5cf8f73096256a8f31e491e813e4eb8e",
    outputValueSig: "d0e6a833031e9bbcd3f4e8bde6ca49a4",
} as const;

/** Wraps a value the way the SDK serialises a secret. */
export function wireSecret(value: unknown): Record<string, unknown> {
    return { [WIRE.sigKey]: WIRE.secretSig, value };
}

/** A resource as recorded from a run of the program (or from a state file). */
export interface RecordedResource {
    urn: string;
    type: string;
    name: string;
    /**
     * Inputs in wire form: what `RegisterResourceRequest.getObject().toJavaScript()` gives. Unknown
     * values are the sentinel WIRE.unknown; secrets are `{ [WIRE.sigKey]: WIRE.secretSig, value }`
     * (policies see the plain value, as under the engine); resource references become their id (or
     * URN); output values their value (or unknown). Plain JSON works as is.
     */
    inputs: Record<string, unknown>;
    /** Outputs for stack policies (the engine gives stack policies outputs); defaults to `inputs`. */
    outputs?: Record<string, unknown>;
    parent?: string;
    dependencies?: string[];
    /** input property name -> URNs of the resources its value came from. */
    propertyDependencies?: Record<string, string[]>;
    protect?: boolean;
    opts?: Partial<PolicyResourceOptions>;
    provider?: { type: string; urn: string; name: string; props?: Record<string, unknown> };
}

export interface EvaluateOptions {
    /** --policy-pack-config content: { "<policy>": "<level>" | { enforcementLevel?, ...knobs }, "all"?: level }. */
    config?: PolicyPackConfig;
    /** Defaults to the whole pack. */
    policies?: Policies;
    stackTags?: Record<string, string>;
    /** Level for policies that set none (PolicyPack default "advisory"). */
    packEnforcementLevel?: EnforcementLevel;
}

export interface PolicyDiagnostic {
    policyName: string;
    policyPackName: string;
    policyPackVersion: string;
    description: string;
    message: string;
    enforcementLevel: EnforcementLevel;
    urn?: string;
    severity?: string;
}

export interface NotApplicable {
    policyName: string;
    reason?: string;
    /** The resource, for resource policies. */
    urn?: string;
}

export interface EvaluationResult {
    diagnostics: PolicyDiagnostic[];
    notApplicable: NotApplicable[];
}

export class PolicyConfigError extends Error {}

class NotApplicableError extends Error {
    constructor(readonly reason?: string) {
        super(reason ?? "Policy does not apply");
    }
}

/** Thrown for every resource a rule does not apply to, thousands per plan: caught, never shown, so no stack. */
function throwNotApplicable(reason?: string): never {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
        throw new NotApplicableError(reason);
    } finally {
        Error.stackTraceLimit = limit;
    }
}

// ------------------------------------------------------------------------------------------------
// Config

interface ResolvedConfig {
    enforcementLevel?: EnforcementLevel;
    properties: Record<string, unknown>;
}

const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

function checkLevel(where: string, v: unknown): EnforcementLevel {
    if (typeof v !== "string" || !(LEVELS as readonly string[]).includes(v)) {
        throw new PolicyConfigError(
            `${where}: enforcementLevel ${JSON.stringify(v)} is not one of ${LEVELS.join(", ")}`,
        );
    }
    return v as EnforcementLevel;
}

type Schema = {
    type?: string | string[];
    enum?: unknown[];
    minimum?: number;
    maximum?: number;
    items?: unknown;
    properties?: Record<string, unknown>;
    additionalProperties?: unknown;
    required?: string[];
};

function checkValue(where: string, schema: Schema, v: unknown): void {
    const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
    const typeOk = (t: string): boolean => {
        switch (t) {
            case "integer":
                return typeof v === "number" && Number.isInteger(v);
            case "number":
                return typeof v === "number" && Number.isFinite(v);
            case "string":
                return typeof v === "string";
            case "boolean":
                return typeof v === "boolean";
            case "array":
                return Array.isArray(v);
            case "object":
                return typeof v === "object" && v !== null && !Array.isArray(v);
            case "null":
                return v === null;
            default:
                return true;
        }
    };
    if (types.length > 0 && !types.some(typeOk)) {
        throw new PolicyConfigError(`${where}: ${JSON.stringify(v)} is not of type ${types.join(" | ")}`);
    }
    if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
        throw new PolicyConfigError(
            `${where}: ${JSON.stringify(v)} is not one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`,
        );
    }
    if (typeof v === "number") {
        if (schema.minimum !== undefined && v < schema.minimum) {
            throw new PolicyConfigError(`${where}: ${v} is below the minimum ${schema.minimum}`);
        }
        if (schema.maximum !== undefined && v > schema.maximum) {
            throw new PolicyConfigError(`${where}: ${v} is above the maximum ${schema.maximum}`);
        }
    }
    if (Array.isArray(v) && schema.items && typeof schema.items === "object" && !Array.isArray(schema.items)) {
        v.forEach((x, i) => checkValue(`${where}[${i}]`, schema.items as Schema, x));
    }
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
        const obj = v as Record<string, unknown>;
        for (const r of schema.required ?? []) {
            if (!(r in obj)) {
                throw new PolicyConfigError(`${where}: missing required ${r}`);
            }
        }
        for (const [k, x] of Object.entries(obj)) {
            const sub = schema.properties?.[k] ?? schema.additionalProperties;
            if (sub && typeof sub === "object") {
                checkValue(`${where}.${k}`, sub as Schema, x);
            }
        }
    }
}

/**
 * Validates a --policy-pack-config against the policies' config schemas and normalises it. Stricter
 * than the CLI in one way: a knob a policy does not declare is an error (catches typos).
 */
export function resolvePolicyConfig(
    config: PolicyPackConfig | undefined,
    policies: Policies = packPolicies,
): Map<string, ResolvedConfig> {
    const out = new Map<string, ResolvedConfig>();
    if (!config) {
        return out;
    }
    // Names are checked against the whole pack, so a stack's config works when evaluating a subset.
    const byName = new Map<string, Policy>([...packPolicies, ...policies].map((p) => [p.name, p]));
    let all: EnforcementLevel | undefined;
    for (const [name, raw] of Object.entries(config)) {
        if (name === "all") {
            all = checkLevel(
                "all",
                typeof raw === "string" ? raw : (raw as { enforcementLevel?: unknown })?.enforcementLevel,
            );
            continue;
        }
        const p = byName.get(name);
        if (!p) {
            throw new PolicyConfigError(
                `policy config names "${name}", which is not a policy of ${packName} (${[...byName.keys()].join(", ")})`,
            );
        }
        if (typeof raw === "string") {
            out.set(name, { enforcementLevel: checkLevel(name, raw), properties: {} });
            continue;
        }
        if (typeof raw !== "object" || raw === null) {
            throw new PolicyConfigError(
                `${name}: expected an enforcement level or an object, got ${JSON.stringify(raw)}`,
            );
        }
        const { enforcementLevel, ...properties } = raw as Record<string, unknown>;
        const schema = p.configSchema;
        for (const [k, v] of Object.entries(properties)) {
            const s = schema?.properties?.[k];
            if (s === undefined) {
                throw new PolicyConfigError(
                    `${name}: unknown setting "${k}" (known: ${Object.keys(schema?.properties ?? {}).join(", ") || "none"})`,
                );
            }
            if (typeof s === "object") {
                checkValue(`${name}.${k}`, s as Schema, v);
            }
        }
        for (const r of schema?.required ?? []) {
            if (!(r in properties)) {
                throw new PolicyConfigError(`${name}: missing required setting "${r}"`);
            }
        }
        out.set(name, {
            enforcementLevel: enforcementLevel === undefined ? undefined : checkLevel(name, enforcementLevel),
            properties,
        });
    }
    if (all !== undefined) {
        for (const p of policies) {
            const c = out.get(p.name) ?? { properties: {} };
            out.set(p.name, { ...c, enforcementLevel: c.enforcementLevel ?? all });
        }
    }
    return out;
}

function levelOf(p: Policy, config: Map<string, ResolvedConfig>, packLevel: EnforcementLevel): EnforcementLevel {
    return config.get(p.name)?.enforcementLevel || p.enforcementLevel || packLevel;
}

function getConfigFun(p: Policy, config: Map<string, ResolvedConfig>) {
    return <T extends object>(): T => ({ ...(config.get(p.name)?.properties ?? {}) }) as T;
}

// ------------------------------------------------------------------------------------------------
// Properties

/**
 * Wire-form properties as a protobuf Struct carries them to the analyzer, in one copy: what
 * `Struct.fromJavaScript(...).toJavaScript()` gives for the same value (a spec holds the two equal),
 * without building the Struct, which was a third of the policies' time in the offline plan.
 * Like the Struct: keys in sorted order (its map iterates so), and a value it cannot carry fails.
 */
export function normalizeWire(v: unknown): unknown {
    if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
        return v;
    }
    if (typeof v !== "object") {
        throw new Error(`Unexpected struct type: ${typeof v}`);
    }
    if (Array.isArray(v)) {
        const list: unknown[] = [];
        for (let i = 0; i < v.length; i++) list.push(v[i] === undefined ? null : normalizeWire(v[i]));
        return list;
    }
    const o = v as Record<string, unknown>;
    const sig = o[WIRE.sigKey];
    if (sig === WIRE.secretSig) {
        return { [WIRE.sigKey]: WIRE.secretSig, value: o.value === undefined ? null : normalizeWire(o.value) };
    }
    if (sig === WIRE.resourceSig) {
        // What the engine sends analyzers for a resource reference: the id of a custom resource, else the URN.
        return normalizeWire(typeof o.id === "string" && o.id !== "" ? o.id : o.urn);
    }
    if (sig === WIRE.outputValueSig) {
        if (!("value" in o) || o.value === undefined) {
            return WIRE.unknown;
        }
        const inner = normalizeWire(o.value);
        return o.secret ? { [WIRE.sigKey]: WIRE.secretSig, value: inner } : inner;
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) {
        if (o[k] !== undefined) {
            out[k] = normalizeWire(o[k]);
        }
    }
    return out;
}

/**
 * Turns wire-form properties into what a policy sees under the engine: as a protobuf Struct carries
 * them, then through @pulumi/policy's deserializeProperties (secrets unwrapped) and its
 * unknownCheckingProxy.
 */
export function toPolicyProps(wire: Record<string, unknown>): Record<string, any> {
    const carried = normalizeWire(wire ?? {}) as Record<string, unknown>;
    return policyRuntime.unknownCheckingProxy(
        deserialize.deserializeProperties({ toJavaScript: () => carried }, false),
    );
}

function optionsOf(r: RecordedResource): PolicyResourceOptions {
    const o = r.opts ?? {};
    const result: PolicyResourceOptions = {
        protect: o.protect ?? r.protect ?? false,
        ignoreChanges: o.ignoreChanges ?? [],
        aliases: o.aliases ?? [],
        customTimeouts: o.customTimeouts ?? { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: o.additionalSecretOutputs ?? [],
    };
    if (o.deleteBeforeReplace !== undefined) {
        result.deleteBeforeReplace = o.deleteBeforeReplace;
    }
    const parent = o.parent ?? r.parent;
    if (parent) {
        result.parent = parent;
    }
    return result;
}

function providerOf(r: RecordedResource): PolicyProviderResource | undefined {
    if (!r.provider) {
        return undefined;
    }
    return {
        type: r.provider.type,
        urn: r.provider.urn,
        name: r.provider.name,
        props: toPolicyProps(r.provider.props ?? {}),
    };
}

function isTypeOf(type: string, resourceClass: unknown): boolean {
    const t = (resourceClass as { __pulumiType?: unknown })?.__pulumiType;
    if (typeof t === "string" && t.length > 0) {
        return type === t;
    }
    const isInstance = (resourceClass as { isInstance?: unknown })?.isInstance;
    return typeof isInstance === "function" && isInstance({ __pulumiType: type }) === true;
}

function freezeTags(tags: Record<string, string> | undefined): ReadonlyMap<string, string> {
    return new Map(Object.entries(tags ?? {}));
}

/** The arguments @pulumi/policy's server passes a resource validation. */
export function makeResourceArgs(
    r: RecordedResource,
    getConfig: <T extends object>() => T,
    stackTags?: Record<string, string>,
): ResourceValidationArgs {
    const props = toPolicyProps(r.inputs);
    const type = r.type;
    const args: ResourceValidationArgs = {
        type,
        props,
        urn: r.urn,
        name: r.name,
        opts: optionsOf(r),
        stackTags: freezeTags(stackTags),
        isType: (resourceClass: unknown) => isTypeOf(type, resourceClass),
        asType: ((resourceClass: unknown) =>
            isTypeOf(type, resourceClass) ? props : undefined) as ResourceValidationArgs["asType"],
        getConfig,
        notApplicable: throwNotApplicable,
    } as ResourceValidationArgs;
    const provider = providerOf(r);
    if (provider) {
        args.provider = provider;
    }
    return args;
}

/** The resources (with parent and dependencies linked) @pulumi/policy's server passes a stack validation. */
export function makePolicyResources(resources: readonly RecordedResource[]): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    const built = resources.map((r) => {
        const props = toPolicyProps(r.outputs ?? r.inputs);
        const type = r.type;
        const res: PolicyResource = {
            type,
            props,
            urn: r.urn,
            name: r.name,
            opts: optionsOf(r),
            dependencies: [],
            propertyDependencies: {},
            isType: (resourceClass: unknown) => isTypeOf(type, resourceClass),
            asType: ((resourceClass: unknown) =>
                isTypeOf(type, resourceClass) ? props : undefined) as PolicyResource["asType"],
        } as PolicyResource;
        const provider = providerOf(r);
        if (provider) {
            res.provider = provider;
        }
        byUrn.set(r.urn, res);
        return res;
    });
    resources.forEach((r, i) => {
        const res = built[i];
        if (r.parent && byUrn.has(r.parent)) {
            res.parent = byUrn.get(r.parent);
        }
        res.dependencies = (r.dependencies ?? []).map((u) => byUrn.get(u)).filter((x): x is PolicyResource => !!x);
        for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
            res.propertyDependencies[k] = urns.map((u) => byUrn.get(u)).filter((x): x is PolicyResource => !!x);
        }
    });
    return built;
}

// ------------------------------------------------------------------------------------------------
// Running policies

function isResourcePolicy(p: Policy): p is ResourceValidationPolicy {
    const v = (p as ResourceValidationPolicy).validateResource;
    return (
        typeof v === "function" ||
        (Array.isArray(v) && v.every((f) => typeof f === "function")) ||
        typeof (p as ResourceValidationPolicy).remediateResource === "function"
    );
}

function isStackPolicy(p: Policy): p is StackValidationPolicy {
    return typeof (p as StackValidationPolicy).validateStack === "function";
}

function pulumiTypeOf(f: unknown): string | undefined {
    const t = (f as { __pulumiType?: unknown })?.__pulumiType;
    return typeof t === "string" && t.length > 0 ? t : undefined;
}

function reporterFor(p: Policy, level: EnforcementLevel, out: PolicyDiagnostic[]): ReportViolation {
    const fn = (message: unknown, urn?: string): void => {
        if (typeof message === "object" && message !== null) {
            const info = message as Partial<PolicyDiagnostic> & { name?: string };
            out.push({
                policyName: info.name || p.name,
                policyPackName: packName,
                policyPackVersion: packVersion,
                message: info.message || info.description || p.description,
                urn: info.urn,
                description: info.description || p.description,
                enforcementLevel: (info.enforcementLevel as EnforcementLevel) || level,
                severity: info.severity || p.severity,
            });
            return;
        }
        out.push({
            policyName: p.name,
            policyPackName: packName,
            policyPackVersion: packVersion,
            message: message ? `${p.description}\n${String(message)}` : p.description,
            urn,
            description: p.description,
            enforcementLevel: level,
            severity: p.severity,
        });
    };
    return fn as ReportViolation;
}

async function runOne(p: Policy, run: () => unknown, out: EvaluationResult, urn: string | undefined): Promise<void> {
    try {
        await Promise.resolve(run());
    } catch (e) {
        const from = `policy '${p.name}' from policy pack '${packName}@v${packVersion}'`;
        if (isUnknownValueError(e)) {
            out.diagnostics.push({
                policyName: p.name,
                policyPackName: packName,
                policyPackVersion: packVersion,
                description: p.description,
                message: `can't run ${from} during preview: ${(e as Error).message}`,
                enforcementLevel: "advisory",
                severity: p.severity,
            });
        } else if (e instanceof NotApplicableError) {
            out.notApplicable.push({ policyName: p.name, reason: e.reason, urn });
        } else {
            const err = new Error(`Error validating resource with ${from}:\n${(e as Error)?.stack ?? String(e)}`);
            (err as Error & { cause?: unknown }).cause = e;
            throw err;
        }
    }
}

/** The Analyze RPC: runs the resource policies on one resource's inputs. */
export async function analyzeResource(
    resource: RecordedResource,
    options: EvaluateOptions = {},
): Promise<EvaluationResult> {
    const policies = options.policies ?? packPolicies;
    const config = resolvePolicyConfig(options.config, policies);
    const out: EvaluationResult = { diagnostics: [], notApplicable: [] };
    for (const p of policies) {
        let level = levelOf(p, config, options.packEnforcementLevel ?? packEnforcementLevel);
        if (level === "disabled" || !isResourcePolicy(p)) {
            continue;
        }
        if (!p.validateResource) {
            out.notApplicable.push({
                policyName: p.name,
                reason: "Policy does not implement validateResource",
                urn: resource.urn,
            });
            continue;
        }
        if (level === "remediate") {
            level = "mandatory";
        }
        if (!Array.isArray(p.validateResource)) {
            const t = pulumiTypeOf(p.validateResource);
            if (t && t !== resource.type) {
                out.notApplicable.push({
                    policyName: p.name,
                    reason: `Policy only applies to resources of type '${t}'`,
                    urn: resource.urn,
                });
                continue;
            }
        }
        const report = reporterFor(p, level, out.diagnostics);
        const validations = Array.isArray(p.validateResource) ? p.validateResource : [p.validateResource];
        for (const validate of validations) {
            await runOne(
                p,
                () => validate(makeResourceArgs(resource, getConfigFun(p, config), options.stackTags), report),
                out,
                resource.urn,
            );
        }
    }
    return out;
}

/** The AnalyzeStack RPC: runs the stack policies on all resources (their outputs, else inputs). */
export async function analyzeStack(
    resources: readonly RecordedResource[],
    options: EvaluateOptions = {},
): Promise<EvaluationResult> {
    const policies = options.policies ?? packPolicies;
    const config = resolvePolicyConfig(options.config, policies);
    const out: EvaluationResult = { diagnostics: [], notApplicable: [] };
    for (const p of policies) {
        let level = levelOf(p, config, options.packEnforcementLevel ?? packEnforcementLevel);
        if (level === "disabled" || !isStackPolicy(p)) {
            continue;
        }
        if (level === "remediate") {
            level = "mandatory";
        }
        const t = pulumiTypeOf(p.validateStack);
        if (t && !resources.some((r) => r.type === t)) {
            out.notApplicable.push({ policyName: p.name, reason: `Policy only applies to resources of type '${t}'` });
            continue;
        }
        const report = reporterFor(p, level, out.diagnostics);
        await runOne(
            p,
            () => {
                const args: StackValidationArgs = {
                    resources: makePolicyResources(resources),
                    getConfig: getConfigFun(p, config),
                    stackTags: freezeTags(options.stackTags),
                    notApplicable: throwNotApplicable,
                };
                return p.validateStack(args, report);
            },
            out,
            undefined,
        );
    }
    return out;
}

/** Analyze on every resource, then AnalyzeStack: what `pulumi preview --policy-pack` runs. */
export async function evaluatePolicies(
    resources: readonly RecordedResource[],
    options: EvaluateOptions = {},
): Promise<EvaluationResult> {
    // Validate the config once, up front, so a bad config fails before any policy runs.
    resolvePolicyConfig(options.config, options.policies ?? packPolicies);
    const out: EvaluationResult = { diagnostics: [], notApplicable: [] };
    for (const r of resources) {
        const res = await analyzeResource(r, options);
        for (const d of res.diagnostics) {
            // The engine attributes resource diagnostics to the analyzed resource.
            out.diagnostics.push({ ...d, urn: d.urn || r.urn });
        }
        out.notApplicable.push(...res.notApplicable);
    }
    const stack = await analyzeStack(resources, options);
    out.diagnostics.push(...stack.diagnostics);
    out.notApplicable.push(...stack.notApplicable);
    return out;
}

/** True when any diagnostic is mandatory (the plan's exit code 1). */
export function hasMandatory(result: EvaluationResult): boolean {
    return result.diagnostics.some((d) => d.enforcementLevel === "mandatory");
}
