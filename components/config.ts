// Typed, validated stack configuration. Validation checks types and ranges only: whether a layout
// is highly available (odd count, zone spread) is the policy pack's job, so the program can
// express a bad layout and the pack is the one place that rejects it.
import { isIP } from "node:net";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { architectureOf, ubuntuImageQuery, type Architecture } from "./instance";
import { isDnsSubdomain, isValidSan } from "./kubeadm/types";
import { overlaps, parseCidr, type Ipv4Cidr } from "./net/cidr";
import { encryptionKeyNamesProblem } from "./kubeadm/encryption";
import { KNOWN_REGIONS, zonesOf } from "./net/zones";
import { PKI_ALGORITHMS, type PkiAlgorithm } from "./pki";
import { readProject, type ConfigDeclaration, type ProjectFile } from "./projectFile";

const project = readProject();

/** The Pulumi project name (Pulumi.yaml's `name`): the namespace of every config key. */
export const PROJECT = project.name;

/** kubeadm.k8s.io/v1beta4 exists from 1.31; the upper bound is the newest minor the scripts were reviewed against. */
/**
 * Kubernetes minors the node scripts support. The newest is 1.35: the nodes run containerd 1.7
 * from Ubuntu 24.04's archive, and 1.35 is the last minor that supports containerd 1.x.
 */
export const SUPPORTED_MINORS = { min: 31, max: 35 } as const;

/** An EC2 instance type's shape: family (m6i, c7gn, u-6tb1, u7i-12tb) '.' size (large, 12xlarge, metal-24xl). */
export const INSTANCE_TYPE =
    /^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|[1-9][0-9]{0,2}xlarge|xlarge|metal(-[1-9][0-9]?xl)?)$/;

export const NAT_GATEWAY_MODES = ["single", "perAz"] as const;
export type NatGatewayMode = (typeof NAT_GATEWAY_MODES)[number];

/** An existing VPC to build in, with one public and one private subnet id per availability zone. */
export interface ExistingVpc {
    readonly vpcId: string;
    readonly publicSubnets: Readonly<Record<string, string>>;
    readonly privateSubnets: Readonly<Record<string, string>>;
    /**
     * The VPC's public NAT gateways: an internet-facing API admits each one's address (nodes reach
     * the load balancer from there). Checked against the VPC before anything is built.
     */
    readonly natGatewayIds?: readonly string[];
}

/** The validated configuration of one stack. */
export interface ClusterConfig {
    readonly clusterName: string;
    readonly kubernetesVersion: string;
    readonly availabilityZones: readonly string[];
    readonly controlPlaneCount: number;
    readonly controlPlaneInstanceType: string;
    readonly workerCount: number;
    readonly workerInstanceType: string;
    readonly bastionInstanceType: string;
    /** Empty: look up Canonical's Ubuntu 24.04 LTS. */
    readonly amiId: string;
    readonly rootVolumeSizeGiB: number;
    readonly vpcCidr: string;
    readonly podCidr: string;
    readonly serviceCidr: string;
    readonly apiAllowedCidrs: readonly string[];
    readonly sshAllowedCidrs: readonly string[];
    readonly natGateways: NatGatewayMode;
    readonly internalApi: boolean;
    /** Undefined: create the network. */
    readonly existingVpc?: ExistingVpc;
    readonly protect: boolean;
    /** Key algorithm of every cluster key: RSA 2048 or ECDSA P-256. */
    readonly pkiAlgorithm: PkiAlgorithm;
    /** More names or addresses on the apiserver certificate (a friendly DNS alias of the load balancer). */
    readonly apiExtraSans: readonly string[];
    /** Route 53 hosted zone that holds apiDnsName; "" together with apiDnsName: no DNS record, the NLB's name is the endpoint. */
    readonly apiDnsZoneId: string;
    /** The API's DNS name (an alias A record to the NLB): controlPlaneEndpoint and every kubeconfig's server. Set at creation only. */
    readonly apiDnsName: string;
    /** systemd OnCalendar expression of the etcd backup timer on every control plane. */
    readonly etcdBackupSchedule: string;
    /** Days an etcd snapshot (and every older version of it) is kept in the backup bucket. */
    readonly etcdBackupRetentionDays: number;
    /** IAM role ARNs the backup key's policy lets decrypt snapshots, besides the account's administrators. */
    readonly etcdBackupRestoreRoleArns: readonly string[];
    /**
     * Node name -> any string: changing a node's value replaces that node (the old one leaves the
     * cluster first, quorum-guarded). Change one node per `pulumi up`.
     */
    readonly nodeReplaceTriggers: Readonly<Record<string, string>>;
    /** Install the control-plane PrometheusRule (needs the Prometheus operator's CRDs in the cluster). */
    readonly alerts: boolean;
    /** Names of the keys that encrypt Secrets at rest: the first encrypts, every one decrypts (key rotation runbook). */
    readonly secretsEncryptionKeys: readonly string[];
    /** Accept zones (and a region) that the zone table (net/zones.ts) does not know yet. */
    readonly allowUnknownZones: boolean;
    /** The stack's AWS region (`aws:region`), which every zone must belong to. */
    readonly region: string;
}

