// The bootstrap as one table: every remote command the Bootstrap component runs on the nodes, in
// the order it registers them, with the nodes it is about, when it runs, what it waits for and how
// its scripts are built. components/bootstrap.ts builds the commands from it, and the offline plan
// (tools/plan/report.ts) prints the bootstrap order from it.
import * as pulumi from "@pulumi/pulumi";
import {
    asRemoteCommand,
    renderCertRenewalInstallScript,
    renderEtcdBackupInstallScript,
    renderEtcdBackupScript,
    renderEtcdBackupUnits,
    renderEtcdRestoreScript,
    renderFirstControlPlaneScript,
    renderJoinScript,
    renderPlacePkiScript,
    renderPrepareScript,
    renderResetScript,
    renderRolloutGateScript,
    renderRotateScript,
    renderUpgradeScript,
    renderWorkerJoinTokenScript,
    renderWorkerRemoveDrainScript,
    renderWorkerRemoveNodeScript,
    renderWorkerUpgradeDrainScript,
    renderWorkerUpgradeUncordonScript,
    type ClusterSpec,
    type NodeSpec,
    type ScriptOptions,
} from "./kubeadm";

/** When a step's command does something: at creation, when its inputs change, at removal. */
export type StepWhen = "create" | "change" | "removal";

/**
 * The nodes a step is about, one command each, named `<node>-<action>`: control planes in order
 * (node 0 runs `kubeadm init`), then workers.
 */
export type StepNodes = "every node" | "control planes" | "node 0" | "control planes after node 0" | "workers";

/**
 * Another step's command this one waits for: the step (the first of the actions that the node has),
 * and whose: the same node's, the previous node's in its pool (none for the first, unless `orElse`
 * says what instead), the last control plane's, or every control plane's.
 */
export interface StepRef {
    readonly step: string | readonly string[];
    readonly node: "same" | "previous" | "last control plane" | "every control plane";
    readonly orElse?: StepRef;
}

/** Resources from outside the bootstrap a step waits for (BootstrapArgs; `instance` is the node's). */
export type ExternalRef = "instance" | "egressPath" | "apiListener" | "accessPath" | "etcdBackup";

export type StepDependency = StepRef | { readonly external: ExternalRef };

/** A step's command texts; a step whose stdin carries secrets (all of them here) logs nothing. */
export interface StepCommands {
    readonly create?: pulumi.Input<string>;
    readonly update?: pulumi.Input<string>;
    readonly delete?: pulumi.Input<string>;
    readonly stdin?: pulumi.Input<string>;
}

/** What a step's script builder works with (components/bootstrap.ts makes it, per node). */
export interface StepContext {
    /** The node the step is about, and its place in its pool. */
    readonly node: { readonly name: string; readonly index: number };
    readonly options?: ScriptOptions;
    /** A script of this node from the cluster's and the node's facts. */
    script(render: (c: ClusterSpec, n: NodeSpec) => string): pulumi.Output<string>;
    /** A script from the node's facts only (no load balancer name: nothing waits for it). */
    nodeScript(render: (n: NodeSpec) => string): pulumi.Output<string>;
    /** A script from the cluster's and the node's facts and the CA's discovery hash. */
    joinScript(render: (c: ClusterSpec, n: NodeSpec, hash: string) => string): pulumi.Output<string>;
    /** node 0's `init`: also the other control planes' addresses. */
    firstControlPlaneScript(
        render: (c: ClusterSpec, n: NodeSpec, hash: string, others: string[]) => string,
    ): pulumi.Output<string>;
    /** The etcd backup's install script: also every member and the node's upload target. */
    backupScript(
        render: (
            c: ClusterSpec,
            n: NodeSpec,
            members: NodeSpec[],
            target: string,
            backup: { schedule: string; region: string },
        ) => string,
    ): pulumi.Output<string>;
    /** The node's certificates' fingerprint (control planes). */
    certificateFingerprint(): pulumi.Output<string>;
    /** The admin kubeconfig, as stdin for node 0's kubectl. */
    adminStdin(): pulumi.Output<string>;
    /** The cluster's bootstrap token and the admin kubeconfig (init, control-plane joins). */
    joinStdin(): pulumi.Output<string>;
    /** The control plane's PKI files. */
    pkiStdin(): pulumi.Output<string>;
    /** The worker's own bootstrap token (made once per worker), with the admin kubeconfig or alone. */
    workerToken(withKubeconfig: boolean): pulumi.Output<string>;
    /** What the rollout gate of this control plane watches. */
    rollout(): { instanceType: string; replaceTrigger?: string };
}

