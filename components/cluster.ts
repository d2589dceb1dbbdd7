import * as pulumi from "@pulumi/pulumi";
import { Addons } from "./addons";
import { ApiEndpoint } from "./apiEndpoint";
import { ApiLoadBalancer, API_PORT } from "./apiLoadBalancer";
import { EtcdBackup } from "./backup";
import { Bastion } from "./bastion";
import { Bootstrap } from "./bootstrap";
import { CloudIntegrationIam } from "./cloudIntegrationIam";
import { afterChecks, cloudChecks, type ClusterConfig } from "./config";
import { NodeIdentity } from "./iam";
import { occupiedZones } from "./net/layout";
import { Network } from "./network";
import { NodePool } from "./nodePool";
import { ClusterPki } from "./pki";
import { Rollout } from "./rollout";
import { Security } from "./security";

export interface ClusterArgs {
    /** The validated stack configuration (components/config.ts). */
    config: ClusterConfig;
}

/**
 * A highly available Kubernetes control plane: network, security, nodes, bastion, the API load
 * balancer, the PKI and the kubeadm bootstrap; and day 2: etcd backups to S3, safe node
 * replacement one control plane at a time (components/rollout.ts), upgrades node by node, and the
 * in-cluster add-ons.
 */
export class Cluster extends pulumi.ComponentResource {
    readonly apiEndpoint: pulumi.Output<string>;
    readonly network: Network;
    readonly controlPlane: NodePool;
    readonly workers: NodePool;
    readonly bastion: Bastion;
    readonly apiLoadBalancer: ApiLoadBalancer;
    readonly pki: ClusterPki;
    readonly bootstrap: Bootstrap;
    /** IAM identities of the control planes and the workers (day-2 features attach policies to their roles). */
    readonly controlPlaneIdentity: NodeIdentity;
    readonly workerIdentity: NodeIdentity;
    /** The AWS cloud-controller-manager's and EBS CSI controller's grants on the control-plane role. */
    readonly cloudIntegrationIam: CloudIntegrationIam;
    readonly etcdBackup: EtcdBackup;
    readonly addons: Addons;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        // Lookups first (images, an existing VPC): every resource is a child of this component, whose
        // registration waits for them, so a configuration the cloud refutes builds nothing.
        const facts = cloudChecks(args.config);
        super(
            "k8s-ha:index:Cluster",
            name,
            {},
            {
                ...opts,
                dependsOn: facts.verified,
                transformations: [...(opts?.transformations ?? []), afterChecks(facts.verified)],
            },
        );
        const cfg = args.config;
        const c = cfg.clusterName;
        const parent = { parent: this };

        this.network = new Network(
            "network",
            {
                clusterName: c,
                vpcCidr: cfg.vpcCidr,
                availabilityZones: cfg.availabilityZones,
                natGateways: cfg.natGateways,
                existingVpc: cfg.existingVpc,
                existingVpcFacts: facts.existingVpc,
            },
            parent,
        );
        const security = new Security(
            "security",
            {
                clusterName: c,
                vpcId: this.network.vpcId,
                vpcCidr: this.network.cidrBlock,
                apiAllowedCidrs: cfg.apiAllowedCidrs,
                sshAllowedCidrs: cfg.sshAllowedCidrs,
                natPublicIps: cfg.internalApi ? [] : this.network.natPublicIps,
            },
            parent,
        );
        this.bastion = new Bastion(
            "bastion",
            {
                clusterName: c,
                subnet: this.network.publicSubnets[0],
                securityGroupId: security.bastionGroupId,
                instanceType: cfg.bastionInstanceType,
                ami: facts.images.bastionInstanceType,
            },
            parent,
        );

        // Safe replacement and one-at-a-time instance changes (components/rollout.ts).
        const rollout = new Rollout({
            controlPlanes: Array.from({ length: cfg.controlPlaneCount }, (_, i) => `${c}-cp-${i}`),
            replaceTriggers: cfg.nodeReplaceTriggers,
        });
        const pool = (
            role: "control-plane" | "worker",
            count: number,
            instanceType: string,
            ami: pulumi.Output<string>,
            groupId: pulumi.Output<string>,
            identity: NodeIdentity,
        ) => {
            return new NodePool(
                role === "control-plane" ? "control-plane" : "workers",
                {
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
                    replaceTriggers: cfg.nodeReplaceTriggers,
                },
                { ...parent, transformations: [rollout.transformation] },
            );
        };
        this.controlPlaneIdentity = new NodeIdentity(
            "control-plane-identity",
            { clusterName: c, role: "control-plane" },
            parent,
        );
        this.workerIdentity = new NodeIdentity("worker-identity", { clusterName: c, role: "worker" }, parent);
        // The CCM and the EBS CSI controller run on the control planes with host networking (IMDS hop limit 1).
        this.cloudIntegrationIam = new CloudIntegrationIam(
            "cloud-integration-iam",
            { clusterName: c, controlPlaneRole: this.controlPlaneIdentity.role, region: cfg.region },
            parent,
        );
        this.controlPlane = pool(
            "control-plane",
            cfg.controlPlaneCount,
            cfg.controlPlaneInstanceType,
            facts.images.controlPlaneInstanceType,
            security.controlPlaneGroupId,
            this.controlPlaneIdentity,
        );
        this.workers = pool(
            "worker",
            cfg.workerCount,
            cfg.workerInstanceType,
            facts.images.workerInstanceType,
            security.workerGroupId,
            this.workerIdentity,
        );

