// What every stand-in provider shares: serving through @pulumi/pulumi's provider support
// (`@pulumi/pulumi/provider` main()), the wire forms of secrets and unknowns, the diff against
// the ONE replace-rule table, CheckConfig / DiffConfig / Configure (which the Node provider support
// leaves unimplemented or ignores), and a state directory.
//
// Wire forms (what the engine sends and expects when a provider accepts secrets): a secret is
// `{ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value }`, a value
// unknown until apply is the string "04da6b54-80e4-46f7-96ec-b56ff0331ba9". Outputs keep the
// secrets of the inputs they come from, as the real providers' do.
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ruleFor } from "./replaceRules";

export type Props = Record<string, any>;

export const SECRET_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isSecret(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && (v as Props)[SECRET_KEY] === SECRET_SIG;
}

export function secret<T>(value: T): T {
    return { [SECRET_KEY]: SECRET_SIG, value } as unknown as T;
}

export function containsUnknown(v: unknown): boolean {
    if (v === UNKNOWN) return true;
    if (isSecret(v)) return containsUnknown(v.value);
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (typeof v === "object" && v !== null) return Object.values(v).some(containsUnknown);
    return false;
}

/** Plain values: secrets unwrapped (for computing; never for what is returned to the engine). */
export function plain(v: unknown): any {
    if (isSecret(v)) return plain(v.value);
    if (Array.isArray(v)) return v.map(plain);
    if (typeof v === "object" && v !== null)
        return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, plain(e)]));
    return v;
}

export function typeOfUrn(urn: string): string {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop()!;
}

export function nameOfUrn(urn: string): string {
    return urn.split("::")[3] ?? "";
}

/** The version the SDK package requests (its package.json "pulumi" field): the plugin answers with it. */
export function sdkPluginVersion(pkg: string): string {
    const p = require(`@pulumi/${pkg}/package.json`) as { version: string; pulumi?: { version?: string } };
    return p.pulumi?.version ?? p.version;
}

export interface Created {
    id: string;
    outs: Props;
}

export interface StandIn {
    /** The plugin name (pulumi-resource-<name>). */
    name: string;
    /** Resource types served; anything else fails loudly, naming the type. */
    types: readonly string[];
    /** Validates provider configuration; returns failures. */
    checkConfig?(news: Props): { property: string; reason: string }[];
    /** Provider-config properties whose change replaces the provider (and everything it manages). */
    configReplaces?(olds: Props, news: Props): string[];
    configure?(config: Props): void;
    check?(type: string, urn: string, olds: Props, news: Props): { property: string; reason: string }[];
    /** Extra replacements the real provider's CustomizeDiff decides (beyond the table). */
    extraReplaces?(type: string, olds: Props, news: Props): string[];
    create(type: string, urn: string, inputs: Props): Promise<Created>;
    read?(type: string, id: string, urn: string, state: Props): Promise<{ id?: string; props?: Props; inputs?: Props }>;
    update(type: string, id: string, urn: string, olds: Props, news: Props): Promise<Props>;
    delete(type: string, id: string, urn: string, state: Props): Promise<void>;
    invoke?(token: string, args: Props): Promise<Props>;
}

function unknownType(standIn: StandIn, type: string): Error {
    return new Error(
        `stand-in ${standIn.name} provider (tools/engine/providers): unknown resource type ${type}; it serves only ${standIn.types.join(", ")}`,
    );
}

export interface PropertyChange {
    kind: "ADD" | "ADD_REPLACE" | "DELETE" | "DELETE_REPLACE" | "UPDATE" | "UPDATE_REPLACE";
}

