// The API load balancer: an NLB with a plain TCP listener on 6443 whose subnets cover every
// control-plane AZ, a target group on 6443 with a sane health check and no client-IP preservation
// (hairpin), and every control plane registered in it.

import { PolicyConfigSchema, PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    API_PORT,
    ControlPlane,
    controlPlaneStack,
    describeControlPlane,
    ROLE_API_LB,
    ROLE_TAG,
    StackView,
    T,
} from "../lib/graph";
import { knobs, reportUndecided, validateResourceOfTypes } from "../lib/kit";
import { asBool, asNumber, humanList, isUnknown, prop, read, readList, Unknown } from "../lib/values";

const API_LB_HINT = `a load balancer tagged ${ROLE_TAG}=${ROLE_API_LB}, or a network load balancer with a listener on ${API_PORT}`;

/** The subnets a load balancer is placed in, through `subnets` or `subnetMappings[].subnetId`. */
function lbSubnets(view: StackView, lb: PolicyResource): { subnets: PolicyResource[]; unresolved: number } {
    const direct = view.refs(lb, "subnets", T.subnet);
    const mapped = view.refs(lb, "subnetMappings", T.subnet);
    // subnetMappings is a list of objects: match their known subnetId values too.
    const mappings = readList(() => lb.props.subnetMappings as unknown);
    let mappingUnresolved = mapped.unresolved;
    if (Array.isArray(mappings)) {
        const subnets = view.ofType(T.subnet);
        let stray = 0;
        for (const m of mappings) {
            const id = isUnknown(m) ? m : prop(m, "subnetId");
            const hit = typeof id === "string" ? subnets.find((s) => read(() => s.props.id) === id) : undefined;
            if (hit) {
                mapped.resources.push(hit);
            } else {
                stray++;
            }
        }
        mappingUnresolved = Math.max(0, stray - (lb.propertyDependencies?.subnetMappings ?? []).length);
    }
    // Either input may be absent (and then unknown among a preview's outputs): use what resolves.
    const all = new Set([...direct.resources, ...mapped.resources]);
    let unresolved = 0;
    if (all.size === 0) {
        unresolved = Math.max(1, direct.unresolved + mappingUnresolved);
    } else {
        unresolved =
            (direct.resources.length > 0 ? direct.unresolved : 0) +
            (mapped.resources.length > 0 ? mappingUnresolved : 0);
    }
    return { subnets: [...all], unresolved };
}

export const apiLbCoversControlPlaneAzs: StackValidationPolicy = {
    name: "api-lb-covers-control-plane-azs",
    description: "The API load balancer has a subnet in every availability zone that runs a control plane.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateStack: (args, reportViolation) => {
        const { view, controlPlanes } = controlPlaneStack(args);
        const lbs = view.apiLoadBalancers();
        if (lbs.length === 0) {
            return args.notApplicable(
                `no API load balancer (${API_LB_HINT}); api-lb-targets-every-control-plane reports that`,
            );
        }
        const cpAzs = new Map<string, ControlPlane[]>();
        const cpUnknown: ControlPlane[] = [];
        for (const cp of controlPlanes) {
            if (isUnknown(cp.az)) {
                cpUnknown.push(cp);
            } else {
                cpAzs.set(cp.az, [...(cpAzs.get(cp.az) ?? []), cp]);
            }
        }
        for (const lb of lbs) {
            const { subnets, unresolved } = lbSubnets(view, lb);
            const lbAzs = new Set<string>();
            const unknownSubnets: string[] = [];
            for (const s of subnets) {
                const az = view.subnetAz(s);
                if (isUnknown(az)) {
                    unknownSubnets.push(s.name);
                } else {
                    lbAzs.add(az);
                }
            }
            const missing = [...cpAzs.keys()].filter((az) => !lbAzs.has(az)).sort();
            const uncertain = unresolved > 0 || unknownSubnets.length > 0;
            if (missing.length > 0 && !uncertain) {
                const where = missing.map((az) => `${az} (${humanList(cpAzs.get(az)!.map((c) => c.name))})`);
                reportViolation(
                    `load balancer ${lb.name} has subnets in ${humanList([...lbAzs].sort()) || "no AZ"} but not in ${humanList(where)}: ` +
                        `the NLB has no node in ${missing.length === 1 ? "that AZ" : "those AZs"}, so the control planes there are reached only across zones ` +
                        `and the API fails over badly when an AZ goes down. Add a subnet in ${humanList(missing)} to the load balancer's subnets.`,
                    lb.urn,
                );
            } else if (missing.length > 0 || cpUnknown.length > 0) {
                const why = [
                    unresolved > 0
                        ? `${unresolved} of its subnets are not resources of this stack or cannot be resolved`
                        : "",
                    unknownSubnets.length > 0 ? `the AZ of subnet(s) ${humanList(unknownSubnets)} is unknown` : "",
                    cpUnknown.length > 0
                        ? `the AZ of ${humanList(cpUnknown.map(describeControlPlane))} is unknown`
                        : "",
                ].filter(Boolean);
                reportUndecided(
                    reportViolation,
                    apiLbCoversControlPlaneAzs.description,
                    `cannot decide whether load balancer ${lb.name} covers every control-plane AZ: ${why.join("; ")}.`,
                    lb.urn,
                );
            }
        }
    },
};