type Kind = "string" | "integer" | "boolean" | "string[]" | "object";

/** Every config key: those of ClusterConfig but the region, which is the aws provider's. */
export type ConfigKey = Exclude<keyof ClusterConfig, "region">;

function kindOf(key: string, d: ConfigDeclaration): Kind {
    if (d.type === "array" && d.items?.type === "string") return "string[]";
    if (d.type === "string" || d.type === "integer" || d.type === "boolean" || d.type === "object") return d.type;
    throw new Error(
        `Pulumi.yaml: config key ${key} has type ${JSON.stringify(d.type)}; the program reads string, integer, boolean, object or an array of strings`,
    );
}

/**
 * Every key with its type and default, as Pulumi.yaml declares them (the CLI applies the same
 * defaults; the program needs them where no CLI runs). A spec holds these keys to ClusterConfig's.
 */
export const CONFIG_SCHEMA = configSchemaOf(project);

/** Each key's kind and default from a project file. Throws on a type the program cannot read. */
export function configSchemaOf(
    p: ProjectFile,
): Readonly<Record<ConfigKey, { readonly kind: Kind; readonly default: unknown }>> {
    return Object.fromEntries(
        Object.entries(p.config).map(([key, d]) => [key, { kind: kindOf(key, d), default: d.default }]),
    ) as Record<ConfigKey, { kind: Kind; default: unknown }>;
}

/** An IAM role ARN: partition, a 12-digit account, no region, `role/` with an optional path. */
const ROLE_ARN_RE = /^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

/** A Route 53 hosted zone id as the API returns it without its /hostedzone/ prefix. */
const HOSTED_ZONE_ID = /^Z[0-9A-Z]{1,31}$/;

/** The region used when the stack sets no `aws:region` (the provider would fail; validation needs one). */
export const DEFAULT_REGION = "us-east-1";

/** One rejected value: the key, what was given, and what is allowed. */
export interface ConfigProblem {
    readonly key: string;
    readonly value: unknown;
    readonly allowed: string;
}

