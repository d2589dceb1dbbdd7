// IAM for the in-cluster AWS integrations that run on the control planes: the AWS
// cloud-controller-manager (nodes' providerID and zones, Services of type LoadBalancer) and the EBS
// CSI driver's controller (volumes for PersistentVolumeClaims). Both run with host networking and
// use the control-plane instance role through the metadata service (hop limit 1: pods cannot reach
// it), so their grants are inline policies of that role, following the upstream documents:
//   https://github.com/kubernetes/cloud-provider-aws/blob/2f4b2e2f8620bc86ab949aa15269d504f0c38a23/docs/prerequisites.md
//   https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/050d130f5814d2e366158058c557a7c25f536441/docs/example-iam-policy.json
// Nothing beyond them; narrower where it costs the controllers nothing (this partition, region and
// account; the one service-linked role the CCM's load balancers need). tests/fixtures/
// upstream-iam-policies.json holds the upstream statements the spec compares against.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Where the grants apply: ARNs are built from these instead of upstream's `arn:aws:ec2:*:*:`. */
export interface AwsScope {
    /** The AWS partition (aws, aws-cn, aws-us-gov). */
    partition: pulumi.Input<string>;
    /** The stack's region: the controllers act only there. */
    region: pulumi.Input<string>;
    /** The stack's account id. */
    accountId: pulumi.Input<string>;
}

/**
 * The CCM's actions, as upstream's "Control Plane Policy" lists them (its duplicate
 * elasticloadbalancing:AddTags once). Upstream grants all of them on "*": the CCM creates security
 * groups, load balancers and target groups whose ARNs do not exist before, and finds instances,
 * subnets and route tables by tag. policies/rules/iam.ts lists them in UNSCOPABLE_ACTIONS.
 */
export const CCM_ACTIONS: readonly string[] = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeTags",
    "ec2:DescribeInstances",
    "ec2:DescribeRegions",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVolumes",
    "ec2:DescribeAvailabilityZones",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyVolume",
    "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteVolume",
    "ec2:DetachVolume",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:DescribeVpcs",
    "ec2:DescribeInstanceTopology",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:AttachLoadBalancerToSubnets",
    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancerPolicy",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerPolicies",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
    "kms:DescribeKey",
];

/** The service whose service-linked role a first load balancer in the account creates. */
export const ELB_SERVICE = "elasticloadbalancing.amazonaws.com";

/**
 * The CCM's grant. Upstream's one statement, except iam:CreateServiceLinkedRole: upstream allows it
 * on "*", which would let a node create any service's linked role; the CCM needs only Elastic Load
 * Balancing's (created by the account's first load balancer), so it is scoped to that role.
 */
export function cloudControllerManagerPolicy(scope: AwsScope): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "CloudControllerManager", Effect: "Allow", Action: [...CCM_ACTIONS], Resource: "*" },
            {
                Sid: "ElbServiceLinkedRole",
                Effect: "Allow",
                Action: ["iam:CreateServiceLinkedRole"],
                Resource: pulumi.interpolate`arn:${scope.partition}:iam::${scope.accountId}:role/aws-service-role/${ELB_SERVICE}/AWSServiceRoleForElasticLoadBalancing`,
                Condition: { StringEquals: { "iam:AWSServiceName": ELB_SERVICE } },
            },
        ],
    };
}

/** The EBS CSI driver's read-only calls: AWS has no resource type for them, so "*" as upstream. */
export const EBS_CSI_DESCRIBE_ACTIONS: readonly string[] = [
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInstances",
    "ec2:DescribeSnapshots",
    "ec2:DescribeTags",
    "ec2:DescribeVolumes",
    "ec2:DescribeVolumesModifications",
    "ec2:DescribeVolumeStatus",
];

/**
 * The EBS CSI controller's grant: upstream's statements in upstream's order with their tag
 * conditions (volumes and snapshots the driver created, ebs.csi.aws.com/cluster = true or its
 * CSIVolumeName / CSIVolumeSnapshotName / PVC tags), on ARNs of this partition, region and account
 * instead of `arn:aws:ec2:*:*:`.
 */
