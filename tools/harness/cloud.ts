// The realistic AWS answers shared by the mock harness (tools/harness/mocks.ts) and the engine
// lane's stand-in aws provider (tools/engine/providers/aws.ts): ids with AWS's prefixes, ARNs,
// DNS names, private addresses inside the right subnet, and the invokes the program calls. One
// module, so that the two never drift apart.
import { createHash } from "node:crypto";
import { containsIp, mustParseCidr, nthAddress } from "../../components/net/cidr";
import { secretValue } from "./values";
import { INVOKES, TYPES } from "../../policies/lib/contract";

export type State = Record<string, unknown>;

export const ACCOUNT = "123456789012";

export function hex(seed: string, length: number): string {
    return createHash("sha256").update(seed).digest("hex").slice(0, length);
}

/**
 * What the cloud remembers between answers: the block of every subnet and the hosts handed out in
 * it. The mocks keep it in memory; the stand-in provider keeps it in its state directory.
 */
export interface Ledger {
    subnetCidr(subnetId: string): string | undefined;
    setSubnetCidr(subnetId: string, cidr: string): void;
    /** The next free host number in a block (AWS reserves .0-.3; the first handed out is .10). */
    nextHost(cidr: string): number;
}

export function memoryLedger(): Ledger {
    const cidrs = new Map<string, string>();
    const hosts = new Map<string, number>();
    return {
        subnetCidr: (id) => cidrs.get(id),
        setSubnetCidr: (id, cidr) => void cidrs.set(id, cidr),
        nextHost: (cidr) => {
            const host = (hosts.get(cidr) ?? 9) + 1;
            hosts.set(cidr, host);
            return host;
        },
    };
}

// Ids carry AWS's prefixes so that wiring mistakes (an id where an ARN belongs) show up in tests.
export const ID_PREFIX: Record<string, string> = {
    [TYPES.vpc]: "vpc-",
    [TYPES.subnet]: "subnet-",
    [TYPES.instance]: "i-",
    [TYPES.securityGroup]: "sg-",
    [TYPES.securityGroupIngressRule]: "sgr-",
    [TYPES.securityGroupEgressRule]: "sgr-",
    [TYPES.internetGateway]: "igw-",
    [TYPES.natGateway]: "nat-",
    [TYPES.eip]: "eipalloc-",
    [TYPES.routeTable]: "rtb-",
    [TYPES.routeTableAssociation]: "rtbassoc-",
    [TYPES.keyPair]: "key-",
};

/**
 * The id a resource gets. `generation` counts earlier creations of the same resource: 0 gives the
 * mocks' ids; a replacement (a new cloud object) gets a new one.
 */
