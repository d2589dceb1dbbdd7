// The offline plan's human output: the resource tree by component, the control-plane layout,
// the bootstrap order, and policy violations grouped by level. Pure: data in, text out.
import Table from "cli-table3";
import { createColors } from "picocolors";
import type { ProgramRun, RecordedResource } from "../harness/program";
import { unwrapSecrets, isUnknownValue } from "../harness/values";
import { planSteps, type PlannedStep } from "../../components/bootstrapSteps";
import { TYPES } from "../../policies/lib/contract";

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
            custom.forEach((k, i) =>
                lines.push(
                    `${inner}${tail(i, custom.length)}${k.name} ${c.dim(shortType(k.type))}${k.protect ? c.yellow(" [protected]") : ""}`,
                ),
            );
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
            wrapped.forEach((w, k) =>
                lines.push(
                    `${inner}${k === 0 ? first : first === "└─ " ? "   " : "│  "}${c.dim(w + (k < wrapped.length - 1 ? "," : ""))}`,
                ),
            );
        }
        components.forEach((k, i) => walk(k, inner, i === components.length - 1, depth + 1));
    };
    for (const root of children.get(undefined) ?? []) walk(root, "", true, 0);
    return lines.join("\n");
}

/** Control planes by zone, and whether losing any one zone keeps etcd quorum. */
export function renderLayout(run: ProgramRun, c: Colors): string {
    const nodes = run.resources.filter(
        (r) => r.type === TYPES.instance && (unwrapSecrets(r.inputs) as any).tags?.["k8s-ha/role"] === "control-plane",
    );
    if (nodes.length === 0) return c.red("no control-plane instances");
    const ipOf = (n: RecordedResource) => {
        const ip = (n.outputs as Record<string, unknown>).privateIp;
        return typeof ip === "string" && !isUnknownValue(ip) ? ip : undefined;
    };
    // In a preview every address is unknown: a column of "(known after up)" says nothing.
    const withIps = nodes.some((n) => ipOf(n) !== undefined);
    const table = new Table({
        head: ["node", "zone", "subnet", "instance type", ...(withIps ? ["private IP"] : [])],
        style: { head: [], border: [] },
        chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
    });
    const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
    for (const n of nodes) {
        const i = unwrapSecrets(n.inputs) as Record<string, unknown>;
        const subnet = (n.propertyDependencies.subnetId ?? []).map((u) => byUrn.get(u)?.name)[0] ?? String(i.subnetId);
        table.push([
            n.name,
            String(i.availabilityZone),
            subnet,
            String(i.instanceType),
            ...(withIps ? [ipOf(n) ?? c.dim("(unknown)")] : []),
        ]);
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
        : c.red(
              `losing ${[...perZone].find(([, k]) => k === worstZone)![0]} leaves ${count - worstZone} of ${count}, below quorum ${quorum}`,
          );
    return `${table.toString()}\n${count} control planes, etcd quorum ${quorum}, tolerates ${count - quorum} failure${count - quorum === 1 ? "" : "s"}; zones ${spread}\n${verdict}`;
}

/**
 * The bootstrap's commands in dependency order, from its step table (components/bootstrapSteps.ts)
 * for the recorded nodes: one line per wave of commands that run at creation ("join  cp-1");
 * commands of one wave may run together. Waits on commands that do nothing at creation still
 * order the waves. Then what runs on a change (by the table's notes) and on removal, in the
 * order it runs.
 */
export function renderBootstrapOrder(run: ProgramRun, c: Colors): string | undefined {
    const commands = new Set(run.resources.filter((r) => r.type === TYPES.remoteCommand).map((r) => r.name));
    if (commands.size === 0) return undefined;
    const cluster = run.config[`${run.project}:clusterName`];
    const short = (name: string) => (cluster && name.startsWith(`${cluster}-`) ? name.slice(cluster.length + 1) : name);
    const role = (r: RecordedResource) => (unwrapSecrets(r.inputs) as any).tags?.["k8s-ha/role"];
    const instances = run.resources.filter((r) => r.type === TYPES.instance);
    const nodes = (which: string) => instances.filter((r) => role(r) === which).map((r) => r.name);
    // Only what the program registered (no etcd-backup steps without backups, say).
    const planned = planSteps(nodes("control-plane"), nodes("worker"), { etcdBackup: true }).filter((p) =>
        commands.has(p.name),
    );
    const byName = new Map(planned.map((p) => [p.name, p]));
    const depth = new Map<string, number>();
    const depthOf = (p: PlannedStep): number => {
        const known = depth.get(p.name);
        if (known !== undefined) return known;
        const waits = p.after.flatMap((d) => ("step" in d && byName.has(d.step) ? [byName.get(d.step)!] : []));
        const d = waits.length === 0 ? 0 : Math.max(...waits.map(depthOf)) + 1;
        depth.set(p.name, d);
        return d;
    };
    /** Steps grouped by depth, shallowest first: each group may run together. */
    const waves = (steps: PlannedStep[]) =>
        [...new Set(steps.map(depthOf))].sort((x, y) => x - y).map((d) => steps.filter((p) => depthOf(p) === d));
    const label = (p: PlannedStep): CommandLabel => ({ action: p.step.action, node: short(p.node) });
    const actionOrder = [...new Set(planned.map((p) => p.step.action))];
    const lines = waves(planned.filter((p) => p.step.when.includes("create"))).map((wave, i) => {
        const text = describeGroup(wave.map(label), true, actionOrder);
        return `${c.bold(String(i + 1).padStart(2))}. ${text}${wave.length > 1 ? c.dim("   (in parallel)") : ""}`;
    });
    const chain = (groups: PlannedStep[][]) => {
        const labelled = groups.map((g) => g.map(label));
        const actions = new Set(labelled.flat().map((l) => l.action));
        return actions.size === 1
            ? `${[...actions][0]} ${labelled.map((g) => compactNames(g.map((l) => l.node!))).join(" → ")}`
            : labelled.map((g) => describeGroup(g, false, actionOrder)).join(" → ");
    };
    for (const note of [...new Set(planned.map((p) => p.step.note).filter((n): n is string => n !== undefined))]) {
        lines.push(`${c.dim(`${note}:`)} ${chain(waves(planned.filter((p) => p.step.note === note)))}`);
    }
    // A delete waits for the deletes of everything that waits for it: waves by the longest chain
    // of dependents among the removal steps.
    const removing = planned.filter((p) => p.step.when.includes("removal"));
    const height = new Map<string, number>();
    const heightOf = (p: PlannedStep): number => {
        const known = height.get(p.name);
        if (known !== undefined) return known;
        const dependents = removing.filter((q) => q.after.some((d) => "step" in d && d.step === p.name));
        const h = dependents.length === 0 ? 0 : Math.max(...dependents.map(heightOf)) + 1;
        height.set(p.name, h);
        return h;
    };
    const removal = [...new Set(removing.map(heightOf))]
        .sort((x, y) => x - y)
        .map((h) => removing.filter((p) => heightOf(p) === h));
    if (removal.length)
        lines.push(
            `${c.dim("on removal (drain, kubeadm reset, etcd quorum guard), in this order:")} ${chain(removal)}`,
        );
    return lines.join("\n");
}

interface CommandLabel {
    action: string;
    node?: string;
}

/** "prepare cp-0, cp-1, worker-0" for one action; actions of one step joined with "; ". */
function describeGroup(labels: CommandLabel[], align = true, actionOrder: string[] = []): string {
    const byAction = new Map<string, string[]>();
    const rank = (a: string) => (actionOrder.includes(a) ? actionOrder.indexOf(a) : actionOrder.length);
    const sorted = [...labels].sort(
        (x, y) =>
            rank(x.action) - rank(y.action) || (x.node ?? "").localeCompare(y.node ?? "", "en", { numeric: true }),
    );
    for (const l of sorted) byAction.set(l.action, [...(byAction.get(l.action) ?? []), ...(l.node ? [l.node] : [])]);
    return [...byAction]
        .map(([action, nodes]) =>
            nodes.length ? `${align ? action.padEnd(9) : action} ${compactNames(nodes)}` : action,
        )
        .join("; ");
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
