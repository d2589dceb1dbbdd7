// The architecture diagram, drawn from what the offline plan recorded: zones, their public and
// private subnets, NAT gateways, the bastion, control planes and workers per zone, and the API
// network load balancer with its targets. Pure: a ProgramRun in, an SVG document out (no
// Graphviz, no fonts to embed, deterministic so that the committed file only changes when the
// architecture does).
//   npm run plan -- --stack prod --diagram docs/architecture.svg      (npm run diagram)
import type { ProgramRun, RecordedResource } from "../harness/program";
import { isUnknownValue, unwrapSecrets } from "../harness/values";
import { TYPES } from "../../policies/lib/contract";

const T = {
    instance: TYPES.instance,
    subnet: TYPES.subnet,
    vpc: TYPES.vpc,
    nat: TYPES.natGateway,
    igw: TYPES.internetGateway,
    routeTable: TYPES.routeTable,
    association: TYPES.routeTableAssociation,
    lb: TYPES.loadBalancer,
    listener: TYPES.listener,
    targetGroup: TYPES.targetGroup,
    attachment: TYPES.targetGroupAttachment,
    ingress: TYPES.securityGroupIngressRule,
} as const;

export interface NodeView {
    readonly name: string;
    readonly zone: string;
    readonly instanceType?: string;
}

export interface SubnetView {
    readonly name: string;
    readonly zone: string;
    readonly cidr?: string;
    readonly public: boolean;
    /** Zone of the NAT gateway this private subnet leaves through. */
    readonly egressNatZone?: string;
    /** The API load balancer has a node in this subnet. */
    readonly hasNlb: boolean;
}

export interface ZoneView {
    readonly name: string;
    readonly publicSubnets: SubnetView[];
    readonly privateSubnets: SubnetView[];
    readonly natGateways: string[];
    readonly bastions: NodeView[];
    readonly controlPlanes: NodeView[];
    readonly workers: NodeView[];
}

export interface LoadBalancerView {
    readonly name: string;
    readonly internal: boolean;
    readonly crossZone: boolean;
    readonly listener?: string;
    readonly healthCheck?: string;
    readonly clientIpPreservation?: boolean;
    readonly targets: string[];
}

export interface Architecture {
    readonly stack: string;
    readonly clusterName: string;
    readonly region?: string;
    readonly vpc?: { name: string; cidr?: string };
    readonly zones: ZoneView[];
    readonly loadBalancer?: LoadBalancerView;
    readonly apiClients: string[];
    readonly sshClients: string[];
    readonly controlPlaneCount: number;
    readonly quorum: number;
    readonly survivesZoneLoss: boolean;
}

const known = (v: unknown): v is string | number | boolean =>
    v !== undefined && v !== null && !isUnknownValue(v) && typeof v !== "object";
const str = (v: unknown): string | undefined => (known(v) ? String(v) : undefined);

