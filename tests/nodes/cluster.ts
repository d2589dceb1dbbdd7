// The dev stack's whole cluster on node sandboxes (sandbox.ts), brought up by its own rendered
// scripts in the order `pulumi up` runs them: every node prepared and staged, node 0's init, the
// control-plane joins one at a time, the worker joins (each with its join-token step on node 0,
// in parallel, as the bootstrap's step table says), then the lab's CNI (cni.ts) so that nodes
// become Ready. The scripts reach the nodes over SSH through a bastion sandbox, as remote.Command
// reaches the instances (ssh.ts). One cluster serves every spec file of a run: bringup.spec.ts
// drives the steps one by one and asserts on each; a scenario that finds no cluster brings one up
// itself. A later lab (another spec's own cluster) ends this one first; the run's last hook ends
// it otherwise.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderStack, type Render } from "../lab/render";
import { labBin, requireLabTools } from "../lab/tools";
import { LB_IP } from "../lab/controlPlane";
import { run, waitFor, type RunResult } from "../system/etcd/cluster";
import { imageArchive, kubeadmImages } from "./images";
import { NodeSandboxes } from "./sandbox";
import { installLabCni, labKubeProxyConfig } from "./cni";
import { SshAccess } from "./ssh";

/** One etcd member as `etcdctl member list -w json` prints it. */
export interface EtcdMember {
    readonly ID: number | string;
    readonly name: string;
    readonly isLearner?: boolean;
    readonly peerURLs: string[];
}

export class Cluster {
    /** Seconds each step took, printed when the run ends (the Performance section). */
    readonly timings: Record<string, number> = {};
    private readonly done = new Set<string>();

    constructor(
        readonly render: Render,
        readonly lab: NodeSandboxes,
        readonly dir: string,
        readonly archives: readonly string[],
    ) {}

    get controlPlanes(): string[] {
        return this.render.nodes.filter((n) => n.role === "control-plane").map((n) => n.name);
    }

    get workers(): string[] {
        return this.render.nodes.filter((n) => n.role === "worker").map((n) => n.name);
    }

    /** The cluster's nodes: control planes, then workers (the bastion's sandbox is not one of them). */
    get nodes(): string[] {
        return [...this.controlPlanes, ...this.workers];
    }

    get node0(): string {
        return this.controlPlanes[0];
    }

    /** A rendered script's path (`npm run plan -- --render` layout). */
    script(node: string, name: string): string {
        return join(this.render.node(node), "scripts", `${name}.sh`);
    }

    /** What remote.Command hands the script on stdin ("" when it gets nothing). */
    stdin(node: string, name: string): string {
        const f = join(this.render.node(node), "stdin", name);
        return existsSync(f) ? readFileSync(f, "utf8") : "";
    }

    /**
     * How rendered scripts reach the nodes: over SSH through the bastion as remote.Command does
     * (ssh.ts; set by sharedCluster), or through nsenter as root when unset
     * (K8S_HA_NODES_TRANSPORT=nsenter). The harness's own inspection (lab.exec) is nsenter always.
     */
    ssh?: SshAccess;

    /** Runs a rendered script on a node as remote.Command does, with its rendered stdin. */
    runScript(node: string, name: string, stdinOf = name, on = node, timeoutMs = 900_000): Promise<RunResult> {
        return this.runFile(on, this.script(node, name), this.stdin(node, stdinOf), timeoutMs);
    }

    /** Runs a script file on a node as remote.Command does (another render's, say), with the given stdin. */
    runFile(on: string, script: string, stdin: string, timeoutMs = 900_000): Promise<RunResult> {
        return runOver(this.lab, this.ssh, on, script, stdin, timeoutMs);
    }

    /** kubectl from the host through the NLB stand-in, with the program's admin kubeconfig. */
    kubectl(args: readonly string[], timeoutMs = 30_000, input?: string): Promise<RunResult> {
        return run(
            join(labBin(), "kubectl"),
            [
                "--kubeconfig",
                join(this.render.dir, "admin.conf"),
                "--server",
                `https://${LB_IP}:6443`,
                "--tls-server-name",
                this.render.apiHost,
                "--request-timeout=10s",
                ...args,
            ],
            { timeoutMs, input },
        );
    }