export class ConfigError extends Error {
    constructor(readonly problems: readonly ConfigProblem[]) {
        super(
            `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
                problems
                    .map((p) => `  - ${p.key}: ${JSON.stringify(p.value)} is not allowed; expected ${p.allowed}`)
                    .join("\n"),
        );
        this.name = "ConfigError";
    }
}

/**
 * Validates raw config values (strings as Pulumi stores them, JSON for non-string kinds) and applies
 * the defaults. Throws one ConfigError that lists every problem.
 */
export function validateConfig(raw: Readonly<Record<string, string | undefined>>, region: string): ClusterConfig {
    const problems: ConfigProblem[] = [];
    const bad = (key: string, value: unknown, allowed: string) => problems.push({ key, value, allowed });

    for (const key of Object.keys(raw)) {
        if (!(key in CONFIG_SCHEMA))
            bad(key, raw[key], `no such key; known keys are ${Object.keys(CONFIG_SCHEMA).join(", ")}`);
    }
    const values = {} as Record<ConfigKey, unknown>;
    for (const [key, spec] of Object.entries(CONFIG_SCHEMA) as [ConfigKey, { kind: Kind; default: unknown }][]) {
        const text = raw[key];
        const parsed = text === undefined ? { ok: true as const, value: spec.default } : parseKind(text, spec.kind);
        if (parsed.ok) values[key] = parsed.value;
        else bad(key, text, parsed.allowed);
    }
    const v = values as { [K in ConfigKey]: any };
    const typed = (key: ConfigKey) => v[key] !== undefined;

    if (typed("clusterName") && !/^[a-z][a-z0-9-]{1,18}[a-z0-9]$/.test(v.clusterName)) {
        bad(
            "clusterName",
            v.clusterName,
            "3-20 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit",
        );
    }
    if (typed("kubernetesVersion")) {
        // No leading zeros: "1.035.2" is not a Kubernetes version, and kubeadm would not find it.
        const m = /^1\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(v.kubernetesVersion);
        const { min, max } = SUPPORTED_MINORS;
        if (!m || Number(m[1]) < min || Number(m[1]) > max) {
            bad(
                "kubernetesVersion",
                v.kubernetesVersion,
                `a version 1.N.P with N from ${min} to ${max} (kubeadm config v1beta4 from 1.${min}; the nodes' containerd 1.7 ends at 1.${max})`,
            );
        }
    }
    const regionOk = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/.test(region);
    if (!regionOk) bad("aws:region", region, "an AWS region such as us-east-1 (pulumi config set aws:region <region>)");
    const zonePattern = new RegExp(`^${region.replace(/[^a-z0-9-]/g, "")}[a-z]$`);
    // The zone table (net/zones.ts) is a snapshot: allowUnknownZones admits what it does not know yet.
    const unknownOk = typed("allowUnknownZones") && v.allowUnknownZones === true;
    const knownZones = zonesOf(region);
    const regionKnown = regionOk && (knownZones !== undefined || unknownOk);
    if (regionOk && !regionKnown) {
        bad(
            "aws:region",
            region,
            `a commercial AWS region the zone table knows (${KNOWN_REGIONS.join(", ")}); for a newer one set allowUnknownZones: true`,
        );
    }
    // Zones are judged only against a region that is one: otherwise every zone would be blamed.
    if (regionKnown && typed("availabilityZones")) {
        const zones: string[] = v.availabilityZones;
        const allowed = `1 to 6 distinct zone names of region ${region}, such as ${region}a`;
        if (zones.length === 0 || zones.length > 6) bad("availabilityZones", zones, allowed);
        for (const z of zones.filter((z, i) => zones.indexOf(z) !== i))
            bad("availabilityZones", z, `${allowed} (duplicate)`);
        for (const z of zones.filter((z) => !zonePattern.test(z))) bad("availabilityZones", z, allowed);
        if (knownZones && !unknownOk) {
            for (const z of zones.filter((z) => zonePattern.test(z) && !knownZones.includes(z))) {
                bad(
                    "availabilityZones",
                    z,
                    `${allowed}: ${region} has ${knownZones.join(", ")} (components/net/zones.ts, a snapshot); for a zone it does not know yet set allowUnknownZones: true`,
                );
            }
        }
    }
    integerIn("controlPlaneCount", 1, 7);
    integerIn("workerCount", 0, 100);
    integerIn("rootVolumeSizeGiB", 20, 1024);
    for (const key of ["controlPlaneInstanceType", "workerInstanceType", "bastionInstanceType"] as const) {
        // family (letters, a generation digit, attributes) '.' size: what EC2 names look like; whether
        // the family exists is AWS's answer at launch. Graviton types get the arm64 image (cluster.ts).
        if (typed(key) && !INSTANCE_TYPE.test(v[key]))
            bad(
                key,
                v[key],
                "an EC2 instance type such as m6i.large or m7g.xlarge (family '.' size: nano, micro, small, medium, large, <n>xlarge or metal)",
            );
        else if (typed(key) && /^mac/.test(v[key]))
            bad(key, v[key], "an instance type that boots Ubuntu: mac families run macOS only");
    }
    if (typed("amiId") && v.amiId !== "" && !/^ami-[0-9a-f]{8,17}$/.test(v.amiId)) {
        bad("amiId", v.amiId, "an AMI id such as ami-0123456789abcdef0, or empty for Ubuntu 24.04 LTS");
    }
    const vpc = cidrIn("vpcCidr", 16, 20, "an IPv4 network CIDR from /16 to /20");
    const pods = cidrIn("podCidr", 8, 20, "an IPv4 network CIDR from /8 to /20 (a /24 per node)");
    const services = cidrIn("serviceCidr", 12, 24, "an IPv4 network CIDR from /12 to /24 (kubeadm's limit)");
    const pairs: [ConfigKey, Ipv4Cidr | undefined, ConfigKey, Ipv4Cidr | undefined][] = [
        ["podCidr", pods, "vpcCidr", vpc],
        ["serviceCidr", services, "vpcCidr", vpc],
        ["serviceCidr", services, "podCidr", pods],
    ];
    for (const [key, a, otherKey, b] of pairs) {
        if (a && b && overlaps(a, b)) bad(key, v[key], `a CIDR that does not overlap ${otherKey} (${v[otherKey]})`);
    }
    for (const key of ["apiAllowedCidrs", "sshAllowedCidrs"] as const) {
        const list = typed(key) ? (v[key] as string[]) : [];
        list.forEach((c, i) => {
            const parsed = parseCidr(c);
            if (typeof parsed === "string")
                bad(key, c, `a list of IPv4 network CIDRs in canonical form such as 203.0.113.0/24; ${parsed}`);
            // AWS refuses a second rule identical to one the group has: it would fail half-way through an up.
            else if (list.indexOf(c) !== i)
                bad(key, c, `each CIDR once (entries ${list.indexOf(c)} and ${i} are both ${c})`);
            else if (key === "apiAllowedCidrs" && vpc && c === v.vpcCidr)
                bad(
                    key,
                    c,
                    `CIDRs other than vpcCidr (${c}): the stack always admits the VPC to the API (rule api-lb-in-vpc)`,
                );
        });
    }
    // pulumi up reaches every node over SSH through the bastion, which admits only these sources:
    // with none, every bootstrap step would fail at its first dial, after the cloud is built.
    if (typed("sshAllowedCidrs") && (v.sshAllowedCidrs as string[]).length === 0) {
        bad(
            "sshAllowedCidrs",
            [],
            "at least one CIDR: pulumi up reaches every node over SSH through the bastion, which admits only these sources (for example the runner's address as a /32)",
        );
    }
    // The add-ons are installed by pulumi up itself, through the API load balancer, from where it
    // runs (components/addons.ts). A VPC this stack creates holds only its own nodes, so that place
    // is outside it: admitted by apiAllowedCidrs, to an internet-facing load balancer. Otherwise
    // the network, the nodes and the whole bootstrap would be built before the add-ons fail.
    // existingVpc's default, {}, means this stack creates the VPC.
    const createsVpc = !typed("existingVpc") || Object.keys(v.existingVpc).length === 0;
    if (createsVpc) {
        const why =
            "pulumi up installs the add-ons through the API load balancer from where it runs, and a VPC this stack creates holds only its nodes";
        if (typed("internalApi") && v.internalApi === true)
            bad(
                "internalApi",
                true,
                `false unless existingVpc is set (with pulumi up running inside that VPC): ${why}`,
            );
        if (typed("apiAllowedCidrs") && (v.apiAllowedCidrs as string[]).length === 0)
            bad(
                "apiAllowedCidrs",
                [],
                `at least one CIDR, unless existingVpc is set: ${why} (for example the runner's address as a /32)`,
            );
    }
    if (typed("natGateways") && !NAT_GATEWAY_MODES.includes(v.natGateways)) {
        bad("natGateways", v.natGateways, NAT_GATEWAY_MODES.map((m) => `'${m}'`).join(" or "));
    }
    if (typed("pkiAlgorithm") && !PKI_ALGORITHMS.includes(v.pkiAlgorithm)) {
        bad(
            "pkiAlgorithm",
            v.pkiAlgorithm,
            `${PKI_ALGORITHMS.map((a) => `'${a}'`).join(" or ")} (kubeadm rejects ED25519 and P-224)`,
        );
    }
    for (const san of typed("apiExtraSans") ? (v.apiExtraSans as string[]) : []) {
        if (!isValidSan(san)) bad("apiExtraSans", san, "a list of DNS names or IP addresses");
    }
    if (typed("apiDnsZoneId") && typed("apiDnsName")) checkApiDns(v.apiDnsZoneId, v.apiDnsName);
    const existingVpc = createsVpc ? undefined : checkExistingVpc(v.existingVpc, v.availabilityZones ?? []);
    if (typed("etcdBackupSchedule") && !isOnCalendar(v.etcdBackupSchedule)) {
        bad(
            "etcdBackupSchedule",
            v.etcdBackupSchedule,
            'a systemd OnCalendar expression such as "*-*-* 03:00:00", "daily" or "Mon..Fri 02:30" (see systemd.time(7))',
        );
    }
    integerIn("etcdBackupRetentionDays", 1, 3650);
    if (typed("etcdBackupRestoreRoleArns")) checkRestoreRoles(v.etcdBackupRestoreRoleArns);
    if (typed("nodeReplaceTriggers")) checkReplaceTriggers(v.nodeReplaceTriggers);
    const keysProblem = typed("secretsEncryptionKeys") ? encryptionKeyNamesProblem(v.secretsEncryptionKeys) : undefined;
    if (keysProblem) bad("secretsEncryptionKeys", v.secretsEncryptionKeys, keysProblem);

