import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { architectureOf, hardenedInstance } from "./instance";
import { zoneOf } from "./net/layout";
import type { ZoneSubnet } from "./network";
import { REPLACE_TRIGGER_TAG, replaceTriggerOf } from "./rollout";

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
    /** EC2 instance type of every node of the pool. */
    instanceType: string;
    /** The image of new and replaced nodes (amiId, or the current Ubuntu lookup); a node that stays keeps its own (nodeImage). */
    ami: pulumi.Input<string>;
    /** EC2 key pair for the SSH bootstrap. */
    keyName: pulumi.Input<string>;
    /** Root volume size of every node, GiB. */
    rootVolumeSizeGiB: number;
    /** Instance profile of every node of the pool. */
    instanceProfileName: pulumi.Input<string>;
    /** Protect the instances from `pulumi destroy` and accidental replacement. */
    protect: boolean;
    /** nodeReplaceTriggers (node name -> trigger): recorded on each instance to tell a replaced node from one that stays. */
    replaceTriggers: Readonly<Record<string, string>>;
}

/** One node of a pool, with what the bootstrap and the load balancer need of it. */
export interface PoolNode {
    /** Kubernetes node name and instance Name tag. */
    readonly name: string;
    readonly zone: string;
    readonly instance: aws.ec2.Instance;
}

/** A live instance carrying a node's Name tag, as the lookup finds it. */
export interface CurrentInstance {
    readonly id: string;
    readonly ami: string;
    readonly instanceType: string;
    /** Its k8s-ha/replace-trigger tag; undefined on instances created before the tag existed. */
    readonly trigger: string | undefined;
}

/**
 * The image a node's instance is given: the one its current instance runs, so that a newer image
 * never touches a node that stays; or `latest` when the node is new, is being replaced by its
 * trigger (the instance's recorded trigger differs), or moves to another architecture (the old image
 * cannot boot the new type, and the changed `ami` replaces the instance, as EC2 requires: it refuses
 * to change an instance's type to another architecture in place). The pool states the image instead
 * of ignoring `ami`, because an ignored `ami` can never ask for that replacement, and so that what a
 * replacement gets does not rest on the engine re-checking the program's raw inputs when it replaces
 * (CLI 3.248 does: continueStepsFromDiff in
 * https://github.com/pulumi/pulumi/blob/v3.248.0/pkg/resource/deploy/step_generator.go).
 * An instance without the trigger tag (created before it existed) keeps its image: adopting the tag
 * must replace nothing. Two live instances with different images (a stray one) are refused.
 */
export function nodeImage(
    node: string,
    latest: string,
    trigger: string,
    instanceType: string,
    current: readonly CurrentInstance[],
): string {
    const staying = current.filter(
        (c) =>
            (c.trigger === undefined || c.trigger === trigger) &&
            architectureOf(c.instanceType) === architectureOf(instanceType),
    );
    const images = [...new Set(staying.map((c) => c.ami))];
    if (images.length > 1) {
        throw new Error(
            `node ${node}: ${staying.length} live instances carry its Name tag with different images (${staying.map((c) => `${c.id} runs ${c.ami}`).join(", ")}); ` +
                "expected at most one instance per node: terminate the one that is not in the stack's state (`pulumi stack export` shows its id), then run `pulumi up` again",
        );
    }
    return images[0] ?? latest;
}

/** The live instances (any state but terminated or shutting down) with a node's Name tag in this cluster. */
function currentInstances(
    clusterName: string,
    node: string,
    opts: pulumi.InvokeOptions,
): pulumi.Output<CurrentInstance[]> {
    const found = aws.ec2.getInstancesOutput(
        {
            filters: [
                { name: "tag:Name", values: [node] },
                { name: `tag:kubernetes.io/cluster/${clusterName}`, values: ["owned"] },
                { name: "instance-state-name", values: ["pending", "running", "stopping", "stopped"] },
            ],
        },
        opts,
    );
    return found.ids.apply((ids) =>
        Promise.all(
            ids.map(async (id) => {
                const i = await aws.ec2.getInstance({ instanceId: id }, opts);
                return { id, ami: i.ami, instanceType: i.instanceType, trigger: i.tags[REPLACE_TRIGGER_TAG] };
            }),
        ),
    );
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
            const trigger = replaceTriggerOf(args.replaceTriggers, nodeName);
            const ami = pulumi
                .all([args.ami, currentInstances(args.clusterName, nodeName, { parent: this })])
                .apply(([latest, current]) => nodeImage(nodeName, latest, trigger, args.instanceType, current));
            const instance = hardenedInstance(
                {
                    clusterName: args.clusterName,
                    name: nodeName,
                    role: args.role,
                    zone,
                    subnetId: args.privateSubnets[zones.indexOf(zone)].id,
                    securityGroupIds: args.securityGroupIds,
                    instanceType: args.instanceType,
                    ami,
                    keyName: args.keyName,
                    rootVolumeSizeGiB: args.rootVolumeSizeGiB,
                    instanceProfile: args.instanceProfileName,
                    publicIp: false,
                    extraTags: { [REPLACE_TRIGGER_TAG]: trigger },
                },
                { parent: this, protect: args.protect, ignoreChanges: ["userData"] },
            );
            return { name: nodeName, zone, instance };
        });
        this.zones = this.nodes.map((n) => n.zone);
        this.privateIps = pulumi.all(this.nodes.map((n) => n.instance.privateIp));
        this.registerOutputs({ privateIps: this.privateIps, zones: this.zones });
    }
}
