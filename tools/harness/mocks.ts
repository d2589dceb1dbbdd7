// Pulumi mocks that answer like the real providers: in preview only inputs are known (computed
// outputs stay unknown, as in a real `pulumi preview`); in update mode every resource gets
// realistic ids, ARNs, DNS names and private addresses inside its subnet.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { containsIp, mustParseCidr, nthAddress } from "../../components/net/cidr";
import { secretValue, unwrapSecrets } from "./values";

type State = Record<string, unknown>;

export interface MockOptions {
    /** Preview: computed outputs stay unknown. */
    preview: boolean;
    region: string;
    /** Fixed private addresses by resource name (the system tests put control planes on loopback). */
    privateIps?: Record<string, string>;
    /** Replaces the emulation of a resource type (e.g. real cryptography for tls resources). */
    overrides?: Record<string, (args: pulumi.runtime.MockResourceArgs) => Promise<State> | State>;
}

const ACCOUNT = "123456789012";

function hex(seed: string, length: number): string {
    return createHash("sha256").update(seed).digest("hex").slice(0, length);
}

/** Builds the mocks; keeps what it handed out (subnet blocks, addresses) so later answers agree. */
export function realisticMocks(options: MockOptions): pulumi.runtime.Mocks {
    const subnetCidrs = new Map<string, string>();
    const usedHosts = new Map<string, number>();
    const region = options.region;
    // Only update mode computes certificates; preview (the offline plan) never loads the crypto.
    const defaultTls: NonNullable<MockOptions["overrides"]> = options.preview ? {} : (require("./tlsEmulator") as typeof import("./tlsEmulator")).tlsEmulator({ keepIssued: true });

    function privateIpIn(subnetId: unknown, name: string): string {
        const fixed = options.privateIps?.[name];
        if (fixed) return fixed;
        const cidr = typeof subnetId === "string" ? subnetCidrs.get(subnetId) : undefined;
        const block = mustParseCidr(cidr ?? "10.0.0.0/20");
        const host = (usedHosts.get(cidr ?? "") ?? 9) + 1; // AWS reserves .0-.3; start at .10
        usedHosts.set(cidr ?? "", host);
        const ip = nthAddress(block, host);
        if (!containsIp(block, ip)) throw new Error(`mock ran out of addresses in ${cidr}`);
        return ip;
    }

    const computed: Record<string, (name: string, inputs: State, id: string) => State> = {
        "aws:ec2/vpc:Vpc": (n, i, id) => ({ arn: `arn:aws:ec2:${region}:${ACCOUNT}:vpc/${id}`, defaultSecurityGroupId: `sg-${hex(n + "dsg", 17)}`, mainRouteTableId: `rtb-${hex(n + "rtb", 17)}`, ownerId: ACCOUNT, cidrBlock: i.cidrBlock }),
        "aws:ec2/subnet:Subnet": (_n, i, id) => {
            subnetCidrs.set(id, String(i.cidrBlock));
            return { arn: `arn:aws:ec2:${region}:${ACCOUNT}:subnet/${id}`, availabilityZoneId: `${region.slice(0, 3)}-az${String(i.availabilityZone).slice(-1).charCodeAt(0) - 96}` };
        },
        "aws:ec2/instance:Instance": (n, i, id) => {
            const privateIp = privateIpIn(i.subnetId, n);
            return {
                arn: `arn:aws:ec2:${region}:${ACCOUNT}:instance/${id}`,
                privateIp,
                privateDns: `ip-${privateIp.replace(/\./g, "-")}.${region}.compute.internal`,
                publicIp: i.associatePublicIpAddress ? `203.0.113.${(parseInt(hex(n, 2), 16) % 200) + 10}` : "",
                instanceState: "running",
            };
        },
        "aws:ec2/eip:Eip": (n, _i, id) => ({ publicIp: `198.51.100.${(parseInt(hex(n, 2), 16) % 200) + 10}`, allocationId: id }),
        "aws:ec2/keyPair:KeyPair": (n, i) => ({ keyName: i.keyName ?? `${n}-${hex(n, 7)}`, fingerprint: hex(n + "fp", 32) }),
        "aws:lb/loadBalancer:LoadBalancer": (n) => {
            const short = `${n}-${hex(n, 7)}`.slice(0, 32);
            return { arn: `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:loadbalancer/net/${short}/${hex(n, 16)}`, dnsName: `${short}-${hex(n + "dns", 16)}.elb.${region}.amazonaws.com`, zoneId: "Z26RNL4JYFTOTI", name: short };
        },
        "aws:lb/targetGroup:TargetGroup": (n) => ({ arn: `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:targetgroup/${n}-${hex(n, 7)}/${hex(n, 16)}`, name: `${n}-${hex(n, 7)}` }),
        "aws:lb/listener:Listener": (n) => ({ arn: `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:listener/net/${n}/${hex(n, 16)}` }),
        "aws:iam/role:Role": (n, i) => ({ arn: `arn:aws:iam::${ACCOUNT}:role/${i.name ?? `${n}-${hex(n, 7)}`}`, name: i.name ?? `${n}-${hex(n, 7)}`, uniqueId: `AROA${hex(n, 16).toUpperCase()}` }),
        "aws:iam/instanceProfile:InstanceProfile": (n, i) => ({ arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${i.name ?? `${n}-${hex(n, 7)}`}`, name: i.name ?? `${n}-${hex(n, 7)}` }),
        "aws:s3/bucketV2:BucketV2": (n, i) => bucketOutputs(n, i),
        "aws:s3/bucket:Bucket": (n, i) => bucketOutputs(n, i),
        "aws:iam/policy:Policy": (n, i) => ({ arn: `arn:aws:iam::${ACCOUNT}:policy/${i.name ?? `${n}-${hex(n, 7)}`}`, name: i.name ?? `${n}-${hex(n, 7)}`, policyId: `ANPA${hex(n, 16).toUpperCase()}` }),
        "aws:iam/rolePolicy:RolePolicy": (n, i) => ({ name: i.name ?? `${n}-${hex(n, 7)}` }),
        "random:index/randomPassword:RandomPassword": (n, i) => ({ result: secretValue(randomText(n, Number(i.length ?? 16), i)) }),
        "random:index/randomString:RandomString": (n, i) => ({ result: randomText(n, Number(i.length ?? 16), i) }),
        "command:remote:Command": () => ({ stdout: "", stderr: "" }),
    };

    // Ids carry AWS's prefixes so that wiring mistakes (an id where an ARN belongs) show up in tests.
    const idPrefix: Record<string, string> = {
        "aws:ec2/vpc:Vpc": "vpc-", "aws:ec2/subnet:Subnet": "subnet-", "aws:ec2/instance:Instance": "i-",
        "aws:ec2/securityGroup:SecurityGroup": "sg-", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-", "aws:ec2/internetGateway:InternetGateway": "igw-",
        "aws:ec2/natGateway:NatGateway": "nat-", "aws:ec2/eip:Eip": "eipalloc-", "aws:ec2/routeTable:RouteTable": "rtb-",
        "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-", "aws:ec2/keyPair:KeyPair": "key-",
    };

    // A bucket name as AWS makes it: the given name, or bucketPrefix + 26 characters, or <name>-<hex>.
    function bucketOutputs(n: string, i: State): State {
        const bucket = typeof i.bucket === "string" ? i.bucket : typeof i.bucketPrefix === "string" ? `${i.bucketPrefix}${hex(n, 26)}` : `${n}-${hex(n, 7)}`;
        return {
            arn: `arn:aws:s3:::${bucket}`,
            bucket,
            bucketDomainName: `${bucket}.s3.amazonaws.com`,
            bucketRegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`,
            region,
            hostedZoneId: "Z3AQBSTGFYJSTF",
        };
    }

    return {
        async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string | undefined; state: State }> {
            if (!args.custom) return { id: undefined, state: args.inputs };
            // A real preview knows only the inputs; every computed output is unknown.
            if (options.preview) return { id: undefined, state: args.inputs };
            const id = (idPrefix[args.type] ?? "") + hex(`${args.type}/${args.name}`, 17);
            // tls resources get real keys and certificates: the program parses them (discovery hash).
            const override = options.overrides?.[args.type] ?? defaultTls[args.type];
            const extra = override ? await override(args) : computed[args.type]?.(args.name, unwrapSecrets(args.inputs) as State, id) ?? {};
            return { id, state: { ...args.inputs, ...extra } };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            switch (args.token) {
                case "aws:ec2/getAmi:getAmi":
                    return { id: "ami-0a1b2c3d4e5f60718", architecture: "x86_64", name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261101", ownerId: "099720109477" };
                case "aws:index/getRegion:getRegion":
                    return { name: region, id: region };
                case "aws:index/getCallerIdentity:getCallerIdentity":
                    return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ci`, userId: "AIDAEXAMPLE" };
                case "aws:index/getPartition:getPartition":
                    return { partition: "aws", dnsSuffix: "amazonaws.com" };
                default:
                    throw new Error(`the mocks do not know the invoke ${args.token}; add it to tools/harness/mocks.ts`);
            }
        },
    };
}

/** Deterministic text honouring the random provider's character-class switches. */
function randomText(seed: string, length: number, i: State): string {
    let alphabet = "";
    if (i.lower !== false) alphabet += "abcdefghijklmnopqrstuvwxyz";
    if (i.upper !== false) alphabet += "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (i.numeric !== false) alphabet += "0123456789";
    if (i.special !== false) alphabet += "!@#$%&*()-_=+[]{}<>:?";
    const bytes = createHash("sha512").update(seed).digest();
    return Array.from({ length }, (_, k) => alphabet[bytes[k % bytes.length] % alphabet.length]).join("");
}