// ------------------------------------------------------------------------------------------------

export const apiLbTargetsEveryControlPlane: StackValidationPolicy = {
    name: "api-lb-targets-every-control-plane",
    description:
        "Every control-plane instance is registered (target group attachment) in the API target group on 6443.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateStack: (args, reportViolation) => {
        const { view, controlPlanes } = controlPlaneStack(args);
        const { targetGroups, unknownPort } = view.apiTargetGroups();
        if (targetGroups.length === 0) {
            if (unknownPort.length > 0) {
                reportUndecided(
                    reportViolation,
                    apiLbTargetsEveryControlPlane.description,
                    `cannot find the API target group during preview: the port of ${humanList(unknownPort.map((r) => r.name))} is unknown.`,
                );
                return;
            }
            reportViolation(
                `no target group on port ${API_PORT} in the stack, so no control plane (${humanList(controlPlanes.map((c) => c.name))}) ` +
                    `is behind the API load balancer (${view.apiLoadBalancers().length ? humanList(view.apiLoadBalancers().map((l) => l.name)) : "none found either"}). ` +
                    `Create an aws.lb.TargetGroup { port: ${API_PORT}, protocol: "TCP" } behind a TCP listener on ${API_PORT} and attach every control plane.`,
            );
            return;
        }
        const covered = new Set<PolicyResource>();
        let uncertain = 0;
        for (const att of view.ofType(T.targetGroupAttachment)) {
            const tgRefs = view.refs(att, "targetGroupArn", T.targetGroup);
            const toApi = tgRefs.resources.some((tg) => targetGroups.includes(tg));
            if (!toApi) {
                if (tgRefs.resources.length === 0) {
                    uncertain++;
                }
                continue;
            }
            const targets = view.refs(att, "targetId", T.instance);
            // An ip-type target group registers the instance's private IP.
            const targetId = read(() => att.props.targetId);
            if (typeof targetId === "string") {
                for (const cp of controlPlanes) {
                    if (read(() => cp.resource.props.privateIp) === targetId) {
                        targets.resources.push(cp.resource);
                    }
                }
            }
            if (targets.resources.length === 0) {
                uncertain++;
            }
            const port = read(() => att.props.port);
            const portNum = asNumber(port);
            for (const t of targets.resources) {
                const cp = controlPlanes.find((c) => c.resource === t);
                if (!cp) {
                    continue;
                }
                if (portNum !== undefined && portNum !== API_PORT) {
                    reportViolation(
                        `target group attachment ${att.name} registers ${describeControlPlane(cp)} on port ${portNum}; ` +
                            `kube-apiserver listens on ${API_PORT}. Remove the port override (or set it to ${API_PORT}).`,
                        att.urn,
                    );
                    continue;
                }
                covered.add(t);
            }
        }
        const missing = controlPlanes.filter((c) => !covered.has(c.resource));
        if (missing.length === 0) {
            return;
        }
        if (uncertain > 0) {
            reportUndecided(
                reportViolation,
                apiLbTargetsEveryControlPlane.description,
                `cannot match ${uncertain} target group attachment(s) to a target group and an instance; ` +
                    `${humanList(missing.map(describeControlPlane))} may be unregistered. Pass targetGroupArn: tg.arn and targetId: instance.id.`,
            );
            return;
        }
        for (const cp of missing) {
            reportViolation(
                `control plane ${describeControlPlane(cp)} is not registered in the API target group ` +
                    `${humanList(targetGroups.map((t) => t.name))} (port ${API_PORT}): the load balancer never sends it API traffic. ` +
                    `Add an aws.lb.TargetGroupAttachment { targetGroupArn: tg.arn, targetId: instance.id, port: ${API_PORT} } for it.`,
                cp.urn,
            );
        }
    },
};

// ------------------------------------------------------------------------------------------------

const listenerTypes = [...T.listener, ...T.targetGroup];

