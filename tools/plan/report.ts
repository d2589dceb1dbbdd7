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
            // Long lists of types wrap under themselves (a reviewer reads this in an 100-column terminal).
            const items = [...counts].map(([t, n]) => (n > 1 ? `${n} ${t}` : t));
            const first = tail(0, 1);
            const width = Math.max(40, 100 - inner.length - first.length);
            const wrapped: string[] = [];
            for (const item of items) {
                const last = wrapped.length - 1;
                if (last >= 0 && wrapped[last].length + item.length + 2 <= width) wrapped[last] += `, ${item}`;
                else wrapped.push(item);
            }
            wrapped.forEach((w, k) => lines.push(`${inner}${k === 0 ? first : first === "└─ " ? "   " : "│  "}${c.dim(w + (k < wrapped.length - 1 ? "," : ""))}`));
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
    const ipOf = (n: RecordedResource) => {
        const ip = (n.outputs as Record<string, unknown>).privateIp;
        return typeof ip === "string" && !isUnknownValue(ip) ? ip : undefined;
    };
    // In a preview every address is unknown: a column of "(known after up)" says nothing.
    const withIps = nodes.some((n) => ipOf(n) !== undefined);
    const table = new Table({ head: ["node", "zone", "subnet", "instance type", ...(withIps ? ["private IP"] : [])], style: { head: [], border: [] },
        chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" } });
    const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
    for (const n of nodes) {
        const i = unwrapSecrets(n.inputs) as Record<string, unknown>;
        const subnet = (n.propertyDependencies.subnetId ?? []).map((u) => byUrn.get(u)?.name)[0] ?? String(i.subnetId);
        table.push([n.name, String(i.availabilityZone), subnet, String(i.instanceType), ...(withIps ? [ipOf(n) ?? c.dim("(unknown)")] : [])]);
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
 * Remote commands in dependency order, one line per step: the action and the nodes it runs on
 * ("join  cp-1"); steps that may run together share a line. Hooks (no create script, or a no-op
 * one, with an update or delete script) run only on change or removal and are listed apart, in
 * the order they would run.
 */
export function renderBootstrapOrder(run: ProgramRun, c: Colors): string | undefined {
    const commands = run.resources.filter((r) => r.type === "command:remote:Command");
    if (commands.length === 0) return undefined;
    const cluster = run.config[`${run.project}:clusterName`];
    const label = commandLabeller(run, cluster);
    const isHook = (r: RecordedResource) => r.inputs.create === undefined || r.inputs.create === "true";
    const steps = commands.filter((r) => !isHook(r));
    const actionOrder = [...new Set(levelsOf(steps).flat().map((r) => label(r).action))];
    const lines = levelsOf(steps).map((group, i) => {
        const text = describeGroup(group.map(label), true, actionOrder);
        return `${c.bold(String(i + 1).padStart(2))}. ${text}${group.length > 1 ? c.dim("   (in parallel)") : ""}`;
    });
    const chain = (groups: RecordedResource[][]) => {
        const labelled = groups.map((g) => g.map(label));
        const actions = new Set(labelled.flat().map((l) => l.action));
        const nodes = labelled.every((g) => g.every((l) => l.node));
        return actions.size === 1 && nodes
            ? `${[...actions][0]} ${labelled.map((g) => compactNames(g.map((l) => l.node!))).join(" → ")}`
            : labelled.map((g) => describeGroup(g, false)).join(" → ");
    };
    const hooks = commands.filter(isHook);
    // Steps that run at creation and again, as an update, when their input changes.
    for (const action of Object.keys(WHEN)) {
        const again = steps.filter((r) => label(r).action === action);
        if (again.length) lines.push(`${c.dim(`${WHEN[action]} (again):`)} ${chain(levelsOf(again))}`);
    }
    const onUpdate = hooks.filter((r) => r.inputs.update !== undefined);
    for (const action of [...new Set(onUpdate.map((r) => label(r).action))]) {
        const when = WHEN[action] ?? "when its inputs change";
        lines.push(`${c.dim(`${when}:`)} ${chain(levelsOf(onUpdate.filter((r) => label(r).action === action)))}`);
    }
    const onDelete = levelsOf(hooks.filter((r) => r.inputs.delete !== undefined)).reverse(); // deletes run dependents first
    if (onDelete.length) lines.push(`${c.dim("on removal (drain, kubeadm reset, etcd quorum guard), in this order:")} ${chain(onDelete)}`);
    return lines.join("\n");
}

/** When an update-only hook runs, by its action (a name the bootstrap gives its steps). */
const WHEN: Record<string, string> = {
    rotate: "when a certificate changes, one node at a time",
    upgrade: "when kubernetesVersion changes, one node at a time",
    "rollout-gate": "when an instance changes, before the next one may",
};

/** Groups resources by dependency depth among themselves: each group may run in parallel. */
function levelsOf(resources: RecordedResource[]): RecordedResource[][] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const level = new Map<string, number>();
    const depth = (r: RecordedResource): number => {
        const known = level.get(r.urn);
        if (known !== undefined) return known;
        level.set(r.urn, 0); // a cycle cannot be registered; this only guards the recursion
        const deps = [...new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()])].map((u) => byUrn.get(u)).filter((d): d is RecordedResource => !!d && d !== r);
        const d = deps.length === 0 ? 0 : Math.max(...deps.map(depth)) + 1;
        level.set(r.urn, d);
        return d;
    };
    resources.forEach(depth);
    const groups = new Map<number, RecordedResource[]>();
    for (const r of resources) groups.set(level.get(r.urn)!, [...(groups.get(level.get(r.urn)!) ?? []), r]);
    return [...groups.keys()].sort((a, b) => a - b).map((k) => groups.get(k)!);
}