export interface BootstrapStep {
    /** The resource name's suffix: `<node>-<action>`. */
    readonly action: string;
    readonly nodes: StepNodes;
    /** Where the command runs: on the node itself, or on node 0 (it holds the admin credential). */
    readonly runsOn: "node" | "node 0";
    /** When it does something (a no-op `true` at creation is not "create"). */
    readonly when: readonly StepWhen[];
    /** When a step that runs on a change runs, as the plan says it (steps with one note form one line). */
    readonly note?: string;
    /** What it waits for, in this order. */
    readonly after: readonly StepDependency[];
    /**
     * Consecutive steps of one group are registered node by node (a worker's drain, upgrade and
     * uncordon before the next worker's), so that a step may wait for the previous node's step
     * of a later row.
     */
    readonly group?: string;
    /** Only with this part of BootstrapArgs set. */
    readonly only?: "etcdBackup";
    /** Replaced (after a delete) with the instance of the node it is about. */
    readonly goesWithNode?: boolean;
    /** Protected with the control planes (`protect`). */
    readonly protectedWithControlPlanes?: boolean;
    readonly commands: (ctx: StepContext) => StepCommands;
}

const member = ["init", "join"] as const;
const accessPath = { external: "accessPath" } as const;

/** The steps, in the order their commands are registered (node by node within a step). */
export const BOOTSTRAP_STEPS: readonly BootstrapStep[] = [
    // Every node in parallel: packages, kernel settings, containerd. No Kubernetes version:
    // kubelet/kubeadm/kubectl come from the node's upgrade step. apt waits for the egress path.
    {
        action: "prepare",
        nodes: "every node",
        runsOn: "node",
        when: ["create"],
        after: [{ external: "instance" }, { external: "egressPath" }],
        commands: (x) => ({ create: x.script((c, n) => renderPrepareScript(c, n, x.options)) }),
    },
    // kubelet/kubeadm/kubectl at kubernetesVersion, one node after another: control planes from
    // node 0, then workers. Before a node joins, the first install; on a joined node, when
    // kubernetesVersion changes, `kubeadm upgrade apply` on node 0, then `kubeadm upgrade node` on
    // each other node (each script refuses a skipped minor or a downgrade, judged against the live
    // cluster, and is a no-op on a node already at the version). Only these scripts (and a worker's
    // drain and uncordon around its upgrade) carry the version, so a version bump updates these
    // steps and nothing else. A node added in the same `pulumi up` as a bump installs after every
    // node before it was upgraded, so it never joins with a kubelet newer than the control plane.
    {
        action: "upgrade",
        nodes: "control planes",
        runsOn: "node",
        when: ["create", "change"],
        note: "when kubernetesVersion changes, one node at a time",
        after: [
            { step: "prepare", node: "same" },
            { step: "upgrade", node: "previous" },
        ],
        commands: (x) => ({
            create: x.script((c, n) => renderUpgradeScript(c, n, { first: x.node.index === 0 }, x.options)),
            stdin: x.adminStdin(),
        }),
    },
    // Control planes: the PKI files, then init on node 0 and joins strictly one at a time (etcd
    // admits one learner at a time).
    {
        action: "place-pki",
        group: "members",
        nodes: "control planes",
        runsOn: "node",
        when: ["create", "change"],
        note: "when a certificate changes",
        after: [{ step: "prepare", node: "same" }],
        commands: (x) => ({ create: asRemoteCommand(renderPlacePkiScript(x.options)), stdin: x.pkiStdin() }),
    },
    // init, or join if node 0 was replaced while the others kept the cluster. It probes the other
    // control planes directly, so it carries their addresses: a replaced control plane re-runs it
    // once (node 0 finds itself initialised). `kubeadm init` waits for the API through the load
    // balancer, so the listener must exist first.
    {
        action: "init",
        group: "members",
        nodes: "node 0",
        runsOn: "node",
        when: ["create"],
        after: [{ step: "place-pki", node: "same" }, { step: "upgrade", node: "same" }, { external: "apiListener" }],
        commands: (x) => ({
            create: x.firstControlPlaneScript((c, n, hash, others) =>
                renderFirstControlPlaneScript(c, n, hash, others, x.options),
            ),
            stdin: x.joinStdin(),
        }),
    },
    {
        action: "join",
        group: "members",
        nodes: "control planes after node 0",
        runsOn: "node",
        when: ["create"],
        after: [
            { step: "place-pki", node: "same" },
            { step: "upgrade", node: "same" },
            { step: member, node: "previous" },
        ],
        commands: (x) => ({
            create: x.joinScript((c, n, hash) => renderJoinScript(c, n, hash, x.options)),
            stdin: x.joinStdin(),
        }),
    },
    // When a node's certificates change, place-pki rewrites them (all nodes at once, harmless) and
    // this restarts the node's static pods, one node at a time. The certificates' fingerprint is
    // part of the command text, so a re-issued certificate is an update, which runs `update`.
    // `triggers` would not do: the SDK sets replaceOnChanges on them, and a replacement runs only
    // the no-op create.
    {
        action: "rotate",
        nodes: "control planes",
        runsOn: "node",
        when: ["change"],
        note: "when a certificate changes",
        after: [
            { step: member, node: "last control plane" },
            { step: member, node: "same" },
            { step: "rotate", node: "previous" },
        ],
        commands: (x) => ({
            create: "true",
            update: pulumi
                .all([x.script((c, n) => renderRotateScript(c, n, x.options)), x.certificateFingerprint()])
                .apply(([command, fingerprint]) => `${command} # certificates ${fingerprint}`),
        }),
    },
    // On every control plane once it has joined: a weekly timer that renews kubeadm's own client
    // certificates before they expire, between `pulumi up` runs.
    {
        action: "cert-renewal",
        nodes: "control planes",
        runsOn: "node",
        when: ["create"],
        after: [{ step: member, node: "same" }],
        commands: (x) => ({ create: x.script((c, n) => renderCertRenewalInstallScript(c, n, x.options)) }),
    },
    // The workers' upgrades, each between a drain and an uncordon that run on node 0 only when the
    // version changes (at creation they do nothing: "true"); the chain goes on from the last
    // control plane's upgrade.
    {
        action: "upgrade-drain",
        group: "worker upgrades",
        nodes: "workers",
        runsOn: "node 0",
        when: ["change"],
        note: "when kubernetesVersion changes, one node at a time",
        after: [
            { step: "upgrade-uncordon", node: "previous", orElse: { step: "upgrade", node: "last control plane" } },
        ],
        commands: (x) => ({
            create: "true",
            update: x.script((c, w) => renderWorkerUpgradeDrainScript(c, w, x.options)),
            stdin: x.adminStdin(),
        }),
    },
    {
        action: "upgrade",
        group: "worker upgrades",
        nodes: "workers",
        runsOn: "node",
        when: ["create", "change"],
        note: "when kubernetesVersion changes, one node at a time",
        after: [
            { step: "prepare", node: "same" },
            { step: "upgrade-drain", node: "same" },
        ],
        commands: (x) => ({ create: x.script((c, n) => renderUpgradeScript(c, n, { first: false }, x.options)) }),
    },
    {
        action: "upgrade-uncordon",
        group: "worker upgrades",
        nodes: "workers",
        runsOn: "node 0",
        when: ["change"],
        note: "when kubernetesVersion changes, one node at a time",
        after: [{ step: "upgrade", node: "same" }],
        commands: (x) => ({
            create: "true",
            update: x.script((c, w) => renderWorkerUpgradeUncordonScript(c, w, x.options)),
            stdin: x.adminStdin(),
        }),
    },
    // Workers, after the whole control plane, in parallel with each other. Each joins with its own
    // bootstrap token, which its join-token step makes on node 0 in parallel with the join and
    // deletes once the Node is registered. A failed join leaves its join-token step failed as well,
    // so the next `pulumi up` runs both again and the join gets a fresh token; a replaced worker
    // gets a new join-token step (it goes with the node) and so a fresh token too.
    {
        action: "join-token",
        group: "worker joins",
        nodes: "workers",
        runsOn: "node 0",
        when: ["create"],
        goesWithNode: true,
        after: [
            { step: "upgrade", node: "same" },
            { step: member, node: "last control plane" },
        ],
        commands: (x) => ({
            create: x.script((c, w) => renderWorkerJoinTokenScript(c, w, x.options)),
            stdin: x.workerToken(true),
        }),
    },
    {
        action: "join",
        group: "worker joins",
        nodes: "workers",
        runsOn: "node",
        when: ["create"],
        after: [
            { step: "upgrade", node: "same" },
            { step: member, node: "last control plane" },
        ],
        commands: (x) => ({
            create: x.joinScript((c, n, hash) => renderJoinScript(c, n, hash, x.options)),
            stdin: x.workerToken(false),
        }),
    },
    // Removal: deleting a node (or replacing it) drains it and runs `kubeadm reset` first, which
    // removes its etcd member; the script refuses when that would break quorum. The hooks depend on
    // the joins, so Pulumi runs them before anything the join needed, and on the whole access path
    // (a destroy deletes dependents first: every hook runs before any rule, route, NAT gateway,
    // attachment, listener or the bastion goes). They are chained so that a teardown removes
    // workers first, then control planes from the last to node 0, one at a time. A replaced
    // instance takes its hooks with it, deleted before its replacement exists: the OLD node leaves
    // the cluster before the new one joins under the same name (components/rollout.ts); without
    // that the hook would merely be updated to point at the new instance and the old member would
    // stay in etcd. A protected control plane's hook is protected too: the engine goes on past a
    // refused delete, and an unprotected hook would remove the node from the cluster before its
    // protected instance's delete is refused (README runbooks).
    {
        action: "reset",
        nodes: "control planes",
        runsOn: "node",
        when: ["removal"],
        goesWithNode: true,
        protectedWithControlPlanes: true,
        after: [{ step: member, node: "same" }, { step: "reset", node: "previous" }, accessPath],
        commands: (x) => ({
            create: "true",
            delete: x.script((c, n) => renderResetScript(c, n, x.options)),
            stdin: x.adminStdin(),
        }),
    },
    // A worker goes in three hooks, deleted in this order (each depends on the next): node 0 drains
    // it, the worker resets itself (kubeadm reset stops its kubelet), node 0 deletes its Node.
    {
        action: "remove-node",
        group: "worker removal",
        nodes: "workers",
        runsOn: "node 0",
        when: ["removal"],
        goesWithNode: true,
        after: [{ step: "join", node: "same" }, { step: "reset", node: "every control plane" }, accessPath],
        commands: (x) => ({
            create: "true",
            delete: x.script((c, w) => renderWorkerRemoveNodeScript(c, w, x.options)),
            stdin: x.adminStdin(),
        }),
    },
    {
        action: "reset",
        group: "worker removal",
        nodes: "workers",
        runsOn: "node",
        when: ["removal"],
        goesWithNode: true,
        after: [{ step: "remove-node", node: "same" }],
        commands: (x) => ({ create: "true", delete: x.script((c, n) => renderResetScript(c, n, x.options)) }),
    },
    {
        action: "remove-drain",
        group: "worker removal",
        nodes: "workers",
        runsOn: "node 0",
        when: ["removal"],
        goesWithNode: true,
        after: [{ step: "reset", node: "same" }],
        commands: (x) => ({
            create: "true",
            delete: x.script((c, w) => renderWorkerRemoveDrainScript(c, w, x.options)),
            stdin: x.adminStdin(),
        }),
    },
    // Rollout gates (components/rollout.ts): nothing at creation; when a control plane's instance
    // changes (type, replacement), wait until it is joined and healthy again before the next
    // control plane's instance may change (the pool's instances depend on these). Node facts only:
    // the gate (and the next instance, which waits for it) must not wait for the load balancer.
    {
        action: "rollout-gate",
        nodes: "control planes",
        runsOn: "node",
        when: ["change"],
        note: "when an instance changes, before the next one may",
        after: [{ external: "instance" }],
        commands: (x) => ({ update: x.nodeScript((n) => renderRolloutGateScript(n, x.rollout(), x.options)) }),
    },
    // etcd backups: on every control plane once it has joined, a systemd timer that snapshots the
    // local member and uploads it; the restore script for the runbook goes with it.
    {
        action: "etcd-backup",
        nodes: "control planes",
        runsOn: "node",
        when: ["create"],
        only: "etcdBackup",
        after: [{ step: member, node: "same" }, { external: "etcdBackup" }],
        commands: (x) => ({
            create: x.backupScript((c, n, all, target, backup) => {
                const backupScript = renderEtcdBackupScript(c, n, { uploadTarget: target, region: backup.region });
                const restoreScript = renderEtcdRestoreScript(c, all, n, x.options);
                const units = renderEtcdBackupUnits(n, backup.schedule, target);
                return asRemoteCommand(
                    renderEtcdBackupInstallScript(c, n, {
                        backupScript,
                        restoreScript,
                        units,
                        schedule: backup.schedule,
                        uploadTarget: target,
                    }),
                );
            }),
        }),
    },
];