export function resourceId(type: string, name: string, generation = 0): string {
    const seed = `${type}/${name}${generation ? `#${generation}` : ""}`;
    // A KMS key's id is a UUID.
    if (type === TYPES.kmsKey) return hex(seed, 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
    return (ID_PREFIX[type] ?? "") + hex(seed, 17);
}

/**
 * The stand-in's images. Canonical's Ubuntu lookups answer the image of the architecture the name
 * filter asks for. A lookup by id answers any well-formed id, by a convention test fixtures use:
 * an id containing `a64` is an arm64 image, one containing `dead` does not exist (AWS's "no
 * results"), any other is x86_64.
 */
export const UBUNTU_IMAGES = {
    x86_64: { id: "ami-0a1b2c3d4e5f60718", name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101" },
    arm64: { id: "ami-0a64a64a64a64a64a", name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20261101" },
} as const;

/**
 * The stand-in's existing VPCs: any well-formed id but one containing `dead` (no such VPC). Each
 * has the block EXISTING_VPC_CIDR and the NAT gateways existingNatGateways(vpcId) lists.
 */
export const EXISTING_VPC_CIDR = "10.20.0.0/16";

/** An existing VPC's available NAT gateways: two public ones and a private one (no public address); none for an id containing `0000`. */
export function existingNatGateways(
    vpcId: string,
): { id: string; connectivityType: "public" | "private"; publicIp: string }[] {
    if (vpcId.includes("0000")) return [];
    return [
        {
            id: `nat-${hex(`${vpcId}/nat-0`, 17)}`,
            connectivityType: "public",
            publicIp: `198.51.100.${(parseInt(hex(`${vpcId}/nat-0`, 2), 16) % 100) + 100}`,
        },
        {
            id: `nat-${hex(`${vpcId}/nat-1`, 17)}`,
            connectivityType: "public",
            publicIp: `198.51.100.${(parseInt(hex(`${vpcId}/nat-1`, 2), 16) % 100) + 100}`,
        },
        { id: `nat-${hex(`${vpcId}/nat-2`, 17)}`, connectivityType: "private", publicIp: "" },
    ];
}

/**
 * The stand-in's Route 53 hosted zones, by id: a public one and a private one. Any other id does
 * not exist (the real provider's "NoSuchHostedZone").
 */
export const HOSTED_ZONES: Readonly<Record<string, { name: string; privateZone: boolean }>> = {
    Z0EXAMPLECOM: { name: "example.com", privateZone: false },
    Z0EXAMPLEINTERNAL: { name: "example.internal", privateZone: true },
};

function filterValues(args: State, name: string): string[] {
    const filters = Array.isArray(args.filters) ? (args.filters as { name?: unknown; values?: unknown }[]) : [];
    return filters.filter((f) => f.name === name).flatMap((f) => (Array.isArray(f.values) ? f.values.map(String) : []));
}

/** EC2's DescribeInstances filters the program uses: `tag:<key>` and `instance-state-name`. */
function instanceMatches(i: CloudInstance, args: State): boolean {
    const filters = Array.isArray(args.filters) ? (args.filters as { name?: unknown }[]) : [];
    return filters.every(({ name }) => {
        const values = filterValues(args, String(name));
        if (name === "instance-state-name") return values.includes(i.state);
        if (typeof name === "string" && name.startsWith("tag:")) return values.includes(i.tags[name.slice(4)]);
        throw new Error(`the stand-in getInstances does not know the filter ${String(name)}`);
    });
}

// The real provider's words when a data source finds nothing.
const NO_RESULTS = "Your query returned no results. Please change your search criteria and try again.";

/** An image as the Ubuntu lookup answers it. */
export interface Image {
    readonly id: string;
    readonly name: string;
}

/** Canonical publishes a newer Ubuntu image: what the name lookup answers from then on, by architecture. */
export type PublishedImages = Partial<Record<keyof typeof UBUNTU_IMAGES, Image>>;

/** An EC2 instance as the instance lookups see it. */
export interface CloudInstance {
    readonly id: string;
    readonly ami: string;
    readonly instanceType: string;
    readonly tags: Readonly<Record<string, string>>;
    /** EC2's instance-state-name: pending, running, stopping, stopped, shutting-down, terminated. */
    readonly state: string;
}

export interface CloudOptions {
    region: string;
    ledger: Ledger;
    /** Fixed private addresses by resource name (the system tests put control planes on loopback). */
    privateIps?: Record<string, string>;
    /** Images published after UBUNTU_IMAGES (asked at every lookup: a test may publish one between runs). */
    images?: () => PublishedImages;
    /** The instances that exist (asked at every lookup); none when not given. */
    instances?: () => readonly CloudInstance[];
}

/** The computed outputs AWS returns for a resource (inputs unwrapped of secrets), by type. */
export function awsModel(options: CloudOptions): {
    outputs(type: string, name: string, inputs: State, id: string): State | undefined;
    invoke(token: string, args: State): State;
} {
    const { region, ledger } = options;

    function privateIpIn(subnetId: unknown, name: string): string {
        const fixed = options.privateIps?.[name];
        if (fixed) return fixed;
        const cidr = (typeof subnetId === "string" ? ledger.subnetCidr(subnetId) : undefined) ?? "10.0.0.0/20";
        const block = mustParseCidr(cidr);
        const ip = nthAddress(block, ledger.nextHost(cidr));
        if (!containsIp(block, ip)) throw new Error(`ran out of addresses in ${cidr}`);
        return ip;
    }

    // A bucket name as AWS makes it: the given name, or bucketPrefix + 26 characters, or <name>-<hex>.
    function bucketOutputs(n: string, i: State): State {
        const bucket =
            typeof i.bucket === "string"
                ? i.bucket
                : typeof i.bucketPrefix === "string"
                  ? `${i.bucketPrefix}${hex(n, 26)}`
                  : `${n}-${hex(n, 7)}`;
        return {
            arn: `arn:aws:s3:::${bucket}`,
            bucket,
            bucketDomainName: `${bucket}.s3.amazonaws.com`,
            bucketRegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`,
            region,
            hostedZoneId: "Z3AQBSTGFYJSTF",
        };
    }

    const computed: Record<string, (name: string, inputs: State, id: string) => State> = {
        [TYPES.vpc]: (n, i, id) => ({
            arn: `arn:aws:ec2:${region}:${ACCOUNT}:vpc/${id}`,
            defaultSecurityGroupId: `sg-${hex(n + "dsg", 17)}`,
            mainRouteTableId: `rtb-${hex(n + "rtb", 17)}`,
            ownerId: ACCOUNT,
            cidrBlock: i.cidrBlock,
        }),
        [TYPES.subnet]: (_n, i, id) => {
            ledger.setSubnetCidr(id, String(i.cidrBlock));
            return {
                arn: `arn:aws:ec2:${region}:${ACCOUNT}:subnet/${id}`,
                availabilityZoneId: `${region.slice(0, 3)}-az${String(i.availabilityZone).slice(-1).charCodeAt(0) - 96}`,
            };
        },
        [TYPES.instance]: (n, i, id) => {
            const privateIp = privateIpIn(i.subnetId, n);
            return {
                arn: `arn:aws:ec2:${region}:${ACCOUNT}:instance/${id}`,
                privateIp,
                privateDns: `ip-${privateIp.replace(/\./g, "-")}.${region}.compute.internal`,
                publicIp: i.associatePublicIpAddress ? `203.0.113.${(parseInt(hex(n, 2), 16) % 200) + 10}` : "",
                instanceState: "running",
            };
        },
        [TYPES.eip]: (n, _i, id) => ({
            publicIp: `198.51.100.${(parseInt(hex(n, 2), 16) % 200) + 10}`,
            allocationId: id,
        }),
        [TYPES.keyPair]: (n, i) => ({ keyName: i.keyName ?? `${n}-${hex(n, 7)}`, fingerprint: hex(n + "fp", 32) }),
        [TYPES.loadBalancer]: (n) => {
            const short = `${n}-${hex(n, 7)}`.slice(0, 32);
            return {
                arn: `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:loadbalancer/net/${short}/${hex(n, 16)}`,
                dnsName: `${short}-${hex(n + "dns", 16)}.elb.${region}.amazonaws.com`,
                zoneId: "Z26RNL4JYFTOTI",
                name: short,
            };
        },
        [TYPES.targetGroup]: (n) => ({
            arn: `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:targetgroup/${n}-${hex(n, 7)}/${hex(n, 16)}`,
            name: `${n}-${hex(n, 7)}`,
        }),
        [TYPES.listener]: (n) => ({
            arn: `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:listener/net/${n}/${hex(n, 16)}`,
        }),
        [TYPES.role]: (n, i) => ({
            arn: `arn:aws:iam::${ACCOUNT}:role/${i.name ?? `${n}-${hex(n, 7)}`}`,
            name: i.name ?? `${n}-${hex(n, 7)}`,
            uniqueId: `AROA${hex(n, 16).toUpperCase()}`,
        }),
        [TYPES.instanceProfile]: (n, i) => ({
            arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${i.name ?? `${n}-${hex(n, 7)}`}`,
            name: i.name ?? `${n}-${hex(n, 7)}`,
        }),
        [TYPES.bucketV2]: (n, i) => bucketOutputs(n, i),
        [TYPES.bucket]: (n, i) => bucketOutputs(n, i),
        [TYPES.policy]: (n, i) => ({
            arn: `arn:aws:iam::${ACCOUNT}:policy/${i.name ?? `${n}-${hex(n, 7)}`}`,
            name: i.name ?? `${n}-${hex(n, 7)}`,
            policyId: `ANPA${hex(n, 16).toUpperCase()}`,
        }),
        [TYPES.rolePolicy]: (n, i) => ({ name: i.name ?? `${n}-${hex(n, 7)}` }),
        // Route 53 keeps names in lower case without the trailing dot (the provider's StateFunc).
        [TYPES.route53Record]: (_n, i) => ({ fqdn: String(i.name).toLowerCase().replace(/\.$/, "") }),
        [TYPES.kmsKey]: (_n, _i, id) => ({ arn: `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`, keyId: id }),
        [TYPES.kmsAlias]: (_n, i, id) => ({
            arn: `arn:aws:kms:${region}:${ACCOUNT}:${i.name}`,
            targetKeyArn: `arn:aws:kms:${region}:${ACCOUNT}:key/${String(i.targetKeyId)}`,
            name: i.name ?? id,
        }),
    };

    return {
        outputs: (type, name, inputs, id) => computed[type]?.(name, inputs, id),
        invoke(token: string, args: State): State {
            switch (token) {
                case INVOKES.getAmi: {
                    const [id] = filterValues(args, "image-id");
                    if (id !== undefined) {
                        if (id.includes("dead")) throw new Error(NO_RESULTS);
                        const architecture = id.includes("a64") ? "arm64" : "x86_64";
                        return { id, architecture, name: `image-${id}`, ownerId: ACCOUNT };
                    }
                    const arch = filterValues(args, "name").some((n) => n.includes("-arm64-")) ? "arm64" : "x86_64";
                    const image = options.images?.()[arch] ?? UBUNTU_IMAGES[arch];
                    return { ...image, architecture: arch, ownerId: "099720109477" };
                }
                case INVOKES.getInstances: {
                    // The program filters only; the other arguments would be silently ignored here.
                    for (const key of ["instanceTags", "instanceStateNames"])
                        if (args[key] !== undefined)
                            throw new Error(`the stand-in getInstances takes filters only, not ${key}`);
                    const found = (options.instances?.() ?? []).filter((i) => instanceMatches(i, args));
                    return {
                        id: region,
                        ids: found.map((i) => i.id),
                        privateIps: [],
                        publicIps: [],
                        ipv6Addresses: [],
                    };
                }
                case INVOKES.getInstance: {
                    const i = (options.instances?.() ?? []).find((x) => x.id === args.instanceId);
                    if (!i || args.filters !== undefined) throw new Error(NO_RESULTS);
                    return {
                        id: i.id,
                        ami: i.ami,
                        instanceType: i.instanceType,
                        tags: i.tags,
                        instanceState: i.state,
                        arn: `arn:aws:ec2:${region}:${ACCOUNT}:instance/${i.id}`,
                    };
                }
                case INVOKES.getVpc: {
                    const id = String(args.id ?? "");
                    if (!/^vpc-[0-9a-f]+$/.test(id) || id.includes("dead"))
                        throw new Error(`no matching EC2 VPC found (${id})`);
                    return {
                        id,
                        cidrBlock: EXISTING_VPC_CIDR,
                        arn: `arn:aws:ec2:${region}:${ACCOUNT}:vpc/${id}`,
                        ownerId: ACCOUNT,
                        state: "available",
                        default: false,
                    };
                }
                case INVOKES.getNatGateways: {
                    const vpcId = String(args.vpcId ?? "");
                    const states = filterValues(args, "state");
                    const ids =
                        states.length === 0 || states.includes("available")
                            ? existingNatGateways(vpcId).map((n) => n.id)
                            : [];
                    return { id: region, ids, vpcId };
                }
                case INVOKES.getNatGateway: {
                    // The program asks by id within its VPC, which is how the stand-in finds it again.
                    const id = String(args.id ?? "");
                    const vpcId = String(args.vpcId ?? "");
                    const nat = existingNatGateways(vpcId).find((n) => n.id === id);
                    if (!nat) throw new Error(`no matching EC2 NAT Gateway found (${id} in ${vpcId || "any VPC"})`);
                    return {
                        id,
                        connectivityType: nat.connectivityType,
                        publicIp: nat.publicIp,
                        state: "available",
                        vpcId,
                    };
                }
                case INVOKES.getZone: {
                    // The program asks by id only; a lookup by name would be silently answered wrongly here.
                    if (args.name !== undefined || args.vpcId !== undefined)
                        throw new Error("the stand-in getZone takes zoneId only");
                    const zoneId = String(args.zoneId ?? "");
                    const zone = HOSTED_ZONES[zoneId];
                    if (!zone)
                        throw new Error(
                            `no matching Route 53 Hosted Zone found: NoSuchHostedZone: No hosted zone found with ID: ${zoneId}`,
                        );
                    return {
                        id: zoneId,
                        zoneId,
                        name: zone.name,
                        privateZone: zone.privateZone,
                        arn: `arn:aws:route53:::hostedzone/${zoneId}`,
                        nameServers: [],
                        resourceRecordSetCount: 2,
                    };
                }
                case INVOKES.getRegion:
                    return { name: region, id: region };
                case INVOKES.getCallerIdentity:
                    return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ci`, userId: "AIDAEXAMPLE" };
                case INVOKES.getPartition:
                    return { partition: "aws", dnsSuffix: "amazonaws.com" };
                default:
                    throw new Error(
                        `the stand-in AWS does not know the invoke ${token}; add it to tools/harness/cloud.ts`,
                    );
            }
        },
    };
}

/** random's resources: deterministic text honouring the provider's character-class switches, and bytes. */
export function randomOutputs(type: string, name: string, inputs: State): State | undefined {
    switch (type) {
        case TYPES.randomPassword:
            return { result: secretValue(randomText(name, Number(inputs.length ?? 16), inputs)) };
        case TYPES.randomString:
            return { result: randomText(name, Number(inputs.length ?? 16), inputs) };
        case TYPES.randomBytes: {
            // base64 and hex are secret outputs of the real provider (additionalSecretOutputs).
            const bytes = randomBytes(name, Number(inputs.length));
            return { base64: secretValue(bytes.toString("base64")), hex: secretValue(bytes.toString("hex")) };
        }
        default:
            return undefined;
    }
}

/** `length` deterministic bytes for a seed (sha512 in counter mode). */
export function randomBytes(seed: string, length: number): Buffer {
    if (!Number.isInteger(length) || length < 1)
        throw new Error(`RandomBytes ${seed}: length ${length} is not a positive integer`);
    const blocks: Buffer[] = [];
    for (let i = 0; blocks.length * 64 < length; i++) blocks.push(createHash("sha512").update(`${seed}/${i}`).digest());
    return Buffer.concat(blocks).subarray(0, length);
}

export function randomText(seed: string, length: number, i: State): string {
    let alphabet = "";
    if (i.lower !== false) alphabet += "abcdefghijklmnopqrstuvwxyz";
    if (i.upper !== false) alphabet += "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (i.numeric !== false) alphabet += "0123456789";
    if (i.special !== false) alphabet += "!@#$%&*()-_=+[]{}<>:?";
    const bytes = createHash("sha512").update(seed).digest();
    return Array.from({ length }, (_, k) => alphabet[bytes[k % bytes.length] % alphabet.length]).join("");
}
