import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    asRemoteCommand,
    joinStdin,
    placePkiStdin,
    renderFirstControlPlaneScript,
    renderEtcdBackupInstallScript,
    renderEtcdBackupScript,
    renderEtcdBackupUnits,
    renderEtcdRestoreScript,
    renderJoinScript,
    renderPlacePkiScript,
    renderPrepareScript,
    renderResetScript,
    renderCertRenewalInstallScript,
    renderRolloutGateScript,
    renderRotateScript,
    renderUpgradeScript,
    renderWorkerJoinTokenScript,
    renderWorkerRemoveDrainScript,
    renderWorkerRemoveNodeScript,
    renderWorkerUpgradeDrainScript,
    renderWorkerUpgradeUncordonScript,
    adminStdin,
    tokenStdin,
    type ClusterSpec,
    type NodeRole,
    awsProviderId,
    type NodeSpec,
    type ScriptOptions,
} from "./kubeadm";
import { resolveClusterSpec, type ClusterSpecInput } from "./apiEndpoint";
import { newBootstrapToken } from "./bootstrapToken";
import type { PoolNode } from "./nodePool";
import type { ClusterPki } from "./pki";

/** Ubuntu cloud images' login user. */
export const SSH_USER = "ubuntu";

/** Failed SSH dials a step tolerates, to the bastion and through it to the node (about 5 minutes). */
export const SSH_DIAL_ERROR_LIMIT = 70;

export interface BootstrapArgs {
    /** Cluster facts the scripts render from; `apiEndpointHost` is the API's name (components/apiEndpoint.ts). */
    cluster: ClusterSpecInput;
    /** Control planes in order: node 0 runs `kubeadm init`, the others join one at a time. */
    controlPlanes: readonly PoolNode[];
    /** Workers join after every control plane, in parallel with each other. */
    workers: readonly PoolNode[];
    /** The SSH jump host's public address. */
    bastionHost: pulumi.Input<string>;
    /** The cluster's SSH private key (secret). */
    sshPrivateKey: pulumi.Input<string>;
    /** Token, discovery hash, admin kubeconfig and every control plane's files (control planes only). */
    pki: ClusterPki;
    /** `kubeadm init` waits for the API through the load balancer, so the listener must exist first. */
    apiListener: pulumi.Resource;
    /**
     * What a reset hook needs to reach its node and the API: the bastion, security-group rules,
     * routes and NAT, the load balancer's listener and attachments. The hooks depend on all of it,
     * so that a destroy (which deletes dependents first) runs every hook before any of it goes.
     */
    accessPath?: readonly pulumi.Resource[];
    /**
     * What a node needs before its first command: SSH in through the bastion, and out to the
     * package mirrors (security-group rules, route tables and their associations, NAT gateways).
     * prepare waits for it, so that apt never runs before the private subnet's route to the NAT.
     */
    egressPath?: readonly pulumi.Resource[];
    /** Protect the control planes' reset hooks with their instances (`protect`). */
    protectControlPlanes?: boolean;
    /** Waits and timeouts of the scripts. */
    scriptOptions?: ScriptOptions;
    /** etcd backups: a timer on every control plane, installed once the node has joined. */
    etcdBackup?: {
        /** Where a node's snapshots go (s3://<bucket>/<cluster>/<node>). */
        uploadTarget: (node: string) => pulumi.Input<string>;
        /** systemd OnCalendar expression. */
        schedule: string;
        /** The bucket's region. */
        region: string;
        /** The bucket, its policies and the upload permission. */
        dependsOn: pulumi.Resource[];
    };
    /** What the control planes' rollout gates watch (components/rollout.ts). */
    rollout?: {
        instanceType: string;
        replaceTriggers: Readonly<Record<string, string>>;
    };
}

/**
 * kubeadm over SSH through the bastion, one remote.Command per step:
 * prepare every node in parallel; kubelet/kubeadm at kubernetesVersion one node after another
 * (installed before a node joins, upgraded when the version changes); place each control plane's
 * PKI; `kubeadm init` on node 0;
 * `kubeadm join --control-plane` strictly one node after another (etcd admits one learner at a
 * time); workers after the control planes; `kubeadm reset` when a node goes away; and on a
 * certificate change, a rotation that restarts one node's static pods at a time.
 * Secrets (token, keys, kubeconfig) travel on stdin, never in a command line, and commands that
 * handle them log nothing. The admin kubeconfig goes to control planes only: a worker receives its
 * own bootstrap token and nothing else, and whatever needs a cluster credential about a worker
 * (its token, drains, uncordon, Node deletion) runs on node 0 (components/kubeadm/workers.ts).
 */
