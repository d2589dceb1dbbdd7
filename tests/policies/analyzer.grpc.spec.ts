// Starts the policy pack exactly as the Pulumi engine does and talks to it over gRPC:
//
//   node <@pulumi/pulumi/cmd/run-policy-pack> <engine address> <pack dir>   (cwd = pack dir)
//
// The pack is the TypeScript source in policies/, type-checked by Pulumi's own ts-node runner with
// policies/tsconfig.json, as `pulumi preview --policy-pack policies` would run it (no build step).
// The engine address is a gRPC server started here that implements pulumirpc.Engine; the pack
// prints its port and serves pulumirpc.Analyzer, which is called with the generated stubs.
//
// Besides the RPCs themselves, this checks that tools/harness/analyzer.ts (what tests and the
// offline plan use) reports the same diagnostics as the real analyzer server for the same input.

import * as assert from "assert";
import * as childProcess from "child_process";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import {
    analyzeResource,
    analyzeStack,
    defaultEnforcementLevels,
    packName,
    packVersion,
    policies,
    RecordedResource,
} from "../../tools/harness/analyzer";
import { layout, Stack, TYPES, UNKNOWN, withPreviewOutputs } from "./helpers";

const analyzerGrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const analyzerPb = require("@pulumi/pulumi/proto/analyzer_pb");
const engineGrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const structPb = require("google-protobuf/google/protobuf/struct_pb");
const emptyPb = require("google-protobuf/google/protobuf/empty_pb");

const PACK_DIR = path.resolve(__dirname, "../../policies");
const START_TIMEOUT_MS = 120_000;

const LEVEL_NAMES: Record<number, string> = {
    [analyzerPb.EnforcementLevel.ADVISORY]: "advisory",
    [analyzerPb.EnforcementLevel.MANDATORY]: "mandatory",
    [analyzerPb.EnforcementLevel.DISABLED]: "disabled",
    [analyzerPb.EnforcementLevel.REMEDIATE]: "remediate",
};
const LEVEL_CODES: Record<string, number> = Object.fromEntries(
    Object.entries(LEVEL_NAMES).map(([k, v]) => [v, Number(k)]),
);

interface Diag {
    policyName: string;
    enforcementLevel: string;
    message: string;
    urn: string;
}

type Unary = (req: unknown, cb: (err: grpc.ServiceError | null, res: any) => void) => void;

function call<T>(client: Record<string, Unary>, method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) =>
        client[method].call(client, req, (err, res) => (err ? reject(err) : resolve(res as T))),
    );
}

function json(v: Record<string, unknown>): Record<string, unknown> {
    return JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
}

function resourceOptions(r: RecordedResource): unknown {
    const o = new analyzerPb.AnalyzerResourceOptions();
    o.setProtect(!!r.protect);
    if (r.parent) {
        o.setParent(r.parent);
    }
    return o;
}

function analyzeRequest(r: RecordedResource): unknown {
    const req = new analyzerPb.AnalyzeRequest();
    req.setType(r.type);
    req.setUrn(r.urn);
    req.setName(r.name);
    req.setProperties(structPb.Struct.fromJavaScript(json(r.inputs)));
    req.setOptions(resourceOptions(r));
    return req;
}

function analyzeStackRequest(resources: readonly RecordedResource[]): unknown {
    const req = new analyzerPb.AnalyzeStackRequest();
    req.setResourcesList(
        resources.map((r) => {
            const res = new analyzerPb.AnalyzerResource();
            res.setType(r.type);
            res.setUrn(r.urn);
            res.setName(r.name);
            res.setProperties(structPb.Struct.fromJavaScript(json(r.outputs ?? r.inputs)));
            res.setOptions(resourceOptions(r));
            if (r.parent) {
                res.setParent(r.parent);
            }
            res.setDependenciesList(r.dependencies ?? []);
            const deps = res.getPropertydependenciesMap();
            for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
                const d = new analyzerPb.AnalyzerPropertyDependencies();
                d.setUrnsList(urns);
                deps.set(k, d);
            }
            return res;
        }),
    );
    return req;
}

