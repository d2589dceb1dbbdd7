import * as assert from "assert";
import { builtinModules } from "module";
import * as fs from "fs";
import * as path from "path";
import { StackValidationPolicy, ResourceValidationPolicy } from "@pulumi/policy";
import {
    analyzeResource,
    analyzeStack,
    defaultEnforcementLevels,
    evaluatePolicies,
    hasMandatory,
    loadPolicyConfig,
    packName,
    packVersion,
    PolicyConfigError,
    policies,
    policyConfigPath,
    resolvePolicyConfig,
    WIRE,
} from "../../tools/harness/analyzer";
import { layout, loadConfig, secret, Stack, TYPES, UNKNOWN, withPreviewOutputs } from "./helpers";

const POLICIES_DIR = path.join(__dirname, "../../policies");

/** Every TypeScript source of the pack, relative to policies/ (node_modules and build output aside). */
function packSources(dir = ""): string[] {
    return fs
        .readdirSync(path.join(POLICIES_DIR, dir), { withFileTypes: true })
        .flatMap((e) => {
            const rel = dir ? `${dir}/${e.name}` : e.name;
            if (e.isDirectory()) return ["node_modules", "bin"].includes(e.name) ? [] : packSources(rel);
            return e.name.endsWith(".ts") ? [rel] : [];
        })
        .sort();
}

