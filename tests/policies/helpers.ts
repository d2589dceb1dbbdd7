// Test helpers for the policy pack: resources in the shape the engine records them, a complete
// highly available layout to mutate, and runners that evaluate one policy (or the pack) with the
// argument shapes of @pulumi/policy 1.21.
//
// Runners go through tools/harness/analyzer.ts, which builds ResourceValidationArgs/StackValidationArgs
// exactly as @pulumi/policy's server does and wraps properties in its own unknownCheckingProxy, so
// `UNKNOWN` below behaves as an unknown value does under `pulumi preview`. That evaluator is checked
// against the real analyzer server in analyzer.grpc.spec.ts.

import * as assert from "assert";
import { EnforcementLevel, Policy, PolicyPackConfig } from "@pulumi/policy";
import {
    analyzeResource,
    analyzeStack,
    EvaluateOptions,
    EvaluationResult,
    PolicyDiagnostic,
    RecordedResource,
    WIRE,
    wireSecret,
} from "../../tools/harness/analyzer";
import * as contract from "../../policies/lib/contract";

/** What the engine sends for a value that is unknown during preview. */
export const UNKNOWN = WIRE.unknown;
/** A secret in wire form (policies see the plain value). */
export const secret = wireSecret;

export const PROJECT = "k8s-ha";

export function urnOf(stack: string, type: string, name: string): string {
    return `urn:pulumi:${stack}::${PROJECT}::${type}::${name}`;
}

export interface AddOptions {
    /** input property -> resources its value came from */
    deps?: Record<string, RecordedResource[]>;
    protect?: boolean;
    parent?: RecordedResource;
}

/** A stack under construction. */
export class Stack {
    readonly resources: RecordedResource[] = [];

    constructor(readonly name = "dev") {}

    add(type: string, name: string, inputs: Record<string, unknown>, opts: AddOptions = {}): RecordedResource {
        const propertyDependencies: Record<string, string[]> = {};
        for (const [k, rs] of Object.entries(opts.deps ?? {})) {
            propertyDependencies[k] = rs.map((r) => r.urn);
        }
        const r: RecordedResource = {
            urn: urnOf(this.name, type, name),
            type,
            name,
            inputs,
            propertyDependencies,
            dependencies: [...new Set(Object.values(propertyDependencies).flat())],
            protect: opts.protect ?? false,
            parent: opts.parent?.urn,
        };
        this.resources.push(r);
        return r;
    }

    get(name: string): RecordedResource {
        const r = this.resources.find((x) => x.name === name);
        assert.ok(r, `no resource named ${name}`);
        return r;
    }

    remove(name: string): void {
        const i = this.resources.findIndex((x) => x.name === name);
        assert.ok(i >= 0, `no resource named ${name}`);
        this.resources.splice(i, 1);
    }
}

export const TYPES = {
    instance: contract.TYPES.instance,
    launchTemplate: contract.TYPES.launchTemplate,
    subnet: contract.TYPES.subnet,
    sg: contract.TYPES.securityGroup,
    sgRule: contract.TYPES.securityGroupRule,
    sgIngress: contract.TYPES.securityGroupIngressRule,
    lb: contract.TYPES.loadBalancer,
    listener: contract.TYPES.listener,
    tg: contract.TYPES.targetGroup,
    tga: contract.TYPES.targetGroupAttachment,
    key: contract.TYPES.privateKey,
    selfSigned: contract.TYPES.selfSignedCert,
    locallySigned: contract.TYPES.locallySignedCert,
    certRequest: contract.TYPES.certRequest,
} as const;

export interface LayoutOptions {
    /** The AZ suffix of each control plane, e.g. ["a", "b", "c"]. */
    azs?: string[];
    stack?: string;
    /**
     * "preview": ids/ARNs unknown, relationships only through propertyDependencies (as during
     * `pulumi preview`). "known": ids known, and no propertyDependencies at all, so relationships
     * resolve by value (as from a state without dependency data).
     */
    mode?: "preview" | "known";
    /** Control planes' availabilityZone input unknown (their subnet's AZ stays known). */
    unknownInstanceAz?: boolean;
    protect?: boolean;
    /** Control-plane instance type; t3.medium (dev-sized), m6i.large for a stack named prod. */
    instanceType?: string;
}

export const CP_TAGS = { "k8s-ha/role": "control-plane", Name: "cp" };

/**
 * A complete, policy-clean layout: subnets per AZ, control planes, their security group with etcd
 * and API rules, the API NLB with listener/target group/attachments, and the PKI.
 */
