import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    adminStdin,
    asRemoteCommand,
    joinStdin,
    placePkiStdin,
    tokenStdin,
    type ClusterSpec,
    type NodeRole,
    awsProviderId,
    type NodeSpec,
    type ScriptOptions,
} from "./kubeadm";
import { resolveClusterSpec, type ClusterSpecInput } from "./apiEndpoint";
import { planSteps, type ExternalRef, type PlannedStep, type StepContext } from "./bootstrapSteps";
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
    /** The control planes' upgrade steps, from node 0 (the workers' follow them). */
    readonly controlPlaneUpgrades: readonly command.remote.Command[];
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
        const planned = planSteps(
            args.controlPlanes.map((n) => n.name),
            args.workers.map((n) => n.name),
            { etcdBackup: args.etcdBackup !== undefined },
        );
        const commands = new Map<string, command.remote.Command>();
        // Every step renders from it, so every step waits for the API's name (its record and guard).
        const spec = resolveClusterSpec(args.cluster);
        for (const p of planned) commands.set(p.name, this.register(p, args, spec, commands));
        const of = (action: string, nodes: readonly PoolNode[]) =>
            nodes
                .map((n) => commands.get(`${n.name}-${action}`))
                .filter((c): c is command.remote.Command => c !== undefined);
        const members = [...of("init", args.controlPlanes.slice(0, 1)), ...of("join", args.controlPlanes.slice(1))];
        this.controlPlaneReady = members[members.length - 1];
        this.steps = [...commands.values()];
        this.rolloutGates = of("rollout-gate", args.controlPlanes);
        this.controlPlaneUpgrades = of("upgrade", args.controlPlanes);
        this.certRenewals = of("cert-renewal", args.controlPlanes);
        this.etcdBackups = of("etcd-backup", args.controlPlanes);
        this.controlPlaneResets = of("reset", args.controlPlanes);
        this.registerOutputs({});
    }

    /** One step's command, registered after the commands it waits for (planSteps' order). */
    private register(
        p: PlannedStep,
        args: BootstrapArgs,
        spec: pulumi.Output<ClusterSpec>,
        registered: ReadonlyMap<string, command.remote.Command>,
    ): command.remote.Command {
        const pools = [args.controlPlanes, args.workers];
        const pool = pools.find((nodes) => nodes.some((n) => n.name === p.node))!;
        const index = pool.findIndex((n) => n.name === p.node);
        const node = pool[index];
        const role: NodeRole = pool === args.controlPlanes ? "control-plane" : "worker";
        // Whatever needs a cluster credential about a worker runs on node 0, with the admin
        // kubeconfig on stdin: it never goes to a worker.
        const on = p.step.runsOn === "node 0" ? args.controlPlanes[0] : node;
        const o = args.scriptOptions;
        const kubeconfig = args.pki.adminKubeconfig;
        const withCluster = <T>(extra: pulumi.Input<T>, render: (c: ClusterSpec, n: NodeSpec, x: T) => string) =>
            pulumi
                .all([spec, this.nodeSpec(node, role), extra])
                .apply(([c, n, x]) => asRemoteCommand(render(c, n, x as T)));
        const ctx: StepContext = {
            node: { name: node.name, index },
            options: o,
            script: (render) => withCluster(undefined, (c, n) => render(c, n)),
            nodeScript: (render) => this.nodeSpec(node, role).apply((n) => asRemoteCommand(render(n))),
            joinScript: (render) => withCluster(args.pki.discoveryHash, render),
            firstControlPlaneScript: (render) =>
                withCluster(
                    pulumi.all([
                        args.pki.discoveryHash,
                        pulumi.all(args.controlPlanes.slice(1).map((n) => n.instance.privateIp)),
                    ]),
                    (c, n, [hash, others]) => render(c, n, hash, others),
                ),
            backupScript: (render) => {
                const backup = args.etcdBackup!;
                const members = pulumi.all(args.controlPlanes.map((n) => this.nodeSpec(n, "control-plane")));
                return pulumi
                    .all([spec, this.nodeSpec(node, role), members, backup.uploadTarget(node.name)])
                    .apply(([c, n, all, target]) =>
                        render(c, n, all, target, { schedule: backup.schedule, region: backup.region }),
                    );
            },
            certificateFingerprint: () => args.pki.controlPlaneCertFingerprint[node.name],
            adminStdin: () => kubeconfig.apply(adminStdin),
            joinStdin: () => pulumi.all([args.pki.bootstrapToken, kubeconfig]).apply(([t, k]) => joinStdin(t, k)),
            pkiStdin: () => args.pki.controlPlaneFiles[node.name].apply((files) => placePkiStdin(files)),
            workerToken: (withKubeconfig) => {
                // One token per worker, made with its join-token step; its join reads the same.
                const workerToken = this.workerTokens.get(node.name) ?? newBootstrapToken(node.name, this);
                this.workerTokens.set(node.name, workerToken);
                return withKubeconfig
                    ? pulumi.all([workerToken, kubeconfig]).apply(([t, k]) => joinStdin(t, k))
                    : workerToken.apply(tokenStdin);
            },
            rollout: () => ({
                instanceType: args.rollout?.instanceType ?? "unknown.type",
                replaceTrigger: args.rollout?.replaceTriggers[node.name],
            }),
        };
        const external = (ref: ExternalRef): pulumi.Resource[] => {
            switch (ref) {
                case "instance":
                    return [node.instance];
                case "egressPath":
                    return [...(args.egressPath ?? [])];
                case "apiListener":
                    return [args.apiListener];
                case "accessPath":
                    return [...(args.accessPath ?? [])];
                case "etcdBackup":
                    return [...(args.etcdBackup?.dependsOn ?? [])];
            }
        };
        const dependsOn = p.after.flatMap((d) => ("external" in d ? external(d.external) : [registered.get(d.step)!]));
        const c = p.step.commands(ctx);
        // Every stdin here carries a secret (kubeconfig, tokens, keys): such a step logs nothing.
        const secret = c.stdin !== undefined;
        const removal = p.step.when.includes("removal");
        return new command.remote.Command(
            p.name,
            {
                connection: connection(on, args),
                ...(c.create !== undefined ? { create: c.create } : {}),
                ...(c.update !== undefined ? { update: c.update } : {}),
                ...(c.delete !== undefined ? { delete: c.delete } : {}),
                ...(c.stdin !== undefined ? { stdin: c.stdin } : {}),
                ...(secret ? { logging: "none" } : {}),
            },
            {
                parent: this,
                dependsOn,
                ...(secret ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}),
                ...(removal ? { deleteBeforeReplace: true } : {}),
                ...(p.step.goesWithNode ? { replaceWith: [node.instance] } : {}),
                ...(p.step.protectedWithControlPlanes && args.protectControlPlanes ? { protect: true } : {}),
            },
        );
    }

    /** A node as its scripts see it, made once per node. */
    private nodeSpec(n: PoolNode, role: NodeRole): pulumi.Output<NodeSpec> {
        const key = `${role}/${n.name}`;
        let spec = this.nodeSpecs.get(key);
        if (!spec) {
            spec = pulumi.all([n.instance.privateIp, n.instance.id]).apply(([ip, id]): NodeSpec => ({
                name: n.name,
                privateIp: ip,
                role,
                providerId: awsProviderId(n.zone, id),
            }));
            this.nodeSpecs.set(key, spec);
        }
        return spec;
    }
    private readonly nodeSpecs = new Map<string, pulumi.Output<NodeSpec>>();

    /** Each worker's bootstrap token, shared by its join-token step and its join. */
    private readonly workerTokens = new Map<string, pulumi.Output<string>>();
}

/** SSH through the bastion to a node, with the cluster's key. */
function connection(node: PoolNode, args: BootstrapArgs) {
    const key = pulumi.secret(args.sshPrivateKey);
    return {
        host: node.instance.privateIp,
        user: SSH_USER,
        privateKey: key,
        // Instances take a minute or more to boot and start sshd. The provider waits 100 ms after
        // a failed dial, 1.5 times longer after each next one, at most 5 s: 70 refused dials
        // wait about 5 minutes (30 waited under 2); dials that time out add 10 s each.
        dialErrorLimit: SSH_DIAL_ERROR_LIMIT,
        perDialTimeout: 10,
        proxy: {
            host: args.bastionHost,
            user: SSH_USER,
            privateKey: key,
            dialErrorLimit: SSH_DIAL_ERROR_LIMIT,
            perDialTimeout: 10,
        },
    };
}
