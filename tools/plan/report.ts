// The offline plan's human output: the resource tree by component, the control-plane layout,
// the bootstrap order, and policy violations grouped by level. Pure: data in, text out.
import Table from "cli-table3";
import { createColors } from "picocolors";
import type { ProgramRun, RecordedResource } from "../harness/program";
import { unwrapSecrets, isUnknownValue } from "../harness/values";

export interface Violation {
    readonly policy: string;
    readonly enforcementLevel: string;
    readonly message: string;
    readonly urn?: string;
}

export type Colors = ReturnType<typeof createColors>;

const shortType = (type: string) => type.split(":").pop() ?? type;
const nameOf = (urn: string | undefined) => urn?.split("::").pop() ?? "(stack)";

/** Component tree: each component with its child components and a count of its resources by type. */
export function renderTree(run: ProgramRun, c: Colors, full = false): string {
    const children = new Map<string | undefined, RecordedResource[]>();
    for (const r of run.resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const lines: string[] = [];
    const walk = (r: RecordedResource, prefix: string, last: boolean, depth: number) => {
        const kids = children.get(r.urn) ?? [];
        const components = kids.filter((k) => !k.custom);
        const custom = kids.filter((k) => k.custom);
        const branch = depth === 0 ? "" : last ? "└─ " : "├─ ";
        lines.push(`${prefix}${branch}${c.bold(r.name)} ${c.dim(r.type)}${r.protect ? c.yellow(" [protected]") : ""}`);
        const inner = depth === 0 ? "" : prefix + (last ? "   " : "│  ");
        const tail = (i: number, n: number) => (i === n - 1 && components.length === 0 ? "└─ " : "├─ ");
        if (full) {
            custom.forEach((k, i) => lines.push(`${inner}${tail(i, custom.length)}${k.name} ${c.dim(shortType(k.type))}${k.protect ? c.yellow(" [protected]") : ""}`));
        } else if (custom.length > 0) {
            const counts = new Map<string, number>();
            for (const k of custom) counts.set(shortType(k.type), (counts.get(shortType(k.type)) ?? 0) + 1);
            lines.push(`${inner}${tail(0, 1)}${c.dim([...counts].map(([t, n]) => (n > 1 ? `${n} ${t}` : t)).join(", "))}`);
        }
        components.forEach((k, i) => walk(k, inner, i === components.length - 1, depth + 1));
    };
    for (const root of children.get(undefined) ?? []) walk(root, "", true, 0);
    return lines.join("\n");
}

/** Control planes by zone, and whether losing any one zone keeps etcd quorum. */
export function renderLayout(run: ProgramRun, c: Colors): string {
    const nodes = run.resources.filter((r) => r.type === "aws:ec2/instance:Instance" && (unwrapSecrets(r.inputs) as any).tags?.["k8s-ha/role"] === "control-plane");
    if (nodes.length === 0) return c.red("no control-plane instances");
    const table = new Table({ head: ["node", "zone", "subnet", "instance type", "private IP"], style: { head: [], border: [] },
        chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" } });
    const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
    for (const n of nodes) {
        const i = unwrapSecrets(n.inputs) as Record<string, unknown>;
        const subnet = (n.propertyDependencies.subnetId ?? []).map((u) => byUrn.get(u)?.name)[0] ?? String(i.subnetId);
        const ip = (n.outputs as Record<string, unknown>).privateIp;
        table.push([n.name, String(i.availabilityZone), subnet, String(i.instanceType), typeof ip === "string" && !isUnknownValue(ip) ? ip : c.dim("(known after up)")]);
    }
    const perZone = new Map<string, number>();
    for (const n of nodes) {
        const z = String((unwrapSecrets(n.inputs) as any).availabilityZone);
        perZone.set(z, (perZone.get(z) ?? 0) + 1);
    }
    const count = nodes.length;
    const quorum = Math.floor(count / 2) + 1;
    const worstZone = Math.max(...perZone.values());
    const survives = count - worstZone >= quorum;
    const spread = [...perZone].map(([z, k]) => `${z}=${k}`).join(" ");
    const verdict = survives
        ? c.green(`survives the loss of any one zone (${count - worstZone} of ${count} left, quorum ${quorum})`)
        : c.red(`losing ${[...perZone].find(([, k]) => k === worstZone)![0]} leaves ${count - worstZone} of ${count}, below quorum ${quorum}`);
    return `${table.toString()}\n${count} control planes, etcd quorum ${quorum}, tolerates ${count - quorum} failure${count - quorum === 1 ? "" : "s"}; zones ${spread}\n${verdict}`;
}

/**
 * Remote commands in dependency order: steps that may run together share a line. Hooks (a no-op
 * create with an update or delete script) run only on change or removal and are listed apart.
 */
export function renderBootstrapOrder(run: ProgramRun, c: Colors): string | undefined {
    const commands = run.resources.filter((r) => r.type === "command:remote:Command");
    if (commands.length === 0) return undefined;
    const isHook = (r: RecordedResource) => r.inputs.create === "true";
    const steps = commands.filter((r) => !isHook(r));
    const byUrn = new Map(steps.map((r) => [r.urn, r]));
    const level = new Map<string, number>();
    const depth = (r: RecordedResource): number => {
        const known = level.get(r.urn);
        if (known !== undefined) return known;
        const deps = [...new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()])].map((u) => byUrn.get(u)).filter((d): d is RecordedResource => !!d);
        const d = deps.length === 0 ? 0 : Math.max(...deps.map(depth)) + 1;
        level.set(r.urn, d);
        return d;
    };
    steps.forEach(depth);
    const groups = new Map<number, string[]>();
    for (const r of steps) groups.set(level.get(r.urn)!, [...(groups.get(level.get(r.urn)!) ?? []), r.name]);
    const lines = [...groups.keys()].sort((a, b) => a - b).map((k, i) => {
        const names = groups.get(k)!;
        return `${c.bold(String(i + 1).padStart(2))}. ${names.join(", ")}${names.length > 1 ? c.dim("  (in parallel)") : ""}`;
    });
    const hooks = commands.filter(isHook);
    const onUpdate = hooks.filter((r) => r.inputs.update !== undefined).map((r) => r.name);
    const onDelete = hooks.filter((r) => r.inputs.delete !== undefined).map((r) => r.name);
    if (onUpdate.length) lines.push(`${c.dim("on certificate change, one node at a time:")} ${onUpdate.join(" → ")}`);
    if (onDelete.length) lines.push(`${c.dim("on node removal (drain, kubeadm reset, quorum guard):")} ${onDelete.join(", ")}`);
    return lines.join("\n");
}

export function renderViolations(violations: readonly Violation[], c: Colors): string {
    if (violations.length === 0) return c.green("no policy violations");
    const out: string[] = [];
    for (const level of ["mandatory", "advisory"]) {
        const group = violations.filter((v) => v.enforcementLevel === level);
        if (group.length === 0) continue;
        const paint = level === "mandatory" ? c.red : c.yellow;
        out.push(paint(c.bold(`${level} (${group.length})`)));
        const byPolicy = new Map<string, Violation[]>();
        for (const v of group) byPolicy.set(v.policy, [...(byPolicy.get(v.policy) ?? []), v]);
        for (const [policy, vs] of byPolicy) {
            out.push(`  ${paint("✗")} ${c.bold(policy)}`);
            for (const v of vs) {
                const message = v.message.split("\n").filter(Boolean);
                out.push(`      ${c.dim(nameOf(v.urn))}: ${message[message.length - 1]}`);
            }
        }
    }
    return out.join("\n");
}
