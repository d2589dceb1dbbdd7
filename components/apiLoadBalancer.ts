import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PoolNode } from "./nodePool";
import type { ZoneSubnet } from "./network";
import { API_PORT } from "../policies/lib/contract";
import { roleTags } from "./tags";

/** The API port: kube-apiserver listens on it and so does the load balancer. */
export { API_PORT };

/**
 * Health check of every kube-apiserver. /readyz answers 200 only when the apiserver can serve
 * (etcd reachable, informers synced) and is readable anonymously by default RBAC. Every 10 s with
 * 2 failures to leave and 2 successes to return: a dead apiserver leaves rotation in ~20 s, and a
 * restarting one is not sent traffic before it is ready. All inside AWS's NLB ranges (interval
 * 5-300 s, timeout 2-120 s, thresholds 2-10).
 */
export const API_HEALTH_CHECK = {
    protocol: "HTTPS",
    port: String(API_PORT),
    path: "/readyz",
    matcher: "200",
    interval: 10,
    timeout: 5,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
} as const;

export interface ApiLoadBalancerArgs {
    /** Cluster name: prefixes names and fills the kubernetes.io/cluster tag. */
    clusterName: string;
    /** The VPC of the targets. */
    vpcId: pulumi.Input<string>;
    /** One subnet per control-plane zone: public ones, or private ones for an internal load balancer. */
    subnets: readonly ZoneSubnet[];
    /** The load balancer's own security group. */
    securityGroupId: pulumi.Input<string>;
    /** Reachable only from inside the VPC. */
    internal: boolean;
    /** Every control plane becomes a target. */
    controlPlanes: readonly PoolNode[];
    /** Deletion protection and Pulumi protection. */
    protect: boolean;
}

/** A network load balancer with a TCP listener on 6443 in front of every kube-apiserver. */
export class ApiLoadBalancer extends pulumi.ComponentResource {
    /** The load balancer's DNS name: kubeadm's controlPlaneEndpoint host unless apiDnsName is set (components/apiEndpoint.ts). */
    readonly dnsName: pulumi.Output<string>;
    /** The load balancer's Route 53 zone: an alias record's target zone. */
    readonly zoneId: pulumi.Output<string>;
    readonly arn: pulumi.Output<string>;
    readonly targetGroupArn: pulumi.Output<string>;
    /** Depend on it to know the API has a front door (kubeadm init waits for it). */
    readonly listener: aws.lb.Listener;
    /** The load balancer, its target group, listener and every target attachment: the API's path to the nodes. */
    readonly apiPath: readonly pulumi.Resource[];

    constructor(name: string, args: ApiLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:loadbalancer:ApiLoadBalancer", name, {}, opts);
        const c = args.clusterName;
        const lb = new aws.lb.LoadBalancer(
            `${c}-api`,
            {
                loadBalancerType: "network",
                internal: args.internal,
                subnets: args.subnets.map((s) => s.id),
                securityGroups: [args.securityGroupId],
                // Each zone's node serves clients of every zone: losing a zone's node loses no zone's clients.
                enableCrossZoneLoadBalancing: true,
                enableDeletionProtection: args.protect,
                tags: roleTags(c, `${c}-api`, "api-lb"),
            },
            { parent: this, protect: args.protect },
        );

        const targets = new aws.lb.TargetGroup(
            `${c}-api`,
            {
                port: API_PORT,
                protocol: "TCP",
                targetType: "instance",
                vpcId: args.vpcId,
                // With client-IP preservation a control plane that dials the endpoint and lands on itself
                // sees its own address as the source and the connection hangs (NLB hairpinning).
                preserveClientIp: "false",
                // Short: a control plane being replaced or rotated leaves rotation quickly.
                deregistrationDelay: 30,
                // Close long-lived watches on deregistration so clients reconnect to a healthy apiserver.
                connectionTermination: true,
                healthCheck: { ...API_HEALTH_CHECK, enabled: true },
                tags: roleTags(c, `${c}-api`, "api-lb"),
            },
            { parent: this },
        );

        this.listener = new aws.lb.Listener(
            `${c}-api`,
            {
                loadBalancerArn: lb.arn,
                port: API_PORT,
                protocol: "TCP",
                defaultActions: [{ type: "forward", targetGroupArn: targets.arn }],
                tags: roleTags(c, `${c}-api`, "api-lb"),
            },
            { parent: this },
        );

        const attachments = args.controlPlanes.map(
            (node) =>
                new aws.lb.TargetGroupAttachment(
                    `${node.name}-api`,
                    {
                        targetGroupArn: targets.arn,
                        targetId: node.instance.id,
                        port: API_PORT,
                    },
                    { parent: this },
                ),
        );
        this.apiPath = [lb, targets, this.listener, ...attachments];

        this.dnsName = lb.dnsName;
        this.zoneId = lb.zoneId;
        this.arn = lb.arn;
        this.targetGroupArn = targets.arn;
        this.registerOutputs({ dnsName: this.dnsName, arn: this.arn, targetGroupArn: this.targetGroupArn });
    }
}
