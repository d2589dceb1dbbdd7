// Tag conventions shared by every component and read by the policy pack.

/** The tag the policy pack identifies roles by: its layout rules read it during preview. */
export const ROLE_TAG = "k8s-ha/role";

export type Role = "control-plane" | "worker" | "bastion" | "api-lb";

/** Tags every resource of the cluster carries: ownership for the AWS cloud provider, and a Name. */
export function clusterTags(clusterName: string, name: string, extra: Record<string, string> = {}): Record<string, string> {
    return { Name: name, [`kubernetes.io/cluster/${clusterName}`]: "owned", ...extra };
}

export function roleTags(clusterName: string, name: string, role: Role): Record<string, string> {
    return clusterTags(clusterName, name, { [ROLE_TAG]: role });
}