function configureRequest(
    config: Record<string, { enforcementLevel: string; properties?: Record<string, unknown> }>,
): unknown {
    const req = new analyzerPb.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    for (const [name, c] of Object.entries(config)) {
        const pc = new analyzerPb.PolicyConfig();
        pc.setEnforcementlevel(LEVEL_CODES[c.enforcementLevel]);
        pc.setProperties(structPb.Struct.fromJavaScript(c.properties ?? {}));
        map.set(name, pc);
    }
    return req;
}

function diagsOf(resp: any): Diag[] {
    return resp.getDiagnosticsList().map((d: any) => ({
        policyName: d.getPolicyname(),
        enforcementLevel: LEVEL_NAMES[d.getEnforcementlevel()],
        message: d.getMessage(),
        urn: d.getUrn(),
    }));
}

function local(ds: Array<{ policyName: string; enforcementLevel: string; message: string; urn?: string }>): Diag[] {
    return ds.map((d) => ({
        policyName: d.policyName,
        enforcementLevel: d.enforcementLevel,
        message: d.message,
        urn: d.urn ?? "",
    }));
}

describe("policies: the pack under the analyzer protocol (run-policy-pack + gRPC)", function () {
    this.timeout(START_TIMEOUT_MS + 30_000);

    let engine: grpc.Server;
    const engineCalls: string[] = [];
    let child: childProcess.ChildProcess | undefined;
    let client: Record<string, Unary> & grpc.Client;
    let stderr = "";
    let startMs = 0;

    before(async () => {
        // The engine side: every pulumirpc.Engine method, recording calls and answering empty.
        engine = new grpc.Server();
        const handlers: Record<string, grpc.handleUnaryCall<unknown, unknown>> = {};
        for (const [method, def] of Object.entries(
            engineGrpc.EngineService as Record<string, { responseType: new () => unknown }>,
        )) {
            handlers[method] = (_call, cb) => {
                engineCalls.push(method);
                cb(null, new def.responseType());
            };
        }
        engine.addService(engineGrpc.EngineService, handlers);
        const enginePort = await new Promise<number>((resolve, reject) =>
            engine.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
                err ? reject(err) : resolve(port),
            ),
        );

        const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
        const started = Date.now();
        child = childProcess.spawn(process.execPath, [runner, `127.0.0.1:${enginePort}`, PACK_DIR], {
            cwd: PACK_DIR,
            stdio: ["ignore", "pipe", "pipe"],
        });
        child.stderr!.on("data", (b: Buffer) => {
            stderr += b.toString();
        });
        const port = await new Promise<number>((resolve, reject) => {
            let out = "";
            const timer = setTimeout(
                () =>
                    reject(new Error(`policy pack printed no port within ${START_TIMEOUT_MS} ms; stderr:\n${stderr}`)),
                START_TIMEOUT_MS,
            );
            child!.stdout!.on("data", (b: Buffer) => {
                out += b.toString();
                const m = /^(\d+)\s*$/m.exec(out);
                if (m) {
                    clearTimeout(timer);
                    resolve(Number(m[1]));
                }
            });
            child!.on("exit", (code) => {
                clearTimeout(timer);
                reject(
                    new Error(
                        `policy pack exited with ${code} before printing a port; stdout:\n${out}\nstderr:\n${stderr}`,
                    ),
                );
            });
        });
        startMs = Date.now() - started;
        console.log(
            `      (policy pack started as TypeScript, type-checked, in ${(startMs / 1000).toFixed(1)} s; port ${port})`,
        );
        client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    after(async () => {
        client?.close();
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child!.once("exit", resolve));
            child.kill("SIGTERM");
            await exited;
        }
        engine?.forceShutdown();
    });

    it("GetAnalyzerInfo lists every policy with its enforcement level, type and config schema", async () => {
        const info: any = await call(client, "getAnalyzerInfo", new emptyPb.Empty());
        assert.strictEqual(info.getName(), packName);
        assert.strictEqual(info.getVersion(), packVersion);
        assert.strictEqual(info.getSupportsconfig(), true);
        const listed: Record<string, string> = {};
        for (const p of info.getPoliciesList()) {
            listed[p.getName()] = LEVEL_NAMES[p.getEnforcementlevel()];
            const local = policies.find((x) => x.name === p.getName())!;
            assert.strictEqual(p.getDescription(), local.description);
            const isStack = "validateStack" in local;
            assert.strictEqual(
                p.getPolicyType(),
                isStack ? analyzerPb.PolicyType.POLICY_TYPE_STACK : analyzerPb.PolicyType.POLICY_TYPE_RESOURCE,
                p.getName(),
            );
            assert.ok(p.getConfigschema(), `${p.getName()} has a config schema`);
        }
        assert.deepStrictEqual(listed, { ...defaultEnforcementLevels });
        const odd = info.getPoliciesList().find((p: any) => p.getName() === "control-plane-odd-count");
        assert.strictEqual(odd.getConfigschema().getProperties().toJavaScript().minControlPlanes.default, 3);
    });

    it("Analyze reports a resource violation, the same as the in-process evaluator", async () => {
        const s = new Stack();
        const bad = s.add(TYPES.instance, "cp-0", {
            tags: { "k8s-ha/role": "control-plane" },
            instanceType: "t3.medium",
            availabilityZone: "us-east-1a",
            metadataOptions: { httpTokens: "optional", httpPutResponseHopLimit: 1 },
            rootBlockDevice: { encrypted: true },
            associatePublicIpAddress: true,
        });
        const diags = diagsOf(await call(client, "analyze", analyzeRequest(bad)));
        assert.deepStrictEqual(diags.map((d) => `${d.enforcementLevel} ${d.policyName}`).sort(), [
            "mandatory imdsv2-required",
            "mandatory no-public-ip-control-plane",
        ]);
        assert.match(
            diags.find((d) => d.policyName === "imdsv2-required")!.message,
            /instance cp-0 has metadataOptions.httpTokens "optional"/,
        );
        assert.deepStrictEqual(diags, local((await analyzeResource(bad)).diagnostics));
    });

    it("Analyze: an unknown value yields the rule's own advisory (object-form report), the same in-process", async () => {
        const s = new Stack();
        const r = s.add(TYPES.instance, "cp-0", {
            tags: { "k8s-ha/role": "control-plane" },
            metadataOptions: UNKNOWN,
            rootBlockDevice: { encrypted: true },
        });
        const diags = diagsOf(await call(client, "analyze", analyzeRequest(r)));
        const imds = diags.find((d) => d.policyName === "imdsv2-required")!;
        assert.strictEqual(imds.enforcementLevel, "advisory");
        assert.match(imds.message, /metadataOptions of instance cp-0 are unknown during preview/);
        assert.deepStrictEqual(diags, local((await analyzeResource(r)).diagnostics));
    });

    it("Analyze on every resource of a sound preview layout reports nothing, like the evaluator", async () => {
        for (const r of layout({ mode: "preview" }).resources) {
            const diags = diagsOf(await call(client, "analyze", analyzeRequest(r)));
            assert.deepStrictEqual(diags, [], r.name);
            assert.deepStrictEqual(local((await analyzeResource(r)).diagnostics), [], r.name);
        }
    });

    it("AnalyzeStack rejects an even control-plane count during preview (unknown ids), the same as in-process", async () => {
        const resources = layout({ azs: ["a", "b", "c", "a"], mode: "preview" }).resources;
        const diags = diagsOf(await call(client, "analyzeStack", analyzeStackRequest(resources)));
        const odd = diags.find((d) => d.policyName === "control-plane-odd-count");
        assert.ok(odd, `no odd-count violation in ${JSON.stringify(diags, null, 1)}`);
        assert.strictEqual(odd.enforcementLevel, "mandatory");
        assert.match(odd.message, /4 control planes \(cp-0 \(us-east-1a\)/);
        assert.ok(!diags.some((d) => /can't run policy/.test(d.message)));
        assert.deepStrictEqual(diags, local((await analyzeStack(resources)).diagnostics));
    });

    it("AnalyzeStack agrees with the evaluator on sound and broken layouts, preview and known", async () => {
        const cases: Array<[string, RecordedResource[]]> = [
            ["sound preview", layout({ mode: "preview" }).resources],
            ["sound known", layout({ mode: "known" }).resources],
            ["sound with preview outputs", withPreviewOutputs(layout({ mode: "preview" })).resources],
            ["4 with preview outputs", withPreviewOutputs(layout({ azs: ["a", "b", "c", "a"] })).resources],
            ["3 in 2 AZs", layout({ azs: ["a", "b", "a"] }).resources],
            ["5 in 2 AZs, known", layout({ azs: ["a", "b", "a", "b", "a"], mode: "known" }).resources],
            [
                "AZ unknown",
                (() => {
                    const s = layout({ azs: ["a", "b", "a"] });
                    s.get("cp-2").inputs.availabilityZone = UNKNOWN;
                    s.get("cp-2").propertyDependencies = {};
                    return s.resources;
                })(),
            ],
        ];
        for (const [name, resources] of cases) {
            const remote = diagsOf(await call(client, "analyzeStack", analyzeStackRequest(resources)));
            assert.deepStrictEqual(remote, local((await analyzeStack(resources)).diagnostics), name);
            if (name.startsWith("sound")) {
                assert.deepStrictEqual(remote, [], name);
            } else {
                assert.ok(remote.length > 0, name);
            }
        }
    });

    it("Configure changes a policy's level and knobs, as the evaluator's config does", async () => {
        const even = layout({ azs: ["a", "b", "c", "a"] }).resources;
        const single = layout({ azs: ["a"] }).resources;
        const oddOf = (ds: Diag[]): Diag | undefined => ds.find((d) => d.policyName === "control-plane-odd-count");
        try {
            await call(
                client,
                "configure",
                configureRequest({ "control-plane-odd-count": { enforcementLevel: "advisory" } }),
            );
            const advisory = diagsOf(await call(client, "analyzeStack", analyzeStackRequest(even)));
            assert.strictEqual(oddOf(advisory)?.enforcementLevel, "advisory");
            assert.deepStrictEqual(
                advisory,
                local((await analyzeStack(even, { config: { "control-plane-odd-count": "advisory" } })).diagnostics),
            );

            assert.strictEqual(
                oddOf(diagsOf(await call(client, "analyzeStack", analyzeStackRequest(single))))?.enforcementLevel,
                "advisory",
            );
            await call(
                client,
                "configure",
                configureRequest({
                    "control-plane-odd-count": { enforcementLevel: "mandatory", properties: { minControlPlanes: 1 } },
                }),
            );
            const relaxed = diagsOf(await call(client, "analyzeStack", analyzeStackRequest(single)));
            assert.strictEqual(oddOf(relaxed), undefined);
            assert.deepStrictEqual(
                relaxed,
                local(
                    (await analyzeStack(single, { config: { "control-plane-odd-count": { minControlPlanes: 1 } } }))
                        .diagnostics,
                ),
            );

            await call(
                client,
                "configure",
                configureRequest({ "control-plane-odd-count": { enforcementLevel: "disabled" } }),
            );
            assert.strictEqual(
                oddOf(diagsOf(await call(client, "analyzeStack", analyzeStackRequest(even)))),
                undefined,
            );
        } finally {
            await call(client, "configure", configureRequest({}));
        }
        assert.strictEqual(
            oddOf(diagsOf(await call(client, "analyzeStack", analyzeStackRequest(even))))?.enforcementLevel,
            "mandatory",
        );
    });

    it("started within the time limit and wrote nothing to stderr", () => {
        assert.ok(startMs > 0 && startMs < START_TIMEOUT_MS);
        assert.strictEqual(stderr.trim(), "");
        // The pack never needed the engine for these calls (run-policy-pack drops the address).
        assert.deepStrictEqual(engineCalls, []);
    });
});
