import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { hardenedInstance } from "./instance";
import { zoneOf } from "./net/layout";
import type { ZoneSubnet } from "./network";

export interface NodePoolArgs {
    /** Cluster name: prefixes node names and fills the kubernetes.io/cluster tag. */
    clusterName: string;
    /** "control-plane" or "worker": the role tag, and the node names (<cluster>-cp-<i>, <cluster>-worker-<i>). */
    role: "control-plane" | "worker";
    /** Number of nodes; node i goes to zone i mod |zones|. */
    count: number;
    /** Private subnets in zone order; nodes never get a public address. */
    privateSubnets: readonly ZoneSubnet[];
    /** Security groups of every node of the pool. */
    securityGroupIds: pulumi.Input<string>[];
    instanceType: string;
    ami: pulumi.Input<string>;
    /** EC2 key pair for the SSH bootstrap. */
    keyName: pulumi.Input<string>;
    rootVolumeSizeGiB: number;
    instanceProfileName: pulumi.Input<string>;
    /** Protect the instances from `pulumi destroy` and accidental replacement. */
    protect: boolean;
}

/** One node of a pool, with what the bootstrap and the load balancer need of it. */
export interface PoolNode {
    /** Kubernetes node name and instance Name tag. */
    readonly name: string;
    readonly zone: string;
    readonly instance: aws.ec2.Instance;
}

/** Nodes of one role spread round-robin over the zones' private subnets. */
export class NodePool extends pulumi.ComponentResource {
    readonly nodes: readonly PoolNode[];
    /** Private addresses in node order. */
    readonly privateIps: pulumi.Output<string[]>;
    /** Zones in node order (known while the program runs). */
    readonly zones: readonly string[];

    constructor(name: string, args: NodePoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:compute:NodePool", name, {}, opts);
        const zones = args.privateSubnets.map((s) => s.zone);
        const short = args.role === "control-plane" ? "cp" : "worker";
        this.nodes = Array.from({ length: args.count }, (_, i) => {
            const zone = zoneOf(i, zones);
            const nodeName = `${args.clusterName}-${short}-${i}`;
            const instance = hardenedInstance({
                clusterName: args.clusterName,
                name: nodeName,
                role: args.role,
                zone,
                subnetId: args.privateSubnets[zones.indexOf(zone)].id,
                securityGroupIds: args.securityGroupIds,
                instanceType: args.instanceType,
                ami: args.ami,
                keyName: args.keyName,
                rootVolumeSizeGiB: args.rootVolumeSizeGiB,
                instanceProfile: args.instanceProfileName,
                publicIp: false,
            }, { parent: this, protect: args.protect });
            return { name: nodeName, zone, instance };
        });
        this.zones = this.nodes.map((n) => n.zone);
        this.privateIps = pulumi.all(this.nodes.map((n) => n.instance.privateIp));
        this.registerOutputs({ privateIps: this.privateIps, zones: this.zones });
    }
}
