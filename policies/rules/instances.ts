// EC2 instances and launch templates: IMDSv2, encrypted volumes, no public IP on control planes,
// no secrets in user data, and control-plane sizing.

import { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { ROLE_CONTROL_PLANE, ROLE_TAG, T } from "../lib/graph";
import { InstanceSpec, lookupInstanceType } from "../lib/instanceTypes";
import { knobs, reportUndecided, validateResourceOfTypes } from "../lib/kit";
import { asBool, isUnknown, prop, read, readList, tagValue } from "../lib/values";

const instanceOrTemplate = [...T.instance, ...T.launchTemplate];

function kindOf(type: string): string {
    return type === T.launchTemplate[0] ? "launch template" : "instance";
}

// ------------------------------------------------------------------------------------------------

export const imdsv2Required: ResourceValidationPolicy = {
    name: "imdsv2-required",
    description: 'EC2 instances and launch templates require IMDSv2 (metadataOptions.httpTokens = "required").',
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(instanceOrTemplate, (args, reportViolation) => {
        const kind = kindOf(args.type);
        const mo = read(() => args.props.metadataOptions);
        const tokens = isUnknown(mo) ? mo : prop(mo, "httpTokens");
        const endpoint = isUnknown(mo) ? mo : prop(mo, "httpEndpoint");
        if (endpoint === "disabled") {
            return; // no metadata service at all
        }
        if (isUnknown(tokens)) {
            reportUndecided(
                reportViolation,
                imdsv2Required.description,
                `metadataOptions of ${kind} ${args.name} are unknown during preview.`,
            );
            return;
        }
        if (tokens !== "required") {
            reportViolation(
                `${kind} ${args.name} has metadataOptions.httpTokens ${tokens === undefined ? "unset (IMDSv1 allowed)" : `"${String(tokens)}"`}: ` +
                    `any process or SSRF on the node can read the instance role's credentials without a session token. ` +
                    `Set metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 }.`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

export const imdsHopLimitOne: ResourceValidationPolicy = {
    name: "imds-hop-limit-one",
    description:
        "EC2 instances and launch templates keep the instance metadata service one hop away (httpPutResponseHopLimit = 1), so pods cannot fetch the node role's credentials.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(instanceOrTemplate, (args, reportViolation) => {
        const kind = kindOf(args.type);
        const mo = read(() => args.props.metadataOptions);
        const endpoint = isUnknown(mo) ? mo : prop(mo, "httpEndpoint");
        if (endpoint === "disabled") {
            return; // no metadata service at all
        }
        const hops = isUnknown(mo) ? mo : prop(mo, "httpPutResponseHopLimit");
        if (isUnknown(hops)) {
            reportUndecided(
                reportViolation,
                imdsHopLimitOne.description,
                `metadataOptions of ${kind} ${args.name} are unknown during preview.`,
            );
            return;
        }
        if (hops !== 1) {
            // Unset is not safe: an AMI registered for IMDSv2 defaults the limit to 2.
            reportViolation(
                `${kind} ${args.name} has metadataOptions.httpPutResponseHopLimit ${hops === undefined ? "unset (an IMDSv2 AMI defaults it to 2)" : String(hops)}: ` +
                    `a pod's request crosses one more hop than the node's own, so any pod can fetch the node role's credentials. ` +
                    `Set httpPutResponseHopLimit: 1, and run what needs the instance role with host networking.`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

export const encryptedRootVolume: ResourceValidationPolicy = {
    name: "encrypted-root-volume",
    description:
        "EC2 instances encrypt their root (and extra EBS) volumes; launch templates encrypt every EBS mapping.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(instanceOrTemplate, (args, reportViolation) => {
        const kind = kindOf(args.type);
        const problems: string[] = [];
        const unknowns: string[] = [];
        if (args.type === T.instance[0]) {
            const root = read(() => args.props.rootBlockDevice);
            const enc = isUnknown(root) ? root : prop(root, "encrypted");
            if (isUnknown(enc)) {
                unknowns.push("rootBlockDevice.encrypted");
            } else if (asBool(enc) !== true) {
                problems.push(`rootBlockDevice.encrypted is ${enc === undefined ? "unset" : String(enc)}`);
            }
            const extra = readList(() => args.props.ebsBlockDevices as unknown);
            if (isUnknown(extra)) {
                unknowns.push("ebsBlockDevices");
            } else {
                (extra ?? []).forEach((d, i) => {
                    const e = isUnknown(d) ? d : prop(d, "encrypted");
                    const dev = isUnknown(d) ? undefined : prop(d, "deviceName");
                    if (isUnknown(e)) {
                        unknowns.push(`ebsBlockDevices[${i}].encrypted`);
                    } else if (asBool(e) !== true) {
                        problems.push(
                            `ebsBlockDevices[${i}]${typeof dev === "string" ? ` (${dev})` : ""} is not encrypted`,
                        );
                    }
                });
            }
        } else {
            const mappings = readList(() => args.props.blockDeviceMappings as unknown);
            if (isUnknown(mappings)) {
                unknowns.push("blockDeviceMappings");
            } else {
                (mappings ?? []).forEach((m, i) => {
                    const ebs = isUnknown(m) ? m : prop(m, "ebs");
                    if (ebs === undefined || ebs === null) {
                        return; // instance store or no-device mapping
                    }
                    const e = isUnknown(ebs) ? ebs : prop(ebs, "encrypted");
                    if (isUnknown(e)) {
                        unknowns.push(`blockDeviceMappings[${i}].ebs.encrypted`);
                    } else if (asBool(e) !== true) {
                        problems.push(
                            `blockDeviceMappings[${i}].ebs.encrypted is ${e === undefined ? "unset" : JSON.stringify(e)}`,
                        );
                    }
                });
            }
        }
        if (problems.length > 0) {
            reportViolation(
                `${kind} ${args.name}: ${problems.join("; ")}. Control-plane disks hold etcd data and the cluster's private keys; ` +
                    `set ${args.type === T.instance[0] ? "rootBlockDevice: { encrypted: true } (and encrypted: true on every ebsBlockDevices entry)" : 'ebs: { encrypted: "true" } on every mapping'}.`,
            );
        } else if (unknowns.length > 0) {
            reportUndecided(
                reportViolation,
                encryptedRootVolume.description,
                `${unknowns.join(", ")} of ${kind} ${args.name} unknown during preview.`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

export const noPublicIpControlPlane: ResourceValidationPolicy = {
    name: "no-public-ip-control-plane",
    description: "Control-plane instances do not get a public IP address (associatePublicIpAddress is not true).",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(T.instance, (args, reportViolation) => {
        const role = tagValue(args.props, ROLE_TAG);
        if (isUnknown(role)) {
            reportUndecided(
                reportViolation,
                noPublicIpControlPlane.description,
                `the tags of instance ${args.name} are unknown during preview.`,
            );
            return;
        }
        if (role !== ROLE_CONTROL_PLANE) {
            return args.notApplicable("not a control-plane instance");
        }
        const pub = read(() => args.props.associatePublicIpAddress);
        if (isUnknown(pub)) {
            reportUndecided(
                reportViolation,
                noPublicIpControlPlane.description,
                `associatePublicIpAddress of ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (asBool(pub) === true) {
            reportViolation(
                `control-plane instance ${args.name} sets associatePublicIpAddress: true, exposing etcd, kubelet and SSH ` +
                    `to the internet behind only a security group. Remove it (or set false), place control planes in private subnets, ` +
                    `and reach the API through the load balancer.`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

interface UserDataKnobs {
    extraPatterns: string[];
}

const userDataSchema: PolicyConfigSchema = {
    properties: {
        extraPatterns: {
            type: "array",
            items: { type: "string" },
            default: [],
            description: "More regular expressions that must not match user data.",
        },
    },
};

const secretPatterns: Array<{ what: string; re: RegExp }> = [
    { what: "a PEM private key", re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/ },
    { what: "a kubeadm bootstrap token", re: /(?<![A-Za-z0-9])[a-z0-9]{6}\.[a-z0-9]{16}(?![A-Za-z0-9])/ },
    { what: "an AWS access key id", re: /(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])/ },
];

function decodeBase64(s: string): string | undefined {
    const t = s.replace(/\s+/g, "");
    if (t.length === 0 || t.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(t)) {
        return undefined;
    }
    return Buffer.from(t, "base64").toString("utf8");
}

/** The secret-looking things in a text, as "what (line N)", never the values themselves. */
export function findSecrets(text: string, extra: readonly string[] = []): string[] {
    const patterns = [...secretPatterns, ...extra.map((p) => ({ what: `a match of /${p}/`, re: new RegExp(p) }))];
    const found: string[] = [];
    const lines = text.split(/\r?\n/);
    for (const { what, re } of patterns) {
        const line = lines.findIndex((l) => re.test(l));
        if (line >= 0) {
            found.push(`${what} (line ${line + 1})`);
        } else if (re.test(text)) {
            found.push(what);
        }
    }
    return found;
}

export const noSecretsInUserData: ResourceValidationPolicy = {
    name: "no-secrets-in-user-data",
    description:
        "User data of instances and launch templates holds no private keys, bootstrap tokens or AWS access keys.",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: userDataSchema,
    validateResource: validateResourceOfTypes(instanceOrTemplate, (args, reportViolation) => {
        const k = knobs<UserDataKnobs>(userDataSchema, args);
        const kind = kindOf(args.type);
        const sources: Array<{ field: string; base64: boolean }> =
            args.type === T.instance[0]
                ? [
                      { field: "userData", base64: false },
                      { field: "userDataBase64", base64: true },
                  ]
                : [{ field: "userData", base64: true }];
        const unknowns: string[] = [];
        for (const { field, base64 } of sources) {
            const raw = read(() => args.props[field]);
            if (isUnknown(raw)) {
                unknowns.push(field);
                continue;
            }
            if (typeof raw !== "string" || raw === "") {
                continue;
            }
            // Base64 fields are scanned decoded (random base64 could mimic a key id); undecodable ones as they are.
            const decoded = base64 ? decodeBase64(raw) : undefined;
            const found = findSecrets(decoded ?? raw, k.extraPatterns);
            if (found.length > 0) {
                reportViolation(
                    `${kind} ${args.name}: ${field} contains ${found.join(", ")}. User data is readable by anyone who can ` +
                        `describe the instance or reach its metadata service, and is kept in plain text in the state. ` +
                        `Deliver secrets over SSH (remote.Command with logging "none") or fetch them at boot from Secrets Manager/SSM.`,
                );
            }
        }
        if (unknowns.length > 0) {
            reportUndecided(
                reportViolation,
                noSecretsInUserData.description,
                `${unknowns.join(", ")} of ${kind} ${args.name} unknown during preview; checked again on update.`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

interface SizeKnobs {
    minVcpus: number;
    minMemoryGiB: number;
    rejectUnknownTypes: boolean;
    extraInstanceTypes: Record<string, InstanceSpec>;
}

const sizeSchema: PolicyConfigSchema = {
    properties: {
        minVcpus: {
            type: "integer",
            minimum: 1,
            default: 2,
            description: "Fewest vCPUs for a control plane (kubeadm requires 2).",
        },
        minMemoryGiB: {
            type: "number",
            minimum: 0,
            default: 4,
            description: "Least memory (GiB) for a control plane.",
        },
        rejectUnknownTypes: {
            type: "boolean",
            default: false,
            description: "Report instance types missing from the built-in table.",
        },
        extraInstanceTypes: {
            type: "object",
            default: {},
            additionalProperties: {
                type: "object",
                properties: { vcpus: { type: "integer" }, memoryGiB: { type: "number" } },
                required: ["vcpus", "memoryGiB"],
            },
            description:
                'Instance types to add to the built-in table: { "x8.large": { "vcpus": 2, "memoryGiB": 16 } }.',
        },
    },
};

export const controlPlaneInstanceSize: ResourceValidationPolicy = {
    name: "control-plane-instance-size",
    description: "Control-plane instance types have at least minVcpus vCPUs and minMemoryGiB memory.",
    enforcementLevel: "mandatory",
    severity: "medium",
    configSchema: sizeSchema,
    validateResource: validateResourceOfTypes(T.instance, (args, reportViolation) => {
        const k = knobs<SizeKnobs>(sizeSchema, args);
        const role = tagValue(args.props, ROLE_TAG);
        if (isUnknown(role)) {
            reportUndecided(
                reportViolation,
                controlPlaneInstanceSize.description,
                `the tags of instance ${args.name} are unknown during preview.`,
            );
            return;
        }
        if (role !== ROLE_CONTROL_PLANE) {
            return args.notApplicable("not a control-plane instance");
        }
        const type = read(() => args.props.instanceType);
        if (isUnknown(type)) {
            reportUndecided(
                reportViolation,
                controlPlaneInstanceSize.description,
                `instanceType of ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (typeof type !== "string" || type === "") {
            reportViolation(`control-plane instance ${args.name} has no instanceType. Set controlPlaneInstanceType.`);
            return;
        }
        const spec = lookupInstanceType(type, k.extraInstanceTypes);
        if (!spec) {
            if (k.rejectUnknownTypes) {
                reportViolation(
                    `control-plane instance ${args.name} uses ${type}, which is not in the policy's instance-type table, so its size ` +
                        `cannot be checked. Use a listed type (t3/m5/m6i/m7i/c5/c6i/r5/r6i... large and up) or add it under extraInstanceTypes.`,
                );
            }
            return;
        }
        if (spec.vcpus < k.minVcpus || spec.memoryGiB < k.minMemoryGiB) {
            reportViolation(
                `control-plane instance ${args.name} uses ${type} (${spec.vcpus} vCPU, ${spec.memoryGiB} GiB); control planes need at least ` +
                    `${k.minVcpus} vCPU and ${k.minMemoryGiB} GiB (kubeadm preflight requires 2 vCPU; etcd and the apiserver need memory headroom). ` +
                    `Set controlPlaneInstanceType to e.g. ${k.minMemoryGiB <= 4 && k.minVcpus <= 2 ? "t3.medium" : k.minMemoryGiB <= 8 && k.minVcpus <= 2 ? "m6i.large" : "m6i.xlarge"}.`,
            );
        }
    }),
};

export const instancePolicies = [
    imdsv2Required,
    imdsHopLimitOne,
    encryptedRootVolume,
    noPublicIpControlPlane,
    noSecretsInUserData,
    controlPlaneInstanceSize,
];
