// Tag conventions shared by every component and read by the policy pack.

import { ROLE_TAG, ROLES } from "../policies/lib/contract";

/** The tag the policy pack identifies roles by: its layout rules read it during preview. */
export { ROLE_TAG };

/** Node and load-balancer roles; the pack reads the control planes' and the API load balancer's. */
export type Role = (typeof ROLES)[keyof typeof ROLES] | "worker" | "bastion";

/** Tags every resource of the cluster carries: ownership for the AWS cloud provider, and a Name. */
export function clusterTags(
    clusterName: string,
    name: string,
    extra: Record<string, string> = {},
): Record<string, string> {
    return { Name: name, [`kubernetes.io/cluster/${clusterName}`]: "owned", ...extra };
}

export function roleTags(clusterName: string, name: string, role: Role): Record<string, string> {
    return clusterTags(clusterName, name, { [ROLE_TAG]: role });
}
