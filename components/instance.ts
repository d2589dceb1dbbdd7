// The one way this project launches an EC2 instance, so that every node and the bastion share the
// same hardening (IMDSv2, encrypted gp3 root, explicit zone) and the policy pack finds nothing to flag.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { roleTags, type Role } from "./tags";

/** The CPU architecture of an image or an instance type, as EC2 names it. */
export type Architecture = "x86_64" | "arm64";

/**
 * The architecture an instance type runs: Graviton families (a1, or a `g` among the family's
 * attributes: m7g, c7gn, t4g, r8gd, im4gn, g5g) are arm64, every other family EC2 offers Ubuntu
 * on is x86_64.
 */
export function architectureOf(instanceType: string): Architecture {
    return /^([a-z]+\d+[a-z]*g[a-z]*|a1)\./.test(instanceType) ? "arm64" : "x86_64";
}

/** Canonical's account: the only owner trusted for the Ubuntu image. */
export const CANONICAL = "099720109477";

/** The lookup of Canonical's newest Ubuntu 24.04 LTS server image for an architecture. */
export function ubuntuImageQuery(arch: Architecture): {
    owners: string[];
    mostRecent: boolean;
    filters: { name: string; values: string[] }[];
} {
    return {
        owners: [CANONICAL],
        mostRecent: true,
        filters: [
            {
                name: "name",
                values: [
                    `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${arch === "arm64" ? "arm64" : "amd64"}-server-*`,
                ],
            },
            { name: "virtualization-type", values: ["hvm"] },
        ],
    };
}

export interface HardenedInstanceArgs {
    clusterName: string;
    /** Instance name: the Name tag, the Pulumi name and (for nodes) the Kubernetes node name. */
    name: string;
    role: Role;
    /** Set explicitly (not derived from the subnet) so that policies see the layout during preview. */
    zone: string;
    subnetId: pulumi.Input<string>;
    securityGroupIds: pulumi.Input<string>[];
    instanceType: string;
    ami: pulumi.Input<string>;
    keyName: pulumi.Input<string>;
    rootVolumeSizeGiB: number;
    instanceProfile?: pulumi.Input<string>;
    /** Only the bastion gets a public address. */
    publicIp: boolean;
    /** Tags on top of the role tags (the instance only, not its volumes). */
    extraTags?: Record<string, pulumi.Input<string>>;
}

export function hardenedInstance(args: HardenedInstanceArgs, opts: pulumi.CustomResourceOptions): aws.ec2.Instance {
    return new aws.ec2.Instance(
        args.name,
        {
            ami: args.ami,
            instanceType: args.instanceType,
            availabilityZone: args.zone,
            subnetId: args.subnetId,
            vpcSecurityGroupIds: args.securityGroupIds,
            associatePublicIpAddress: args.publicIp,
            keyName: args.keyName,
            iamInstanceProfile: args.instanceProfile,
            // kubeadm's preflight needs the source/destination check only off for some CNIs; keep AWS's default.
            // Hop limit 1: the metadata service answers the node itself, not its pods (whose requests
            // cross one more hop), so no pod can take the node role's credentials.
            metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
            rootBlockDevice: {
                volumeType: "gp3",
                volumeSize: args.rootVolumeSizeGiB,
                encrypted: true,
                deleteOnTermination: true,
            },
            tags: { ...roleTags(args.clusterName, args.name, args.role), ...args.extraTags },
            volumeTags: roleTags(args.clusterName, args.name, args.role),
        },
        {
            // A newer AMI or changed user data must never replace every node at once; nodes are
            // replaced deliberately, one at a time (see the README's runbooks). Node pools override this
            // for `ami`: they state each node's image themselves (components/nodePool.ts), so that a move
            // to another architecture can replace a node onto an image that boots it.
            ignoreChanges: ["ami", "userData"],
            ...opts,
        },
    );
}
