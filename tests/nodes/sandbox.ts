// Node sandboxes: each node of the stack as Linux namespaces on this machine, so that the stack's
// own rendered scripts run on it as on an EC2 instance. A node is
// - a network namespace with the stack's private address on a veth to the lab's bridge (lab0,
//   made by tools/lab/netns.sh, with no route out), where the NLB stand-in (haproxy, with the
//   stack's /readyz health check) also listens;
// - mount, UTS and PID namespaces (unshare), whose PID 1 (sandbox/boot.sh, then the lab's pause
//   program) binds the node's own /etc/kubernetes, /var/lib/kubelet, /var/lib/etcd, containerd
//   state, /run, /etc/hosts and friends from its directory, and names the node;
// - the host's filesystem otherwise: Debian's containerd, runc and CNI plugins, the lab's kubelet
//   and kubeadm (.lab/bin), and the lab's overlay commands (sandbox/bin: systemctl, hostnamectl,
//   modprobe, apt-get, apt-mark, dpkg-query, kubeadm) first on PATH.
// Namespaces rather than systemd-nspawn: systemd is not PID 1 on this machine (it cannot boot a
// container's systemd as nspawn -b needs), and a debootstrapped rootfs per node would add minutes
// and hundreds of MB for nothing the scripts look at. Killing a node's PID 1 ends every process of
// the node, containers included (the kernel kills a PID namespace with its init); unshare
// --kill-child does it when the harness dies first.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { run, waitFor, type RunResult } from "../system/etcd/cluster";
import { haproxyConfig, LB_IP } from "../lab/controlPlane";
import { labBin } from "../lab/tools";

export const SANDBOX_DIR = resolve(__dirname, "sandbox");
/** The bridge's own address: the nodes' default route points at it (and finds no way out). */
const BRIDGE_IP = "10.0.250.1";

export interface NodeSandbox {
    readonly name: string;
    readonly ip: string;
    /** The node's network namespace (ip netns). */
    readonly netns: string;
    /** Its state: root/ (bound over the node paths), logs/ (its units' output), hosts. */
    readonly dir: string;
    /** Host PID of the node's PID 1. */
    readonly pid: number;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
    for (const c of live) c.kill("SIGKILL");
});

/**
 * The labs with live nodes. Two labs of one stack would put the same addresses on lab0, so a new
 * lab first ends a lab that said it may be ended (a cluster shared by several spec files, see
 * cluster.ts), and refuses to start beside any other.
 */
const labs = new Map<NodeSandboxes, (() => Promise<void>) | undefined>();

export class NodeSandboxes {
    readonly nodes = new Map<string, NodeSandbox>();
    /** Overlay directories first on every node's PATH, in this order (a scenario may add its own). */
    readonly overlays: string[] = [join(SANDBOX_DIR, "bin")];
    private lb?: ChildProcess;
    private nlbTargets: readonly string[] = [];
    private wired = false;

    constructor(
        readonly dir: string,
        readonly apiHost: string,
    ) {
        if (process.env.K8S_HA_LAB_NETNS !== "1")
            throw new Error(
                "the node sandboxes need network namespaces of their own: run them through 'npm run test:nodes' (tools/lab/netns.sh)",
            );
    }

    private async ip(...args: string[]): Promise<void> {
        const r = await run("ip", args);
        if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
    }

    /** A new node: its network namespace, address and namespaces, PID 1 running. */
    async add(name: string, ip: string): Promise<NodeSandbox> {
        if (!this.wired) {
            await endOtherLabs(this);
            labs.set(this, labs.get(this));
            // replace: a lab before this one in the same run left them on the bridge.
            await this.ip("addr", "replace", `${BRIDGE_IP}/16`, "dev", "lab0");
            await this.ip("addr", "replace", `${LB_IP}/32`, "dev", "lab0");
            this.wired = true;
        }
        const i = this.nodes.size;
        const netns = `k8s-ha-node-${i}`;
        const dir = join(this.dir, name);
        mkdirSync(dir, { recursive: true });
        // The NLB's name resolves to its stand-in; the node's own name to itself.
        writeFileSync(join(dir, "hosts"), `127.0.0.1 localhost\n${ip} ${name}\n${LB_IP} ${this.apiHost}\n`);
        await this.ip("netns", "add", netns);
        await this.ip("link", "add", `lab-n${i}`, "type", "veth", "peer", "name", "eth0", "netns", netns);
        await this.ip("link", "set", `lab-n${i}`, "master", "lab0", "up");
        await this.ip("-n", netns, "link", "set", "lo", "up");
        await this.ip("-n", netns, "addr", "add", `${ip}/16`, "dev", "eth0");
        await this.ip("-n", netns, "link", "set", "eth0", "up");
        await this.ip("-n", netns, "route", "add", "default", "via", BRIDGE_IP);
        const child = spawn(
            "nsenter",
            [
                `--net=/run/netns/${netns}`,
                "unshare",
                "--mount",
                "--uts",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--",
                "bash",
                join(SANDBOX_DIR, "boot.sh"),
                name,
                dir,
                join(labBin(), "pause"),
            ],
            { stdio: ["ignore", "inherit", "inherit"] },
        );
        live.add(child);
        child.on("exit", () => live.delete(child));
        await waitFor(`${name}'s PID 1`, 20_000, async () => (existsSync(join(dir, "ready")) ? true : undefined));
        // nsenter became unshare (child.pid), whose only child is the node's PID 1.
        const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
        const node: NodeSandbox = { name, ip, netns, dir, pid: Number(children[0]) };
        this.nodes.set(name, node);
        return node;
    }