/** Reads the architecture out of the recorded resources (never throws on a partial graph). */
export function architectureOf(run: ProgramRun): Architecture {
    const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
    const inputs = (r: RecordedResource) => unwrapSecrets(r.inputs) as Record<string, any>;
    const ofType = (type: string) => run.resources.filter((r) => r.type === type);
    const deps = (r: RecordedResource, key: string) =>
        (r.propertyDependencies[key] ?? []).map((u) => byUrn.get(u)).filter((d): d is RecordedResource => !!d);
    const allDeps = (r: RecordedResource) =>
        [...new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()])]
            .map((u) => byUrn.get(u))
            .filter((d): d is RecordedResource => !!d);
    const project = run.project;
    const clusterName = run.config[`${project}:clusterName`] ?? project;

    // Subnets: public when their route table sends 0.0.0.0/0 to an internet gateway.
    const subnetZone = new Map<string, string>();
    for (const s of ofType(T.subnet)) subnetZone.set(s.urn, str(inputs(s).availabilityZone) ?? "?");
    const natZone = new Map<string, string>();
    for (const n of ofType(T.nat)) natZone.set(n.urn, deps(n, "subnetId").map((s) => subnetZone.get(s.urn))[0] ?? "?");
    const routeOf = new Map<string, RecordedResource>();
    for (const a of ofType(T.association)) {
        const subnet = deps(a, "subnetId")[0];
        const table = deps(a, "routeTableId")[0];
        if (subnet && table) routeOf.set(subnet.urn, table);
    }
    const lb =
        ofType(T.lb).find((r) => inputs(r).tags?.["k8s-ha/role"] === "api-lb") ??
        ofType(T.lb).find((r) => inputs(r).loadBalancerType === "network");
    const lbSubnets = new Set(lb ? [...deps(lb, "subnets"), ...deps(lb, "subnetMappings")].map((s) => s.urn) : []);
    const subnets: SubnetView[] = ofType(T.subnet).map((s) => {
        const table = routeOf.get(s.urn);
        const targets = table ? deps(table, "routes") : [];
        const tags = inputs(s).tags ?? {};
        const isPublic = table ? targets.some((t) => t.type === T.igw) : tags["kubernetes.io/role/elb"] !== undefined;
        const nat = targets.find((t) => t.type === T.nat);
        return {
            name: s.name,
            zone: subnetZone.get(s.urn)!,
            cidr: str(inputs(s).cidrBlock),
            public: isPublic,
            egressNatZone: nat ? natZone.get(nat.urn) : undefined,
            hasNlb: lbSubnets.has(s.urn),
        };
    });

    // Instances by role, each in the zone it names (the layout contract) or its subnet's.
    const nodes = { "control-plane": [] as NodeView[], worker: [] as NodeView[], bastion: [] as NodeView[] };
    for (const i of ofType(T.instance)) {
        const role = inputs(i).tags?.["k8s-ha/role"] as keyof typeof nodes | undefined;
        if (!role || !(role in nodes)) continue;
        const zone = str(inputs(i).availabilityZone) ?? deps(i, "subnetId").map((s) => subnetZone.get(s.urn))[0] ?? "?";
        nodes[role].push({ name: i.name, zone, instanceType: str(inputs(i).instanceType) });
    }

    const zoneNames = [
        ...new Set([
            ...subnets.map((s) => s.zone),
            ...Object.values(nodes)
                .flat()
                .map((n) => n.zone),
            ...natZone.values(),
        ]),
    ].sort();
    const zones: ZoneView[] = zoneNames.map((zone) => ({
        name: zone,
        publicSubnets: subnets.filter((s) => s.zone === zone && s.public),
        privateSubnets: subnets.filter((s) => s.zone === zone && !s.public),
        natGateways: ofType(T.nat)
            .filter((n) => natZone.get(n.urn) === zone)
            .map((n) => n.name),
        bastions: nodes.bastion.filter((n) => n.zone === zone),
        controlPlanes: nodes["control-plane"].filter((n) => n.zone === zone),
        workers: nodes.worker.filter((n) => n.zone === zone),
    }));

    let loadBalancer: LoadBalancerView | undefined;
    const ingress = ofType(T.ingress);
    const cidrsTo = (securityGroups: Set<string>, port: number) => [
        ...new Set(
            ingress
                .filter((r) => deps(r, "securityGroupId").some((g) => securityGroups.has(g.urn)))
                .filter(
                    (r) => Number(inputs(r).fromPort) <= port && port <= Number(inputs(r).toPort ?? inputs(r).fromPort),
                )
                .map((r) => str(inputs(r).cidrIpv4))
                .filter((c): c is string => !!c),
        ),
    ];
    const vpcResource = ofType(T.vpc)[0];
    const vpcCidr = vpcResource ? str(inputs(vpcResource).cidrBlock) : undefined;
    let apiClients: string[] = [];
    if (lb) {
        const listener = ofType(T.listener).find((l) => deps(l, "loadBalancerArn").some((d) => d.urn === lb.urn));
        const group = listener ? allDeps(listener).find((d) => d.type === T.targetGroup) : ofType(T.targetGroup)[0];
        const tg = group ? inputs(group) : undefined;
        const hc = tg?.healthCheck;
        const port = listener ? Number(inputs(listener).port) : 6443;
        loadBalancer = {
            name: lb.name,
            internal: inputs(lb).internal === true,
            crossZone: inputs(lb).enableCrossZoneLoadBalancing === true,
            listener: listener ? `${str(inputs(listener).protocol) ?? "?"} ${port}` : undefined,
            healthCheck: hc ? [str(hc.protocol), str(hc.path)].filter(Boolean).join(" ") : undefined,
            clientIpPreservation:
                tg?.preserveClientIp === undefined ? undefined : String(tg.preserveClientIp) === "true",
            targets: ofType(T.attachment)
                .filter((a) => !group || deps(a, "targetGroupArn").some((d) => d.urn === group.urn))
                .flatMap((a) => deps(a, "targetId").map((d) => d.name)),
        };
        apiClients = cidrsTo(new Set(deps(lb, "securityGroups").map((g) => g.urn)), port).filter((c) => c !== vpcCidr);
    }
    const bastionGroups = new Set(
        ofType(T.instance)
            .filter((i) => inputs(i).tags?.["k8s-ha/role"] === "bastion")
            .flatMap((i) => deps(i, "vpcSecurityGroupIds").map((g) => g.urn)),
    );

    const count = nodes["control-plane"].length;
    const quorum = Math.floor(count / 2) + 1;
    const worstZone = Math.max(0, ...zones.map((z) => z.controlPlanes.length));
    return {
        stack: run.stack,
        clusterName,
        region: run.config["aws:region"],
        vpc: vpcResource ? { name: vpcResource.name, cidr: vpcCidr } : undefined,
        zones,
        loadBalancer,
        apiClients,
        sshClients: cidrsTo(bastionGroups, 22),
        controlPlaneCount: count,
        quorum,
        survivesZoneLoss: count > 0 && count - worstZone >= quorum,
    };
}