        // The load balancer lives in exactly the zones that hold a control plane.
        const lbZones = occupiedZones(cfg.controlPlaneCount, cfg.availabilityZones);
        const lbSubnets = (cfg.internalApi ? this.network.privateSubnets : this.network.publicSubnets).filter((s) =>
            lbZones.includes(s.zone),
        );
        this.apiLoadBalancer = new ApiLoadBalancer(
            "api",
            {
                clusterName: c,
                vpcId: this.network.vpcId,
                subnets: lbSubnets,
                securityGroupId: security.apiLoadBalancerGroupId,
                internal: cfg.internalApi,
                controlPlanes: this.controlPlane.nodes,
                protect: cfg.protect,
            },
            parent,
        );

        // The API's one name (the load balancer's, or apiDnsName once its record exists): every
        // certificate, kubeconfig and bootstrap command takes it from here.
        const endpoint = new ApiEndpoint(
            "api-endpoint",
            {
                clusterName: c,
                dnsZoneId: cfg.apiDnsZoneId,
                dnsName: cfg.apiDnsName,
                loadBalancer: this.apiLoadBalancer,
                protect: cfg.protect,
            },
            parent,
        );
        const clusterSpec = {
            clusterName: c,
            kubernetesVersion: cfg.kubernetesVersion,
            apiEndpointHost: endpoint.host,
            podCidr: cfg.podCidr,
            serviceCidr: cfg.serviceCidr,
            extraSans: endpoint.extraSans.apply((names) => [...names, ...cfg.apiExtraSans]),
        };
        this.pki = new ClusterPki(
            "pki",
            {
                cluster: clusterSpec,
                controlPlanes: this.controlPlane.nodes.map((n) => ({ name: n.name, privateIp: n.instance.privateIp })),
                algorithm: cfg.pkiAlgorithm,
                protect: cfg.protect,
                encryptionKeys: cfg.secretsEncryptionKeys,
            },
            parent,
        );
        this.etcdBackup = new EtcdBackup(
            "etcd-backup",
            {
                clusterName: c,
                retentionDays: cfg.etcdBackupRetentionDays,
                controlPlaneRole: this.controlPlaneIdentity.role,
                protect: cfg.protect,
                region: cfg.region,
                restoreRoleArns: cfg.etcdBackupRestoreRoleArns,
            },
            parent,
        );
        try {
            this.bootstrap = new Bootstrap(
                "bootstrap",
                {
                    cluster: clusterSpec,
                    controlPlanes: this.controlPlane.nodes,
                    workers: this.workers.nodes,
                    bastionHost: this.bastion.publicIp,
                    sshPrivateKey: this.bastion.privateKeyOpenssh,
                    pki: this.pki,
                    apiListener: this.apiLoadBalancer.listener,
                    accessPath: [
                        this.bastion.instance,
                        this.bastion.address,
                        ...security.rules,
                        ...this.network.routing,
                        ...this.apiLoadBalancer.apiPath,
                    ],
                    egressPath: [
                        this.bastion.instance,
                        this.bastion.address,
                        ...security.rules,
                        ...this.network.routing,
                    ],
                    protectControlPlanes: cfg.protect,
                    etcdBackup: {
                        uploadTarget: (node) => this.etcdBackup.uploadTarget(node),
                        schedule: cfg.etcdBackupSchedule,
                        region: cfg.region,
                        dependsOn: this.etcdBackup.ready,
                    },
                    rollout: { instanceType: cfg.controlPlaneInstanceType, replaceTriggers: cfg.nodeReplaceTriggers },
                },
                parent,
            );
            rollout.bind(this.bootstrap.rolloutGates);
        } catch (err) {
            rollout.abandon(err);
            throw err;
        }

        this.addons = new Addons(
            "addons",
            {
                clusterName: c,
                kubeconfig: this.pki.adminKubeconfig,
                // After the last join; and on destroy, gone before any control plane's reset hook runs.
                controlPlaneReady: [this.bootstrap.controlPlaneReady, ...this.bootstrap.controlPlaneResets],
                podCidr: cfg.podCidr,
                controlPlaneCount: cfg.controlPlaneCount,
                alerts: cfg.alerts,
                kubernetesVersion: cfg.kubernetesVersion,
                region: cfg.region,
                controlPlaneUpgrades: this.bootstrap.controlPlaneUpgrades,
            },
            parent,
        );

        this.apiEndpoint = pulumi.interpolate`https://${endpoint.host}:${API_PORT}`;
        this.registerOutputs({ apiEndpoint: this.apiEndpoint });
    }
}