/** The diff of old and new inputs under the replace-rule table. Exported for the table's spec. */
export function diffInputs(
    type: string,
    olds: Props,
    news: Props,
    ignoreChanges: readonly string[] = [],
    extra: string[] = [],
): { changes: boolean; replaces: string[]; detailed: Record<string, PropertyChange> } {
    const rule = ruleFor(type);
    const keys = new Set(
        [...Object.keys(olds), ...Object.keys(news)].filter((k) => k !== "__defaults" && !ignoreChanges.includes(k)),
    );
    const replaces: string[] = [];
    const detailed: Record<string, PropertyChange> = {};
    for (const key of keys) {
        const o = olds[key];
        const n = news[key];
        const unknown = containsUnknown(n);
        if (!unknown && isDeepStrictEqual(plain(o), plain(n))) continue;
        let replace = rule.replace.includes(key) || extra.includes(key);
        if (!replace) {
            for (const nested of rule.replace.filter((r) => r.startsWith(`${key}.`))) {
                const sub = nested.slice(key.length + 1);
                const nv = n === UNKNOWN ? UNKNOWN : plainOrUnknown(n)?.[sub];
                if (nv === UNKNOWN || containsUnknown(nv) || !isDeepStrictEqual(plain(o)?.[sub], nv)) replace = true;
            }
            if (!replace && !rule.update.includes(key)) {
                throw new Error(
                    `stand-in provider: ${type} input '${key}' is in neither list of tools/engine/providers/replaceRules.ts; look up whether the real provider replaces on it`,
                );
            }
        }
        const base = o === undefined ? "ADD" : n === undefined ? "DELETE" : "UPDATE";
        detailed[key] = { kind: (replace ? `${base}_REPLACE` : base) as PropertyChange["kind"] };
        if (replace) replaces.push(key);
    }
    return { changes: Object.keys(detailed).length > 0, replaces, detailed };
}

function plainOrUnknown(v: unknown): any {
    return isSecret(v) ? plainOrUnknown(v.value) : v;
}

/** Serves a stand-in through @pulumi/pulumi's provider support, filling in what it leaves open. */
export function serve(standIn: StandIn): void {
    // The very modules @pulumi/pulumi's provider support uses (resolved from its directory).
    const sdkDir = [dirname(require.resolve("@pulumi/pulumi/package.json"))];
    const grpc = require(require.resolve("@grpc/grpc-js", { paths: sdkDir })) as typeof import("@grpc/grpc-js");
    const provproto = require("@pulumi/pulumi/proto/provider_pb");
    const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
    const structproto = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: sdkDir }));
    const fromJs = (v: Props) => structproto.Struct.fromJavaScript(v);
    const types = new Set(standIn.types);
    const mustKnow = (type: string) => {
        if (!types.has(type)) throw unknownType(standIn, type);
    };
    const wrap =
        (fn: (req: any) => Promise<any> | any) => async (call: any, callback: (err: any, resp?: any) => void) => {
            try {
                callback(undefined, await fn(call.request));
            } catch (err) {
                callback({ code: grpc.status.UNKNOWN, details: (err as Error).message }, undefined);
            }
        };

    // What main() serves, with the gaps filled: the Node provider support answers CheckConfig and
    // DiffConfig with Unimplemented, ignores Configure's values and hands Diff only the old outputs
    // (never the old inputs, ignoreChanges or a detailed diff).
    const extra: Record<string, unknown> = {
        checkConfig: wrap((req) => {
            const news = req.getNews()?.toJavaScript() ?? {};
            const failures = standIn.checkConfig?.(news) ?? [];
            const resp = new provproto.CheckResponse();
            resp.setInputs(fromJs(news));
            resp.setFailuresList(
                failures.map((f) => {
                    const failure = new provproto.CheckFailure();
                    failure.setProperty(f.property);
                    failure.setReason(f.reason);
                    return failure;
                }),
            );
            return resp;
        }),
        diffConfig: wrap((req) => {
            const olds = req.getOldInputs()?.toJavaScript() ?? req.getOlds()?.toJavaScript() ?? {};
            const news = req.getNews()?.toJavaScript() ?? {};
            const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter(
                (k) => containsUnknown(news[k]) || !isDeepStrictEqual(plain(olds[k]), plain(news[k])),
            );
            const replaces = standIn.configReplaces?.(olds, news) ?? [];
            const resp = new provproto.DiffResponse();
            resp.setChanges(
                keys.length
                    ? provproto.DiffResponse.DiffChanges.DIFF_SOME
                    : provproto.DiffResponse.DiffChanges.DIFF_NONE,
            );
            resp.setDiffsList(keys);
            resp.setReplacesList(replaces);
            return resp;
        }),
        configure: wrap((req) => {
            const args = req.getArgs()?.toJavaScript();
            const variables: Props = {};
            req.getVariablesMap().forEach(
                (v: string, k: string) => (variables[k.replace(/^[^:]+:(config:)?/, "")] = v),
            );
            standIn.configure?.(args ?? variables);
            const resp = new provproto.ConfigureResponse();
            resp.setAcceptsecrets(true);
            resp.setAcceptresources(false);
            resp.setAcceptoutputs(false);
            resp.setSupportspreview(false);
            return resp;
        }),
        diff: wrap((req) => {
            const type = req.getType() || typeOfUrn(req.getUrn());
            mustKnow(type);
            const oldInputs = req.getOldInputs()?.toJavaScript();
            const olds = oldInputs && Object.keys(oldInputs).length ? oldInputs : (req.getOlds()?.toJavaScript() ?? {});
            const news = req.getNews()?.toJavaScript() ?? {};
            const d = diffInputs(
                type,
                olds,
                news,
                req.getIgnorechangesList(),
                standIn.extraReplaces?.(type, olds, news) ?? [],
            );
            const resp = new provproto.DiffResponse();
            resp.setChanges(
                d.changes ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE,
            );
            resp.setReplacesList(d.replaces);
            resp.setDiffsList(Object.keys(d.detailed));
            resp.setHasdetaileddiff(true);
            const map = resp.getDetaileddiffMap();
            for (const [key, change] of Object.entries(d.detailed)) {
                const p = new provproto.PropertyDiff();
                p.setKind(provproto.PropertyDiff.Kind[change.kind]);
                p.setInputdiff(true);
                map.set(key, p);
            }
            return resp;
        }),
    };
    const original = grpc.Server.prototype.addService;
    grpc.Server.prototype.addService = function (service: any, implementation: any) {
        if (service === provrpc.ResourceProviderService) {
            for (const [name, fn] of Object.entries(extra)) implementation[name] = fn;
        }
        return original.call(this, service, implementation);
    };

    const provider = {
        version: sdkPluginVersion(standIn.name),
        async check(urn: string, olds: Props, news: Props) {
            const type = typeOfUrn(urn);
            mustKnow(type);
            return { inputs: news, failures: standIn.check?.(type, urn, olds, news) ?? [] };
        },
        async create(urn: string, inputs: Props) {
            const type = typeOfUrn(urn);
            mustKnow(type);
            return standIn.create(type, urn, inputs);
        },
        async read(id: string, urn: string, props: Props) {
            const type = typeOfUrn(urn);
            mustKnow(type);
            return standIn.read ? standIn.read(type, id, urn, props) : { id, props };
        },
        async update(id: string, urn: string, olds: Props, news: Props) {
            const type = typeOfUrn(urn);
            mustKnow(type);
            return { outs: await standIn.update(type, id, urn, olds, news) };
        },
        async delete(id: string, urn: string, props: Props) {
            const type = typeOfUrn(urn);
            mustKnow(type);
            await standIn.delete(type, id, urn, props);
        },
        async invoke(token: string, args: Props) {
            if (!standIn.invoke) throw new Error(`stand-in ${standIn.name} provider: unknown function ${token}`);
            return { outputs: await standIn.invoke(token, args) };
        },
    };
    require("@pulumi/pulumi/provider").main(provider, process.argv.slice(2));
}