    if (problems.length > 0) throw new ConfigError(problems);
    return { ...(v as Omit<ClusterConfig, "region" | "existingVpc">), existingVpc, region };

    function integerIn(key: ConfigKey, min: number, max: number): void {
        if (typed(key) && (v[key] < min || v[key] > max)) bad(key, v[key], `an integer from ${min} to ${max}`);
    }
    function cidrIn(key: ConfigKey, minPrefix: number, maxPrefix: number, allowed: string): Ipv4Cidr | undefined {
        if (!typed(key)) return undefined;
        const c = parseCidr(v[key]);
        if (typeof c === "string" || c.prefix < minPrefix || c.prefix > maxPrefix) {
            bad(key, v[key], typeof c === "string" ? `${allowed}; ${c}` : allowed);
            return undefined;
        }
        return c;
    }
    function checkRestoreRoles(arns: string[]): void {
        // KMS refuses a key policy naming a principal that is not an existing role's ARN, half-way through an up.
        const allowed =
            "a list of IAM role ARNs such as arn:aws:iam::123456789012:role/etcd-restore (each once), or []";
        arns.forEach((arn, i) => {
            if (!ROLE_ARN_RE.test(arn)) bad("etcdBackupRestoreRoleArns", arn, allowed);
            else if (arns.indexOf(arn) !== i)
                bad(
                    "etcdBackupRestoreRoleArns",
                    arn,
                    `${allowed} (entries ${arns.indexOf(arn)} and ${i} are both ${arn})`,
                );
        });
    }
    function checkApiDns(zoneId: string, name: string): void {
        // Both or neither: a name without its zone has no record, and a zone without a name names nothing.
        if (zoneId === "" && name !== "")
            bad(
                "apiDnsZoneId",
                zoneId,
                `the id of the Route 53 hosted zone that holds apiDnsName ${name}, such as Z0123456789ABCDEFGHIJ (apiDnsZoneId and apiDnsName are set together, or neither)`,
            );
        if (zoneId !== "" && name === "")
            bad(
                "apiDnsName",
                name,
                `the API's DNS name inside hosted zone ${zoneId}, such as api.example.com (apiDnsZoneId and apiDnsName are set together, or neither)`,
            );
        if (zoneId !== "" && !HOSTED_ZONE_ID.test(zoneId))
            bad(
                "apiDnsZoneId",
                zoneId,
                "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (Z and up to 31 upper-case letters or digits, without /hostedzone/), or empty",
            );
        // kubeadm takes controlPlaneEndpoint as a lower-case RFC-1123 name; a wildcard or an address is no endpoint.
        if (name !== "" && (!isDnsSubdomain(name) || isIP(name) !== 0 || !name.includes("."))) {
            bad(
                "apiDnsName",
                name,
                "a fully qualified lower-case DNS name such as api.example.com (RFC-1123 labels, no trailing dot, no wildcard, not an address), or empty",
            );
        }
    }
    function checkReplaceTriggers(o: Record<string, unknown>): void {
        const names = new Set<string>();
        // Counts only within their ranges: a count of 1e9 (refused above) must not build a billion names.
        const count = (key: ConfigKey, max: number) => (typed(key) && v[key] >= 0 && v[key] <= max ? v[key] : 0);
        if (typed("clusterName")) {
            for (let i = 0; i < count("controlPlaneCount", 7); i++) names.add(`${v.clusterName}-cp-${i}`);
            for (let i = 0; i < count("workerCount", 100); i++) names.add(`${v.clusterName}-worker-${i}`);
        }
        for (const [node, value] of Object.entries(o)) {
            if (!names.has(node)) {
                bad(
                    "nodeReplaceTriggers",
                    node,
                    `node names of this stack as keys (${[...names].join(", ") || "none"})`,
                );
            } else if (typeof value !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$/.test(value)) {
                bad(
                    "nodeReplaceTriggers",
                    { [node]: value },
                    "a value of 1-64 letters, digits or . _ : + - per node, such as a date",
                );
            }
        }
    }
    function checkExistingVpc(o: Record<string, unknown>, zones: string[]): ExistingVpc | undefined {
        const allowed =
            "{} or { vpcId: 'vpc-…', publicSubnets: { <zone>: 'subnet-…' }, privateSubnets: { <zone>: 'subnet-…' } } covering every availability zone";
        const isSubnetMap = (m: unknown): m is Record<string, string> =>
            typeof m === "object" &&
            m !== null &&
            !Array.isArray(m) &&
            Object.values(m).every((s) => typeof s === "string" && /^subnet-[0-9a-f]+$/.test(s));
        const missing = zones.filter(
            (z) =>
                !isSubnetMap(o.publicSubnets) ||
                !isSubnetMap(o.privateSubnets) ||
                !o.publicSubnets[z] ||
                !o.privateSubnets[z],
        );
        if (
            typeof o.vpcId !== "string" ||
            !/^vpc-[0-9a-f]+$/.test(o.vpcId) ||
            !isSubnetMap(o.publicSubnets) ||
            !isSubnetMap(o.privateSubnets) ||
            missing.length > 0
        ) {
            bad("existingVpc", o, missing.length > 0 ? `${allowed} (no subnets for ${missing.join(", ")})` : allowed);
            return undefined;
        }
        const extra = Object.keys(o).filter(
            (k) => !["vpcId", "publicSubnets", "privateSubnets", "natGatewayIds"].includes(k),
        );
        if (extra.length > 0) {
            bad(
                "existingVpc",
                o,
                `${allowed}, and natGatewayIds: ['nat-…'] at most (unknown field ${extra.join(", ")})`,
            );
            return undefined;
        }
        const nats = o.natGatewayIds ?? [];
        if (
            !Array.isArray(nats) ||
            !nats.every((n, i) => typeof n === "string" && /^nat-[0-9a-f]{8,17}$/.test(n) && nats.indexOf(n) === i)
        ) {
            bad(
                "existingVpc",
                o,
                "natGatewayIds: a list of distinct NAT gateway ids such as nat-0123456789abcdef0 (the VPC's public NAT gateways)",
            );
            return undefined;
        }
        // Every subnet once: a subnet both public and private, or shared by two zones, would put
        // nodes where the layout (and the policy pack) believes they are not.
        const uses = [
            ...Object.entries(o.publicSubnets).map(([z, s]) => [`publicSubnets.${z}`, s]),
            ...Object.entries(o.privateSubnets).map(([z, s]) => [`privateSubnets.${z}`, s]),
        ];
        const clashes = uses
            .filter(([, s], i) => uses.findIndex(([, t]) => t === s) !== i)
            .map(([where, s]) => `${s} is also ${uses.find(([, t]) => t === s)![0]} (${where})`);
        if (clashes.length > 0) {
            bad("existingVpc", o, `${allowed}, each subnet once: ${clashes.join("; ")}`);
            return undefined;
        }
        return o as unknown as ExistingVpc;
    }
}