export function ebsCsiDriverPolicy(scope: AwsScope): aws.iam.PolicyDocument {
    const arn = (what: string) =>
        pulumi.interpolate`arn:${scope.partition}:ec2:${scope.region}:${scope.accountId}:${what}`;
    const volumes = arn("volume/*");
    const snapshots = arn("snapshot/*");
    const allow = (
        Sid: string,
        Action: string[],
        Resource: pulumi.Input<string> | pulumi.Input<string>[],
        Condition?: Record<string, Record<string, string | string[]>>,
    ) => ({ Sid, Effect: "Allow" as const, Action, Resource, ...(Condition ? { Condition } : {}) });
    const tagged = (op: "StringLike", key: string, value: string) => ({ [op]: { [key]: value } });
    return {
        Version: "2012-10-17",
        Statement: [
            allow("Describe", [...EBS_CSI_DESCRIBE_ACTIONS], "*"),
            allow("SnapshotAndModifyVolumes", ["ec2:CreateSnapshot", "ec2:ModifyVolume"], volumes),
            allow("CopyVolumes", ["ec2:CopyVolumes"], [arn("volume/vol-*")]),
            allow("AttachDetach", ["ec2:AttachVolume", "ec2:DetachVolume"], [volumes, arn("instance/*")]),
            allow("VolumesFromSnapshots", ["ec2:CreateVolume", "ec2:EnableFastSnapshotRestores"], snapshots),
            allow("TagOnCreate", ["ec2:CreateTags"], [volumes, snapshots], {
                StringEquals: { "ec2:CreateAction": ["CreateVolume", "CreateSnapshot", "CopyVolumes"] },
            }),
            allow("Untag", ["ec2:DeleteTags"], [volumes, snapshots]),
            allow(
                "CreateClusterVolumes",
                ["ec2:CreateVolume", "ec2:CopyVolumes"],
                volumes,
                tagged("StringLike", "aws:RequestTag/ebs.csi.aws.com/cluster", "true"),
            ),
            allow(
                "CreateNamedVolumes",
                ["ec2:CreateVolume", "ec2:CopyVolumes"],
                volumes,
                tagged("StringLike", "aws:RequestTag/CSIVolumeName", "*"),
            ),
            allow(
                "DeleteClusterVolumes",
                ["ec2:DeleteVolume"],
                volumes,
                tagged("StringLike", "ec2:ResourceTag/ebs.csi.aws.com/cluster", "true"),
            ),
            allow(
                "DeleteNamedVolumes",
                ["ec2:DeleteVolume"],
                volumes,
                tagged("StringLike", "ec2:ResourceTag/CSIVolumeName", "*"),
            ),
            allow(
                "DeletePvcVolumes",
                ["ec2:DeleteVolume"],
                volumes,
                tagged("StringLike", "ec2:ResourceTag/kubernetes.io/created-for/pvc/name", "*"),
            ),
            allow(
                "CreateNamedSnapshots",
                ["ec2:CreateSnapshot"],
                snapshots,
                tagged("StringLike", "aws:RequestTag/CSIVolumeSnapshotName", "*"),
            ),
            allow(
                "CreateClusterSnapshots",
                ["ec2:CreateSnapshot"],
                snapshots,
                tagged("StringLike", "aws:RequestTag/ebs.csi.aws.com/cluster", "true"),
            ),
            allow(
                "DeleteNamedSnapshots",
                ["ec2:DeleteSnapshot"],
                snapshots,
                tagged("StringLike", "ec2:ResourceTag/CSIVolumeSnapshotName", "*"),
            ),
            allow(
                "DeleteClusterSnapshots",
                ["ec2:DeleteSnapshot"],
                snapshots,
                tagged("StringLike", "ec2:ResourceTag/ebs.csi.aws.com/cluster", "true"),
            ),
        ],
    };
}

export interface CloudIntegrationIamArgs {
    /** Cluster name: prefixes the inline policies' resource names. */
    clusterName: string;
    /** The control planes' role, which the CCM and the EBS CSI controller use through the metadata service (host networking). */
    controlPlaneRole: aws.iam.Role;
    /** The stack's region (`aws:region`): the EBS grants name ARNs of this region only. */
    region: string;
}

/** The CCM's and the EBS CSI controller's grants, as inline policies of the control-plane role. */
export class CloudIntegrationIam extends pulumi.ComponentResource {
    readonly cloudControllerManager: aws.iam.RolePolicy;
    readonly ebsCsiDriver: aws.iam.RolePolicy;

    constructor(name: string, args: CloudIntegrationIamArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:iam:CloudIntegrationIam", name, {}, opts);
        const parent = { parent: this };
        const c = args.clusterName;
        const scope: AwsScope = {
            partition: aws.getPartitionOutput({}, parent).partition,
            region: args.region,
            accountId: aws.getCallerIdentityOutput({}, parent).accountId,
        };
        // Documents, not JSON text: their actions stay known during preview while ARNs are computed,
        // so the pack's node-role-least-privilege rule judges them before anything is created.
        this.cloudControllerManager = new aws.iam.RolePolicy(
            `${c}-cloud-controller-manager`,
            {
                role: args.controlPlaneRole.id,
                policy: cloudControllerManagerPolicy(scope),
            },
            parent,
        );
        this.ebsCsiDriver = new aws.iam.RolePolicy(
            `${c}-ebs-csi-driver`,
            {
                role: args.controlPlaneRole.id,
                policy: ebsCsiDriverPolicy(scope),
            },
            parent,
        );
        this.registerOutputs({
            cloudControllerManager: this.cloudControllerManager.id,
            ebsCsiDriver: this.ebsCsiDriver.id,
        });
    }
}
