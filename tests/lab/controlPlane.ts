// A real three-node control plane, built from the program's render. Each node is a network
// namespace with the stack's own private address (wired to the lab's bridge by
// tools/lab/netns.sh's namespace, so no traffic leaves) and a root directory holding its
// /etc/kubernetes: the program's PKI, then what real kubeadm writes there (kubeconfigs,
// static-pod manifests). Each node runs etcd 3.6, kube-apiserver, kube-controller-manager and
// kube-scheduler 1.35 with exactly the command lines of kubeadm's manifests, only the node paths
// moved under its root. haproxy stands in for the NLB with the stack's health check (HTTPS
// /readyz, two failures; every second instead of every ten), and each node's /etc/hosts maps the
// NLB's DNS name to it, so kubeadm reaches controlPlaneEndpoint as it would on AWS.
//
// What kubeadm's join would do with a kubelet (the etcd member add as a learner, its promotion)
// is done here with etcdctl 3.6, in kubeadm's order; everything else comes from kubeadm itself.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, cpSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { readonlyValues } from "../../tools/plan/render";
import { run, waitFor, type RunResult } from "../system/etcd/cluster";
import type { Render } from "./render";
import { labTool, type LabTool } from "./tools";

/** The NLB stand-in's address, on the lab's bridge. */
export const LB_IP = "10.0.250.10";
export const API_PORT = 6443;
export type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";
export const COMPONENTS: readonly Component[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

/** Host paths of a kubeadm node that the lab keeps under each node's own root. */
const NODE_PATHS = ["/etc/kubernetes", "/var/lib/etcd", "/var/log/kubernetes"];

export interface LabNode {
    readonly name: string;
    readonly ip: string;
    /** The node's network namespace. */
    readonly netns: string;
    /** The node's root: <root>/etc/kubernetes is what /etc/kubernetes is on an EC2 instance. */
    readonly root: string;
}

/**
 * The command a static-pod manifest runs, as the lab runs it: the lab's build of the binary, the
 * node paths (/etc/kubernetes, /var/lib/etcd, /var/log/kubernetes) under the node's root, and for
 * a joining etcd member the initial cluster `kubeadm join` would write. Nothing else changes.
 */
export function labCommand(
    component: Component,
    command: readonly string[],
    node: Pick<LabNode, "root">,
    join?: { initialCluster: string },
): string[] {
    if (command[0] !== component) throw new Error(`${component}'s manifest runs ${command[0]}`);
    const args = command.slice(1).map((arg) => {
        const eq = arg.indexOf("=");
        if (eq < 0) return arg;
        const flag = arg.slice(0, eq);
        let value = arg.slice(eq + 1);
        for (const p of NODE_PATHS)
            value = value
                .split(p)
                .map((part, i) => (i === 0 ? part : `${node.root}${p}${part}`))
                .join("");
        if (component === "etcd" && flag === "--initial-cluster" && join) value = join.initialCluster;
        return `${flag}=${value}`;
    });
    if (component === "etcd" && join) args.push("--initial-cluster-state=existing");
    return [labTool(component as LabTool), ...args];
}

/** haproxy as the NLB: TCP 6443, health check HTTPS GET /readyz, 2 failures out, 2 successes in. */
export function haproxyConfig(nodes: readonly LabNode[], intervalSeconds = 1): string {
    return [
        "defaults",
        "  mode tcp",
        "  timeout connect 2s",
        "  timeout client 5m",
        "  timeout server 5m",
        // An NLB does not retry a connection its target refused: neither does the stand-in.
        "  retries 0",
        "frontend api",
        `  bind ${LB_IP}:${API_PORT}`,
        "  default_backend apiservers",
        "backend apiservers",
        "  option httpchk",
        "  http-check send meth GET uri /readyz",
        "  http-check expect status 200",
        // As on AWS, the health check does not verify the target's certificate.
        ...nodes.map(
            (n) =>
                `  server ${n.name} ${n.ip}:${API_PORT} check check-ssl verify none inter ${intervalSeconds}s fall 2 rise 2`,
        ),
        "",
    ].join("\n");
}

interface Proc {
    readonly child: ChildProcess;
    readonly exited: Promise<void>;
    done: boolean;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
    for (const c of live) c.kill("SIGKILL");
});

export class LabControlPlane {
    readonly nodes: LabNode[];
    readonly adminKubeconfig: string;
    private readonly procs = new Map<string, Proc>();
    /** Seconds each step took, for the note and the spec's report. */
    readonly timings: Record<string, number> = {};