export class Bootstrap extends pulumi.ComponentResource {
    /** The last control-plane step: the control plane is complete once it is done. */
    readonly controlPlaneReady: pulumi.Resource;
    /** Every step, for dependents (add-ons wait for all of them). */
    readonly steps: readonly command.remote.Command[];
    /** Per control plane, in order: holds the next control plane's instance change until this one is back. */
    readonly rolloutGates: readonly command.remote.Command[];
    /** The upgrade steps in the order they run: control planes from node 0, then workers. */
    readonly upgrades: readonly command.remote.Command[];
    /** Per control plane: the installation of the weekly renewal of kubeadm's client certificates. */
    readonly certRenewals: readonly command.remote.Command[];
    /** Per control plane: the etcd backup timer's installation. */
    readonly etcdBackups: readonly command.remote.Command[];
    /**
     * Per control plane: its reset hook (runs on delete). Whatever talks to the API through the
     * cluster (the add-ons) depends on these, so a destroy removes it before any control plane
     * leaves.
     */
    readonly controlPlaneResets: readonly command.remote.Command[];

    constructor(name: string, args: BootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:bootstrap:Bootstrap", name, {}, opts);
        const steps: command.remote.Command[] = [];
        const o = args.scriptOptions;
        const token = args.pki.bootstrapToken;
        const kubeconfig = args.pki.adminKubeconfig;
        // Every step renders from it, so every step waits for the API's name (its record and guard).
        const spec = resolveClusterSpec(args.cluster);
        const key = pulumi.secret(args.sshPrivateKey);
        const connection = (node: PoolNode) => ({
            host: node.instance.privateIp,
            user: SSH_USER,
            privateKey: key,
            // Instances take a minute or more to boot and start sshd. The provider waits 100 ms after
            // a failed dial, 1.5 times longer after each next one, at most 5 s: 70 refused dials
            // wait about 5 minutes (30 waited under 2); dials that time out add 10 s each.
            dialErrorLimit: SSH_DIAL_ERROR_LIMIT,
            perDialTimeout: 10,
            proxy: { host: args.bastionHost, user: SSH_USER, privateKey: key, dialErrorLimit: SSH_DIAL_ERROR_LIMIT, perDialTimeout: 10 },
        });
        const nodeSpec = (node: PoolNode, role: NodeRole) => pulumi.all([node.instance.privateIp, node.instance.id])
            .apply(([ip, id]): NodeSpec => ({ name: node.name, privateIp: ip, role, providerId: awsProviderId(node.zone, id) }));
        const script = (node: PoolNode, role: NodeRole, render: (c: ClusterSpec, n: NodeSpec) => string) =>
            pulumi.all([spec, nodeSpec(node, role)]).apply(([c, n]) => asRemoteCommand(render(c, n)));
        const step = (resourceName: string, node: PoolNode, args: Omit<command.remote.CommandArgs, "connection">, dependsOn: pulumi.Input<pulumi.Resource>[], secret = false, extra: pulumi.CustomResourceOptions = {}) => {
            const cmd = new command.remote.Command(resourceName, {
                connection: connection(node),
                ...args,
                ...(secret ? { logging: "none" } : {}),
            }, {
                parent: this,
                dependsOn,
                ...(secret ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}),
                ...extra,
            });
            steps.push(cmd);
            return cmd;
        };

        // Whatever needs a cluster credential about a worker runs on node 0, with the admin
        // kubeconfig on stdin: it never goes to a worker.
        const adminNode = args.controlPlanes[0];
        const adminStdin$ = kubeconfig.apply(adminStdin);
        const forWorker = (worker: PoolNode, render: (c: ClusterSpec, w: NodeSpec) => string) =>
            pulumi.all([spec, nodeSpec(worker, "worker")]).apply(([c, w]) => asRemoteCommand(render(c, w)));