// ---------------------------------------------------------------------------------------------
// Rendering

const FONT = "Helvetica, Arial, sans-serif";
const C = {
    ink: "#1f2937",
    muted: "#4b5563",
    vpc: "#248814",
    zone: "#147eba",
    publicFill: "#eef7ea",
    publicStroke: "#7aa116",
    privateFill: "#e8f1fa",
    privateStroke: "#147eba",
    cp: "#326ce5",
    worker: "#ffffff",
    nlb: "#8c4fff",
    nat: "#8c4fff",
    bastion: "#ed7100",
    etcd: "#d13212",
    bad: "#d13212",
    good: "#1d8102",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** Rough advance width of Helvetica text: enough to lay out boxes that fit their labels. */
// Sized for DejaVu Sans (what librsvg falls back to), wider than Helvetica or Arial.
const textWidth = (s: string, size: number, bold = false) => s.length * size * (bold ? 0.66 : 0.6);

interface TextOpts {
    size?: number;
    bold?: boolean;
    fill?: string;
    anchor?: "start" | "middle" | "end";
    italic?: boolean;
}
function text(x: number, y: number, s: string, o: TextOpts = {}): string {
    const attrs = [
        `x="${x}"`,
        `y="${y}"`,
        `font-size="${o.size ?? 12}"`,
        o.bold ? `font-weight="bold"` : "",
        o.italic ? `font-style="italic"` : "",
        `fill="${o.fill ?? C.ink}"`,
        o.anchor && o.anchor !== "start" ? `text-anchor="${o.anchor}"` : "",
    ]
        .filter(Boolean)
        .join(" ");
    return `<text ${attrs}>${esc(s)}</text>`;
}

function rect(
    x: number,
    y: number,
    w: number,
    h: number,
    o: { fill?: string; stroke?: string; dash?: string; rx?: number; width?: number } = {},
): string {
    return `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${o.rx ?? 6}" fill="${o.fill ?? "none"}" stroke="${o.stroke ?? "none"}" stroke-width="${o.width ?? 1}"${o.dash ? ` stroke-dasharray="${o.dash}"` : ""}/>`;
}

function line(
    x1: number,
    y1: number,
    x2: number,
    y2: number,
    o: { stroke: string; dash?: string; width?: number; arrow?: string },
): string {
    return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${o.stroke}" stroke-width="${o.width ?? 1.5}"${o.dash ? ` stroke-dasharray="${o.dash}"` : ""}${o.arrow ? ` marker-end="url(#${o.arrow})"` : ""}/>`;
}

/** Greedy word wrap of " · "-separated items into lines no wider than `width`. */
function wrapItems(items: string[], width: number, size: number): string[] {
    const lines: string[] = [];
    let current = "";
    for (const item of items) {
        const candidate = current ? `${current} · ${item}` : item;
        if (current && textWidth(candidate, size) > width) {
            lines.push(current);
            current = item;
        } else {
            current = candidate;
        }
    }
    if (current) lines.push(current);
    return lines;
}

/** Trims a name that does not fit, keeping its end (the distinctive part: cp-3, us-east-1a). */
function fit(s: string, width: number, size: number, bold = false): string {
    if (textWidth(s, size, bold) <= width) return s;
    const keep = Math.max(4, Math.floor(width / (size * (bold ? 0.66 : 0.6))) - 1);
    return `…${s.slice(s.length - keep)}`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export interface DiagramOptions {
    /** Mandatory policy violations of the plan, shown in the footer. */
    readonly mandatoryViolations?: number;
}

/** Renders the architecture as a standalone SVG document. */
export function renderDiagram(a: Architecture, options: DiagramOptions = {}): string {
    const M = 24; // outer margin
    const LEFT = 190; // lane for the SSH operators box
    const COL = 250; // zone column width
    const GAP = 18; // between zone columns
    const PAD = 16; // VPC padding
    const LANE = 22; // target bus lane on the right of a zone column
    const zoneCount = Math.max(1, a.zones.length);
    const columnsWidth = zoneCount * COL + (zoneCount - 1) * GAP;
    const vpcX = M + LEFT;
    const vpcW = Math.max(columnsWidth + 2 * PAD, 560);
    const colX = (i: number) => vpcX + (vpcW - columnsWidth) / 2 + i * (COL + GAP);
    const width = vpcX + vpcW + M;

    const short = (name: string) =>
        name.startsWith(`${a.clusterName}-`) ? name.slice(a.clusterName.length + 1) : name;
    const body: string[] = [];
    const fg: string[] = []; // drawn last: lines and the etcd outline over the boxes

    // Title
    const title = `${a.clusterName}: Kubernetes control plane on AWS (stack ${a.stack}${a.region ? `, ${a.region}` : ""})`;
    body.push(text(M, M + 18, title, { size: 19, bold: true }));
    const perZone = a.zones.map((z) => z.controlPlanes.length).join("+");
    const ha =
        a.controlPlaneCount === 0
            ? { s: "no control planes", fill: C.bad }
            : a.survivesZoneLoss
              ? {
                    s: `${plural(a.controlPlaneCount, "control plane")} over ${plural(a.zones.filter((z) => z.controlPlanes.length).length, "zone")} (${perZone}) · etcd quorum ${a.quorum} · survives the loss of any one zone`,
                    fill: C.good,
                }
              : {
                    s: `${plural(a.controlPlaneCount, "control plane")} over ${plural(a.zones.filter((z) => z.controlPlanes.length).length, "zone")} (${perZone}) · etcd quorum ${a.quorum} · losing one zone can lose quorum`,
                    fill: C.bad,
                };
    body.push(text(M, M + 40, ha.s, { size: 13, fill: ha.fill, bold: true }));

    // API clients, above the load balancer
    const clientsY = M + 62;
    const clientsH = 44;
    const lbY = clientsY + clientsH + 70;
    const lbX = vpcX + PAD;
    const lbW = vpcW - 2 * PAD;
    const lb = a.loadBalancer;
    if (lb) {
        const who = lb.internal
            ? "API clients inside the VPC"
            : a.apiClients.length
              ? `API clients ${a.apiClients.join(", ")}`
              : "API clients (no CIDR allowed)";
        const boxW = Math.min(lbW, Math.max(260, textWidth(who, 12) + 28));
        const bx = lbX + (lbW - boxW) / 2;
        body.push(
            `<g class="node clients" data-name="apiAllowedCidrs">`,
            rect(bx, clientsY, boxW, clientsH, { fill: "#ffffff", stroke: C.muted }),
            text(bx + boxW / 2, clientsY + 18, lb.internal ? "kubectl, nodes" : "kubectl (apiAllowedCidrs)", {
                size: 12,
                bold: true,
                anchor: "middle",
            }),
            text(bx + boxW / 2, clientsY + 34, fit(who, boxW - 16, 12), { size: 12, anchor: "middle", fill: C.muted }),
            `</g>`,
        );
        fg.push(
            line(bx + boxW / 2, clientsY + clientsH, bx + boxW / 2, lbY - 2, {
                stroke: C.nlb,
                width: 2,
                arrow: "arrow-nlb",
            }),
        );
        fg.push(
            text(bx + boxW / 2 + 8, clientsY + clientsH + 22, `${lb.listener ?? "TCP 6443"}`, {
                size: 12,
                fill: C.nlb,
                bold: true,
            }),
        );
    }

    // VPC
    const vpcY = lbY - 44;
    const lbLines = lb
        ? wrapItems(
              [
                  lb.internal ? "internal" : "internet-facing",
                  `${lb.listener ?? "TCP 6443"} → ${plural(lb.targets.length, "target")}`,
                  lb.crossZone ? "cross-zone" : "no cross-zone",
                  lb.clientIpPreservation === false
                      ? "client IP preservation off"
                      : lb.clientIpPreservation
                        ? "client IP preservation ON"
                        : "",
                  lb.healthCheck ? `health check ${lb.healthCheck}` : "",
              ].filter(Boolean),
              lbW - 24,
              12,
          )
        : [];
    const lbH = 32 + 15 * lbLines.length;
    const zonesY = lb ? lbY + lbH + 28 : vpcY + 44;

    // Zone columns: rows are aligned across zones so that control planes, workers and the etcd
    // outline line up.
    const CP_H = 40;
    const WK_H = 28;
    const CHIP_GAP = 8;
    const SUB_HEAD = 40;
    const maxPublicChips = Math.max(0, ...a.zones.map((z) => z.natGateways.length + z.bastions.length));
    const hasPublic = a.zones.some((z) => z.publicSubnets.length > 0);
    const publicH = hasPublic ? SUB_HEAD + Math.max(1, maxPublicChips) * (30 + CHIP_GAP) : 0;
    const maxCp = Math.max(0, ...a.zones.map((z) => z.controlPlanes.length));
    const maxWk = Math.max(0, ...a.zones.map((z) => z.workers.length));
    const ETCD_LABEL = maxCp ? 22 : 0; // the etcd outline's label sits under the control-plane rows
    const privateH = SUB_HEAD + maxCp * (CP_H + CHIP_GAP) + ETCD_LABEL + (maxWk ? maxWk * (WK_H + CHIP_GAP) : 0) + 4;
    const zoneHead = 30;
    const zoneH = zoneHead + (hasPublic ? publicH + 12 : 0) + privateH + 12;
    const vpcH = zonesY + zoneH + PAD - vpcY;

    body.push(
        `<g class="vpc" data-name="${esc(a.vpc?.name ?? "vpc")}">`,
        rect(vpcX, vpcY, vpcW, vpcH, { stroke: C.vpc, width: 2, rx: 4 }),
    );
    body.push(
        text(vpcX + 12, vpcY + 22, `VPC ${a.vpc?.name ?? "(existing)"}${a.vpc?.cidr ? `  ${a.vpc.cidr}` : ""}`, {
            size: 13,
            bold: true,
            fill: C.vpc,
        }),
        `</g>`,
    );

    const cpBox = new Map<string, { x: number; y: number; w: number; h: number }>();
    let bastionBox: { x: number; y: number; h: number } | undefined;
    a.zones.forEach((z, i) => {
        const x = colX(i);
        const inner = x + 10;
        const innerW = COL - 10 - LANE;
        body.push(
            `<g class="zone" data-zone="${esc(z.name)}">`,
            rect(x, zonesY, COL, zoneH, { stroke: C.zone, dash: "6 4", width: 1.5 }),
        );
        body.push(text(inner, zonesY + 20, `Availability zone ${z.name}`, { size: 13, bold: true, fill: C.zone }));
        let y = zonesY + zoneHead;
        if (hasPublic) {
            const s = z.publicSubnets[0];
            body.push(
                `<g class="subnet public"${s ? ` data-name="${esc(s.name)}"` : ""}>`,
                rect(inner, y, innerW, publicH, { fill: C.publicFill, stroke: C.publicStroke }),
            );
            body.push(
                text(inner + 8, y + 16, s ? `public subnet ${s.cidr ?? ""}` : "no public subnet", {
                    size: 12,
                    bold: true,
                    fill: C.publicStroke,
                }),
            );
            if (s)
                body.push(
                    text(
                        inner + 8,
                        y + 31,
                        fit(`via internet gateway${s.hasNlb ? " · NLB node" : ""}`, innerW - 16, 10),
                        { size: 10, fill: C.muted },
                    ),
                );
            let cy = y + SUB_HEAD;
            for (const nat of z.natGateways) {
                body.push(
                    `<g class="node nat" data-name="${esc(nat)}" data-zone="${esc(z.name)}">`,
                    rect(inner + 8, cy, innerW - 16, 30, { fill: "#ffffff", stroke: C.nat, width: 1.5 }),
                    text(inner + 16, cy + 19, "NAT gateway", { size: 11, fill: C.nat, bold: true }),
                    text(
                        inner + innerW - 16,
                        cy + 19,
                        fit(short(nat), innerW - 32 - textWidth("NAT gateway ", 11, true), 11),
                        { size: 11, fill: C.nat, anchor: "end" },
                    ),
                    `</g>`,
                );
                cy += 30 + CHIP_GAP;
            }
            for (const b of z.bastions) {
                body.push(
                    `<g class="node bastion" data-name="${esc(b.name)}" data-zone="${esc(z.name)}">`,
                    rect(inner + 8, cy, innerW - 16, 30, { fill: C.bastion, stroke: C.bastion }),
                    text(
                        inner + 16,
                        cy + 19,
                        fit(`${short(b.name)}${b.instanceType ? ` · ${b.instanceType}` : ""}`, innerW - 32, 11, true),
                        { size: 11, fill: "#ffffff", bold: true },
                    ),
                    `</g>`,
                );
                bastionBox = bastionBox ?? { x: inner + 8, y: cy, h: 30 };
                cy += 30 + CHIP_GAP;
            }
            body.push(`</g>`);
            y += publicH + 12;
        }
        const p = z.privateSubnets[0];
        body.push(
            `<g class="subnet private"${p ? ` data-name="${esc(p.name)}"` : ""}>`,
            rect(inner, y, innerW, privateH, { fill: C.privateFill, stroke: C.privateStroke }),
        );
        body.push(
            text(inner + 8, y + 16, p ? `private subnet ${p.cidr ?? ""}` : "private (existing subnet)", {
                size: 12,
                bold: true,
                fill: C.privateStroke,
            }),
        );
        const egress = p?.egressNatZone
            ? `egress via NAT ${p.egressNatZone === z.name ? "in this zone" : `in ${p.egressNatZone}`}`
            : "";
        const privateNote = [egress, p?.hasNlb ? "NLB node" : ""].filter(Boolean).join(" · ");
        if (privateNote)
            body.push(text(inner + 8, y + 31, fit(privateNote, innerW - 16, 10), { size: 10, fill: C.muted }));
        let cy = y + SUB_HEAD;
        for (const cp of z.controlPlanes) {
            const w = innerW - 16;
            cpBox.set(cp.name, { x: inner + 8, y: cy, w, h: CP_H });
            body.push(
                `<g class="node control-plane" data-name="${esc(cp.name)}" data-zone="${esc(z.name)}">`,
                rect(inner + 8, cy, w, CP_H, { fill: C.cp, stroke: C.cp }),
            );
            body.push(text(inner + 16, cy + 16, short(cp.name), { size: 12, bold: true, fill: "#ffffff" }));
            if (cp.instanceType)
                body.push(
                    text(inner + 8 + w - 8, cy + 16, cp.instanceType, { size: 11, fill: "#ffffff", anchor: "end" }),
                );
            body.push(
                text(inner + 16, cy + 31, fit("kube-apiserver · etcd member", w - 16, 11), {
                    size: 11,
                    fill: "#ffffff",
                }),
                `</g>`,
            );
            cy += CP_H + CHIP_GAP;
        }
        cy = y + SUB_HEAD + maxCp * (CP_H + CHIP_GAP) + ETCD_LABEL;
        for (const wk of z.workers) {
            const w = innerW - 16;
            body.push(
                `<g class="node worker" data-name="${esc(wk.name)}" data-zone="${esc(z.name)}">`,
                rect(inner + 8, cy, w, WK_H, { fill: C.worker, stroke: C.cp, width: 1.5 }),
            );
            body.push(
                text(
                    inner + 16,
                    cy + 18,
                    fit(`${short(wk.name)}${wk.instanceType ? ` · ${wk.instanceType}` : ""}`, w - 16, 11, true),
                    { size: 11, fill: C.cp, bold: true },
                ),
                `</g>`,
            );
            cy += WK_H + CHIP_GAP;
        }
        body.push(`</g>`, `</g>`);
    });

    // The load balancer across the zones, and its targets: a bus down the right lane of each zone.
    if (lb) {
        body.push(
            `<g class="node nlb" data-name="${esc(lb.name)}">`,
            rect(lbX, lbY, lbW, lbH, { fill: "#f5f0ff", stroke: C.nlb, width: 2 }),
        );
        body.push(
            text(lbX + 12, lbY + 20, fit(`Network Load Balancer  ${lb.name}`, lbW - 24, 13, true), {
                size: 13,
                bold: true,
                fill: C.nlb,
            }),
        );
        lbLines.forEach((l, k) => body.push(text(lbX + 12, lbY + 38 + k * 15, l, { size: 12, fill: C.ink })));
        body.push(`</g>`);
        a.zones.forEach((z, i) => {
            const targets = z.controlPlanes
                .filter((cp) => lb.targets.includes(cp.name))
                .map((cp) => cpBox.get(cp.name)!)
                .filter(Boolean);
            if (targets.length === 0) return;
            const busX = colX(i) + COL - LANE / 2 - 2;
            const lastY = targets[targets.length - 1].y + CP_H / 2;
            fg.push(line(busX, lbY + lbH, busX, lastY, { stroke: C.nlb, width: 2 }));
            for (const t of targets)
                fg.push(
                    line(busX, t.y + CP_H / 2, t.x + t.w + 2, t.y + CP_H / 2, {
                        stroke: C.nlb,
                        width: 2,
                        arrow: "arrow-nlb",
                    }),
                );
        });
    }

    // etcd: one outline around every control-plane row, across the zones.
    const boxes = [...cpBox.values()];
    if (boxes.length) {
        const x1 = Math.min(...boxes.map((b) => b.x)) - 5;
        const x2 = Math.max(...boxes.map((b) => b.x + b.w)) + 5;
        const y1 = Math.min(...boxes.map((b) => b.y)) - 5;
        const y2 = Math.max(...boxes.map((b) => b.y + b.h)) + 5;
        fg.push(`<g class="etcd">`, rect(x1, y1, x2 - x1, y2 - y1, { stroke: C.etcd, dash: "5 3", width: 1.5, rx: 8 }));
        const label = `etcd: ${a.controlPlaneCount} members, quorum ${a.quorum} · peers on 2379-2380, control planes only`;
        const lw = textWidth(label, 11) + 12;
        const lx0 = Math.max(vpcX + PAD, x2 - lw);
        fg.push(
            rect(lx0, y2 - 1, lw, 17, { fill: "#ffffff", stroke: C.etcd, rx: 3 }),
            text(lx0 + lw / 2, y2 + 12, label, { size: 11, fill: C.etcd, anchor: "middle" }),
            `</g>`,
        );
    }

    // SSH operators, left of the VPC, into the bastion
    if (bastionBox) {
        const by = bastionBox.y + bastionBox.h / 2;
        const boxY = by - 30;
        body.push(
            `<g class="node operators" data-name="sshAllowedCidrs">`,
            rect(M, boxY, LEFT - 40, 60, { fill: "#ffffff", stroke: C.muted }),
        );
        body.push(
            text(M + 10, boxY + 18, "operators, CI", { size: 12, bold: true }),
            text(M + 10, boxY + 33, "(sshAllowedCidrs)", { size: 11, fill: C.muted }),
        );
        body.push(
            text(M + 10, boxY + 49, fit(a.sshClients.join(", ") || "none allowed", LEFT - 60, 11), {
                size: 11,
                fill: C.muted,
            }),
            `</g>`,
        );
        fg.push(line(M + LEFT - 40, by, bastionBox.x - 2, by, { stroke: C.bastion, width: 2, arrow: "arrow-ssh" }));
        fg.push(text(M + LEFT - 34, by - 6, "SSH 22", { size: 11, bold: true, fill: C.bastion }));
    }

    // Legend and footer
    const legendY = vpcY + vpcH + 20;
    const legend: string[] = [];
    let lx = vpcX;
    const chip = (fill: string, stroke: string, label: string) => {
        legend.push(
            rect(lx, legendY, 22, 14, { fill, stroke, rx: 3, width: 1.5 }),
            text(lx + 28, legendY + 11, label, { size: 11, fill: C.muted }),
        );
        lx += 28 + textWidth(label, 11) + 18;
    };
    const stroke = (color: string, dash: string | undefined, label: string) => {
        legend.push(
            line(lx, legendY + 7, lx + 24, legendY + 7, { stroke: color, dash, width: 2 }),
            text(lx + 30, legendY + 11, label, { size: 11, fill: C.muted }),
        );
        lx += 30 + textWidth(label, 11) + 18;
    };
    chip(C.cp, C.cp, "control plane");
    chip(C.worker, C.cp, "worker");
    chip(C.bastion, C.bastion, "bastion");
    chip("#ffffff", C.nat, "NAT gateway");
    stroke(C.nlb, undefined, "NLB → kube-apiserver 6443");
    stroke(C.etcd, "5 3", "etcd cluster");
    body.push(`<g class="legend">`, ...legend, `</g>`);
    const mandatory = options.mandatoryViolations;
    const footer = `Drawn by \`npm run diagram\` from the offline plan of stack ${a.stack} (Pulumi's mock runtime, preview)${mandatory === undefined ? "" : mandatory === 0 ? "; policy pack: no mandatory violation" : `; policy pack: ${plural(mandatory, "mandatory violation")}`}.`;
    body.push(text(vpcX, legendY + 36, footer, { size: 11, fill: mandatory ? C.bad : C.muted, italic: true }));

    const height = legendY + 52;
    const w = Math.max(width, vpcX + lx - vpcX + M, vpcX + textWidth(footer, 11) + M);
    return [
        `<?xml version="1.0" encoding="UTF-8"?>`,
        `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(w)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(w)} ${Math.ceil(height)}" font-family="${FONT}" role="img" aria-labelledby="title desc">`,
        `<title id="title">${esc(title)}</title>`,
        `<desc id="desc">${esc(`${ha.s}. Zones: ${a.zones.map((z) => `${z.name} (${[...z.controlPlanes, ...z.workers].map((n) => n.name).join(", ") || "no nodes"})`).join("; ")}.`)}</desc>`,
        `<defs>`,
        `<marker id="arrow-nlb" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${C.nlb}"/></marker>`,
        `<marker id="arrow-ssh" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${C.bastion}"/></marker>`,
        `</defs>`,
        rect(0, 0, Math.ceil(w), Math.ceil(height), { fill: "#ffffff", rx: 0 }),
        ...body,
        ...fg,
        `</svg>`,
        "",
    ].join("\n");
}