    constructor(
        readonly render: Render,
        readonly dir: string,
    ) {
        if (process.env.K8S_HA_LAB_NETNS !== "1")
            throw new Error(
                "the lab's control plane runs in its own network namespaces: run it through 'npm run test:lab' (tools/lab/netns.sh)",
            );
        this.nodes = render.nodes
            .filter((n) => n.role === "control-plane")
            .map((n, i) => ({ name: n.name, ip: n.privateIp, netns: `k8s-ha-node-${i}`, root: join(dir, n.name) }));
        this.adminKubeconfig = join(dir, "admin.conf");
    }

    node(i: number): LabNode {
        return this.nodes[i];
    }

    /** The lab's network: the NLB's address on the bridge, each node in its namespace on a veth. */
    async wire(): Promise<void> {
        const ip = async (...args: string[]) => {
            const r = await run("ip", args);
            if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
        };
        await ip("addr", "add", `${LB_IP}/32`, "dev", "lab0");
        for (const [i, n] of this.nodes.entries()) {
            await ip("netns", "add", n.netns);
            await ip("link", "add", `lab-n${i}`, "type", "veth", "peer", "name", "eth0", "netns", n.netns);
            await ip("link", "set", `lab-n${i}`, "master", "lab0", "up");
            await ip("-n", n.netns, "link", "set", "lo", "up");
            await ip("-n", n.netns, "addr", "add", `${n.ip}/32`, "dev", "eth0");
            await ip("-n", n.netns, "link", "set", "eth0", "up");
            // Everything is on-link: what is not a lab address finds no one and never leaves.
            await ip("-n", n.netns, "route", "add", "default", "dev", "eth0");
            await ip("route", "add", `${n.ip}/32`, "dev", "lab0");
        }
    }

    /**
     * argv run inside the node's network namespace, with the node's name as its hostname (a UTS
     * namespace of its own), as on an instance: leader election identities carry the hostname.
     */
    private inNode(node: LabNode, argv: readonly string[]): string[] {
        return [
            "ip",
            "netns",
            "exec",
            node.netns,
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            node.name,
            ...argv,
        ];
    }

    /** The node's root with the program's files in place, as place-pki and prepare leave it. */
    prepareRoot(node: LabNode): void {
        cpSync(join(this.render.node(node.name), "etc"), join(node.root, "etc"), { recursive: true });
        mkdirSync(join(node.root, "var", "log", "kubernetes", "audit"), { recursive: true });
        mkdirSync(join(node.root, "var", "lib"), { recursive: true });
        // prepare writes the audit policy; take it from the node's own rendered script.
        const prepare = readFileSync(join(this.render.node(node.name), "scripts", "prepare.create.sh"), "utf8");
        const policy = readonlyValues(readonlyValues(prepare).PREPARE_SCRIPT ?? prepare).AUDIT_POLICY;
        if (!policy) throw new Error(`${node.name}'s prepare script carries no AUDIT_POLICY`);
        writeFileSync(join(node.root, "etc", "kubernetes", "audit-policy.yaml"), policy, { mode: 0o600 });
        writeFileSync(join(node.root, "etc", "hosts"), `127.0.0.1 localhost\n${LB_IP} ${this.render.apiHost}\n`);
        for (const f of this.render.kubeadmConfigs(node.name)) copyFileSync(f, join(node.root, f.split("/").pop()!));
    }

    /** kubeadm with the node's root as its root filesystem (it chroots there). */
    kubeadm(node: LabNode, args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
        const [cmd, ...argv] = this.inNode(node, [labTool("kubeadm"), ...args, "--rootfs", node.root]);
        return run(cmd, argv, { timeoutMs });
    }