export function layout(opts: LayoutOptions = {}): Stack {
    const azs = opts.azs ?? ["a", "b", "c"];
    const mode = opts.mode ?? "preview";
    const s = new Stack(opts.stack ?? "dev");
    const known = mode === "known";
    const id = (v: string): string => (known ? v : UNKNOWN);
    const deps = (m: Record<string, RecordedResource[]>): Record<string, RecordedResource[]> => (known ? {} : m);
    const region = "us-east-1";
    const zones = [...new Set([...azs, "a", "b", "c"])].sort();
    const subnets = new Map<string, RecordedResource>();
    for (const z of zones) {
        subnets.set(
            z,
            s.add(TYPES.subnet, `private-${z}`, {
                availabilityZone: `${region}${z}`,
                cidrBlock: `10.0.${zones.indexOf(z)}.0/24`,
                mapPublicIpOnLaunch: false,
                vpcId: id("vpc-1"),
                id: id(`subnet-${z}`),
                tags: { [`kubernetes.io/cluster/${s.name}`]: "owned" },
            }),
        );
    }
    const cpSg = s.add(TYPES.sg, "control-plane-sg", {
        vpcId: id("vpc-1"),
        description: "control planes",
        id: id("sg-cp"),
    });
    s.add(
        TYPES.sgRule,
        "cp-etcd",
        {
            type: "ingress",
            protocol: "tcp",
            fromPort: 2379,
            toPort: 2380,
            securityGroupId: id("sg-cp"),
            sourceSecurityGroupId: id("sg-cp"),
        },
        { deps: deps({ securityGroupId: [cpSg], sourceSecurityGroupId: [cpSg] }) },
    );
    s.add(
        TYPES.sgIngress,
        "cp-api",
        {
            securityGroupId: id("sg-cp"),
            ipProtocol: "tcp",
            fromPort: 6443,
            toPort: 6443,
            cidrIpv4: "10.0.0.0/16",
        },
        { deps: deps({ securityGroupId: [cpSg] }) },
    );
    s.add(
        TYPES.sgRule,
        "cp-ssh",
        {
            type: "ingress",
            protocol: "tcp",
            fromPort: 22,
            toPort: 22,
            cidrBlocks: ["203.0.113.0/24"],
            securityGroupId: id("sg-cp"),
        },
        { deps: deps({ securityGroupId: [cpSg] }) },
    );
    const cps = azs.map((z, i) =>
        s.add(
            TYPES.instance,
            `cp-${i}`,
            {
                ami: "ami-123",
                instanceType: opts.instanceType ?? (s.name === "prod" ? "m6i.large" : "t3.medium"),
                availabilityZone: opts.unknownInstanceAz ? UNKNOWN : `${region}${z}`,
                subnetId: id(`subnet-${z}`),
                vpcSecurityGroupIds: [id("sg-cp")],
                tags: { ...CP_TAGS, Name: `cp-${i}` },
                metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
                rootBlockDevice: { encrypted: true, volumeSize: 50 },
                userData: "#!/bin/bash\nset -euo pipefail\napt-get update\n",
                id: id(`i-${i}`),
                privateIp: known ? `10.0.0.${10 + i}` : UNKNOWN,
            },
            { deps: deps({ subnetId: [subnets.get(z)!], vpcSecurityGroupIds: [cpSg] }), protect: opts.protect },
        ),
    );
    const lbSubnets = [...new Set(azs)].sort().map((z) => subnets.get(z)!);
    const nlb = s.add(
        TYPES.lb,
        "api",
        {
            loadBalancerType: "network",
            internal: false,
            subnets: lbSubnets.map((sn) => id(`subnet-${sn.name.slice(-1)}`)),
            enableCrossZoneLoadBalancing: true,
            enableDeletionProtection: !!opts.protect,
            tags: { "k8s-ha/role": "api-lb" },
            arn: id("arn:aws:elasticloadbalancing:lb/api"),
            id: id("arn:aws:elasticloadbalancing:lb/api"),
        },
        { deps: deps({ subnets: lbSubnets }), protect: opts.protect },
    );
    const tg = s.add(TYPES.tg, "api-tg", {
        port: 6443,
        protocol: "TCP",
        targetType: "instance",
        vpcId: id("vpc-1"),
        preserveClientIp: "false",
        healthCheck: {
            enabled: true,
            protocol: "TCP",
            port: "traffic-port",
            interval: 10,
            healthyThreshold: 2,
            unhealthyThreshold: 2,
        },
        arn: id("arn:aws:elasticloadbalancing:tg/api"),
        id: id("arn:aws:elasticloadbalancing:tg/api"),
    });
    s.add(
        TYPES.listener,
        "api-6443",
        {
            loadBalancerArn: id("arn:aws:elasticloadbalancing:lb/api"),
            port: 6443,
            protocol: "TCP",
            defaultActions: [{ type: "forward", targetGroupArn: id("arn:aws:elasticloadbalancing:tg/api") }],
        },
        { deps: deps({ loadBalancerArn: [nlb], defaultActions: [tg] }) },
    );
    cps.forEach((cp, i) =>
        s.add(
            TYPES.tga,
            `api-cp-${i}`,
            {
                targetGroupArn: id("arn:aws:elasticloadbalancing:tg/api"),
                targetId: id(`i-${i}`),
                port: 6443,
            },
            { deps: deps({ targetGroupArn: [tg], targetId: [cp] }) },
        ),
    );
    // PKI
    const caKey = s.add(
        TYPES.key,
        "cluster-ca-key",
        {
            algorithm: "RSA",
            rsaBits: 2048,
            privateKeyPem: secret(known ? "-----BEGIN RSA PRIVATE KEY-----\nca\n" : UNKNOWN),
        },
        { protect: opts.protect },
    );
    s.add(
        TYPES.selfSigned,
        "cluster-ca",
        {
            privateKeyPem: secret(known ? "-----BEGIN RSA PRIVATE KEY-----\nca\n" : UNKNOWN),
            isCaCertificate: true,
            validityPeriodHours: 87600,
            earlyRenewalHours: 0,
            allowedUses: ["cert_signing", "key_encipherment", "digital_signature"],
            subject: { commonName: "kubernetes" },
        },
        { deps: deps({ privateKeyPem: [caKey] }), protect: opts.protect },
    );
    const apiKey = s.add(TYPES.key, "apiserver-key", {
        algorithm: "ECDSA",
        ecdsaCurve: "P256",
        privateKeyPem: secret(known ? "-----BEGIN EC PRIVATE KEY-----\napi\n" : UNKNOWN),
    });
    const csr = s.add(
        TYPES.certRequest,
        "apiserver-csr",
        {
            privateKeyPem: secret(known ? "-----BEGIN EC PRIVATE KEY-----\napi\n" : UNKNOWN),
            subject: { commonName: "kube-apiserver" },
            dnsNames: ["kubernetes", "kubernetes.default"],
        },
        { deps: deps({ privateKeyPem: [apiKey] }) },
    );
    s.add(
        TYPES.locallySigned,
        "apiserver",
        {
            certRequestPem: id("-----BEGIN CERTIFICATE REQUEST-----"),
            caPrivateKeyPem: secret(known ? "-----BEGIN RSA PRIVATE KEY-----\nca\n" : UNKNOWN),
            caCertPem: id("-----BEGIN CERTIFICATE-----"),
            validityPeriodHours: 8760,
            earlyRenewalHours: 720,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        { deps: deps({ certRequestPem: [csr], caPrivateKeyPem: [caKey] }) },
    );
    s.add(TYPES.key, "ssh-key", {
        algorithm: "ED25519",
        privateKeyPem: secret(known ? "-----BEGIN OPENSSH PRIVATE KEY-----\nssh\n" : UNKNOWN),
    });
    return s;
}

/** Properties a provider computes when the program leaves them unset (a subset, per type). */
const COMPUTED: Record<string, string[]> = {
    [TYPES.instance]: [
        "id",
        "arn",
        "privateIp",
        "publicIp",
        "privateDns",
        "publicDns",
        "associatePublicIpAddress",
        "securityGroups",
        "primaryNetworkInterfaceId",
        "availabilityZone",
        "subnetId",
        "tagsAll",
    ],
    [TYPES.subnet]: ["id", "arn", "ownerId", "availabilityZoneId", "tagsAll"],
    [TYPES.sg]: ["id", "arn", "ingress", "egress", "ownerId", "name", "tagsAll"],
    [TYPES.sgRule]: ["id", "securityGroupRuleId", "sourceSecurityGroupId"],
    [TYPES.sgIngress]: ["id", "arn", "securityGroupRuleId", "tagsAll"],
    [TYPES.lb]: ["id", "arn", "arnSuffix", "dnsName", "zoneId", "subnetMappings", "securityGroups", "tagsAll"],
    [TYPES.listener]: ["id", "arn", "sslPolicy", "tagsAll"],
    [TYPES.tg]: ["id", "arn", "arnSuffix", "preserveClientIp", "loadBalancerArns", "tagsAll"],
    [TYPES.tga]: ["id"],
    [TYPES.key]: [
        "id",
        "privateKeyPem",
        "privateKeyOpenssh",
        "publicKeyPem",
        "publicKeyOpenssh",
        "publicKeyFingerprintMd5",
    ],
    [TYPES.selfSigned]: ["id", "certPem", "validityStartTime", "validityEndTime", "readyForRenewal", "keyAlgorithm"],
    [TYPES.locallySigned]: [
        "id",
        "certPem",
        "validityStartTime",
        "validityEndTime",
        "readyForRenewal",
        "caKeyAlgorithm",
    ],
    [TYPES.certRequest]: ["id", "certRequestPem", "keyAlgorithm"],
};

/**
 * Gives every resource the outputs the engine hands stack policies during preview: the checked
 * inputs (tls keys get the provider defaults rsaBits 2048 and ecdsaCurve P224) plus every
 * computed property the program left unset, unknown.
 */
export function withPreviewOutputs(s: Stack): Stack {
    for (const r of s.resources) {
        const outputs: Record<string, unknown> = { ...r.inputs };
        if (r.type === TYPES.key) {
            outputs.rsaBits ??= 2048;
            outputs.ecdsaCurve ??= "P224";
        }
        for (const k of COMPUTED[r.type] ?? []) {
            if (outputs[k] === undefined) {
                outputs[k] = UNKNOWN;
            }
        }
        r.outputs = outputs;
    }
    return s;
}

// ------------------------------------------------------------------------------------------------

export interface Outcome {
    /** Every diagnostic, advisory ones included. */
    diagnostics: PolicyDiagnostic[];
    /** Diagnostics at the given level. */
    at(level: EnforcementLevel): PolicyDiagnostic[];
    notApplicable: EvaluationResult["notApplicable"];
}

function outcome(r: EvaluationResult): Outcome {
    return {
        diagnostics: r.diagnostics,
        at: (level) => r.diagnostics.filter((d) => d.enforcementLevel === level),
        notApplicable: r.notApplicable,
    };
}

/** Runs one resource policy on one resource, as the Analyze RPC does. */
export async function runResource(
    policy: Policy,
    resource: RecordedResource,
    opts: Omit<EvaluateOptions, "policies"> = {},
): Promise<Outcome> {
    return outcome(await analyzeResource(resource, { ...opts, policies: [policy as never] }));
}

/** Runs a resource policy on a freshly built resource. */
export async function checkResource(
    policy: Policy,
    type: string,
    inputs: Record<string, unknown>,
    opts: Omit<EvaluateOptions, "policies"> & { name?: string; stack?: string } = {},
): Promise<Outcome> {
    const s = new Stack(opts.stack ?? "dev");
    return runResource(policy, s.add(type, opts.name ?? "subject", inputs), opts);
}

/** Runs one stack policy on a stack, as the AnalyzeStack RPC does. */
export async function runStack(
    policy: Policy,
    stack: Stack | RecordedResource[],
    opts: Omit<EvaluateOptions, "policies"> = {},
): Promise<Outcome> {
    const resources = Array.isArray(stack) ? stack : stack.resources;
    return outcome(await analyzeStack(resources, { ...opts, policies: [policy as never] }));
}

/** Asserts exactly `n` diagnostics at `level` and returns their messages. */
export function expectLevel(o: Outcome, level: EnforcementLevel, n: number): string[] {
    const ds = o.at(level);
    assert.strictEqual(
        ds.length,
        n,
        `expected ${n} ${level} diagnostic(s), got:\n${o.diagnostics.map((d) => `  [${d.enforcementLevel}] ${d.message}`).join("\n") || "  (none)"}`,
    );
    return ds.map((d) => d.message);
}

/** Asserts no diagnostics at all (no violation, no undecided advisory). */
export function expectClean(o: Outcome): void {
    assert.deepStrictEqual(
        o.diagnostics.map((d) => `[${d.enforcementLevel}] ${d.policyName}: ${d.message}`),
        [],
    );
}

/** Asserts the policy reported not-applicable (and nothing else). */
export function expectNotApplicable(o: Outcome): void {
    expectClean(o);
    assert.ok(o.notApplicable.length > 0, "expected the policy to be not applicable");
}

export function loadConfig(stack: "dev" | "prod"): PolicyPackConfig {
    return require(`../../policies/config.${stack}.json`) as PolicyPackConfig;
}