/**
 * A plausible systemd OnCalendar expression: a shorthand (daily, weekly, ...) or weekday/date/time
 * fields of digits, '*', ranges, lists and repetitions. systemd-analyze has the last word on the
 * node (the backup installer runs `systemd-analyze calendar` before installing the timer).
 */
export function isOnCalendar(text: string): boolean {
    if (text.length > 100) return false;
    // A trailing time zone: UTC, or an IANA name this runtime knows (systemd takes the same).
    const zoneMatch = / (UTC|[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+)$/.exec(text);
    if (zoneMatch && zoneMatch[1] !== "UTC" && !Intl.supportedValuesOf("timeZone").includes(zoneMatch[1])) return false;
    const body = zoneMatch ? text.slice(0, zoneMatch.index) : text;
    if (/^(minutely|hourly|daily|weekly|monthly|quarterly|semiannually|yearly|annually)$/.test(body)) return true;
    const weekday = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
    const days = `${weekday}((\\.\\.|,)${weekday})*`;
    const field = "[0-9*]+([./~][0-9]+)?(\\.\\.[0-9]+)?(,[0-9*]+([./~][0-9]+)?(\\.\\.[0-9]+)?)*";
    const date = `(${field})-(${field})(-(${field}))?`;
    const time = `(${field}):(${field})(:(${field}))?`;
    const withTime = new RegExp(`^(?:${days} )?(?:(?<date>${date}) )?(?<time>${time})$`).exec(body);
    const dateOnly = withTime ? null : new RegExp(`^(?:${days} )?(?<date>${date})$`).exec(body);
    const m = withTime ?? dateOnly;
    if (!m) return false;
    // Every number within its field's range (systemd refuses 25:00 or month 13).
    const within = (f: string | undefined, min: number, max: number) =>
        f === undefined || (f.match(/\d+/g) ?? []).every((n) => Number(n) >= min && Number(n) <= max);
    const { date: dateText, time: timeText } = m.groups ?? {};
    if (timeText) {
        const [h, mi, se] = timeText.split(":");
        if (!within(h, 0, 23) || !within(mi, 0, 59) || !within(se, 0, 59)) return false;
    }
    if (dateText) {
        const parts = dateText.split("-");
        const [month, day] = parts.length === 3 ? [parts[1], parts[2]] : [parts[0], parts[1]];
        if (!within(month, 1, 12) || !within(day, 1, 31)) return false;
    }
    return true;
}

function parseKind(text: string, kind: Kind): { ok: true; value: unknown } | { ok: false; allowed: string } {
    if (kind === "string") return { ok: true, value: text };
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        value = undefined;
    }
    switch (kind) {
        case "integer":
            return Number.isInteger(value) ? { ok: true, value } : { ok: false, allowed: "an integer" };
        case "boolean":
            return typeof value === "boolean" ? { ok: true, value } : { ok: false, allowed: "true or false" };
        case "string[]":
            return Array.isArray(value) && value.every((s) => typeof s === "string")
                ? { ok: true, value }
                : { ok: false, allowed: "a list of strings" };
        case "object":
            return typeof value === "object" && value !== null && !Array.isArray(value)
                ? { ok: true, value }
                : { ok: false, allowed: "an object" };
    }
}

