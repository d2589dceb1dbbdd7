import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CALICO_PORTS } from "./addons";
import { API_PORT } from "../policies/lib/contract";
import { clusterTags } from "./tags";

export interface SecurityArgs {
    /** Cluster name: prefixes group names and fills the kubernetes.io/cluster tag. */
    clusterName: string;
    /** The VPC the groups belong to. */
    vpcId: pulumi.Input<string>;
    /** The VPC's block (an existing VPC's as looked up): in-VPC clients reach the API load balancer, the bastion reaches nodes. */
    vpcCidr: pulumi.Input<string>;
    /** External CIDRs allowed to the API load balancer on 6443. */
    apiAllowedCidrs: readonly string[];
    /** External CIDRs allowed to SSH into the bastion. */
    sshAllowedCidrs: readonly string[];
    /** NAT addresses nodes leave the VPC from: they reach an internet-facing API load balancer from there. */
    natPublicIps: readonly pulumi.Input<string>[];
}

type Source = { cidr: pulumi.Input<string> } | { group: pulumi.Input<string> };

/**
 * One security group per role, and every rule as its own resource with a description, so that a
 * rule change never rewrites a whole group and the policy pack sees each rule. Nothing is open to
 * the world unless a config list says so.
 */
export class Security extends pulumi.ComponentResource {
    readonly apiLoadBalancerGroupId: pulumi.Output<string>;
    readonly controlPlaneGroupId: pulumi.Output<string>;
    readonly workerGroupId: pulumi.Output<string>;
    readonly bastionGroupId: pulumi.Output<string>;
    /** Every rule (the groups' traffic: SSH through the bastion, the API through the load balancer). */
    readonly rules: readonly pulumi.Resource[];