        // 1. Every node in parallel: packages, kernel settings, containerd. No Kubernetes version:
        // kubelet/kubeadm/kubectl come from the node's upgrade step (2.).
        const prepared = new Map<string, command.remote.Command>();
        for (const [role, nodes] of [["control-plane", args.controlPlanes], ["worker", args.workers]] as const) {
            for (const node of nodes) {
                prepared.set(node.name, step(`${node.name}-prepare`, node, { create: script(node, role, (c, n) => renderPrepareScript(c, n, o)) }, [node.instance, ...(args.egressPath ?? [])]));
            }
        }

        // 2. kubelet/kubeadm/kubectl at kubernetesVersion, one node after another: control planes
        // from node 0, then workers (after 3., below). On a node that has not joined, the first
        // install (before its init or join); on a joined node, when kubernetesVersion changes,
        // `kubeadm upgrade apply` on node 0, then `kubeadm upgrade node` on each other node (each
        // script refuses a skipped minor or a downgrade, judged against the live cluster, and is a
        // no-op on a node already at the version). Only these scripts (and a worker's drain and
        // uncordon around its upgrade) carry the version (init and rotate read the installed
        // kubeadm's), so a version bump updates these steps and nothing else. A node added in the
        // same `pulumi up` as a bump installs after every node before it was upgraded, so it never
        // joins with a kubelet newer than the control plane.
        const upgrades: command.remote.Command[] = [];
        const kubeadm = new Map<string, command.remote.Command>();
        let chainEnd: command.remote.Command | undefined;
        const upgrade = (node: PoolNode, role: NodeRole, first: boolean, after: command.remote.Command[]) => {
            const cmd = step(`${node.name}-upgrade`, node, {
                create: script(node, role, (c, n) => renderUpgradeScript(c, n, { first }, o)),
                ...(role === "control-plane" ? { stdin: adminStdin$ } : {}),
            }, [prepared.get(node.name)!, ...after], role === "control-plane");
            upgrades.push(cmd);
            kubeadm.set(node.name, cmd);
            return cmd;
        };
        args.controlPlanes.forEach((node, i) => {
            chainEnd = upgrade(node, "control-plane", i === 0, chainEnd ? [chainEnd] : []);
        });
        this.upgrades = upgrades;

        // 3. Control planes: the PKI files, then init on node 0 and joins one at a time.
        let previous: command.remote.Command | undefined;
        const members: command.remote.Command[] = [];
        args.controlPlanes.forEach((node, i) => {
            const placed = step(`${node.name}-place-pki`, node, {
                create: asRemoteCommand(renderPlacePkiScript(o)),
                stdin: args.pki.controlPlaneFiles[node.name].apply((files) => placePkiStdin(files)),
            }, [prepared.get(node.name)!], true);
            const member = i === 0
                ? step(`${node.name}-init`, node, {
                    // init, or join if node 0 was replaced while the others kept the cluster.
                    // It probes the other control planes directly, so it carries their addresses: a
                    // replaced control plane re-runs it once (node 0 finds itself initialised).
                    create: pulumi.all([spec, nodeSpec(node, "control-plane"), args.pki.discoveryHash, pulumi.all(args.controlPlanes.slice(1).map((n) => n.instance.privateIp))])
                        .apply(([c, n, hash, others]) => asRemoteCommand(renderFirstControlPlaneScript(c, n, hash, others, o))),
                    stdin: pulumi.all([token, kubeconfig]).apply(([t, k]) => joinStdin(t, k)),
                }, [placed, kubeadm.get(node.name)!, args.apiListener], true)
                : step(`${node.name}-join`, node, {
                    create: pulumi.all([spec, nodeSpec(node, "control-plane"), args.pki.discoveryHash]).apply(([c, n, hash]) => asRemoteCommand(renderJoinScript(c, n, hash, o))),
                    stdin: pulumi.all([token, kubeconfig]).apply(([t, k]) => joinStdin(t, k)),
                }, [placed, kubeadm.get(node.name)!, previous!], true);
            members.push(member);
            previous = member;
        });