    node(name: string): NodeSandbox {
        const n = this.nodes.get(name);
        if (!n) throw new Error(`no node sandbox ${name}`);
        return n;
    }

    /** The node's PATH: the lab's overlays, its staged binaries, the lab's, then the system's. */
    path(name: string): string {
        return [
            ...this.overlays,
            stagedDir(this.node(name)),
            labBin(),
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ].join(":");
    }

    /** argv inside the node, with a login-like environment: the lab's overlay first on PATH. */
    exec(
        name: string,
        argv: readonly string[],
        options: { input?: string; timeoutMs?: number } = {},
    ): Promise<RunResult> {
        return run("nsenter", this.nsenterArgs(name, argv), {
            input: options.input,
            timeoutMs: options.timeoutMs ?? 120_000,
        });
    }

    /**
     * A rendered script started as remote.Command starts it (bash, its stdin), not awaited: its host
     * PID (nsenter, the root of its process tree, for killTree) and its result once it ends.
     */
    startScript(name: string, script: string, stdin = ""): { pid: number; done: Promise<RunResult> } {
        const started = Date.now();
        const child = spawn("nsenter", this.nsenterArgs(name, ["bash", script]), { stdio: ["pipe", "pipe", "pipe"] });
        live.add(child);
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (b: Buffer) => out.push(b));
        child.stderr.on("data", (b: Buffer) => err.push(b));
        child.stdin.on("error", () => undefined);
        child.stdin.end(stdin);
        const done = new Promise<RunResult>((resolve) =>
            child.on("close", (code, signal) => {
                live.delete(child);
                resolve({
                    code,
                    signal,
                    stdout: Buffer.concat(out).toString("utf8"),
                    stderr: Buffer.concat(err).toString("utf8"),
                    timedOut: false,
                    ms: Date.now() - started,
                });
            }),
        );
        return { pid: child.pid!, done };
    }

    private nsenterArgs(name: string, argv: readonly string[]): string[] {
        const node = this.node(name);
        return [
            "-t",
            String(node.pid),
            "-n",
            "-m",
            "-u",
            "-p",
            "--wd=/",
            "--",
            "env",
            "-i",
            `PATH=${this.path(name)}`,
            "HOME=/root",
            "LANG=C.UTF-8",
            ...argv,
        ];
    }

    /** A rendered script run as remote.Command runs it: bash with its stdin; fails loudly. */
    async script(name: string, script: string, stdin = "", timeoutMs = 600_000): Promise<RunResult> {
        const r = await this.exec(name, ["bash", script], { input: stdin, timeoutMs });
        if (r.code !== 0)
            throw new Error(
                `${script} on ${name} failed (${r.timedOut ? "timed out" : `exit ${r.code}`}):\n${r.stdout}\n${r.stderr}\n${this.logs(name)}`,
            );
        return r;
    }

    /** The tail of the node's unit logs, for failure messages. */
    logs(name: string, lines = 15): string {
        const dir = join(this.node(name).dir, "logs");
        if (!existsSync(dir)) return "";
        return readdirSync(dir)
            .map(
                (f) =>
                    `--- ${name} ${f} (last ${lines} lines)\n${readFileSync(join(dir, f), "utf8").trimEnd().split("\n").slice(-lines).join("\n")}`,
            )
            .join("\n");
    }

    /** Image archives into the node's containerd, in the namespace the kubelet uses. */
    async importImages(name: string, archives: readonly string[]): Promise<void> {
        await waitFor(
            `${name}'s containerd`,
            60_000,
            async () =>
                (await this.exec(name, ["ctr", "version"], { timeoutMs: 10_000 })).code === 0 ? true : undefined,
            () => this.logs(name),
        );
        for (const a of archives) {
            const r = await this.exec(name, ["ctr", "-n", "k8s.io", "images", "import", a], { timeoutMs: 300_000 });
            if (r.code !== 0) throw new Error(`ctr images import ${a} on ${name} failed: ${r.stderr}`);
        }
    }

    /** haproxy as the NLB, in front of the given nodes' 6443 (the lab's configuration). */
    startNlb(names: readonly string[]): void {
        this.nlbTargets = names;
        const cfg = join(this.dir, "haproxy.cfg");
        writeFileSync(cfg, haproxyConfig(names.map((n) => ({ ...this.node(n), root: this.node(n).dir }))));
        const child = spawn("haproxy", ["-f", cfg, "-db"], { stdio: ["ignore", "ignore", "ignore"] });
        live.add(child);
        this.lb = child;
    }

    /** Lets a later lab end this one (with this function) instead of refusing to start. */
    releasable(release: () => Promise<void>): void {
        labs.set(this, release);
    }

    /** Ends the NLB stand-in (an NLB with no healthy target refuses too; this one refuses at once). */
    stopNlb(): void {
        this.lb?.kill("SIGKILL");
        this.lb = undefined;
    }

    /**
     * The NLB stand-in refuses every connection for `ms` (ended: nothing listens on its address),
     * then serves its targets again; resolves once it is back.
     */
    async refuseNlbFor(ms: number): Promise<void> {
        const targets = this.nlbTargets;
        if (!this.lb) throw new Error("refuseNlbFor: the NLB stand-in is not running");
        const lb = this.lb;
        const ended = new Promise((r) => lb.once("exit", r));
        this.stopNlb();
        await ended;
        await new Promise((r) => setTimeout(r, ms));
        this.startNlb(targets);
    }

    /** Ends every node (its PID 1, so the kernel ends the rest) and the NLB, and frees the cgroups and namespaces. */
    async stopAll(): Promise<void> {
        labs.delete(this);
        this.lb?.kill("SIGKILL");
        for (const n of this.nodes.values()) {
            try {
                process.kill(n.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        for (const n of this.nodes.values()) {
            await waitFor(`${n.name} to end`, 30_000, async () => (existsSync(`/proc/${n.pid}`) ? undefined : true));
            removeCgroups(n.name);
            // The namespace's veth pair goes with it, so a later lab can make lab-nI again.
            await run("ip", ["netns", "del", n.netns]);
        }
        this.nodes.clear();
    }
}

/**
 * The node's staged binaries, after the overlays and before the lab's own on its PATH: what a
 * package install puts in /usr/bin on an instance, when a scenario stages a version of its own.
 */
export function stagedDir(node: Pick<NodeSandbox, "dir">): string {
    return join(node.dir, "staged");
}

async function endOtherLabs(self: NodeSandboxes): Promise<void> {
    for (const [other, release] of [...labs]) {
        if (other === self) continue;
        if (!release)
            throw new Error("another node lab is running in this process: stop it (stopAll) before starting a new one");
        await release();
        labs.delete(other);
    }
}

/** rmdir the node's cgroup subtree in every v1 hierarchy, deepest first (its tasks are gone). */
function removeCgroups(name: string): void {
    const roots = readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h, "k8s-ha-lab", name));
    const rm = (dir: string): void => {
        if (!existsSync(dir)) return;
        for (const e of readdirSync(dir)) {
            const p = join(dir, e);
            // A pod's cgroup the kubelet removed meanwhile is gone (ENOENT): nothing left to do.
            if (statSync(p, { throwIfNoEntry: false })?.isDirectory()) rm(p);
        }
        try {
            rmdirSync(dir);
        } catch {
            // a cgroup a straggler still holds: left for the next run to find busy, not fatal here
        }
    };
    for (const r of roots) rm(r);
}

