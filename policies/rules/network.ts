// Security groups and subnets: no sensitive port open to the world, the API reported separately,
// etcd reachable only from control planes, and control planes not in public-IP subnets.
//
// Ingress is read from the three places AWS rules live: inline `ingress` blocks of
// aws.ec2.SecurityGroup, aws.ec2.SecurityGroupRule (type "ingress"), and
// aws.vpc.SecurityGroupIngressRule.

import {
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { API_PORT, controlPlaneStack, StackView, T } from "../lib/graph";
import { knobs, reportUndecided } from "../lib/kit";
import { globalUnicastV6Count, publicAddressCount, readRuleCidr, type Ipv4Cidr, type Ipv6Prefix } from "../lib/cidr";
import { asBool, asNumber, humanList, isUnknown, prop, read, readList, Unknown, UNKNOWN } from "../lib/values";

/** A /8's worth: a rule admitting more public IPv4 addresses than this is open to the world. */
const MAX_PUBLIC_ADDRESSES = 2 ** 24;
/**
 * IPv6 sources covering more global-unicast addresses than one prefix of this length (an ISP's
 * allocation) are world-open.
 */
const IPV6_MIN_PREFIX = 32;
const MAX_PUBLIC_V6_ADDRESSES = 1n << BigInt(128 - IPV6_MIN_PREFIX);

const PORT_NAMES: Record<number, string> = {
    22: "SSH",
    2379: "etcd client",
    2380: "etcd peer",
    6443: "kube-apiserver",
    10250: "kubelet",
    10257: "kube-controller-manager",
    10259: "kube-scheduler",
};

/** One ingress permission, normalised across the three resource shapes. */
export interface Ingress {
    /** Where it is declared: "ingress[0]" or "rule". */
    label: string;
    /** "tcp", "udp", "icmp", "all", ... ; UNKNOWN when unknown. */
    protocol: string | Unknown;
    /** Inclusive TCP/UDP port range; UNKNOWN when unknown. */
    ports: [number, number] | Unknown;
    /** CIDR sources (IPv4 and IPv6); UNKNOWN elements are unknown CIDRs. */
    cidrs: Array<string | Unknown>;
    /** Security-group sources by value (ids, possibly unknown). */
    sourceGroups: Array<string | Unknown>;
    self: boolean;
    prefixLists: number;
}

function normProtocol(p: unknown): string | Unknown {
    if (isUnknown(p)) {
        return UNKNOWN;
    }
    const s = String(p ?? "")
        .trim()
        .toLowerCase();
    switch (s) {
        case "-1":
        case "all":
            return "all";
        case "6":
            return "tcp";
        case "17":
            return "udp";
        case "1":
            return "icmp";
        case "58":
            return "icmpv6";
        default:
            return s;
    }
}

function normPorts(protocol: string | Unknown, from: unknown, to: unknown): [number, number] | Unknown {
    if (protocol === "all") {
        return [0, 65535];
    }
    if (isUnknown(from) || isUnknown(to)) {
        return UNKNOWN;
    }
    const f = asNumber(from);
    const t = asNumber(to);
    if (f === undefined && t === undefined) {
        return [0, 65535];
    }
    if (f === -1 || t === -1) {
        return [0, 65535];
    }
    return [f ?? t!, t ?? f!];
}

function listOf(bag: unknown, key: string): Array<string | Unknown> {
    const v = isUnknown(bag) ? UNKNOWN : readList(() => (bag as Record<string, unknown>)[key]);
    if (isUnknown(v)) {
        return [UNKNOWN];
    }
    return (v ?? []).map((x) => (isUnknown(x) ? x : String(x)));
}

function one(bag: Record<string, unknown>, key: string): Array<string | Unknown> {
    const v = read(() => bag[key]);
    if (isUnknown(v)) {
        return [UNKNOWN];
    }
    return v === undefined || v === null || v === "" ? [] : [String(v)];
}

/**
 * The ingress permissions a resource declares. `undefined` for resources that declare none (an
 * egress rule); UNKNOWN when even their shape is unknown (e.g. the whole ingress list).
 */
export function ingressOf(type: string, props: Record<string, unknown>): Ingress[] | Unknown | undefined {
    if (type === T.securityGroup[0]) {
        const list = readList(() => props.ingress as unknown);
        if (isUnknown(list)) {
            return UNKNOWN;
        }
        return (list ?? []).map((e, i) => {
            const protocol = normProtocol(isUnknown(e) ? e : prop(e, "protocol"));
            return {
                label: `ingress[${i}]`,
                protocol,
                ports: isUnknown(e) ? UNKNOWN : normPorts(protocol, prop(e, "fromPort"), prop(e, "toPort")),
                cidrs: [...listOf(e, "cidrBlocks"), ...listOf(e, "ipv6CidrBlocks")],
                sourceGroups: listOf(e, "securityGroups"),
                self: !isUnknown(e) && asBool(prop(e, "self")) === true,
                prefixLists: listOf(e, "prefixListIds").length,
            };
        });
    }
    if (type === T.securityGroupRule[0]) {
        const kind = read(() => props.type);
        if (isUnknown(kind)) {
            return UNKNOWN;
        }
        if (kind !== "ingress") {
            return undefined;
        }
        const protocol = normProtocol(read(() => props.protocol));
        const cidrs = [...listOf(props, "cidrBlocks"), ...listOf(props, "ipv6CidrBlocks")];
        const self = asBool(read(() => props.self)) === true;
        const prefixLists = listOf(props, "prefixListIds").length;
        // sourceSecurityGroupId excludes self and CIDRs, and is computed (unknown among a preview's
        // outputs) when unset: only a rule with no other source has one.
        const sourceGroups = self || cidrs.length > 0 || prefixLists > 0 ? [] : one(props, "sourceSecurityGroupId");
        return [
            {
                label: "rule",
                protocol,
                ports: normPorts(
                    protocol,
                    read(() => props.fromPort),
                    read(() => props.toPort),
                ),
                cidrs,
                sourceGroups,
                self,
                prefixLists,
            },
        ];
    }
    if (type === T.securityGroupIngressRule[0]) {
        const protocol = normProtocol(read(() => props.ipProtocol));
        return [
            {
                label: "rule",
                protocol,
                ports: normPorts(
                    protocol,
                    read(() => props.fromPort),
                    read(() => props.toPort),
                ),
                cidrs: [...one(props, "cidrIpv4"), ...one(props, "cidrIpv6")],
                sourceGroups: one(props, "referencedSecurityGroupId"),
                self: false,
                prefixLists: one(props, "prefixListId").length,
            },
        ];
    }
    return undefined;
}

/** Whether a permission can carry TCP to `port`: true, false, or UNKNOWN. */
function coversTcpPort(ing: Ingress, port: number): boolean | Unknown {
    if (isUnknown(ing.protocol)) {
        return UNKNOWN;
    }
    if (ing.protocol !== "tcp" && ing.protocol !== "all") {
        return false;
    }
    if (isUnknown(ing.ports)) {
        return UNKNOWN;
    }
    return ing.ports[0] <= port && port <= ing.ports[1];
}

function describePorts(ing: Ingress): string {
    if (isUnknown(ing.ports)) {
        return "unknown ports";
    }
    const proto = isUnknown(ing.protocol) ? "?" : ing.protocol === "all" ? "all protocols" : ing.protocol.toUpperCase();
    const [f, t] = ing.ports;
    return f === 0 && t === 65535 ? `${proto}, all ports` : `${proto} ${f === t ? f : `${f}-${t}`}`;
}

function portLabel(p: number): string {
    return PORT_NAMES[p] ? `${p} (${PORT_NAMES[p]})` : String(p);
}

const ingressTypes = [...T.securityGroup, ...T.securityGroupRule, ...T.securityGroupIngressRule];

interface WorldKnobs {
    ports: number[];
    maxPublicAddresses: number;
}

/**
 * The sources that open a port to the world, judged by the public addresses they cover together
 * (their union, overlaps counted once), not by their spelling: "0.0.0.0/00", two /1 halves, three
 * /9s or a /7 are all world-open; private ranges and the VPC count for nothing. Empty when the
 * union stays within the limits.
 */
export function worldOpenSources(cidrs: readonly string[], maxPublicAddresses = MAX_PUBLIC_ADDRESSES): string[] {
    const v4: { text: string; block: Ipv4Cidr }[] = [];
    const v6: { text: string; block: Ipv6Prefix }[] = [];
    for (const text of cidrs) {
        const c = readRuleCidr(text);
        if (c && "v4" in c && publicAddressCount([c.v4]) > 0) v4.push({ text, block: c.v4 });
        else if (c && "v6" in c && globalUnicastV6Count([c.v6]) > 0n) v6.push({ text, block: c.v6 });
    }
    const open: string[] = [];
    if (publicAddressCount(v4.map((c) => c.block)) > maxPublicAddresses) open.push(...v4.map((c) => c.text));
    if (globalUnicastV6Count(v6.map((c) => c.block)) > MAX_PUBLIC_V6_ADDRESSES) open.push(...v6.map((c) => c.text));
    return open;
}

/** The known CIDR sources of the permissions that carry TCP to `port` (UNKNOWN ports count as not). */
function sourcesOnPort(perms: readonly Ingress[], port: number): string[] {
    return perms
        .filter((ing) => coversTcpPort(ing, port) === true)
        .flatMap((ing) => ing.cidrs.filter((c): c is string => !isUnknown(c)));
}

/** Where a permission is declared, for messages: a rule's name, or "ingress[i] of security group <name>". */
function whereOf(r: PolicyResource, ing: Ingress): string {
    return ing.label === "rule" ? r.name : `${ing.label} of security group ${r.name}`;
}

/**
 * The security group a permission belongs to, for the union: the group itself for inline blocks,
 * else the group its securityGroupId refers to (by dependency or value), else that id's known
 * text; undefined when it cannot be told (the permission is then judged alone).
 */
function unionGroupOf(view: StackView, r: PolicyResource): { key: string; name: string; urn?: string } | undefined {
    const target = targetGroupOf(view, r);
    if (!isUnknown(target)) return { key: target.urn, name: target.name, urn: target.urn };
    const id = read(() => r.props.securityGroupId);
    return typeof id === "string" && id !== "" ? { key: `id:${id}`, name: id } : undefined;
}

/**
 * The check behind no-world-open-sensitive-ports and no-world-open-api, over the whole stack: each
 * permission alone, then the union of the permissions of one security group on each port (rules
 * that each admit a /9 admit three /9s together).
 */
function worldOpenCheck(policyName: () => StackValidationPolicy, schema: PolicyConfigSchema, advice: string) {
    return (args: StackValidationArgs, reportViolation: ReportViolation) => {
        const policy = policyName();
        const k = knobs<WorldKnobs>(schema, args);
        const view = new StackView(args.resources);
        const undecided: string[] = [];
        const groups = new Map<
            string,
            { name: string; urn?: string; members: { r: PolicyResource; ing: Ingress }[] }
        >();
        for (const r of view.ofType(ingressTypes)) {
            const rules = ingressOf(r.type, r.props);
            if (rules === undefined) {
                continue;
            }
            if (isUnknown(rules)) {
                // Among a preview's outputs, a group without inline rules has its (computed) `ingress`
                // unknown too; inline rules built from other outputs show up as dependencies.
                if ((r.propertyDependencies?.ingress ?? []).length > 0) {
                    undecided.push(`the inline ingress of ${r.name}`);
                }
                continue;
            }
            const group = unionGroupOf(view, r);
            for (const ing of rules) {
                const world = worldOpenSources(
                    ing.cidrs.filter((c): c is string => !isUnknown(c)),
                    k.maxPublicAddresses,
                );
                const unknownCidr = ing.cidrs.some(isUnknown);
                const hit: number[] = [];
                let portUnknown = false;
                for (const p of k.ports) {
                    const c = coversTcpPort(ing, p);
                    if (isUnknown(c)) {
                        portUnknown = true;
                    } else if (c) {
                        hit.push(p);
                    }
                }
                const where = whereOf(r, ing);
                if (world.length > 0 && hit.length > 0) {
                    reportViolation(
                        `${where} opens ${describePorts(ing)} to ${humanList(world)}, which includes ${humanList(hit.map(portLabel))}; ` +
                            `together those sources cover more than ${k.maxPublicAddresses} public addresses. ${advice}`,
                        r.urn,
                    );
                    continue;
                }
                if ((world.length > 0 && portUnknown) || (unknownCidr && (hit.length > 0 || portUnknown))) {
                    undecided.push(where);
                }
                if (group && hit.length > 0) {
                    const g = groups.get(group.key) ?? { name: group.name, urn: group.urn, members: [] };
                    g.members.push({ r, ing });
                    groups.set(group.key, g);
                }
            }
        }
        for (const g of groups.values()) {
            for (const u of unionsOpen(
                g.members.map((m) => m.ing),
                k,
            )) {
                const names = u.perms.map((ing) => whereOf(g.members.find((m) => m.ing === ing)!.r, ing));
                reportViolation(
                    `${humanList(names)} on security group ${g.name} together open ${humanList(u.ports.map(portLabel))} to ` +
                        `${humanList(u.world)}: no one of them alone, but together those sources cover more than ${k.maxPublicAddresses} ` +
                        `public addresses. ${advice}`,
                    g.urn ?? g.members[0].r.urn,
                );
            }
        }
        if (undecided.length > 0) {
            reportUndecided(
                reportViolation,
                policy.description,
                `the source CIDR or ports of ${humanList(undecided)} are unknown during preview ` +
                    `(e.g. computed from an Elastic IP); the rule is checked again when they are known.`,
            );
        }
    };
}

/**
 * The ports of `k.ports` that several permissions (none world-open alone) open to the world
 * together, grouped by the permissions and sources involved, so a rule pair opening 2379-2380 is
 * one finding naming both ports.
 */
function unionsOpen(
    perms: readonly Ingress[],
    k: WorldKnobs,
): { ports: number[]; perms: Ingress[]; world: string[] }[] {
    const found = new Map<string, { ports: number[]; perms: Ingress[]; world: string[] }>();
    for (const port of k.ports) {
        const carrying = perms.filter((ing) => coversTcpPort(ing, port) === true);
        if (carrying.length < 2) continue;
        const world = worldOpenSources(sourcesOnPort(carrying, port), k.maxPublicAddresses);
        if (world.length === 0) continue;
        const key = `${carrying.map((ing) => perms.indexOf(ing)).join(",")}|${world.join(",")}`;
        const f = found.get(key) ?? { ports: [], perms: carrying, world };
        f.ports.push(port);
        found.set(key, f);
    }
    return [...found.values()];
}

const MAX_PUBLIC_ADDRESSES_KNOB = {
    type: "integer" as const,
    minimum: 0,
    default: MAX_PUBLIC_ADDRESSES,
    description:
        "A rule's sources together may cover at most this many public IPv4 addresses (default a /8's worth: 16777216).",
};

const sensitiveSchema: PolicyConfigSchema = {
    properties: {
        ports: {
            type: "array",
            items: { type: "integer", minimum: 0, maximum: 65535 },
            default: [22, 2379, 2380, 10250, 10257, 10259],
            description: "TCP ports that must never be open to the world (a range including one counts).",
        },
        maxPublicAddresses: MAX_PUBLIC_ADDRESSES_KNOB,
    },
};

export const noWorldOpenSensitivePorts: StackValidationPolicy = {
    name: "no-world-open-sensitive-ports",
    description:
        "No ingress opens SSH, etcd, kubelet, controller-manager or scheduler ports to the world (more public addresses than a /8, however the CIDRs are spelled, alone or with the other rules of its security group).",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: sensitiveSchema,
    validateStack: worldOpenCheck(
        () => noWorldOpenSensitivePorts,
        sensitiveSchema,
        "Restrict the source: SSH to sshAllowedCidrs or a bastion's security group, etcd/kubelet/controller ports to the " +
            "control-plane and node security groups.",
    ),
};

const apiSchema: PolicyConfigSchema = {
    properties: {
        ports: {
            type: "array",
            items: { type: "integer", minimum: 0, maximum: 65535 },
            default: [API_PORT],
            description: "API ports reported when open to the world.",
        },
        maxPublicAddresses: MAX_PUBLIC_ADDRESSES_KNOB,
    },
};

export const noWorldOpenApi: StackValidationPolicy = {
    name: "no-world-open-api",
    description:
        "The Kubernetes API port (6443) is not open to the world (advisory: some clusters are public by design).",
    enforcementLevel: "advisory",
    severity: "medium",
    configSchema: apiSchema,
    validateStack: worldOpenCheck(
        () => noWorldOpenApi,
        apiSchema,
        "Anyone on the internet can reach the apiserver's authentication; set apiAllowedCidrs to the networks that need the API.",
    ),
};

// ------------------------------------------------------------------------------------------------

const ETCD_PORTS = [2379, 2380];

/** The security group a standalone rule attaches to, or the group itself for inline rules. */
function targetGroupOf(view: StackView, r: PolicyResource): PolicyResource | Unknown {
    if (r.type === T.securityGroup[0]) {
        return r;
    }
    const refs = view.refs(r, "securityGroupId", T.securityGroup);
    return refs.resources.length === 1 ? refs.resources[0] : UNKNOWN;
}

export const etcdPortsControlPlaneOnly: StackValidationPolicy = {
    name: "etcd-ports-control-plane-only",
    description:
        "Ingress to etcd (2379-2380) on control-plane security groups comes only from the control-plane security group itself.",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: { properties: {} },
    validateStack: (args, reportViolation) => {
        const { view, controlPlanes } = controlPlaneStack(args);
        const cpSgs = new Set<PolicyResource>();
        let cpSgUnresolved = 0;
        for (const cp of controlPlanes) {
            const refs = view.securityGroupsOf(cp.resource);
            refs.resources.forEach((sg) => cpSgs.add(sg));
            cpSgUnresolved += refs.unresolved;
        }
        // A group also attached to other machines would let them reach etcd: not an allowed source.
        const shared = new Set<PolicyResource>();
        const cpResources = new Set(controlPlanes.map((c) => c.resource));
        for (const r of [...view.ofType(T.instance), ...view.ofType(T.launchTemplate)]) {
            if (!cpResources.has(r)) {
                view.securityGroupsOf(r).resources.forEach((sg) => shared.add(sg));
            }
        }
        const allowed = new Set([...cpSgs].filter((sg) => !shared.has(sg)));
        const allowedNames = humanList([...allowed].map((s) => s.name)) || "(none found)";
        const undecided: string[] = [];
        for (const r of view.ofType(ingressTypes)) {
            const rules = ingressOf(r.type, r.props);
            if (rules === undefined) {
                continue;
            }
            const target = targetGroupOf(view, r);
            const onControlPlane = isUnknown(target) ? UNKNOWN : cpSgs.has(target);
            if (onControlPlane === false) {
                continue;
            }
            if (isUnknown(rules)) {
                // Among a preview's outputs, a group without inline rules has its (computed) `ingress`
                // unknown too; inline rules built from other outputs show up as dependencies.
                const inlineDeps = r.type === T.securityGroup[0] ? (r.propertyDependencies?.ingress ?? []).length : 1;
                if (inlineDeps > 0) {
                    undecided.push(r.name);
                }
                continue;
            }
            for (const ing of rules) {
                const covers = ETCD_PORTS.map((p) => coversTcpPort(ing, p));
                if (covers.every((c) => c === false)) {
                    continue;
                }
                const portsUnknown = covers.some(isUnknown);
                const where = ing.label === "rule" ? r.name : `${ing.label} of security group ${r.name}`;
                const bad: string[] = [];
                let unsure = portsUnknown;
                const knownCidrs = ing.cidrs.filter((c): c is string => !isUnknown(c));
                if (knownCidrs.length > 0) {
                    bad.push(`CIDR ${humanList(knownCidrs)}`);
                }
                if (ing.cidrs.some(isUnknown)) {
                    bad.push("a CIDR source");
                }
                if (ing.prefixLists > 0) {
                    bad.push("a prefix list");
                }
                if (ing.self && !isUnknown(target) && !allowed.has(target)) {
                    bad.push(`self on ${target.name}, which is shared with non-control-plane machines`);
                }
                if (ing.sourceGroups.length > 0) {
                    // Resolve source groups by value, else through the property's dependencies.
                    const key =
                        r.type === T.securityGroup[0]
                            ? "ingress"
                            : r.type === T.securityGroupRule[0]
                              ? "sourceSecurityGroupId"
                              : "referencedSecurityGroupId";
                    const depGroups = (r.propertyDependencies?.[key] ?? []).filter(
                        (d) => (T.securityGroup as readonly string[]).includes(d.type) && d !== r,
                    );
                    for (const v of ing.sourceGroups) {
                        const byValue = isUnknown(v)
                            ? undefined
                            : view.ofType(T.securityGroup).find((sg) => read(() => sg.props.id) === v);
                        const candidates = byValue ? [byValue] : depGroups;
                        if (candidates.length === 0) {
                            unsure = true;
                        } else if (candidates.every((c) => allowed.has(c))) {
                            // fine
                        } else if (byValue || candidates.length === 1 || r.type !== T.securityGroup[0]) {
                            bad.push(
                                `security group ${humanList(candidates.filter((c) => !allowed.has(c)).map((c) => c.name))}`,
                            );
                        } else {
                            unsure = true;
                        }
                    }
                }
                if (bad.length > 0 && !isUnknown(onControlPlane) && !portsUnknown) {
                    reportViolation(
                        `${where} (${describePorts(ing)}) lets ${humanList(bad)} reach etcd on control-plane security group ` +
                            `${(target as PolicyResource).name}. etcd holds every secret of the cluster; only control planes may reach 2379-2380. ` +
                            `Allow those ports only from the control-plane security group (${allowedNames}: sourceSecurityGroupId/referencedSecurityGroupId ` +
                            `= its id, or self: true), and split broader rules so they exclude 2379-2380.`,
                        r.urn,
                    );
                } else if (bad.length > 0 || unsure) {
                    undecided.push(where);
                }
            }
        }
        if (undecided.length > 0 || (cpSgs.size === 0 && cpSgUnresolved > 0)) {
            const what =
                undecided.length > 0
                    ? `cannot tell whether ${humanList(undecided)} expose etcd (security group, sources or ports unknown)`
                    : "the control planes' security groups cannot be resolved";
            reportUndecided(reportViolation, etcdPortsControlPlaneOnly.description, `${what} during preview.`);
        }
    },
};

// ------------------------------------------------------------------------------------------------

export const controlPlanePrivateSubnet: StackValidationPolicy = {
    name: "control-plane-private-subnet",
    description:
        "Control-plane instances are not placed in subnets that auto-assign public IPs (unless associatePublicIpAddress is false).",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateStack: (args, reportViolation) => {
        const { view, controlPlanes } = controlPlaneStack(args);
        for (const cp of controlPlanes) {
            // Unset associatePublicIpAddress is computed (unknown) among a preview's outputs: only an
            // explicit false opts out of the subnet's setting.
            if (asBool(read(() => cp.resource.props.associatePublicIpAddress)) === false) {
                continue;
            }
            const subnets = view.refs(cp.resource, "subnetId", T.subnet).resources;
            for (const s of subnets) {
                const mapPublic = read(() => s.props.mapPublicIpOnLaunch);
                if (asBool(mapPublic) === true) {
                    reportViolation(
                        `control plane ${cp.name} is in subnet ${s.name}${isUnknown(cp.az) ? "" : ` (${cp.az})`}, which has ` +
                            `mapPublicIpOnLaunch: true, so it gets a public IP. Place control planes in the private subnets ` +
                            `(or set associatePublicIpAddress: false).`,
                        cp.urn,
                    );
                }
            }
        }
    },
};

export const networkPolicies = [
    noWorldOpenSensitivePorts,
    noWorldOpenApi,
    etcdPortsControlPlaneOnly,
    controlPlanePrivateSubnet,
];