/** Reads this stack's configuration from the Pulumi runtime and validates it. Registers no resource. */
export function loadConfig(): ClusterConfig {
    const all = pulumi.runtime.allConfig();
    const prefix = `${PROJECT}:`;
    const raw: Record<string, string> = {};
    for (const [key, value] of Object.entries(all)) {
        if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
    }
    const region = new pulumi.Config("aws").get("region") ?? process.env.AWS_REGION ?? DEFAULT_REGION;
    return validateConfig(raw, region);
}

/** The config keys of the three instance types. */
export const INSTANCE_TYPE_KEYS = ["controlPlaneInstanceType", "workerInstanceType", "bastionInstanceType"] as const;
export type InstanceTypeKey = (typeof INSTANCE_TYPE_KEYS)[number];

/** What an explicit amiId's architecture rules out: every instance type in use of another architecture. */
export function imageProblems(cfg: ClusterConfig, imageArchitecture: string): ConfigProblem[] {
    return INSTANCE_TYPE_KEYS.filter((key) => key !== "workerInstanceType" || cfg.workerCount > 0)
        .filter((key) => architectureOf(cfg[key]) !== imageArchitecture)
        .map((key) => ({
            key,
            value: cfg[key],
            allowed: `an ${imageArchitecture} instance type: amiId ${cfg.amiId} is an ${imageArchitecture} image and ${cfg[key]} is ${architectureOf(cfg[key])} (or leave amiId empty: each type then gets the Ubuntu image of its own architecture)`,
        }));
}