export const apiListenerTcp6443: ResourceValidationPolicy = {
    name: "api-listener-tcp-6443",
    description:
        "A listener or target group on 6443 uses plain TCP: the load balancer must not terminate or originate TLS for the API.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(listenerTypes, (args, reportViolation) => {
        const isListener = (T.listener as readonly string[]).includes(args.type);
        const kind = isListener ? "listener" : "target group";
        const port = read(() => args.props.port);
        if (isUnknown(port)) {
            reportUndecided(
                reportViolation,
                apiListenerTcp6443.description,
                `the port of ${kind} ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (asNumber(port) !== API_PORT) {
            return args.notApplicable(`${kind} is not on port ${API_PORT}`);
        }
        const protocol = read(() => args.props.protocol);
        if (isUnknown(protocol)) {
            reportUndecided(
                reportViolation,
                apiListenerTcp6443.description,
                `the protocol of ${kind} ${args.name} is unknown during preview.`,
            );
            return;
        }
        const problems: string[] = [];
        const p = typeof protocol === "string" ? protocol.toUpperCase() : undefined;
        if (p !== "TCP") {
            problems.push(
                p === undefined
                    ? `${kind} ${args.name} on ${API_PORT} has no protocol (the provider default is HTTP)`
                    : `${kind} ${args.name} on ${API_PORT} uses protocol ${p}`,
            );
        }
        if (isListener) {
            const cert = read(() => args.props.certificateArn);
            const ssl = read(() => args.props.sslPolicy);
            if ((cert !== undefined && cert !== null && cert !== "") || (typeof ssl === "string" && ssl !== "")) {
                problems.push(`listener ${args.name} sets a certificate/SSL policy (TLS termination)`);
            }
        }
        if (problems.length > 0) {
            reportViolation(
                `${problems.join("; ")}. kube-apiserver terminates TLS itself and authenticates clients by certificate, ` +
                    `so the load balancer must pass TCP through: set protocol: "TCP" and no certificate.`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

interface HealthCheckKnobs {
    httpsPaths: string[];
}

const healthCheckSchema: PolicyConfigSchema = {
    properties: {
        httpsPaths: {
            type: "array",
            items: { type: "string" },
            default: ["/readyz", "/livez"],
            description: "Paths an HTTPS health check may probe on kube-apiserver.",
        },
    },
};

function inRange(v: unknown, lo: number, hi: number): boolean {
    const n = asNumber(v);
    return n !== undefined && n >= lo && n <= hi;
}

export const apiTargetHealthCheck: ResourceValidationPolicy = {
    name: "api-target-health-check",
    description:
        "The target group on 6443 health-checks kube-apiserver with TCP or HTTPS /readyz|/livez on the traffic port, with sane timings.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: healthCheckSchema,
    validateResource: validateResourceOfTypes(T.targetGroup, (args, reportViolation) => {
        const k = knobs<HealthCheckKnobs>(healthCheckSchema, args);
        const port = read(() => args.props.port);
        if (isUnknown(port)) {
            reportUndecided(
                reportViolation,
                apiTargetHealthCheck.description,
                `the port of target group ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (asNumber(port) !== API_PORT) {
            return args.notApplicable(`target group is not on port ${API_PORT}`);
        }
        const hc = read(() => args.props.healthCheck);
        const example =
            `healthCheck: { protocol: "TCP", port: "traffic-port", interval: 10, healthyThreshold: 2, unhealthyThreshold: 2 } ` +
            `(or protocol "HTTPS" with path "/readyz")`;
        if (isUnknown(hc)) {
            reportUndecided(
                reportViolation,
                apiTargetHealthCheck.description,
                `the health check of target group ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (hc === undefined || hc === null) {
            reportViolation(
                `target group ${args.name} on ${API_PORT} has no explicit health check (the provider default is HTTP on "/", ` +
                    `which kube-apiserver answers with a TLS error). Set ${example}.`,
            );
            return;
        }
        const field = (k: string): unknown | Unknown => prop(hc, k);
        const problems: string[] = [];
        const unknowns: string[] = [];
        const get = (name: string): unknown => {
            const v = field(name);
            if (isUnknown(v)) {
                unknowns.push(name);
                return undefined;
            }
            return v;
        };
        if (asBool(get("enabled")) === false) {
            problems.push("the health check is disabled");
        }
        const protocolRaw = get("protocol");
        const protocol = typeof protocolRaw === "string" ? protocolRaw.toUpperCase() : undefined;
        const path = get("path");
        if (protocol === "HTTPS") {
            if (typeof path !== "string" || !k.httpsPaths.includes(path)) {
                problems.push(
                    `HTTPS health check path is ${typeof path === "string" ? `"${path}"` : 'unset ("/")'}, expected one of ${k.httpsPaths.join(", ")}`,
                );
            }
        } else if (protocol !== "TCP" && !unknowns.includes("protocol")) {
            problems.push(
                protocol === undefined
                    ? "health check protocol is unset (the provider default is HTTP, but kube-apiserver only speaks TLS)"
                    : `health check protocol is ${protocol}; use TCP or HTTPS`,
            );
        }
        const hcPort = get("port");
        if (hcPort !== undefined && hcPort !== null && hcPort !== "traffic-port" && asNumber(hcPort) !== API_PORT) {
            problems.push(`health check port is ${String(hcPort)}; use "traffic-port" or "${API_PORT}"`);
        }
        const ranges: Array<[string, number, number]> = [
            ["interval", 5, 300],
            ["timeout", 2, 120],
            ["healthyThreshold", 2, 10],
            ["unhealthyThreshold", 2, 10],
        ];
        for (const [name, lo, hi] of ranges) {
            const v = get(name);
            if (v !== undefined && v !== null && !inRange(v, lo, hi)) {
                problems.push(`${name} is ${String(v)}, allowed ${lo}–${hi}`);
            }
        }
        if (problems.length > 0) {
            reportViolation(`target group ${args.name} on ${API_PORT}: ${problems.join("; ")}. Set ${example}.`);
        } else if (unknowns.length > 0) {
            reportUndecided(
                reportViolation,
                apiTargetHealthCheck.description,
                `health check field(s) ${unknowns.join(", ")} of target group ${args.name} are unknown during preview.`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

export const apiTargetNoClientIpPreservation: ResourceValidationPolicy = {
    name: "api-target-no-client-ip-preservation",
    description:
        "The instance-type target group on 6443 turns client-IP preservation off, so a control plane can reach the API through the NLB (no hairpin).",
    enforcementLevel: "advisory",
    severity: "medium",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(T.targetGroup, (args, reportViolation) => {
        const port = read(() => args.props.port);
        if (isUnknown(port)) {
            reportUndecided(
                reportViolation,
                apiTargetNoClientIpPreservation.description,
                `the port of target group ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (asNumber(port) !== API_PORT) {
            return args.notApplicable(`target group is not on port ${API_PORT}`);
        }
        const targetType = read(() => args.props.targetType);
        const preserve = read(() => args.props.preserveClientIp);
        if (isUnknown(targetType) || isUnknown(preserve)) {
            reportUndecided(
                reportViolation,
                apiTargetNoClientIpPreservation.description,
                `targetType/preserveClientIp of target group ${args.name} are unknown during preview.`,
            );
            return;
        }
        const type = typeof targetType === "string" ? targetType : "instance";
        const value = asBool(preserve);
        // AWS defaults: preservation on for instance targets, off for ip targets (TCP).
        const effective = value ?? type === "instance";
        if (type !== "instance" && type !== "ip") {
            return args.notApplicable(`targetType ${type}`);
        }
        if (effective) {
            reportViolation(
                `target group ${args.name} (${type} targets on ${API_PORT}) ${value === undefined ? "keeps the default" : "sets"} ` +
                    `client-IP preservation on: a control plane that connects to the API through the NLB and is routed to itself sees ` +
                    `its own IP as source and the connection times out (hairpin). Set preserveClientIp: "false".`,
            );
        }
    }),
};

// ------------------------------------------------------------------------------------------------

export const nlbCrossZone: ResourceValidationPolicy = {
    name: "nlb-cross-zone",
    description:
        "Network load balancers enable cross-zone load balancing so every NLB node can reach every control plane.",
    enforcementLevel: "advisory",
    severity: "low",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(T.loadBalancer, (args, reportViolation) => {
        const type = read(() => args.props.loadBalancerType);
        if (isUnknown(type)) {
            reportUndecided(
                reportViolation,
                nlbCrossZone.description,
                `the type of load balancer ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (type !== "network") {
            return args.notApplicable("not a network load balancer");
        }
        const cross = read(() => args.props.enableCrossZoneLoadBalancing);
        if (isUnknown(cross)) {
            reportUndecided(
                reportViolation,
                nlbCrossZone.description,
                `enableCrossZoneLoadBalancing of ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (asBool(cross) !== true) {
            reportViolation(
                `network load balancer ${args.name} has cross-zone load balancing ${cross === undefined ? "at its default (off)" : "off"}: ` +
                    `each NLB node then forwards only to targets in its own AZ, so load follows DNS rather than capacity and clients that ` +
                    `resolved the node of an AZ whose control plane is down fail until DNS drops that node. Set enableCrossZoneLoadBalancing: true.`,
            );
        }
    }),
};

export const loadBalancerPolicies = [
    apiLbCoversControlPlaneAzs,
    apiLbTargetsEveryControlPlane,
    apiListenerTcp6443,
    apiTargetHealthCheck,
    apiTargetNoClientIpPreservation,
    nlbCrossZone,
];