/** The names of the nodes a step is about, from the pools' node names in order. */
export function stepNodes(
    nodes: StepNodes,
    controlPlanes: readonly string[],
    workers: readonly string[],
): readonly string[] {
    switch (nodes) {
        case "every node":
            return [...controlPlanes, ...workers];
        case "control planes":
            return controlPlanes;
        case "node 0":
            return controlPlanes.slice(0, 1);
        case "control planes after node 0":
            return controlPlanes.slice(1);
        case "workers":
            return workers;
    }
}

/** One command of the table: its step, the node it is about, and the commands it waits for. */
export interface PlannedStep {
    readonly step: BootstrapStep;
    /** The node it is about (a worker for the steps node 0 runs about a worker). */
    readonly node: string;
    /** Its resource name. */
    readonly name: string;
    /** What it waits for, in order: other planned steps' names, or outside resources. */
    readonly after: readonly ({ step: string } | { external: ExternalRef })[];
}

/**
 * The table for these pools: every command in registration order with its dependencies resolved.
 * Pure: the Bootstrap component registers exactly this, and the plan prints it.
 */
export function planSteps(
    controlPlanes: readonly string[],
    workers: readonly string[],
    enabled: { etcdBackup: boolean },
): PlannedStep[] {
    const planned: PlannedStep[] = [];
    const byNode = new Map<string, string>(); // "<node>/<action>" -> resource name
    const poolOf = (node: string) => (controlPlanes.includes(node) ? controlPlanes : workers);
    const resolve = (ref: StepRef, node: string): string[] => {
        const actions = typeof ref.step === "string" ? [ref.step] : ref.step;
        const of = (n: string) => actions.map((a) => byNode.get(`${n}/${a}`)).find((x) => x !== undefined);
        const found = (names: (string | undefined)[]) => names.filter((x): x is string => x !== undefined);
        switch (ref.node) {
            case "same":
                return found([of(node)]);
            case "last control plane":
                return found([of(controlPlanes[controlPlanes.length - 1])]);
            case "every control plane":
                return found(controlPlanes.map(of));
            case "previous": {
                const pool = poolOf(node);
                const i = pool.indexOf(node);
                if (i > 0) return found([of(pool[i - 1])]);
                return ref.orElse ? resolve(ref.orElse, node) : [];
            }
        }
    };
    const steps = BOOTSTRAP_STEPS.filter((step) => !(step.only === "etcdBackup" && !enabled.etcdBackup));
    for (let i = 0; i < steps.length;) {
        let j = i + 1;
        while (steps[i].group && j < steps.length && steps[j].group === steps[i].group) j++;
        const group = steps.slice(i, j);
        const nodesOf = new Map(group.map((step) => [step, stepNodes(step.nodes, controlPlanes, workers)]));
        for (const node of [...controlPlanes, ...workers]) {
            for (const step of group.filter((s) => nodesOf.get(s)!.includes(node))) {
                const name = `${node}-${step.action}`;
                const after = step.after.flatMap((d): PlannedStep["after"][number][] =>
                    "external" in d ? [{ external: d.external }] : resolve(d, node).map((s) => ({ step: s })),
                );
                planned.push({ step, node, name, after });
                byNode.set(`${node}/${step.action}`, name);
            }
        }
        i = j;
    }
    return planned;
}