    constructor(name: string, args: SecurityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:security:Security", name, {}, opts);
        const c = args.clusterName;
        const rules: pulumi.Resource[] = [];
        const keep = <T extends pulumi.Resource>(r: T): T => {
            rules.push(r);
            return r;
        };
        const group = (role: string, description: string) =>
            new aws.ec2.SecurityGroup(
                `${c}-${role}`,
                { vpcId: args.vpcId, description, tags: clusterTags(c, `${c}-${role}`) },
                { parent: this },
            );
        const lb = group("api-lb", "Kubernetes API network load balancer");
        const cp = group("control-plane", "Kubernetes control-plane nodes");
        const worker = group("worker", "Kubernetes worker nodes");
        const bastion = group("bastion", "SSH bastion");

        const ingress = (
            rule: string,
            groupId: pulumi.Input<string>,
            ports: [number, number],
            from: Source,
            description: string,
            protocol: "tcp" | "udp" = "tcp",
        ) =>
            keep(
                new aws.vpc.SecurityGroupIngressRule(
                    `${c}-${rule}`,
                    {
                        securityGroupId: groupId,
                        ipProtocol: protocol,
                        fromPort: ports[0],
                        toPort: ports[1],
                        ...("cidr" in from ? { cidrIpv4: from.cidr } : { referencedSecurityGroupId: from.group }),
                        description,
                        tags: clusterTags(c, `${c}-${rule}`),
                    },
                    { parent: this },
                ),
            );
        const egress = (
            rule: string,
            groupId: pulumi.Input<string>,
            ports: [number, number] | "all",
            to: Source,
            description: string,
        ) =>
            keep(
                new aws.vpc.SecurityGroupEgressRule(
                    `${c}-${rule}`,
                    {
                        securityGroupId: groupId,
                        ...(ports === "all"
                            ? { ipProtocol: "-1" }
                            : { ipProtocol: "tcp", fromPort: ports[0], toPort: ports[1] }),
                        ...("cidr" in to ? { cidrIpv4: to.cidr } : { referencedSecurityGroupId: to.group }),
                        description,
                        tags: clusterTags(c, `${c}-${rule}`),
                    },
                    { parent: this },
                ),
            );
        const API: [number, number] = [API_PORT, API_PORT];
        const SSH: [number, number] = [22, 22];

        // The API load balancer (NLBs take security groups).
        args.apiAllowedCidrs.forEach((cidr, i) =>
            ingress(`api-lb-in-client-${i}`, lb.id, API, { cidr }, `Kubernetes API clients from ${cidr}`),
        );
        ingress(
            "api-lb-in-vpc",
            lb.id,
            API,
            { cidr: args.vpcCidr },
            "Kubernetes API from inside the VPC (nodes of an internal load balancer)",
        );
        args.natPublicIps.forEach((ip, i) =>
            ingress(
                `api-lb-in-nat-${i}`,
                lb.id,
                API,
                { cidr: pulumi.interpolate`${ip}/32` },
                "Kubernetes API from nodes leaving through a NAT gateway",
            ),
        );
        egress(
            "api-lb-out-control-plane",
            lb.id,
            API,
            { group: cp.id },
            "Forward API traffic and health checks to kube-apiserver",
        );

        // Control planes. Client-IP preservation is off on the target group, so API traffic arrives from
        // the load balancer itself: allowing its group is exact and needs no subnet CIDRs.
        ingress(
            "cp-in-api-lb",
            cp.id,
            API,
            { group: lb.id },
            "kube-apiserver from the API load balancer (traffic and health checks)",
        );
        ingress("cp-in-api-cp", cp.id, API, { group: cp.id }, "kube-apiserver from control planes");
        ingress(
            "cp-in-api-worker",
            cp.id,
            API,
            { group: worker.id },
            "kube-apiserver from workers (the kubernetes service endpoints)",
        );
        ingress(
            "cp-in-etcd",
            cp.id,
            [2379, 2380],
            { group: cp.id },
            "etcd client and peer traffic between control planes only",
        );
        ingress("cp-in-kubelet", cp.id, [10250, 10250], { group: cp.id }, "kubelet API from control planes");
        ingress("cp-in-ssh", cp.id, SSH, { group: bastion.id }, "SSH from the bastion only");
        egress("cp-out-all", cp.id, "all", { cidr: "0.0.0.0/0" }, "Packages, container images and AWS APIs");

        // Workers.
        ingress(
            "worker-in-kubelet",
            worker.id,
            [10250, 10250],
            { group: cp.id },
            "kubelet API from control planes (logs, exec, metrics)",
        );
        ingress("worker-in-ssh", worker.id, SSH, { group: bastion.id }, "SSH from the bastion only");
        egress("worker-out-all", worker.id, "all", { cidr: "0.0.0.0/0" }, "Packages, container images and AWS APIs");

        // The pod network (Calico, components/addons.ts): VXLAN between every pair of nodes, and
        // Typha, which every calico-node dials, wherever it runs.
        const VXLAN: [number, number] = [CALICO_PORTS.vxlanUdp, CALICO_PORTS.vxlanUdp];
        const TYPHA: [number, number] = [CALICO_PORTS.typhaTcp, CALICO_PORTS.typhaTcp];
        for (const [to, toName] of [
            [cp, "cp"],
            [worker, "worker"],
        ] as const) {
            for (const [from, fromName] of [
                [cp, "cp"],
                [worker, "worker"],
            ] as const) {
                ingress(
                    `${toName}-in-vxlan-${fromName}`,
                    to.id,
                    VXLAN,
                    { group: from.id },
                    `Calico VXLAN (pod traffic) from ${fromName === "cp" ? "control planes" : "workers"}`,
                    "udp",
                );
                ingress(
                    `${toName}-in-typha-${fromName}`,
                    to.id,
                    TYPHA,
                    { group: from.id },
                    `Calico Typha from ${fromName === "cp" ? "control planes" : "workers"}`,
                );
            }
        }

        // Bastion: the only SSH entry from outside.
        args.sshAllowedCidrs.forEach((cidr, i) =>
            ingress(`bastion-in-ssh-${i}`, bastion.id, SSH, { cidr }, `SSH from ${cidr}`),
        );
        egress("bastion-out-ssh", bastion.id, SSH, { cidr: args.vpcCidr }, "SSH to nodes inside the VPC");

        this.rules = rules;
        this.apiLoadBalancerGroupId = lb.id;
        this.controlPlaneGroupId = cp.id;
        this.workerGroupId = worker.id;
        this.bastionGroupId = bastion.id;
        this.registerOutputs({
            apiLoadBalancerGroupId: lb.id,
            controlPlaneGroupId: cp.id,
            workerGroupId: worker.id,
            bastionGroupId: bastion.id,
        });
    }
}