describe("policies: the pack", () => {
    it("has the intended policies with their default enforcement levels", () => {
        assert.deepStrictEqual(defaultEnforcementLevels, {
            "control-plane-odd-count": "mandatory",
            "control-plane-multi-az": "mandatory",
            "control-plane-az-quorum": "mandatory",
            "api-lb-covers-control-plane-azs": "mandatory",
            "api-lb-targets-every-control-plane": "mandatory",
            "api-listener-tcp-6443": "mandatory",
            "api-target-health-check": "mandatory",
            "api-target-no-client-ip-preservation": "advisory",
            "nlb-cross-zone": "advisory",
            "imdsv2-required": "mandatory",
            "imds-hop-limit-one": "mandatory",
            "encrypted-root-volume": "mandatory",
            "no-public-ip-control-plane": "mandatory",
            "no-secrets-in-user-data": "mandatory",
            "control-plane-instance-size": "mandatory",
            "no-world-open-sensitive-ports": "mandatory",
            "no-world-open-api": "advisory",
            "etcd-ports-control-plane-only": "mandatory",
            "control-plane-private-subnet": "mandatory",
            "node-role-least-privilege": "mandatory",
            "cluster-subnets-tagged": "advisory",
            "default-storage-class-encrypted": "advisory",
            "tls-key-strength": "mandatory",
            "tls-ca-certificate": "mandatory",
            "tls-allowed-uses-valid": "mandatory",
            "protect-critical-in-prod": "advisory",
        });
        assert.strictEqual(packName, "k8s-ha-control-plane");
        assert.strictEqual(packVersion, "0.1.0");
    });

    it("every policy has a kebab-case unique name, a one-line description, a level and a config schema", () => {
        const names = new Set<string>();
        for (const p of policies) {
            assert.match(p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/, p.name);
            assert.ok(!names.has(p.name), `duplicate ${p.name}`);
            names.add(p.name);
            assert.ok(p.description.length > 20 && !p.description.includes("\n"), `${p.name}: description`);
            assert.ok(p.enforcementLevel, `${p.name}: enforcementLevel`);
            assert.ok(p.configSchema, `${p.name}: configSchema`);
            assert.ok(!("enforcementLevel" in p.configSchema.properties), `${p.name}: enforcementLevel is reserved`);
            const isStack = typeof (p as StackValidationPolicy).validateStack === "function";
            const isResource = typeof (p as ResourceValidationPolicy).validateResource === "function";
            assert.ok(isStack !== isResource, `${p.name} must be exactly one of stack/resource policy`);
        }
    });

    it("only index.ts constructs the PolicyPack (constructing one starts a server)", () => {
        const files = packSources().filter((f) => f !== "index.ts");
        assert.ok(
            files.includes("pack.ts") &&
                files.some((f) => f.startsWith("rules/")) &&
                files.some((f) => f.startsWith("lib/")),
            files.join(", "),
        );
        for (const f of files) {
            assert.ok(!/new\s+PolicyPack\b/.test(fs.readFileSync(path.join(POLICIES_DIR, f), "utf8")), f);
        }
        assert.match(
            fs.readFileSync(path.join(POLICIES_DIR, "index.ts"), "utf8"),
            /new PolicyPack\(packName, \{\s*policies,/,
        );
        const pulumiPolicy = fs.readFileSync(path.join(POLICIES_DIR, "PulumiPolicy.yaml"), "utf8");
        assert.match(pulumiPolicy, /^runtime: nodejs$/m);
        assert.match(pulumiPolicy, /^description: \S/m);
    });

    it("ships only the rules and their library: every source is reached from index.ts and none reaches outside policies/", () => {
        // the in-process analyzer the offline plan and the specs use lives in tools/harness, not here
        const reached = new Set<string>();
        const visit = (file: string) => {
            if (reached.has(file)) return;
            reached.add(file);
            const text = fs.readFileSync(path.join(POLICIES_DIR, file), "utf8");
            for (const m of text.matchAll(/(?:from\s+|require\()\s*"(\.{1,2}\/[^"]+)"/g)) {
                const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]));
                assert.ok(!target.startsWith(".."), `${file} imports ${m[1]}, outside the pack`);
                if (/\.json$/.test(target)) continue; // data beside the rules (the pack's package.json)
                visit(fs.existsSync(path.join(POLICIES_DIR, `${target}.ts`)) ? `${target}.ts` : `${target}/index.ts`);
            }
        };
        visit("index.ts");
        assert.deepStrictEqual(
            packSources().filter((f) => !reached.has(f)),
            [],
            "sources the engine never loads",
        );
        assert.ok(!fs.existsSync(path.join(POLICIES_DIR, "evaluate.ts")));
    });

    it("imports no provider SDK, and only packages its package.json declares", () => {
        // The engine's policy runner type-checks the pack on every preview (run-policy-pack registers
        // ts-node with typeCheck: true). One `import * as aws` pulled @pulumi/aws's ~2,700 declaration
        // files into that check: 3,085 files instead of 371, the pack's start 3x slower.
        const declared = Object.keys(
            JSON.parse(fs.readFileSync(path.join(POLICIES_DIR, "package.json"), "utf8")).dependencies,
        );
        const imported = new Set<string>();
        for (const f of packSources()) {
            const text = fs.readFileSync(path.join(POLICIES_DIR, f), "utf8");
            for (const m of text.matchAll(/(?:from\s+|require\()\s*"([^".][^"]*)"/g)) {
                imported.add(m[1].startsWith("@") ? m[1].split("/").slice(0, 2).join("/") : m[1].split("/")[0]);
            }
        }
        for (const builtin of builtinModules) imported.delete(builtin);
        const providers = [...imported].filter((p) => /^@pulumi\/(?!pulumi$|policy$)/.test(p));
        assert.deepStrictEqual(providers, [], "provider SDKs imported by the pack");
        assert.deepStrictEqual(
            [...imported].filter((p) => !declared.includes(p)),
            [],
            "imported but not declared",
        );
        // @pulumi/pulumi is @pulumi/policy's own dependency: declaring it pins the one the pack loads to the program's.
        const unused = declared.filter((p) => !imported.has(p) && p !== "@pulumi/pulumi");
        assert.deepStrictEqual(unused, [], "declared but never imported");
    });

    it("ships dev and prod configs that validate against the schemas", () => {
        for (const stack of ["dev", "prod"] as const) {
            assert.strictEqual(policyConfigPath(stack), path.join(POLICIES_DIR, `config.${stack}.json`));
            const config = loadPolicyConfig(stack)!;
            assert.deepStrictEqual(config, loadConfig(stack));
            const resolved = resolvePolicyConfig(config);
            assert.strictEqual(resolved.get("control-plane-odd-count")?.properties.minControlPlanes, 3);
        }
        assert.strictEqual(loadPolicyConfig("staging"), undefined);
        assert.strictEqual(policyConfigPath("../package"), undefined);
    });

    it("rejects bad config with a message naming the policy and the setting", () => {
        assert.throws(
            () => resolvePolicyConfig({ "control-plane-odd-cnt": "mandatory" }),
            (e: Error) => e instanceof PolicyConfigError && /names "control-plane-odd-cnt"/.test(e.message),
        );
        assert.throws(
            () => resolvePolicyConfig({ "control-plane-odd-count": { minControlPlane: 1 } }),
            /unknown setting "minControlPlane"/,
        );
        assert.throws(
            () => resolvePolicyConfig({ "control-plane-odd-count": { minControlPlanes: "3" } }),
            /control-plane-odd-count.minControlPlanes: "3" is not of type integer/,
        );
        assert.throws(
            () => resolvePolicyConfig({ "control-plane-odd-count": { minControlPlanes: 0 } }),
            /below the minimum 1/,
        );
        assert.throws(
            () => resolvePolicyConfig({ "tls-key-strength": { allowedEcdsaCurves: ["P999"] } }),
            /allowedEcdsaCurves\[0\]: "P999" is not one of/,
        );
        assert.throws(
            () => resolvePolicyConfig({ "nlb-cross-zone": "sometimes" as never }),
            /enforcementLevel "sometimes"/,
        );
    });

    describe("the whole pack on a complete layout", () => {
        for (const mode of ["preview", "known"] as const) {
            it(`reports nothing at all for a sound 3-AZ layout (${mode})`, async () => {
                for (const stack of ["dev", "prod"] as const) {
                    const r = await evaluatePolicies(layout({ mode, stack, protect: stack === "prod" }).resources, {
                        config: loadConfig(stack),
                    });
                    assert.deepStrictEqual(
                        r.diagnostics.map((d) => `[${d.enforcementLevel}] ${d.policyName}: ${d.message}`),
                        [],
                        stack,
                    );
                    assert.strictEqual(hasMandatory(r), false);
                }
            });
        }
        it("reports nothing for a sound layout whose stack resources carry preview outputs (computed values unknown)", async () => {
            const s = withPreviewOutputs(layout({ mode: "preview" }));
            assert.strictEqual(s.get("control-plane-sg").outputs!.ingress, UNKNOWN);
            assert.strictEqual(s.get("cp-0").outputs!.associatePublicIpAddress, UNKNOWN);
            const r = await evaluatePolicies(s.resources, { config: loadConfig("dev") });
            assert.deepStrictEqual(
                r.diagnostics.map((d) => `[${d.enforcementLevel}] ${d.policyName}: ${d.message}`),
                [],
            );
            const even = await evaluatePolicies(withPreviewOutputs(layout({ azs: ["a", "b", "c", "a"] })).resources, {
                config: loadConfig("dev"),
            });
            assert.deepStrictEqual(even.diagnostics.map((d) => `${d.enforcementLevel} ${d.policyName}`).sort(), [
                "mandatory control-plane-az-quorum",
                "mandatory control-plane-odd-count",
            ]);
        });
        it("blocks an even layout during preview with a mandatory violation, never a 'can't run' advisory", async () => {
            const r = await evaluatePolicies(
                layout({ azs: ["a", "b", "c", "a"], mode: "preview", stack: "prod", protect: true }).resources,
                { config: loadConfig("prod") },
            );
            assert.ok(hasMandatory(r));
            assert.deepStrictEqual([...new Set(r.diagnostics.map((d) => d.policyName))].sort(), [
                "control-plane-az-quorum",
                "control-plane-odd-count",
            ]);
            assert.ok(!r.diagnostics.some((d) => /can't run policy/.test(d.message)));
        });
        it("reports one diagnostic per problem across policies for a bad layout", async () => {
            const s = layout({ azs: ["a", "a", "b"] });
            s.get("cp-0").inputs.metadataOptions = { httpTokens: "optional", httpPutResponseHopLimit: 1 };
            s.remove("api-cp-2");
            const r = await evaluatePolicies(s.resources);
            const mandatory = r.diagnostics
                .filter((d) => d.enforcementLevel === "mandatory")
                .map((d) => d.policyName)
                .sort();
            assert.deepStrictEqual(mandatory, [
                "api-lb-targets-every-control-plane",
                "control-plane-az-quorum",
                "control-plane-multi-az",
                "imdsv2-required",
            ]);
            assert.strictEqual(r.diagnostics.find((d) => d.policyName === "imdsv2-required")!.urn, s.get("cp-0").urn);
        });
    });

    describe("evaluator semantics (as @pulumi/policy's server)", () => {
        const naive: ResourceValidationPolicy = {
            name: "naive",
            description: "Reads an unknown value directly.",
            enforcementLevel: "mandatory",
            validateResource: (args, report) => {
                if (args.props.subnetId !== "subnet-1") {
                    report("wrong subnet");
                }
            },
        };
        it("turns an unknown read into an advisory 'can't run policy ... during preview'", async () => {
            const s = new Stack();
            const r = await analyzeResource(s.add(TYPES.instance, "i", { subnetId: UNKNOWN }), { policies: [naive] });
            assert.strictEqual(r.diagnostics.length, 1);
            assert.strictEqual(r.diagnostics[0].enforcementLevel, "advisory");
            assert.strictEqual(
                r.diagnostics[0].message,
                `can't run policy 'naive' from policy pack '${packName}@v${packVersion}' during preview: string value at .subnetId can't be known during preview`,
            );
        });
        it("lays out string violations as description + newline + message, at the configured level", async () => {
            const s = new Stack();
            const res = s.add(TYPES.instance, "i", { subnetId: "subnet-2" });
            const r = await analyzeResource(res, { policies: [naive] });
            assert.strictEqual(r.diagnostics[0].message, "Reads an unknown value directly.\nwrong subnet");
            assert.strictEqual(r.diagnostics[0].enforcementLevel, "mandatory");
            assert.strictEqual(
                (await analyzeResource(res, { policies: [naive], config: { naive: "advisory" } })).diagnostics[0]
                    .enforcementLevel,
                "advisory",
            );
            assert.strictEqual(
                (await analyzeResource(res, { policies: [naive], config: { naive: "remediate" } })).diagnostics[0]
                    .enforcementLevel,
                "mandatory",
            );
            assert.strictEqual(
                (await analyzeResource(res, { policies: [naive], config: { naive: "disabled" } })).diagnostics.length,
                0,
            );
            assert.strictEqual(
                (await analyzeResource(res, { policies: [naive], config: { all: "advisory" } })).diagnostics[0]
                    .enforcementLevel,
                "advisory",
            );
        });
        it("disables a pack policy through config", async () => {
            const s = layout({ azs: ["a", "b"] });
            const on = await analyzeStack(s.resources, { config: loadConfig("dev") });
            assert.ok(on.diagnostics.some((d) => d.policyName === "control-plane-odd-count"));
            const off = await analyzeStack(s.resources, {
                config: { ...loadConfig("dev"), "control-plane-odd-count": { enforcementLevel: "disabled" } },
            });
            assert.ok(!off.diagnostics.some((d) => d.policyName === "control-plane-odd-count"));
        });
        it("hands policies plain values for secrets, and ids for resource references", async () => {
            const seen: unknown[] = [];
            const spy: ResourceValidationPolicy = {
                name: "spy",
                description: "Records props.",
                enforcementLevel: "advisory",
                validateResource: (args) => {
                    seen.push(args.props.userData, args.props.subnetId, args.props.nested.list[1]);
                },
            };
            const s = new Stack();
            await analyzeResource(
                s.add(TYPES.instance, "i", {
                    userData: secret("#!/bin/bash"),
                    subnetId: { [WIRE.sigKey]: WIRE.resourceSig, urn: "urn:x", id: "subnet-9" },
                    nested: { list: [1, { [WIRE.sigKey]: WIRE.outputValueSig, value: "ov" }], gone: undefined },
                }),
                { policies: [spy] },
            );
            assert.deepStrictEqual(seen, ["#!/bin/bash", "subnet-9", "ov"]);
        });
        it("propagates real errors instead of hiding them", async () => {
            const broken: ResourceValidationPolicy = {
                name: "broken",
                description: "Throws.",
                enforcementLevel: "mandatory",
                validateResource: () => {
                    throw new TypeError("boom");
                },
            };
            await assert.rejects(
                analyzeResource(new Stack().add(TYPES.instance, "i", {}), { policies: [broken] }),
                /Error validating resource with policy 'broken' from policy pack 'k8s-ha-control-plane@v0.1.0':\nTypeError: boom/,
            );
        });
        it("reports dev/prod differences through the config files only", async () => {
            const s = layout();
            s.get("cp-0").inputs.instanceType = "t3.medium";
            const dev = await evaluatePolicies(s.resources, { config: loadConfig("dev") });
            const prod = await evaluatePolicies(s.resources, { config: loadConfig("prod") });
            assert.ok(!dev.diagnostics.some((d) => d.policyName === "control-plane-instance-size"));
            const size = prod.diagnostics.filter((d) => d.policyName === "control-plane-instance-size");
            assert.deepStrictEqual(
                size.map((d) => [d.enforcementLevel, d.urn]),
                ["cp-0", "cp-1", "cp-2"].map((n) => ["mandatory", s.get(n).urn]),
            );
        });
    });
});