    /** etcdctl against the given control planes' etcd, with node 0's health-check client certificate. */
    etcdctl(args: readonly string[], endpoints: readonly string[] = this.controlPlanes): Promise<RunResult> {
        const pki = join(this.render.node(this.node0), "etc", "kubernetes", "pki", "etcd");
        const urls = endpoints.map((n) => `https://${this.lab.node(n).ip}:2379`).join(",");
        return run(
            join(labBin(), "etcdctl"),
            [
                "--endpoints",
                urls,
                "--cacert",
                join(pki, "ca.crt"),
                "--cert",
                join(pki, "healthcheck-client.crt"),
                "--key",
                join(pki, "healthcheck-client.key"),
                "--command-timeout=10s",
                ...args,
            ],
            { timeoutMs: 30_000 },
        );
    }

    async etcdMembers(endpoints?: readonly string[]): Promise<EtcdMember[]> {
        const r = await this.etcdctl(["member", "list", "-w", "json"], endpoints);
        if (r.code !== 0) throw new Error(`etcdctl member list failed: ${r.stderr}`);
        return (JSON.parse(r.stdout) as { members: EtcdMember[] }).members;
    }

    /** Runs a step once per cluster and records its time; a step done already is skipped. */
    async step<T>(name: string, f: () => Promise<T>): Promise<T | undefined> {
        if (this.done.has(name)) return undefined;
        const started = Date.now();
        try {
            const r = await f();
            this.done.add(name);
            return r;
        } finally {
            this.timings[name] = (Date.now() - started) / 1000;
        }
    }

    has(name: string): boolean {
        return this.done.has(name);
    }

    /** prepare, the image import, the first install (upgrade.sh) and, on a control plane, place-pki. */
    stage(node: string): Promise<unknown> {
        return this.step(`stage ${node}`, async () => {
            await this.runScript(node, "prepare.create", "prepare");
            await this.lab.importImages(node, this.archives);
            const upgrade = await this.runScript(node, "upgrade.create", "upgrade");
            if (!/are installed already/.test(upgrade.stdout))
                throw new Error(`upgrade.sh on ${node} did not find the staged packages:\n${upgrade.stdout}`);
            // What the kubelet package's install does on an instance.
            await this.lab.exec(node, ["systemctl", "enable", "kubelet"]);
            if (this.controlPlanes.includes(node)) await this.runScript(node, "place-pki.create", "place-pki");
        });
    }

    init(): Promise<RunResult | undefined> {
        return this.step(`init ${this.node0}`, () => this.runScript(this.node0, "init.create", "init"));
    }

    /** A control plane's join (join-control-plane.sh); the bootstrap runs them one at a time. */
    joinControlPlane(node: string): Promise<RunResult | undefined> {
        return this.step(`join ${node}`, () => this.runScript(node, "join.create", "join"));
    }

    /** A worker's join: its join-token step on node 0 and its join on the worker, in parallel. */
    joinWorker(node: string): Promise<RunResult[] | undefined> {
        return this.step(`join ${node}`, () =>
            Promise.all([
                this.runScript(node, "join-token.create", "join-token", this.node0),
                this.runScript(node, "join.create", "join"),
            ]),
        );
    }

    /** The lab overlay's cluster settings: its CNI on every node, kube-proxy's conntrack sizing off (cni.ts). */
    cni(): Promise<unknown> {
        return this.step("lab CNI and kube-proxy setting", async () => {
            await labKubeProxyConfig(this);
            await installLabCni(this);
        });
    }

    /** Every step bring-up has not run yet, in the bootstrap's order. */
    async bringUp(): Promise<this> {
        for (const n of this.nodes) await this.stage(n);
        await this.init();
        for (const n of this.controlPlanes.slice(1)) await this.joinControlPlane(n);
        for (const n of this.workers) await this.joinWorker(n);
        await this.cni();
        return this;
    }

    /** Ends the cluster's nodes and NLB and removes its files (K8S_HA_NODES_KEEP keeps them). */
    async stop(): Promise<void> {
        await this.lab.stopAll();
        console.log(`      cluster step timings (s): ${JSON.stringify(this.timings)}`);
        if (!process.env.K8S_HA_NODES_KEEP) rmSync(this.dir, { recursive: true, force: true });
        rmSync(this.render.dir, { recursive: true, force: true });
    }
}

let shared: Promise<Cluster> | undefined;