        // 4. Certificate rotation: when a node's certificates change, place-pki rewrites them (all
        // nodes at once, harmless) and this restarts the node's static pods, one node at a time.
        let previousRotation: pulumi.Resource | undefined;
        args.controlPlanes.forEach((node, i) => {
            previousRotation = step(`${node.name}-rotate`, node, {
                create: "true",
                // The certificates' fingerprint is part of the command text, so a re-issued
                // certificate is an update, which runs `update`. `triggers` would not do: the SDK
                // sets replaceOnChanges on them, and a replacement runs only the no-op create.
                update: pulumi.all([script(node, "control-plane", (c, n) => renderRotateScript(c, n, o)), args.pki.controlPlaneCertFingerprint[node.name]])
                    .apply(([command, fingerprint]) => `${command} # certificates ${fingerprint}`),
            }, [members[members.length - 1], members[i], ...(previousRotation ? [previousRotation] : [])]);
        });

        // 4b. On every control plane once it has joined: a weekly timer that renews kubeadm's own
        // client certificates before they expire, between `pulumi up` runs.
        this.certRenewals = args.controlPlanes.map((node, i) => step(`${node.name}-cert-renewal`, node, {
            create: script(node, "control-plane", (c, n) => renderCertRenewalInstallScript(c, n, o)),
        }, [members[i]]));

        // 2 (continued). The workers' upgrade steps, each between a drain and an uncordon that run
        // on node 0 only when the version changes (at creation they do nothing: "true").
        args.workers.forEach((node) => {
            const drain = step(`${node.name}-upgrade-drain`, adminNode, {
                create: "true",
                update: forWorker(node, (c, w) => renderWorkerUpgradeDrainScript(c, w, o)),
                stdin: adminStdin$,
            }, [chainEnd!], true);
            const upgraded = upgrade(node, "worker", false, [drain]);
            chainEnd = step(`${node.name}-upgrade-uncordon`, adminNode, {
                create: "true",
                update: forWorker(node, (c, w) => renderWorkerUpgradeUncordonScript(c, w, o)),
                stdin: adminStdin$,
            }, [upgraded], true);
        });

        // 5. Workers, after the whole control plane, in parallel with each other. Each joins with
        // its own bootstrap token, which its join-token step makes on node 0 in parallel with the
        // join and deletes once the Node is registered. A failed join leaves its join-token step
        // failed as well, so the next `pulumi up` runs both again and the join gets a fresh token;
        // a replaced worker gets a new join-token step (replaceWith) and so a fresh token too.
        const workerJoins = args.workers.map((node) => {
            const workerToken = newBootstrapToken(node.name, this);
            step(`${node.name}-join-token`, adminNode, {
                create: forWorker(node, (c, w) => renderWorkerJoinTokenScript(c, w, o)),
                stdin: pulumi.all([workerToken, kubeconfig]).apply(([t, k]) => joinStdin(t, k)),
            }, [kubeadm.get(node.name)!, members[members.length - 1]], true, { replaceWith: [node.instance] });
            return step(`${node.name}-join`, node, {
                create: pulumi.all([spec, nodeSpec(node, "worker"), args.pki.discoveryHash]).apply(([c, n, hash]) => asRemoteCommand(renderJoinScript(c, n, hash, o))),
                stdin: workerToken.apply(tokenStdin),
            }, [kubeadm.get(node.name)!, members[members.length - 1]], true);
        });