/** One NAT gateway of an existing VPC as EC2 describes it. */
export interface ExistingNatGateway {
    readonly id: string;
    readonly connectivityType: string;
    readonly publicIp: string;
}

/**
 * What an existing VPC's real block and NAT gateways rule out: pod or service CIDRs inside its
 * block, an API CIDR that repeats a rule the stack always makes (its block, a NAT address), and
 * natGatewayIds that are not exactly its public NAT gateways (an internet-facing API needs all).
 */
export function existingVpcProblems(
    cfg: ClusterConfig,
    vpcCidr: string,
    nats: readonly ExistingNatGateway[],
): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const existing = cfg.existingVpc!;
    const block = parseCidr(vpcCidr);
    if (typeof block === "string")
        return [
            {
                key: "existingVpc",
                value: existing.vpcId,
                allowed: `a VPC whose block EC2 reports as a CIDR (got ${vpcCidr}: ${block})`,
            },
        ];
    for (const key of ["podCidr", "serviceCidr"] as const) {
        const own = parseCidr(cfg[key]);
        if (typeof own !== "string" && overlaps(own, block))
            problems.push({
                key,
                value: cfg[key],
                allowed: `a CIDR that does not overlap the block ${vpcCidr} of existingVpc ${existing.vpcId}`,
            });
    }
    const publicNats = nats.filter((n) => n.connectivityType === "public" && n.publicIp !== "");
    const listed = existing.natGatewayIds ?? [];
    const found = publicNats.map((n) => n.id);
    for (const id of listed.filter((id) => !found.includes(id))) {
        problems.push({
            key: "existingVpc",
            value: id,
            allowed: `natGatewayIds naming available public NAT gateways of ${existing.vpcId} (it has ${found.join(", ") || "none"})`,
        });
    }
    if (!cfg.internalApi) {
        const missing = found.filter((id) => !listed.includes(id));
        if (missing.length > 0) {
            problems.push({
                key: "existingVpc",
                value: existing,
                allowed: `natGatewayIds listing every public NAT gateway of ${existing.vpcId} (missing ${missing.join(", ")}): nodes reach an internet-facing API from their addresses; or set internalApi: true`,
            });
        }
    }
    const alwaysMade = new Map<string, string>([[vpcCidr, "api-lb-in-vpc (the VPC's block)"]]);
    if (!cfg.internalApi)
        listed.forEach((id, i) => {
            const nat = publicNats.find((n) => n.id === id);
            if (nat) alwaysMade.set(`${nat.publicIp}/32`, `api-lb-in-nat-${i} (${id})`);
        });
    for (const c of cfg.apiAllowedCidrs.filter((c) => alwaysMade.has(c))) {
        problems.push({
            key: "apiAllowedCidrs",
            value: c,
            allowed: `CIDRs other than those the stack always admits to the API: ${c} is rule ${alwaysMade.get(c)}`,
        });
    }
    return problems;
}

/** A Route 53 hosted zone as getZone describes it. */
export interface HostedZone {
    /** The zone's name, as Route 53 gives it (any case, maybe with a trailing dot). */
    readonly name: string;
    readonly privateZone: boolean;
}

/**
 * What the hosted zone rules out: a name outside it (Route 53 refuses the record, half-way through
 * an up), and a private zone for a VPC the stack creates (no zone can be associated with a VPC
 * before it exists, so the nodes could not resolve the endpoint kubeadm dials).
 */
export function apiDnsProblems(cfg: ClusterConfig, zone: HostedZone): ConfigProblem[] {
    const apex = zone.name.toLowerCase().replace(/\.$/, "");
    if (cfg.apiDnsName !== apex && !cfg.apiDnsName.endsWith(`.${apex}`)) {
        return [
            {
                key: "apiDnsName",
                value: cfg.apiDnsName,
                allowed: `a name inside hosted zone ${cfg.apiDnsZoneId} (${apex}), such as api.${apex}`,
            },
        ];
    }
    if (zone.privateZone && !cfg.existingVpc) {
        return [
            {
                key: "apiDnsZoneId",
                value: cfg.apiDnsZoneId,
                allowed: `a public hosted zone: ${apex} is private, and a private zone cannot be associated with the VPC this stack creates (with existingVpc, a private zone associated with that VPC is accepted)`,
            },
        ];
    }
    return [];
}

/** What the cloud tells about the configuration, looked up before anything is built. */
export interface CloudFacts {
    /** The image of each instance type (by its config key): amiId, or Ubuntu of the type's architecture. */
    readonly images: Readonly<Record<InstanceTypeKey, pulumi.Output<string>>>;
    /** The existing VPC's own block and its listed NAT gateways' addresses (in natGatewayIds order). */
    readonly existingVpc?: {
        readonly cidrBlock: pulumi.Output<string>;
        readonly natPublicIps: readonly pulumi.Output<string>[];
    };
    /**
     * Resolves to no resources once every lookup agrees with the configuration, and fails with a
     * ConfigError naming the keys otherwise: the cluster depends on it, so nothing is built before.
     */
    readonly verified: pulumi.Output<pulumi.Resource[]>;
}

