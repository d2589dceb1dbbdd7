// In-cluster add-ons through @pulumi/kubernetes, with a provider built from the admin kubeconfig
// and created only once the control plane is complete: the CNI (Calico through the tigera-operator
// chart, pinned), the AWS cloud-controller-manager, the EBS CSI driver and its default StorageClass
// (components/cloudAddons.ts), and optionally the control-plane alert rules as a PrometheusRule.
//
// Reaching the cluster: the provider talks to https://<nlb>:6443 from wherever `pulumi up` runs,
// so that address must be in apiAllowedCidrs (and internalApi off, or run inside the VPC).
// The PrometheusRule kind comes from the Prometheus operator (monitoring.coreos.com/v1 CRDs, e.g.
// kube-prometheus-stack), which this project does not install: turn `alerts` on only once those
// CRDs exist, or the apply fails with "no matches for kind PrometheusRule". The operator must also
// select the rule: with kube-prometheus-stack, set its ruleSelector (or ruleSelectorNilUsesHelmValues
// false) so that rules labelled app.kubernetes.io/part-of=k8s-ha in kube-system are loaded.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { controlPlaneAlertRules } from "./alerts";
import {
    CCM_CHART,
    EBS_CSI_CHART,
    EBS_CSI_CONTROLLER,
    ccmValues,
    defaultStorageClass,
    ebsCsiControllerHostNetworkSpec,
    ebsCsiValues,
    type ChartPin,
} from "./cloudAddons";

/** Calico's tigera-operator chart, pinned (Calico 3.31 is tested against Kubernetes 1.32-1.35). */
export const CALICO_CHART = {
    repo: "https://docs.tigera.io/calico/charts",
    chart: "tigera-operator",
    version: "v3.31.3",
    namespace: "tigera-operator",
} as const;

/**
 * Calico's data plane between nodes: VXLAN (UDP 4789) encapsulation for every pod packet (the VPC
 * does not route pod addresses, and VXLAN needs no source/destination-check change), no BGP, and
 * Typha (TCP 5473), which every calico-node dials. The security groups must allow both between all
 * nodes (see the report for the rules).
 */
export const CALICO_PORTS = { vxlanUdp: 4789, typhaTcp: 5473 } as const;

export interface AddonsArgs {
    clusterName: string;
    /** The admin kubeconfig (secret). */
    kubeconfig: pulumi.Input<string>;
    /**
     * The add-ons wait for these: the last control-plane join (the control plane is complete) and
     * the control planes' reset hooks, so that a destroy deletes the add-ons while the API answers.
     */
    controlPlaneReady: pulumi.Input<pulumi.Resource>[];
    /** kubeadm's podSubnet: Calico's IP pool. */
    podCidr: string;
    /** Control planes = etcd members, for the alert rules. */
    controlPlaneCount: number;
    /** Install the PrometheusRule. */
    alerts: boolean;
    /** The cluster's Kubernetes version: picks the cloud-controller-manager image of its minor. */
    kubernetesVersion: string;
    /** The AWS region: the EBS CSI controller's, so it needs IMDS only for credentials. */
    region: string;
    /**
     * The control planes' upgrade steps: the CCM (whose image follows the minor) changes only
     * after every apiserver runs the new version, never ahead of it.
     */
    controlPlaneUpgrades: readonly pulumi.Resource[];
}

/** Calico values: one IPv4 pool on podCidr with VXLAN, BGP off, no Calico API server. */
export function calicoValues(podCidr: string): Record<string, unknown> {
    return {
        installation: {
            enabled: true,
            kubernetesProvider: "",
            cni: { type: "Calico" },
            calicoNetwork: {
                bgp: "Disabled",
                ipPools: [
                    {
                        name: "default-ipv4-ippool",
                        cidr: podCidr,
                        blockSize: 26,
                        encapsulation: "VXLAN",
                        natOutgoing: "Enabled",
                        nodeSelector: "all()",
                    },
                ],
            },
        },
        apiServer: { enabled: false },
    };
}

export class Addons extends pulumi.ComponentResource {
    readonly provider: k8s.Provider;
    readonly cni: k8s.helm.v3.Release;
    readonly cloudControllerManager: k8s.helm.v3.Release;
    readonly ebsCsiDriver: k8s.helm.v3.Release;
    readonly defaultStorageClass: k8s.storage.v1.StorageClass;
    readonly alertRules?: k8s.apiextensions.CustomResource;

    constructor(name: string, args: AddonsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:addons:Addons", name, {}, opts);
        this.provider = new k8s.Provider(
            `${args.clusterName}-k8s`,
            {
                kubeconfig: pulumi.secret(args.kubeconfig),
            },
            { parent: this, dependsOn: args.controlPlaneReady },
        );
        const inCluster = { parent: this, provider: this.provider };

        const release = (
            name: string,
            pin: ChartPin,
            values: Record<string, unknown>,
            opts: pulumi.CustomResourceOptions = {},
        ) =>
            new k8s.helm.v3.Release(
                name,
                {
                    name,
                    chart: pin.chart,
                    version: pin.version,
                    repositoryOpts: { repo: pin.repo },
                    namespace: pin.namespace,
                    createNamespace: pin.namespace !== "kube-system",
                    values,
                    timeout: 600,
                    maxHistory: 5,
                },
                { ...inCluster, ...opts },
            );

        this.cni = release("calico", CALICO_CHART, calicoValues(args.podCidr));
        // The CCM initializes the nodes (addresses, zone labels, the uninitialized taint), then the
        // EBS node plugin reads them: the driver waits for the CCM's release to be ready.
        this.cloudControllerManager = release(
            "aws-cloud-controller-manager",
            CCM_CHART,
            ccmValues(args.clusterName, args.kubernetesVersion),
            { dependsOn: [...args.controlPlaneUpgrades] },
        );
        this.ebsCsiDriver = release("aws-ebs-csi-driver", EBS_CSI_CHART, ebsCsiValues(args.clusterName, args.region), {
            dependsOn: [this.cloudControllerManager],
        });
        new k8s.apps.v1.DeploymentPatch(
            "ebs-csi-controller-host-network",
            {
                metadata: {
                    name: EBS_CSI_CONTROLLER.name,
                    namespace: EBS_CSI_CONTROLLER.namespace,
                    annotations: { "pulumi.com/patchForce": "true" },
                },
                spec: ebsCsiControllerHostNetworkSpec(),
            },
            { ...inCluster, dependsOn: [this.ebsCsiDriver] },
        );
        this.defaultStorageClass = new k8s.storage.v1.StorageClass("default-storage-class", defaultStorageClass(), {
            ...inCluster,
            dependsOn: [this.ebsCsiDriver],
        });

        if (args.alerts) {
            this.alertRules = new k8s.apiextensions.CustomResource(
                "control-plane-alerts",
                {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "PrometheusRule",
                    metadata: {
                        name: `${args.clusterName}-control-plane`,
                        namespace: "kube-system",
                        labels: {
                            "app.kubernetes.io/part-of": "k8s-ha",
                            "app.kubernetes.io/component": "control-plane-alerts",
                        },
                    },
                    spec: { groups: controlPlaneAlertRules(args.controlPlaneCount) },
                },
                inCluster,
            );
        }
        this.registerOutputs({});
    }
}