interface CommandLabel { action: string; node?: string }

/** "k8s-prod-cp-3-join" → { action: "join", node: "cp-3" }, using the recorded instance names. */
function commandLabeller(run: ProgramRun, cluster: string | undefined): (r: RecordedResource) => CommandLabel {
    const instances = run.resources.filter((r) => r.type === "aws:ec2/instance:Instance").map((r) => r.name).sort((a, b) => b.length - a.length);
    const short = (name: string) => (cluster && name.startsWith(`${cluster}-`) ? name.slice(cluster.length + 1) : name);
    return (r) => {
        const node = instances.find((i) => r.name.startsWith(`${i}-`));
        return node ? { action: r.name.slice(node.length + 1), node: short(node) } : { action: short(r.name) };
    };
}

/** "prepare cp-0, cp-1, worker-0" for one action; actions of one step joined with "; ". */
function describeGroup(labels: CommandLabel[], align = true, actionOrder: string[] = []): string {
    const byAction = new Map<string, string[]>();
    const rank = (a: string) => (actionOrder.includes(a) ? actionOrder.indexOf(a) : actionOrder.length);
    const sorted = [...labels].sort((x, y) => rank(x.action) - rank(y.action) || (x.node ?? "").localeCompare(y.node ?? "", "en", { numeric: true }));
    for (const l of sorted) byAction.set(l.action, [...(byAction.get(l.action) ?? []), ...(l.node ? [l.node] : [])]);
    return [...byAction].map(([action, nodes]) => (nodes.length ? `${align ? action.padEnd(9) : action} ${compactNames(nodes)}` : action)).join("; ");
}

/** Lists names, collapsing long numbered runs: worker-0 … worker-99 (100). */
export function compactNames(names: string[]): string {
    const out: string[] = [];
    let i = 0;
    const parse = (n: string) => /^(.*?)(\d+)$/.exec(n);
    while (i < names.length) {
        const m = parse(names[i]);
        let j = i;
        if (m) {
            while (j + 1 < names.length) {
                const next = parse(names[j + 1]);
                if (!next || next[1] !== m[1] || Number(next[2]) !== Number(m[2]) + (j + 1 - i)) break;
                j++;
            }
        }
        const run = j - i + 1;
        out.push(run > 6 ? `${names[i]} … ${names[j]} (${run})` : names.slice(i, j + 1).join(", "));
        i = j + 1;
    }
    return out.join(", ");
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
            out.push(`  ${paint("✗")} ${c.bold(policy)}${vs.length > 1 ? c.dim(`  (${vs.length} resources)`) : ""}`);
            // The same finding on several resources reads once, with the resources listed.
            const byMessage = new Map<string, string[]>();
            for (const v of vs) {
                const lines = v.message.split("\n").filter(Boolean);
                const name = nameOf(v.urn);
                const generic = (lines[lines.length - 1] ?? "").split(name).join("\u0000");
                byMessage.set(generic, [...(byMessage.get(generic) ?? []), name]);
            }
            for (const [generic, names] of byMessage) {
                if (names.length === 1) {
                    out.push(`      ${c.dim(`${names[0]}:`)} ${generic.split("\u0000").join(names[0])}`);
                } else {
                    out.push(`      ${c.dim(`${compactNames(names)}:`)}`);
                    out.push(`        ${generic.split("\u0000").join("each")}`);
                }
            }
        }
    }
    return out.join("\n");
}
