import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ExistingVpc, NatGatewayMode } from "./config";
import { planSubnets } from "./net/layout";
import { clusterTags } from "./tags";

/** A subnet with the zone it lies in, known while the program runs (policies read it during preview). */
export interface ZoneSubnet {
    readonly zone: string;
    readonly id: pulumi.Output<string>;
}

export interface NetworkArgs {
    /** Cluster name: prefixes resource names and fills the kubernetes.io/cluster tag. */
    clusterName: string;
    /** The VPC's IPv4 block; subnets are carved from it (see net/layout.ts). */
    vpcCidr: string;
    /** Zones to create a public and a private subnet in. */
    availabilityZones: readonly string[];
    /** One NAT gateway for all zones, or one per zone so that losing a zone keeps egress in the others. */
    natGateways: NatGatewayMode;
    /** Build in this VPC and its subnets instead of creating a network. */
    existingVpc?: ExistingVpc;
    /** The existing VPC's block and its NAT gateways' addresses, as looked up (config.ts cloudChecks). */
    existingVpcFacts?: {
        readonly cidrBlock: pulumi.Output<string>;
        readonly natPublicIps: readonly pulumi.Output<string>[];
    };
}

/**
 * The VPC: per zone a public subnet (load balancer, NAT gateway, bastion) and a private subnet
 * (nodes), an internet gateway, NAT gateways and routes.
 */
export class Network extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    /** The VPC's IPv4 block: vpcCidr, or an existing VPC's own (looked up, never taken from config). */
    readonly cidrBlock: pulumi.Output<string>;
    /** Public subnets in zone order. */
    readonly publicSubnets: readonly ZoneSubnet[];
    /** Private subnets in zone order. */
    readonly privateSubnets: readonly ZoneSubnet[];
    /** Public addresses nodes reach the internet (and an internet-facing API load balancer) from; an existing VPC's are its listed NAT gateways'. */
    readonly natPublicIps: readonly pulumi.Output<string>[];
    /** What carries traffic to and from the nodes (internet gateway, NAT gateways and addresses, route tables, associations). */
    readonly routing: readonly pulumi.Resource[];

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:network:Network", name, {}, opts);
        const zones = args.availabilityZones;

        if (args.existingVpc) {
            const existing = args.existingVpc;
            if (!args.existingVpcFacts)
                throw new Error("Network: an existing VPC needs its looked-up facts (config.ts cloudChecks)");
            this.vpcId = pulumi.output(existing.vpcId);
            this.cidrBlock = args.existingVpcFacts.cidrBlock;
            this.publicSubnets = zones.map((zone) => ({ zone, id: pulumi.output(existing.publicSubnets[zone]) }));
            this.privateSubnets = zones.map((zone) => ({ zone, id: pulumi.output(existing.privateSubnets[zone]) }));
            this.natPublicIps = args.existingVpcFacts.natPublicIps;
            this.routing = [];
            this.registerOutputs({ vpcId: this.vpcId });
            return;
        }

        const c = args.clusterName;
        const parent = { parent: this };
        const routing: pulumi.Resource[] = [];
        const vpc = new aws.ec2.Vpc(
            `${c}-vpc`,
            {
                cidrBlock: args.vpcCidr,
                enableDnsHostnames: true,
                enableDnsSupport: true,
                tags: clusterTags(c, `${c}-vpc`),
            },
            parent,
        );
        const igw = new aws.ec2.InternetGateway(
            `${c}-igw`,
            { vpcId: vpc.id, tags: clusterTags(c, `${c}-igw`) },
            parent,
        );
        const publicRoutes = new aws.ec2.RouteTable(
            `${c}-public`,
            {
                vpcId: vpc.id,
                routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
                tags: clusterTags(c, `${c}-public`),
            },
            parent,
        );

        const blocks = planSubnets(args.vpcCidr, zones);
        const publicSubnets = blocks.map((b) => {
            const subnet = new aws.ec2.Subnet(
                `${c}-public-${b.zone}`,
                {
                    vpcId: vpc.id,
                    availabilityZone: b.zone,
                    cidrBlock: b.publicCidr,
                    mapPublicIpOnLaunch: false,
                    tags: clusterTags(c, `${c}-public-${b.zone}`, { "kubernetes.io/role/elb": "1" }),
                },
                parent,
            );
            routing.push(
                new aws.ec2.RouteTableAssociation(
                    `${c}-public-${b.zone}`,
                    { subnetId: subnet.id, routeTableId: publicRoutes.id },
                    parent,
                ),
            );
            return subnet;
        });

        // A NAT gateway lives in a public subnet; with 'single' every zone's private routes use the first.
        const natZones = args.natGateways === "perAz" ? blocks.map((b) => b.zone) : [blocks[0].zone];
        const nats = natZones.map((zone) => {
            const eip = new aws.ec2.Eip(
                `${c}-nat-${zone}`,
                { domain: "vpc", tags: clusterTags(c, `${c}-nat-${zone}`) },
                parent,
            );
            const nat = new aws.ec2.NatGateway(
                `${c}-nat-${zone}`,
                {
                    allocationId: eip.id,
                    subnetId: publicSubnets[zones.indexOf(zone)].id,
                    tags: clusterTags(c, `${c}-nat-${zone}`),
                },
                { parent: this, dependsOn: [igw] },
            );
            return { zone, eip, nat };
        });

        const privateSubnets = blocks.map((b) => {
            const subnet = new aws.ec2.Subnet(
                `${c}-private-${b.zone}`,
                {
                    vpcId: vpc.id,
                    availabilityZone: b.zone,
                    cidrBlock: b.privateCidr,
                    tags: clusterTags(c, `${c}-private-${b.zone}`, { "kubernetes.io/role/internal-elb": "1" }),
                },
                parent,
            );
            const nat = nats.find((n) => n.zone === b.zone) ?? nats[0];
            const routes = new aws.ec2.RouteTable(
                `${c}-private-${b.zone}`,
                {
                    vpcId: vpc.id,
                    routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.nat.id }],
                    tags: clusterTags(c, `${c}-private-${b.zone}`),
                },
                parent,
            );
            routing.push(
                routes,
                new aws.ec2.RouteTableAssociation(
                    `${c}-private-${b.zone}`,
                    { subnetId: subnet.id, routeTableId: routes.id },
                    parent,
                ),
            );
            return subnet;
        });

        this.vpcId = vpc.id;
        this.cidrBlock = pulumi.output(args.vpcCidr);
        this.publicSubnets = publicSubnets.map((s, i) => ({ zone: zones[i], id: s.id }));
        this.privateSubnets = privateSubnets.map((s, i) => ({ zone: zones[i], id: s.id }));
        this.natPublicIps = nats.map((n) => n.eip.publicIp);
        this.routing = [igw, publicRoutes, ...nats.flatMap((n) => [n.eip, n.nat]), ...routing];
        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetIds: publicSubnets.map((s) => s.id),
            privateSubnetIds: privateSubnets.map((s) => s.id),
        });
    }
}