/** A scenario's own step timer: `timed(step, f)` runs f and records its seconds in `timings`. */
export function stepTimer(): {
    timings: Record<string, number>;
    timed: <T>(step: string, f: () => Promise<T>) => Promise<T>;
} {
    const timings: Record<string, number> = {};
    const timed = async <T>(step: string, f: () => Promise<T>): Promise<T> => {
        const started = Date.now();
        try {
            return await f();
        } finally {
            timings[step] = (Date.now() - started) / 1000;
        }
    };
    return { timings, timed };
}

/** The run's cluster: its render, images and sandboxes (every node's namespaces, the NLB), nothing run on them yet. */
export function sharedCluster(): Promise<Cluster> {
    shared ??= (async () => {
        requireLabTools(["kubeadm", "kubelet", "kubectl", "etcdctl"]);
        const started = Date.now();
        const render = await renderStack("dev");
        const archives = await Promise.all((await kubeadmImages("v1.35.4")).map((ref) => imageArchive(ref)));
        const dir = mkdtempSync(join(tmpdir(), "k8s-ha-nodes-"));
        const lab = new NodeSandboxes(dir, render.apiHost);
        const cluster = new Cluster(render, lab, dir, archives);
        lab.releasable(() => releaseSharedCluster());
        for (const n of render.nodes.filter((x) => cluster.nodes.includes(x.name))) await lab.add(n.name, n.privateIp);
        cluster.ssh = await sshThroughBastion(render, lab, dir, cluster.nodes);
        lab.startNlb(cluster.controlPlanes);
        cluster.timings["render, images, sandboxes"] = (Date.now() - started) / 1000;
        return cluster;
    })();
    return shared;
}

/**
 * The bastion's sandbox at the stack's bastion address, and sshd on it and every node (ssh.ts);
 * nothing when K8S_HA_NODES_TRANSPORT=nsenter (scripts then run through nsenter as root).
 */
export async function sshThroughBastion(
    render: Render,
    lab: NodeSandboxes,
    dir: string,
    nodes: string[],
): Promise<SshAccess | undefined> {
    if (process.env.K8S_HA_NODES_TRANSPORT === "nsenter") return undefined;
    const bastion = render.nodes.find((n) => n.role === "bastion");
    if (!bastion) throw new Error("the render has no bastion instance (role tag 'bastion')");
    await lab.add(bastion.name, bastion.privateIp);
    return SshAccess.setUp(lab, join(dir, "ssh-client"), bastion.name, nodes);
}

/** Runs a script file on a node as remote.Command does: over SSH when there is access, else through nsenter. */
export function runOver(
    lab: NodeSandboxes,
    ssh: SshAccess | undefined,
    node: string,
    script: string,
    stdin = "",
    timeoutMs = 900_000,
): Promise<RunResult> {
    return ssh ? ssh.script(node, script, stdin, timeoutMs) : lab.script(node, script, stdin, timeoutMs);
}

/** The run's cluster, brought up whole (what every scenario starts from). */
export async function broughtUpCluster(): Promise<Cluster> {
    return (await sharedCluster()).bringUp();
}

/** Ends the shared cluster; the next sharedCluster() makes a new one. */
export async function releaseSharedCluster(): Promise<void> {
    const c = shared;
    shared = undefined;
    if (c) await (await c).stop();
}

/** The Nodes whose Ready condition is True. */
export async function readyNodes(c: Cluster): Promise<string[]> {
    const r = await c.kubectl([
        "get",
        "nodes",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ]);
    return r.stdout
        .split("\n")
        .filter((l) => l.endsWith(" True"))
        .map((l) => l.split(" ")[0]);
}

/** Waits until every node of the cluster, and no other, is Ready (showing `logsOf`'s logs if not). */
export function everyNodeReady(c: Cluster, logsOf: string, timeoutMs = 180_000): Promise<string[]> {
    return waitFor(
        "every Node Ready",
        timeoutMs,
        async () => {
            const ready = await readyNodes(c);
            return c.nodes.every((n) => ready.includes(n)) && ready.length === c.nodes.length ? ready : undefined;
        },
        () => c.lab.logs(logsOf),
        2_000,
    );
}

// The run's last hook: spec files share the cluster, so no single file's `after` may end it.
after(async function () {
    this.timeout(120_000);
    await releaseSharedCluster();
});
