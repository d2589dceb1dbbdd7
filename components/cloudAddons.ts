// What the AWS-native add-ons install, as pure data: the AWS cloud-controller-manager (CCM) and
// the EBS CSI driver, their pinned charts and values, and the default StorageClass. The Addons
// component (components/addons.ts) turns them into Helm releases.
//
// Both controllers reach the control-plane instance role through IMDSv2 with the hop limit at 1
// (components/instance.ts), so they run on the control planes with host networking: a pod in its
// own network namespace is one hop too far. The EBS node plugin stays off the host network and
// reads its node's instance id, zone and type from the Node object (providerID and the CCM's
// labels), the driver's documented fallback when IMDS is out of reach.
import { KubeadmInputError, parseKubernetesVersion } from "./kubeadm";

/** Chart sources; version and image tag live here and nowhere else. */
export interface ChartPin {
    readonly repo: string;
    readonly chart: string;
    readonly version: string;
    readonly namespace: string;
}

/**
 * The AWS cloud-controller-manager chart (https://github.com/kubernetes/cloud-provider-aws,
 * charts/aws-cloud-controller-manager). 0.0.10 is the newest chart version read for this
 * pin (its appVersion is v1.34.0); the image tag is set per Kubernetes minor below.
 */
export const CCM_CHART: ChartPin = {
    repo: "https://kubernetes.github.io/cloud-provider-aws",
    chart: "aws-cloud-controller-manager",
    version: "0.0.10",
    namespace: "kube-system",
};

/**
 * registry.k8s.io/provider-aws/cloud-controller-manager tags by Kubernetes minor. The CCM is
 * released per Kubernetes minor and must not be newer than the apiserver; these are the newest
 * patch tags of k8s.io/cloud-provider-aws seen for each minor the stack supports.
 */
export const CCM_IMAGE_TAGS: Readonly<Record<number, string>> = {
    31: "v1.31.0",
    32: "v1.32.1",
    33: "v1.33.4",
    34: "v1.34.4",
    35: "v1.35.3",
};

/**
 * The EBS CSI driver chart (https://github.com/kubernetes-sigs/aws-ebs-csi-driver,
 * charts/aws-ebs-csi-driver); the chart's appVersion is the driver image it runs.
 */
export const EBS_CSI_CHART: ChartPin = {
    repo: "https://kubernetes-sigs.github.io/aws-ebs-csi-driver",
    chart: "aws-ebs-csi-driver",
    version: "2.49.0",
    namespace: "kube-system",
};

/** The CSI driver name, the provisioner of every EBS StorageClass. */
export const EBS_CSI_PROVISIONER = "ebs.csi.aws.com";

/** The taint every node with the external cloud provider carries until the CCM initializes it. */
export const UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized";

const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";
const onControlPlanes = { [CONTROL_PLANE_LABEL]: "" };
const controlPlaneToleration = { key: CONTROL_PLANE_LABEL, operator: "Exists", effect: "NoSchedule" };

export function ccmImageTag(kubernetesVersion: string): string {
    const { minor } = parseKubernetesVersion(kubernetesVersion);
    const tag = CCM_IMAGE_TAGS[minor];
    if (tag === undefined) {
        throw new KubeadmInputError(
            "kubernetesVersion",
            kubernetesVersion,
            `a minor with a pinned AWS cloud-controller-manager image: 1.${Object.keys(CCM_IMAGE_TAGS).join(", 1.")}`,
        );
    }
    return tag;
}

/**
 * CCM values: on the control planes, host network, leader election (the chart runs a DaemonSet,
 * one replica per control plane, one leader). Cloud routes are off: Calico's VXLAN carries pod
 * traffic and the VPC route tables stay the stack's. Tolerates the uninitialized taint (it is the
 * one that removes it) and not-ready (it must run before the CNI makes nodes Ready).
 */
export function ccmValues(clusterName: string, kubernetesVersion: string): Record<string, unknown> {
    return {
        args: [
            "--v=2",
            "--cloud-provider=aws",
            `--cluster-name=${clusterName}`,
            "--configure-cloud-routes=false",
            "--leader-elect=true",
        ],
        image: { tag: ccmImageTag(kubernetesVersion) },
        hostNetworking: true,
        dnsPolicy: "Default",
        nodeSelector: onControlPlanes,
        tolerations: [
            { key: UNINITIALIZED_TAINT, value: "true", effect: "NoSchedule" },
            controlPlaneToleration,
            { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoSchedule" },
        ],
    };
}

/**
 * EBS CSI values: the controller (two replicas, leader-elected sidecars) on the control planes
 * with the region given, so it needs IMDS only for the role's credentials; volumes it creates
 * carry the cluster tag. No StorageClass from the chart: the stack makes its own (below).
 */
export function ebsCsiValues(clusterName: string, region: string): Record<string, unknown> {
    return {
        controller: {
            region,
            k8sTagClusterId: clusterName,
            replicaCount: 2,
            nodeSelector: onControlPlanes,
            tolerations: [controlPlaneToleration, { key: "CriticalAddonsOnly", operator: "Exists" }],
        },
        node: { hostNetwork: false, tolerateAllTaints: true },
        storageClasses: [],
    };
}

/** The chart's controller Deployment, which the stack moves onto the host network. */
export const EBS_CSI_CONTROLLER = { name: "ebs-csi-controller", namespace: EBS_CSI_CHART.namespace } as const;

/**
 * The patch that puts the EBS CSI controller on the host network (the chart exposes host
 * networking for the node plugin only). ClusterFirstWithHostNet keeps cluster DNS for it.
 */
export function ebsCsiControllerHostNetworkSpec(): Record<string, unknown> {
    return { template: { spec: { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" } } };
}

export const DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class";

/**
 * The cluster's default StorageClass: gp3, encrypted (the account's default EBS KMS key unless
 * the account sets another), bound when the first pod is scheduled so the volume is created in
 * that pod's zone.
 */
export function defaultStorageClass(): {
    metadata: { name: string; annotations: Record<string, string> };
    provisioner: string;
    parameters: Record<string, string>;
    volumeBindingMode: string;
    reclaimPolicy: string;
    allowVolumeExpansion: boolean;
} {
    return {
        metadata: { name: "gp3-encrypted", annotations: { [DEFAULT_STORAGE_CLASS_ANNOTATION]: "true" } },
        provisioner: EBS_CSI_PROVISIONER,
        parameters: { type: "gp3", encrypted: "true" },
        volumeBindingMode: "WaitForFirstConsumer",
        reclaimPolicy: "Delete",
        allowVolumeExpansion: true,
    };
}
