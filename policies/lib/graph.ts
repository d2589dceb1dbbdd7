// A read-only view of the stack for stack policies: which resources are control planes, in which
// AZ each one runs, which load balancer fronts the API, and which resource an input refers to.
//
// Relationships are followed through `propertyDependencies` (known during preview, because the
// program passes `instance.id`, `subnet.id`, `lb.arn` as inputs) and, when the referring value is
// known, by matching it against the `id`/`arn` of the candidates. Ids and ARNs themselves are
// never required, so the layout is decidable during preview.

import { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { asNumber, isUnknown, read, readList, tagValue, UNKNOWN, Unknown } from "./values";
import { API_PORT, ROLE_TAG, ROLES, TYPES } from "./contract";

export { API_PORT, ROLE_TAG };
export const ROLE_CONTROL_PLANE = ROLES.controlPlane;
export const ROLE_API_LB = ROLES.apiLoadBalancer;

/** Resource type tokens, with the aws:alb aliases of the aws:lb types. */
export const T = {
    instance: [TYPES.instance],
    launchTemplate: [TYPES.launchTemplate],
    subnet: [TYPES.subnet],
    securityGroup: [TYPES.securityGroup],
    securityGroupRule: [TYPES.securityGroupRule],
    securityGroupIngressRule: [TYPES.securityGroupIngressRule],
    loadBalancer: [TYPES.loadBalancer, TYPES.albLoadBalancer],
    listener: [TYPES.listener, TYPES.albListener],
    targetGroup: [TYPES.targetGroup, TYPES.albTargetGroup],
    targetGroupAttachment: [TYPES.targetGroupAttachment, TYPES.albTargetGroupAttachment],
    privateKey: [TYPES.privateKey],
    selfSignedCert: [TYPES.selfSignedCert],
    locallySignedCert: [TYPES.locallySignedCert],
    certRequest: [TYPES.certRequest],
} as const;

export interface ControlPlane {
    resource: PolicyResource;
    name: string;
    urn: string;
    /** The AZ, from `availabilityZone` or else the subnet's; UNKNOWN when neither is known. */
    az: string | Unknown;
}

export interface Refs {
    /** The resources the property refers to (among the candidates). */
    resources: PolicyResource[];
    /** How many referenced values could not be matched to a resource of the stack. */
    unresolved: number;
}

export function isType(r: { type: string }, types: readonly string[]): boolean {
    return types.includes(r.type);
}

export class StackView {
    private readonly cache = new Map<string, unknown>();

    constructor(readonly resources: readonly PolicyResource[]) {}

    ofType(types: readonly string[]): PolicyResource[] {
        return this.resources.filter((r) => types.includes(r.type));
    }

    /**
     * The resources an input property of `r` refers to: its propertyDependencies plus, for known
     * values, the candidates whose known `id` or `arn` equals the value.
     */
    refs(r: PolicyResource, key: string, candidateTypes: readonly string[]): Refs {
        const candidates = this.ofType(candidateTypes);
        const found = new Set<PolicyResource>();
        for (const d of r.propertyDependencies?.[key] ?? []) {
            if (candidateTypes.includes(d.type)) {
                found.add(d);
            }
        }
        const values = readList(() => r.props[key] as unknown);
        let unmatched = 0;
        if (isUnknown(values)) {
            unmatched = found.size === 0 ? 1 : 0;
        } else if (values !== undefined) {
            const byValue = new Set<PolicyResource>();
            let unknownElems = 0;
            let stray = 0;
            for (const v of values) {
                if (isUnknown(v) || typeof v !== "string") {
                    unknownElems++;
                    continue;
                }
                const hit = candidates.find((c) => {
                    const id = read(() => c.props.id);
                    const arn = read(() => c.props.arn);
                    return id === v || arn === v;
                });
                if (hit) {
                    byValue.add(hit);
                    found.add(hit);
                } else {
                    stray++;
                }
            }
            // Dependencies not matched by value stand for the unknown or unmatched elements.
            const depsOnly = [...found].filter((x) => !byValue.has(x)).length;
            unmatched = Math.max(0, unknownElems + stray - depsOnly);
        }
        return { resources: [...found], unresolved: unmatched };
    }

    /** The AZ of a subnet resource, or UNKNOWN. */
    subnetAz(subnet: PolicyResource): string | Unknown {
        const az = read(() => subnet.props.availabilityZone);
        return typeof az === "string" && az !== "" ? az : UNKNOWN;
    }

    /** The AZ of an instance: its explicit `availabilityZone`, else its subnet's. */
    instanceAz(instance: PolicyResource): string | Unknown {
        const az = read(() => instance.props.availabilityZone);
        if (typeof az === "string" && az !== "") {
            return az;
        }
        const subnets = this.refs(instance, "subnetId", T.subnet).resources;
        if (subnets.length === 1) {
            return this.subnetAz(subnets[0]);
        }
        return UNKNOWN;
    }

    /** Instances tagged k8s-ha/role=control-plane, and instances whose tags are unknown. */
    controlPlanes(): { controlPlanes: ControlPlane[]; untagged: PolicyResource[] } {
        const key = "controlPlanes";
        if (!this.cache.has(key)) {
            const controlPlanes: ControlPlane[] = [];
            const untagged: PolicyResource[] = [];
            for (const r of this.ofType(T.instance)) {
                const role = tagValue(r.props, ROLE_TAG);
                if (isUnknown(role)) {
                    untagged.push(r);
                } else if (role === ROLE_CONTROL_PLANE) {
                    controlPlanes.push({ resource: r, name: r.name, urn: r.urn, az: this.instanceAz(r) });
                }
            }
            this.cache.set(key, { controlPlanes, untagged });
        }
        return this.cache.get(key) as { controlPlanes: ControlPlane[]; untagged: PolicyResource[] };
    }

    /** Listeners whose loadBalancerArn refers to `lb`. */
    listenersOf(lb: PolicyResource): PolicyResource[] {
        return this.ofType(T.listener).filter((l) =>
            this.refs(l, "loadBalancerArn", T.loadBalancer).resources.includes(lb),
        );
    }

    /**
     * The API load balancers: every load balancer tagged k8s-ha/role=api-lb, and every network load
     * balancer with a listener on 6443.
     */
    apiLoadBalancers(): PolicyResource[] {
        return this.ofType(T.loadBalancer).filter((lb) => {
            if (tagValue(lb.props, ROLE_TAG) === ROLE_API_LB) {
                return true;
            }
            const type = read(() => lb.props.loadBalancerType);
            return (
                type === "network" && this.listenersOf(lb).some((l) => asNumber(read(() => l.props.port)) === API_PORT)
            );
        });
    }

    /** Target groups on port 6443 (and those whose port is unknown). */
    apiTargetGroups(): { targetGroups: PolicyResource[]; unknownPort: PolicyResource[] } {
        const targetGroups: PolicyResource[] = [];
        const unknownPort: PolicyResource[] = [];
        for (const tg of this.ofType(T.targetGroup)) {
            const port = read(() => tg.props.port);
            if (isUnknown(port)) {
                unknownPort.push(tg);
            } else if (asNumber(port) === API_PORT) {
                targetGroups.push(tg);
            }
        }
        return { targetGroups, unknownPort };
    }

    /** The security groups an instance or launch template uses. */
    securityGroupsOf(r: PolicyResource): Refs {
        const keys =
            r.type === T.launchTemplate[0]
                ? ["vpcSecurityGroupIds", "securityGroupNames", "networkInterfaces"]
                : ["vpcSecurityGroupIds", "securityGroups"];
        const out = new Set<PolicyResource>();
        let unresolved = 0;
        for (const k of keys) {
            const refs =
                k === "networkInterfaces"
                    ? {
                          resources: (r.propertyDependencies?.[k] ?? []).filter((d) => isType(d, T.securityGroup)),
                          unresolved: 0,
                      }
                    : this.refs(r, k, T.securityGroup);
            refs.resources.forEach((x) => out.add(x));
            unresolved += refs.unresolved;
        }
        return { resources: [...out], unresolved };
    }
}

/** "cp-0 (us-east-1a)" */
export function describeControlPlane(cp: ControlPlane): string {
    return `${cp.name} (${isUnknown(cp.az) ? "AZ unknown" : cp.az})`;
}

/** Groups control planes by known AZ; returns the groups and the control planes with unknown AZ. */
export function groupByAz(cps: readonly ControlPlane[]): {
    byAz: Map<string, ControlPlane[]>;
    unknownAz: ControlPlane[];
} {
    const byAz = new Map<string, ControlPlane[]>();
    const unknownAz: ControlPlane[] = [];
    for (const cp of cps) {
        if (isUnknown(cp.az)) {
            unknownAz.push(cp);
            continue;
        }
        const list = byAz.get(cp.az) ?? [];
        list.push(cp);
        byAz.set(cp.az, list);
    }
    return { byAz: new Map([...byAz.entries()].sort(([a], [b]) => a.localeCompare(b))), unknownAz };
}

/**
 * The stack's view and its control planes, for a stack rule that is about control planes: without
 * any, the rule reports itself not applicable (notApplicable throws).
 */
export function controlPlaneStack(args: StackValidationArgs): { view: StackView; controlPlanes: ControlPlane[] } {
    const view = new StackView(args.resources);
    const { controlPlanes } = view.controlPlanes();
    if (controlPlanes.length === 0) {
        return args.notApplicable("no control-plane instances");
    }
    return { view, controlPlanes };
}