    async mustKubeadm(node: LabNode, args: readonly string[], timeoutMs?: number): Promise<string> {
        const r = await this.kubeadm(node, args, timeoutMs);
        if (r.code !== 0)
            throw new Error(`kubeadm ${args.join(" ")} on ${node.name} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
        return r.stdout + r.stderr;
    }

    /** A component's command line from the node's static-pod manifest. */
    manifestCommand(node: LabNode, component: Component): string[] {
        const manifest = parse(
            readFileSync(join(node.root, "etc", "kubernetes", "manifests", `${component}.yaml`), "utf8"),
        );
        return manifest.spec.containers[0].command as string[];
    }

    private key(node: LabNode, component: Component | "haproxy"): string {
        return `${node.name}/${component}`;
    }

    isRunning(node: LabNode, component: Component): boolean {
        const p = this.procs.get(this.key(node, component));
        return !!p && !p.done;
    }

    logFile(node: LabNode, component: Component): string {
        return join(node.root, "var", "log", `${component}.log`);
    }

    private spawnLogged(key: string, argv: readonly string[], log: string): void {
        if (this.procs.get(key) && !this.procs.get(key)!.done) throw new Error(`${key} already runs`);
        const fd = openSync(log, "a");
        const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd] });
        closeSync(fd);
        live.add(child);
        const proc: Proc = {
            child,
            done: false,
            exited: new Promise((resolve) =>
                child.on("exit", () => {
                    proc.done = true;
                    live.delete(child);
                    resolve();
                }),
            ),
        };
        this.procs.set(key, proc);
    }

    start(node: LabNode, component: Component, join?: { initialCluster: string }): void {
        this.spawnLogged(
            this.key(node, component),
            this.inNode(node, labCommand(component, this.manifestCommand(node, component), node, join)),
            this.logFile(node, component),
        );
    }

    async kill(node: LabNode, component: Component, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
        const p = this.procs.get(this.key(node, component));
        if (!p || p.done) return;
        p.child.kill(signal);
        await p.exited;
    }

    startLoadBalancer(): void {
        const cfg = join(this.dir, "haproxy.cfg");
        writeFileSync(cfg, haproxyConfig(this.nodes));
        this.spawnLogged("lb", ["haproxy", "-f", cfg, "-db"], join(this.dir, "haproxy.log"));
    }

    async stopAll(): Promise<void> {
        for (const p of this.procs.values()) if (!p.done) p.child.kill("SIGKILL");
        await Promise.all([...this.procs.values()].map((p) => p.exited));
    }

    /** etcdctl 3.6 against one node's member, as the node's healthcheck client. */
    etcdctl(node: LabNode, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
        const pki = join(node.root, "etc", "kubernetes", "pki", "etcd");
        return run(
            labTool("etcdctl"),
            [
                `--endpoints=https://${node.ip}:2379`,
                `--cacert=${pki}/ca.crt`,
                `--cert=${pki}/healthcheck-client.crt`,
                `--key=${pki}/healthcheck-client.key`,
                "--dial-timeout=2s",
                "--command-timeout=5s",
                ...args,
            ],
            { timeoutMs },
        );
    }

    /** /readyz through the NLB stand-in, on a new connection, under the API's name: 200 or not. */
    async readyThroughNlb(): Promise<boolean> {
        return (await this.apiStatus(LB_IP, "/readyz", this.render.apiHost)) === 200;
    }

    /** GET https://<ip>:6443<path>, trusting the cluster CA: the status code, or 0 when unreachable. */
    apiStatus(ip: string, path: string, servername?: string): Promise<number> {
        const ca = readFileSync(join(this.nodes[0].root, "etc", "kubernetes", "pki", "ca.crt"));
        return new Promise((resolve) => {
            // A new connection each time (Node keeps connections alive by default): each one is balanced anew.
            const req = request(
                { host: ip, port: API_PORT, path, ca, servername, timeout: 2_000, agent: false },
                (res) => {
                    res.resume();
                    resolve(res.statusCode ?? 0);
                },
            );
            req.on("timeout", () => req.destroy());
            req.on("error", () => resolve(0));
            req.end();
        });
    }

    async waitFor(
        what: string,
        timeoutMs: number,
        probe: () => Promise<boolean>,
        node?: LabNode,
        component?: Component,
    ): Promise<void> {
        await waitFor(
            what,
            timeoutMs,
            async () => ((await probe()) ? true : undefined),
            () => (node && component ? tail(this.logFile(node, component)) : ""),
            250,
        );
    }

    private async timed(step: string, body: () => Promise<void>): Promise<void> {
        const started = Date.now();
        await body();
        this.timings[step] = (Date.now() - started) / 1000;
    }

    /** The admin kubeconfig the program hands the user, pointed at haproxy, verifying the NLB name. */
    writeAdminKubeconfig(): void {
        const config = parse(readFileSync(join(this.render.dir, "admin.conf"), "utf8"));
        for (const c of config.clusters) {
            c.cluster.server = `https://${LB_IP}:${API_PORT}`;
            c.cluster["tls-server-name"] = this.render.apiHost;
        }
        writeFileSync(this.adminKubeconfig, stringify(config), { mode: 0o600 });
    }

    kubectl(args: readonly string[], input?: string, timeoutMs = 20_000): Promise<RunResult> {
        return run(labTool("kubectl"), [`--kubeconfig=${this.adminKubeconfig}`, "--request-timeout=5s", ...args], {
            input,
            timeoutMs,
        });
    }

    /** Node 0 as `kubeadm init` leaves it, then each other node as `kubeadm join --control-plane`. */
    async bringUp(): Promise<void> {
        const [first, ...others] = this.nodes;
        await this.wire();
        for (const n of this.nodes) this.prepareRoot(n);
        await this.timed("node 0: kubeadm init phases (certs, kubeconfig, control-plane, etcd)", async () => {
            for (const phase of ["certs all", "kubeconfig all", "control-plane all", "etcd local"]) {
                await this.mustKubeadm(first, ["init", "phase", ...phase.split(" "), "--config", "/init.yaml"]);
            }
        });
        await this.timed("node 0: etcd healthy", async () => {
            this.start(first, "etcd");
            await this.waitFor(
                `etcd on ${first.name}`,
                60_000,
                async () => (await this.etcdctl(first, ["endpoint", "health"])).code === 0,
                first,
                "etcd",
            );
        });
        await this.timed("node 0: apiserver ready", async () => this.startApiServer(first));
        this.startLoadBalancer();
        this.writeAdminKubeconfig();
        await this.timed("load balancer: node 0 healthy", async () => {
            await this.waitFor("the API through haproxy", 30_000, async () => this.readyThroughNlb());
        });
        // What `kubeadm init` does next through controlPlaneEndpoint: kubeadm-config, kubelet-config,
        // the bootstrap token and cluster-info, which every join discovers the cluster from.
        await this.timed("node 0: upload-config and bootstrap-token through the NLB name", async () => {
            await this.mustKubeadm(first, ["init", "phase", "upload-config", "kubeadm", "--config", "/init.yaml"]);
            await this.mustKubeadm(first, ["init", "phase", "upload-config", "kubelet", "--config", "/init.yaml"]);
            await this.mustKubeadm(first, ["init", "phase", "bootstrap-token", "--config", "/init.yaml"]);
        });
        this.start(first, "kube-controller-manager");
        this.start(first, "kube-scheduler");
        for (const [i, node] of others.entries()) {
            await this.timed(
                `node ${i + 1}: kubeadm join phases (discovery, certs, kubeconfig, control-plane)`,
                async () => {
                    for (const phase of ["certs", "kubeconfig", "control-plane"]) {
                        await this.mustKubeadm(node, [
                            "join",
                            "phase",
                            "control-plane-prepare",
                            phase,
                            "--config",
                            "/join-control-plane.yaml",
                        ]);
                    }
                    await this.mustKubeadm(node, [
                        "init",
                        "phase",
                        "etcd",
                        "local",
                        "--config",
                        "/rotate.kubeadm-phase-config.yaml",
                    ]);
                },
            );
            await this.timed(`node ${i + 1}: etcd learner added, started, promoted`, async () => this.joinEtcd(node));
            await this.timed(`node ${i + 1}: apiserver ready`, async () => this.startApiServer(node));
            this.start(node, "kube-controller-manager");
            this.start(node, "kube-scheduler");
        }
    }

    async startApiServer(node: LabNode): Promise<void> {
        this.start(node, "kube-apiserver");
        await this.waitFor(
            `kube-apiserver on ${node.name}`,
            120_000,
            async () => (await this.apiStatus(node.ip, "/readyz")) === 200,
            node,
            "kube-apiserver",
        );
    }

    /** kubeadm join's etcd step: member add as a learner, start with the existing cluster, promote. */
    async joinEtcd(node: LabNode): Promise<void> {
        const via = this.nodes.find((n) => n !== node && this.isRunning(n, "etcd"))!;
        const added = await this.etcdctl(via, [
            "member",
            "add",
            node.name,
            `--peer-urls=https://${node.ip}:2380`,
            "--learner",
            "-w",
            "json",
        ]);
        if (added.code !== 0) throw new Error(`member add ${node.name}: ${added.stderr}`);
        const body = JSON.parse(exactIds(added.stdout)) as {
            member: { ID: number | string };
            members: { name?: string; peerURLs: string[] }[];
        };
        const initialCluster = body.members.map((m) => `${m.name || node.name}=${m.peerURLs[0]}`).join(",");
        this.start(node, "etcd", { initialCluster });
        const id = BigInt(body.member.ID).toString(16);
        await this.waitFor(
            `learner ${node.name} promoted`,
            60_000,
            async () => (await this.etcdctl(via, ["member", "promote", id])).code === 0,
            node,
            "etcd",
        );
    }

    async votingMembers(): Promise<string[]> {
        const via = this.nodes.find((n) => this.isRunning(n, "etcd"))!;
        const r = await this.etcdctl(via, ["member", "list", "-w", "json"]);
        if (r.code !== 0) throw new Error(`member list: ${r.stderr}`);
        return (JSON.parse(exactIds(r.stdout)).members as { name: string; isLearner?: boolean }[])
            .filter((m) => !m.isLearner)
            .map((m) => m.name)
            .sort();
    }
}

/** etcdctl prints 64-bit ids as JSON numbers, which lose digits in a double: keep them as text. */
function exactIds(json: string): string {
    return json.replace(/"(ID|cluster_id|member_id)":(\d+)/g, '"$1":"$2"');
}

function tail(file: string, lines = 30): string {
    try {
        return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "";
    }
}