/** The stand-ins' cloud: a directory the engine CLI wrapper names (under the state directory). */
export function cloudDir(): string {
    const dir = process.env.K8S_HA_ENGINE_CLOUD_DIR;
    if (!dir)
        throw new Error("K8S_HA_ENGINE_CLOUD_DIR is not set: run the stand-in providers through `npm run engine`");
    mkdirSync(dir, { recursive: true });
    return dir;
}

/**
 * A journal of a stand-in's creates, updates and deletes, in order, one JSON line each in
 * <cloud dir>/<fileName> (the engine specs read them to judge order).
 */
export function cloudJournal(
    fileName: string,
): (op: "create" | "update" | "delete", type: string, urn: string, id: string) => void {
    const file = join(cloudDir(), fileName);
    return (op, type, urn, id) =>
        appendFileSync(
            file,
            JSON.stringify({ time: new Date().toISOString(), op, type, resource: nameOfUrn(urn), id }) + "\n",
        );
}

/** A JSON document in the cloud directory, written atomically after every change. */
export class JsonStore<T extends object> {
    readonly file: string;
    readonly data: T;

    constructor(name: string, empty: T) {
        this.file = join(cloudDir(), name);
        let data = empty;
        try {
            data = JSON.parse(readFileSync(this.file, "utf8")) as T;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        }
        this.data = data;
    }

    save(): void {
        const tmp = `${this.file}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(this.data, null, 1));
        renameSync(tmp, this.file);
    }
}