/**
 * Looks up what validateConfig cannot know: the architecture of an explicit amiId, an existing
 * VPC's block and NAT gateways, and the hosted zone of apiDnsName. A failed lookup is a problem of the key that named the thing.
 */
export function cloudChecks(cfg: ClusterConfig, opts?: pulumi.InvokeOptions): CloudFacts {
    const checks: Promise<ConfigProblem[]>[] = [];
    const failed =
        (key: string, value: unknown, what: string) =>
        (err: unknown): ConfigProblem[] => {
            const detail = (err instanceof Error ? err.message : String(err)).trim();
            return [{ key, value, allowed: `${what} (the lookup found none${detail ? `: ${detail}` : ""})` }];
        };

    const images = {} as Record<InstanceTypeKey, pulumi.Output<string>>;
    if (cfg.amiId !== "") {
        for (const key of INSTANCE_TYPE_KEYS) images[key] = pulumi.output(cfg.amiId);
        const image = aws.ec2.getAmi(
            { filters: [{ name: "image-id", values: [cfg.amiId] }], includeDeprecated: true },
            opts,
        );
        checks.push(
            image.then(
                (i) => imageProblems(cfg, i.architecture),
                failed("amiId", cfg.amiId, `an AMI this account can launch in ${cfg.region}`),
            ),
        );
    } else {
        // One lookup per architecture in use: mixed control planes and workers each get their own.
        const byArch = new Map<Architecture, pulumi.Output<string>>();
        for (const key of INSTANCE_TYPE_KEYS) {
            const arch = architectureOf(cfg[key]);
            if (!byArch.has(arch)) byArch.set(arch, aws.ec2.getAmiOutput(ubuntuImageQuery(arch), opts).id);
            images[key] = byArch.get(arch)!;
        }
    }

    if (cfg.apiDnsZoneId !== "") {
        const zone = aws.route53.getZone({ zoneId: cfg.apiDnsZoneId }, opts);
        checks.push(
            zone.then(
                (z) => apiDnsProblems(cfg, { name: z.name, privateZone: z.privateZone ?? false }),
                failed("apiDnsZoneId", cfg.apiDnsZoneId, "a Route 53 hosted zone this account can read"),
            ),
        );
    }

    let lookups: Promise<[string, ExistingNatGateway[]]> | undefined;
    if (cfg.existingVpc) {
        const { vpcId } = cfg.existingVpc;
        const vpc = aws.ec2.getVpc({ id: vpcId }, opts);
        const nats = aws.ec2
            .getNatGateways({ vpcId, filters: [{ name: "state", values: ["available"] }] }, opts)
            .then((r) => Promise.all(r.ids.map((id) => aws.ec2.getNatGateway({ id, vpcId }, opts))))
            .then((all) =>
                all.map((n): ExistingNatGateway => ({
                    id: n.id,
                    connectivityType: n.connectivityType,
                    publicIp: n.publicIp ?? "",
                })),
            );
        lookups = Promise.all([vpc.then((v) => v.cidrBlock), nats]);
        checks.push(
            lookups.then(
                ([cidr, n]) => existingVpcProblems(cfg, cidr, n),
                failed(
                    "existingVpc",
                    vpcId,
                    `a VPC of this account in ${cfg.region} whose NAT gateways can be described`,
                ),
            ),
        );
    }

    const passed = Promise.all(checks).then((all) => {
        const problems = all.flat();
        if (problems.length > 0) throw new ConfigError(problems);
        return [] as pulumi.Resource[];
    });
    // Facts only after the checks passed: a failed lookup then fails with the ConfigError, never the raw error.
    let existingVpc: CloudFacts["existingVpc"];
    if (cfg.existingVpc && lookups) {
        const facts = passed.then(() => lookups);
        existingVpc = {
            cidrBlock: pulumi.output(facts.then(([cidr]) => cidr)),
            natPublicIps: (cfg.existingVpc.natGatewayIds ?? []).map((id) =>
                pulumi.output(facts.then(([, nats]) => nats.find((n) => n.id === id)!.publicIp)),
            ),
        };
    }
    return { images, existingVpc, verified: pulumi.output(passed) };
}

/**
 * A transformation that makes a resource wait for the cloud checks: given to the cluster, it
 * reaches every resource below it. Each registration then fails on its own when a check fails
 * (instead of waiting for a parent that never registers), so nothing is sent to the engine.
 */
export function afterChecks(verified: pulumi.Output<pulumi.Resource[]>): pulumi.ResourceTransformation {
    // The checks next to the resource's own dependsOn, not an Output of it: the SDK walks every
    // resolved Output value, and a resource reaches the whole tree through its parent.
    return (a) => ({
        props: a.props,
        opts: {
            ...a.opts,
            dependsOn: [verified, a.opts.dependsOn ?? []] as unknown as pulumi.Input<pulumi.Resource[]>,
        },
    });
}