        // 6. Removal: deleting a node (or replacing it) drains it and runs `kubeadm reset` first,
        // which removes its etcd member; the script refuses when that would break quorum. The
        // hooks depend on the joins, so Pulumi runs them before anything the join needed. They are
        // chained so that a teardown removes workers first, then control planes from the last to
        // node 0, one at a time (dependents are deleted before what they depend on).
        // A replaced instance takes its reset hook with it (replaceWith), deleted before its
        // replacement exists: the OLD node leaves the cluster before the new one joins under the
        // same name (components/rollout.ts). Without replaceWith the hook would merely be updated
        // to point at the new instance (a changed connection is an update for remote.Command), and
        // the old member would stay in etcd.
        // The hooks depend on the whole access path (accessPath): a destroy deletes dependents first,
        // so every hook runs before any rule, route, NAT gateway, attachment, listener or the bastion
        // is deleted (without it they went in the destroy's first wave and every hook failed).
        // A protected control plane's hook is protected too: the engine goes on past a refused
        // delete, and an unprotected hook would run (removing the node from the cluster) before its
        // protected instance's delete is refused. Protected, the hook stays, and with it (a
        // dependency) the node's whole access path: unprotect both first (README runbooks).
        // A worker goes in three hooks, deleted in this order (each depends on the next): node 0
        // drains it, the worker resets itself (kubeadm reset stops its kubelet), node 0 deletes its
        // Node. All three go with a replaced worker instance.
        const hook = (name: string, on: PoolNode, del: pulumi.Input<string>, stdin: pulumi.Input<string> | undefined, after: pulumi.Resource[], extra: pulumi.CustomResourceOptions) =>
            step(name, on, { create: "true", delete: del, ...(stdin ? { stdin } : {}) }, after, stdin !== undefined, { deleteBeforeReplace: true, ...extra });
        const controlPlaneResets: command.remote.Command[] = [];
        args.controlPlanes.forEach((node, i) => controlPlaneResets.push(hook(`${node.name}-reset`, node,
            script(node, "control-plane", (c, n) => renderResetScript(c, n, o)), adminStdin$,
            [members[i], ...controlPlaneResets.slice(-1), ...(args.accessPath ?? [])],
            { replaceWith: [node.instance], ...(args.protectControlPlanes ? { protect: true } : {}) })));
        this.controlPlaneResets = controlPlaneResets;
        args.workers.forEach((node, i) => {
            const gone = { replaceWith: [node.instance] };
            const removeNode = hook(`${node.name}-remove-node`, adminNode, forWorker(node, (c, w) => renderWorkerRemoveNodeScript(c, w, o)), adminStdin$,
                [workerJoins[i], ...controlPlaneResets, ...(args.accessPath ?? [])], gone);
            const reset = hook(`${node.name}-reset`, node, script(node, "worker", (c, n) => renderResetScript(c, n, o)), undefined, [removeNode], gone);
            hook(`${node.name}-remove-drain`, adminNode, forWorker(node, (c, w) => renderWorkerRemoveDrainScript(c, w, o)), adminStdin$, [reset], gone);
        });

        // 7. Rollout gates (components/rollout.ts): nothing at creation; when a control plane's
        // instance changes (type, replacement), wait until it is joined and healthy again before
        // the next control plane's instance may change (the pool's instances depend on these).
        const rollout = args.rollout;
        this.rolloutGates = args.controlPlanes.map((node) => step(`${node.name}-rollout-gate`, node, {
            // Node facts only: the gate (and the next instance, which waits for it) must not wait
            // for the load balancer.
            update: nodeSpec(node, "control-plane").apply((n) => asRemoteCommand(renderRolloutGateScript(n, {
                instanceType: rollout?.instanceType ?? "unknown.type",
                replaceTrigger: rollout?.replaceTriggers[node.name],
            }, o))),
        }, [node.instance]));

        // 8. etcd backups: on every control plane once it has joined, a systemd timer that snapshots
        // the local member and uploads it; the restore script for the runbook goes with it.
        const backup = args.etcdBackup;
        const members$ = pulumi.all(args.controlPlanes.map((n) => nodeSpec(n, "control-plane")));
        this.etcdBackups = !backup ? [] : args.controlPlanes.map((node, i) => step(`${node.name}-etcd-backup`, node, {
            create: pulumi.all([spec, nodeSpec(node, "control-plane"), members$, backup.uploadTarget(node.name)]).apply(([c, n, all, target]) => {
                const backupScript = renderEtcdBackupScript(c, n, { uploadTarget: target, region: backup.region });
                const restoreScript = renderEtcdRestoreScript(c, all, n, o);
                const units = renderEtcdBackupUnits(n, backup.schedule, target);
                return asRemoteCommand(renderEtcdBackupInstallScript(c, n, { backupScript, restoreScript, units, schedule: backup.schedule, uploadTarget: target }));
            }),
        }, [members[i], ...backup.dependsOn]));

        this.controlPlaneReady = members[members.length - 1];
        this.steps = steps;
        this.registerOutputs({});
    }
}
