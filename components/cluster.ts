import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ApiLoadBalancer, API_PORT } from "./apiLoadBalancer";
import { Bastion } from "./bastion";
import { Bootstrap } from "./bootstrap";
import type { ClusterConfig } from "./config";
import { NodeIdentity } from "./iam";
import { occupiedZones } from "./net/layout";
import { Network } from "./network";
import { NodePool } from "./nodePool";
import { ClusterPki } from "./pki";
import { Security } from "./security";

/** Canonical's account: the only owner trusted for the Ubuntu image. */
const CANONICAL = "099720109477";

export interface ClusterArgs {
    /** The validated stack configuration (components/config.ts). */
    config: ClusterConfig;
}

/** A highly available Kubernetes control plane: network, security, nodes, bastion and the API load balancer. */
export class Cluster extends pulumi.ComponentResource {
    readonly apiEndpoint: pulumi.Output<string>;
    readonly network: Network;
    readonly controlPlane: NodePool;
    readonly workers: NodePool;
    readonly bastion: Bastion;
    readonly apiLoadBalancer: ApiLoadBalancer;
    readonly pki: ClusterPki;
    readonly bootstrap: Bootstrap;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:index:Cluster", name, {}, opts);
        const cfg = args.config;
        const c = cfg.clusterName;
        const parent = { parent: this };

        const ami = cfg.amiId !== ""
            ? pulumi.output(cfg.amiId)
            : aws.ec2.getAmiOutput({
                owners: [CANONICAL],
                mostRecent: true,
                filters: [
                    { name: "name", values: ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"] },
                    { name: "virtualization-type", values: ["hvm"] },
                ],
            }, parent).id;

        this.network = new Network("network", {
            clusterName: c,
            vpcCidr: cfg.vpcCidr,
            availabilityZones: cfg.availabilityZones,
            natGateways: cfg.natGateways,
            existingVpc: cfg.existingVpc,
        }, parent);
        const security = new Security("security", {
            clusterName: c,
            vpcId: this.network.vpcId,
            vpcCidr: cfg.vpcCidr,
            apiAllowedCidrs: cfg.apiAllowedCidrs,
            sshAllowedCidrs: cfg.sshAllowedCidrs,
            natPublicIps: cfg.internalApi ? [] : this.network.natPublicIps,
        }, parent);
        this.bastion = new Bastion("bastion", {
            clusterName: c,
            subnet: this.network.publicSubnets[0],
            securityGroupId: security.bastionGroupId,
            instanceType: cfg.bastionInstanceType,
            ami,
        }, parent);

        const pool = (role: "control-plane" | "worker", count: number, instanceType: string, groupId: pulumi.Output<string>) => {
            const identity = new NodeIdentity(`${role}-identity`, { clusterName: c, role }, parent);
            return new NodePool(role === "control-plane" ? "control-plane" : "workers", {
                clusterName: c,
                role,
                count,
                privateSubnets: this.network.privateSubnets,
                securityGroupIds: [groupId],
                instanceType,
                ami,
                keyName: this.bastion.keyName,
                rootVolumeSizeGiB: cfg.rootVolumeSizeGiB,
                instanceProfileName: identity.instanceProfileName,
                protect: cfg.protect && role === "control-plane",
            }, parent);
        };
        this.controlPlane = pool("control-plane", cfg.controlPlaneCount, cfg.controlPlaneInstanceType, security.controlPlaneGroupId);
        this.workers = pool("worker", cfg.workerCount, cfg.workerInstanceType, security.workerGroupId);

        // The load balancer lives in exactly the zones that hold a control plane.
        const lbZones = occupiedZones(cfg.controlPlaneCount, cfg.availabilityZones);
        const lbSubnets = (cfg.internalApi ? this.network.privateSubnets : this.network.publicSubnets).filter((s) => lbZones.includes(s.zone));
        this.apiLoadBalancer = new ApiLoadBalancer("api", {
            clusterName: c,
            vpcId: this.network.vpcId,
            subnets: lbSubnets,
            securityGroupId: security.apiLoadBalancerGroupId,
            internal: cfg.internalApi,
            controlPlanes: this.controlPlane.nodes,
            protect: cfg.protect,
        }, parent);

        const clusterSpec = {
            clusterName: c,
            kubernetesVersion: cfg.kubernetesVersion,
            apiEndpointHost: this.apiLoadBalancer.dnsName,
            podCidr: cfg.podCidr,
            serviceCidr: cfg.serviceCidr,
            extraSans: cfg.apiExtraSans,
        };
        this.pki = new ClusterPki("pki", {
            cluster: clusterSpec,
            controlPlanes: this.controlPlane.nodes.map((n) => ({ name: n.name, privateIp: n.instance.privateIp })),
            algorithm: cfg.pkiAlgorithm,
            protect: cfg.protect,
        }, parent);
        this.bootstrap = new Bootstrap("bootstrap", {
            cluster: clusterSpec,
            controlPlanes: this.controlPlane.nodes,
            workers: this.workers.nodes,
            bastionHost: this.bastion.publicIp,
            sshPrivateKey: this.bastion.privateKeyOpenssh,
            pki: this.pki,
            apiListener: this.apiLoadBalancer.listener,
        }, parent);

        this.apiEndpoint = pulumi.interpolate`https://${this.apiLoadBalancer.dnsName}:${API_PORT}`;
        this.registerOutputs({ apiEndpoint: this.apiEndpoint });
    }
}