/** The PIDs of pid's descendants (not pid itself), from /proc's children lists. */
function descendants(pid: number): number[] {
    const out: number[] = [];
    const walk = (p: number): void => {
        let tasks: string[];
        try {
            tasks = readdirSync(`/proc/${p}/task`);
        } catch {
            return; // gone
        }
        for (const t of tasks) {
            let kids: string[] = [];
            try {
                kids = readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
            } catch {
                // the task ended
            }
            for (const k of kids.map(Number)) {
                out.push(k);
                walk(k);
            }
        }
    };
    walk(pid);
    return out;
}

const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
        process.kill(pid, sig);
    } catch {
        // already gone
    }
};

/**
 * SIGKILLs a process and its whole tree at one instant, as an instance dying would end them: the
 * tree is first stopped (SIGSTOP, repeated until no new process appears), so nothing runs on or
 * forks between the snapshot and the kill. A daemon that left the tree (setsid -f, like the lab
 * systemctl's units) is not in it, as a unit is not a child of the script on an instance either.
 */
export function killTree(pid: number): number[] {
    const stopped = new Set<number>([pid]);
    signal(pid, "SIGSTOP");
    for (;;) {
        const found = descendants(pid).filter((p) => !stopped.has(p));
        if (found.length === 0) break;
        for (const p of found) {
            stopped.add(p);
            signal(p, "SIGSTOP");
        }
    }
    for (const p of stopped) signal(p, "SIGKILL");
    return [...stopped];
}
