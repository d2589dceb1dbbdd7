// A real etcd cluster on loopback addresses for system specs: members started with the flags
// kubeadm 1.35's etcd static-pod manifest uses (full mutual TLS for clients and peers), each
// logging to its own file, stopped by PID. Plus etcdctl helpers: health, leader, batched writes
// with `etcdctl txn`, key counts and per-member serializable reads. Reused by the backup/restore
// specs: dataDir(), peerUrl() and initialCluster are what `etcdutl snapshot restore` needs, and
// start() runs a member on whatever its data dir holds.
//
// etcd, etcdctl and etcdutl are the lab's 3.6.16, built from their Go modules by
// `npm run lab:tools` into .lab/bin/ (tests/lab/tools.ts): the minor kubeadm 1.35 deploys. A
// missing binary fails the spec with that command in the message; nothing falls back to
// Debian's etcd 3.4 (only the restore-defect spec runs Debian's etcdctl 3.4, by its full path).
//
// Facts this relies on (etcd 3.6.16, measured on this machine): peers dial from 127.0.0.1 on
// loopback, so peer certificates need 127.0.0.1 and localhost among their SANs; `--max-txn-ops` is
// 128; `etcdctl txn` still commits with context.Background() (see txn()); TLS failures reach
// etcdctl only as "context deadline exceeded", the reason is in the server's log ("rejected
// connection on client endpoint" / "... on peer endpoint"; 3.4 logged plain "rejected
// connection"); zap JSON logs are 3.6's only format (3.4 needed --logger=zap). A fresh 3-member
// cluster with mutual TLS is healthy 0.75-2.4 s after start (3.2 s once under heavy load). When
// every member restarts at once on existing data, --feature-gates=InitialCorruptCheck=true makes
// each ask its peers for their hashes before it serves peers: 7 s for each peer whose port accepts
// but does not serve yet, so such a restart is healthy after 2-15 s.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import { labTool, requireLabTools } from "../../lab/tools";

/** Debian's binaries the system specs need on PATH (etcd itself is the lab's, see requireEtcdTools()). */
export const REQUIRED_BINARIES = ["openssl"] as const;
const INSTALL_HINT = "install Debian's packages: apt-get install -y openssl";
const LAB_HINT = "build the lab's etcd 3.6 with 'npm run lab:tools'";
/** The lab's etcd toolset (3.6.16). */
export const ETCD_TOOLS = ["etcd", "etcdctl", "etcdutl"] as const;

/** Absolute path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
        const candidate = join(dir, name);
        try {
            accessSync(candidate, constants.X_OK);
            if (statSync(candidate).isFile()) return candidate;
        } catch {
            // not here
        }
    }
    return undefined;
}

/** Throws (never skips) when a binary the system specs need is missing. */
export function requireBinaries(names: readonly string[] = REQUIRED_BINARIES): void {
    const missing = names.filter((n) => !which(n));
    if (missing.length > 0) {
        throw new Error(
            `system spec needs ${missing.join(", ")} on PATH but ${missing.length === 1 ? "it is" : "they are"} missing; ${INSTALL_HINT}`,
        );
    }
}

/** Throws (never skips) when the lab's etcd, etcdctl or etcdutl is not built; the message names `npm run lab:tools`. */
export function requireEtcdTools(): void {
    requireLabTools(ETCD_TOOLS);
}

/** The environment for etcd and etcdctl: no inherited ETCD_* / ETCDCTL_* settings (etcd reads them as flags). */
function cleanEnv(): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^ETCD(CTL)?_/.test(k)));
}

export interface RunResult {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly stdout: string;
    readonly stderr: string;
    /** Killed by the harness after timeoutMs (distinct from etcdctl's own --command-timeout). */
    readonly timedOut: boolean;
    readonly ms: number;
}

/** Runs a command to completion with a hard time bound; never throws for a non-zero exit. */
export function run(
    cmd: string,
    args: readonly string[],
    options: { input?: string; timeoutMs?: number; cwd?: string; env?: Readonly<Record<string, string>> } = {},
): Promise<RunResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, {
            env: { ...cleanEnv(), ...options.env },
            cwd: options.cwd,
            stdio: ["pipe", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, options.timeoutMs ?? 30_000);
        child.stdout.on("data", (b: Buffer) => out.push(b));
        child.stderr.on("data", (b: Buffer) => err.push(b));
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(
                new Error(
                    `cannot run ${cmd}: ${e.message}${(e as NodeJS.ErrnoException).code === "ENOENT" ? `; ${cmd.includes("/.lab/bin/") ? LAB_HINT : INSTALL_HINT}` : ""}`,
                ),
            );
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({
                code,
                signal,
                stdout: Buffer.concat(out).toString("utf8"),
                stderr: Buffer.concat(err).toString("utf8"),
                timedOut,
                ms: Date.now() - started,
            });
        });
        child.stdin.on("error", () => undefined); // the child may exit before reading all input
        child.stdin.end(options.input ?? "");
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined) or the deadline passes; then throws describe(). */
export async function waitFor<T>(
    what: string,
    timeoutMs: number,
    probe: () => Promise<T | undefined>,
    describe: () => string = () => "",
    intervalMs = 200,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() >= deadline) {
            const detail = describe();
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail}` : ""}`);
        }
        await sleep(intervalMs);
    }
}

export interface KeyPair {
    readonly cert: string;
    readonly key: string;
}

export interface MemberSpec {
    /** --name: the Node name, as kubeadm sets it (also the CN of its certificates). */
    readonly name: string;
    /** Loopback address standing in for the node's private IP (127.0.0.0/8). */
    readonly ip: string;
    /** etcd/server.crt and server.key. */
    readonly server: KeyPair;
    /** etcd/peer.crt and peer.key. */
    readonly peer: KeyPair;
}

export interface EtcdClusterOptions {
    /** Where data dirs and logs go (one <name>.etcd and <name>.log per member). */
    readonly dir: string;
    /** etcd/ca.crt: trusted for clients (--trusted-ca-file) and peers (--peer-trusted-ca-file). */
    readonly caFile: string;
    readonly members: readonly MemberSpec[];
    /** etcdctl's default identity (kube-apiserver's: apiserver-etcd-client). */
    readonly client: KeyPair;
    /** Extra flags, name without dashes -> value (the project's etcd tuning). */
    readonly flags?: Readonly<Record<string, string>>;
    readonly clientPort?: number;
    readonly peerPort?: number;
    readonly metricsPort?: number;
}

interface Running {
    readonly child: ChildProcess;
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    exit?: { code: number | null; signal: NodeJS.Signals | null };
    startError?: Error;
}

/** Every member process started by any cluster in this process, SIGKILLed if the runner exits first. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
    for (const child of live) {
        try {
            child.kill("SIGKILL");
        } catch {
            // already gone
        }
    }
});

export interface PutOutcome {
    /** Keys whose txn etcdctl acknowledged (printed SUCCESS, exit 0): committed by a quorum. */
    readonly acknowledged: string[];
    /** Keys whose txn failed or timed out: indeterminate, may or may not be committed. */
    readonly unacknowledged: string[];
    /** etcdctl's errors, one per failed txn. */
    readonly errors: string[];
}

export interface EndpointHealth {
    readonly endpoint: string;
    readonly health: boolean;
    readonly error?: string;
}

export class EtcdCluster {
    readonly members: readonly MemberSpec[];
    private readonly processes = new Map<string, Running>();
    private readonly clientPort: number;
    private readonly peerPort: number;
    private readonly metricsPort: number;

    constructor(readonly options: EtcdClusterOptions) {
        this.members = options.members;
        this.clientPort = options.clientPort ?? 2379;
        this.peerPort = options.peerPort ?? 2380;
        this.metricsPort = options.metricsPort ?? 2381;
        if (new Set(this.members.map((m) => m.name)).size !== this.members.length)
            throw new Error("member names must be unique");
        for (const m of this.members) {
            if (!/^127\.\d+\.\d+\.\d+$/.test(m.ip))
                throw new Error(`member ${m.name}: ${m.ip} is not a loopback address (127.0.0.0/8)`);
        }
        mkdirSync(options.dir, { recursive: true });
    }

    member(name: string): MemberSpec {
        const m = this.members.find((x) => x.name === name);
        if (!m) throw new Error(`no member ${name} (members: ${this.members.map((x) => x.name).join(", ")})`);
        return m;
    }

    clientUrl(name: string): string {
        return `https://${this.member(name).ip}:${this.clientPort}`;
    }

    peerUrl(name: string): string {
        return `https://${this.member(name).ip}:${this.peerPort}`;
    }

    dataDir(name: string): string {
        return join(this.options.dir, `${this.member(name).name}.etcd`);
    }

    logFile(name: string): string {
        return join(this.options.dir, `${this.member(name).name}.log`);
    }

    /** --initial-cluster: every member's name=peer URL. */
    get initialCluster(): string {
        return this.members.map((m) => `${m.name}=${this.peerUrl(m.name)}`).join(",");
    }

    /** The flags kubeadm's etcd manifest sets, with this host's addresses, plus the extra flags. */
    flags(name: string, state: "new" | "existing" = "new"): string[] {
        const m = this.member(name);
        const flags: Record<string, string> = {
            name: m.name,
            "data-dir": this.dataDir(name),
            "cert-file": m.server.cert,
            "key-file": m.server.key,
            "trusted-ca-file": this.options.caFile,
            "client-cert-auth": "true",
            "peer-cert-file": m.peer.cert,
            "peer-key-file": m.peer.key,
            "peer-trusted-ca-file": this.options.caFile,
            "peer-client-cert-auth": "true",
            // kubeadm also listens on https://127.0.0.1:2379 and serves metrics on 127.0.0.1:2381;
            // three members on one host cannot share those, so each keeps to its own address.
            "listen-client-urls": this.clientUrl(name),
            "advertise-client-urls": this.clientUrl(name),
            "listen-peer-urls": this.peerUrl(name),
            "initial-advertise-peer-urls": this.peerUrl(name),
            "listen-metrics-urls": `http://${m.ip}:${this.metricsPort}`,
            "initial-cluster": this.initialCluster,
            "initial-cluster-state": state,
            "snapshot-count": "10000",
            // kubeadm 1.35 passes these two for etcd >= 3.6.0 (https://github.com/kubernetes/kubernetes/blob/v1.35.4/cmd/kubeadm/app/phases/etcd/local.go),
            // where the `experimental-` forms 3.4 and 3.5 took are deprecated.
            "feature-gates": "InitialCorruptCheck=true",
            "watch-progress-notify-interval": "5s",
            // zap JSON, one object a line, is 3.6's only log format; stderr goes to the member's log file.
            "log-outputs": "stderr",
            ...this.options.flags,
        };
        return Object.entries(flags).map(([k, v]) => `--${k}=${v}`);
    }

    /** Starts one member (its data dir decides whether it bootstraps or rejoins). */
    async start(name: string, options: { state?: "new" | "existing" } = {}): Promise<void> {
        const m = this.member(name);
        if (this.isRunning(name)) throw new Error(`member ${name} is already running (pid ${this.pid(name)})`);
        for (const port of [this.clientPort, this.peerPort, this.metricsPort]) {
            if (await listening(m.ip, port)) {
                throw new Error(
                    `cannot start ${name}: something already listens on ${m.ip}:${port} (a leftover etcd from an earlier run? find it with: ss -ltnp 'sport = :${port}')`,
                );
            }
        }
        const fd = openSync(this.logFile(name), "a");
        let child: ChildProcess;
        try {
            child = spawn(labTool("etcd"), this.flags(name, options.state), {
                env: cleanEnv(),
                stdio: ["ignore", fd, fd],
            });
        } finally {
            closeSync(fd);
        }
        const running: Running = {
            child,
            exited: new Promise((resolve) => {
                child.on("exit", (code, signal) => {
                    live.delete(child);
                    running.exit = { code, signal };
                    resolve({ code, signal });
                });
            }),
        };
        child.on("error", (e) => {
            live.delete(child);
            running.exit = { code: null, signal: null };
            running.startError = e;
        });
        live.add(child);
        this.processes.set(name, running);
        await sleep(50);
        if (running.startError)
            throw new Error(`cannot start etcd for ${name}: ${running.startError.message}; ${LAB_HINT}`);
    }

    async startAll(options: { state?: "new" | "existing" } = {}): Promise<void> {
        for (const m of this.members) await this.start(m.name, options);
    }

    isRunning(name: string): boolean {
        const r = this.processes.get(name);
        return !!r && !r.exit;
    }

    pid(name: string): number | undefined {
        return this.processes.get(name)?.child.pid;
    }

    running(): string[] {
        return this.members.map((m) => m.name).filter((n) => this.isRunning(n));
    }

    /**
     * Signals one member by PID and waits for it to exit; after graceMs a member that ignored a
     * softer signal gets SIGKILL. Throws if it is still alive after that.
     */
    async kill(name: string, signal: NodeJS.Signals = "SIGKILL", graceMs = 5_000): Promise<void> {
        const r = this.processes.get(name);
        if (!r || r.exit) return;
        r.child.kill(signal);
        if (await Promise.race([r.exited.then(() => true), sleep(graceMs).then(() => false)])) return;
        if (signal !== "SIGKILL") {
            r.child.kill("SIGKILL");
            if (await Promise.race([r.exited.then(() => true), sleep(graceMs).then(() => false)])) return;
        }
        throw new Error(
            `member ${name} (pid ${r.child.pid}) did not exit after ${signal}${signal !== "SIGKILL" ? " and SIGKILL" : ""}`,
        );
    }

    /** Graceful stop: SIGTERM, SIGKILL after graceMs. */
    stop(name: string, graceMs = 10_000): Promise<void> {
        return this.kill(name, "SIGTERM", graceMs);
    }

    /** Kills every running member at once (SIGKILL by default: SIGTERM of all members stalls on leader transfer). */
    async stopAll(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
        const results = await Promise.allSettled(this.members.map((m) => this.kill(m.name, signal)));
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed.length > 0) throw new Error(failed.map((f) => String(f.reason?.message ?? f.reason)).join("; "));
    }

    /** How each member ended, for error messages. */
    describe(): string {
        return this.members
            .map((m) => {
                const r = this.processes.get(m.name);
                const state = !r
                    ? "never started"
                    : r.exit
                      ? `exited (code ${r.exit.code}, signal ${r.exit.signal})`
                      : `running (pid ${r.child.pid})`;
                return `${m.name} ${state}; log ${this.logFile(m.name)}:\n${indent(this.logTail(m.name, 8))}`;
            })
            .join("\n");
    }

    log(name: string): string {
        return existsSync(this.logFile(name)) ? readFileSync(this.logFile(name), "utf8") : "";
    }

    /** Byte length of the log now: pass to logSince() to read only what came after. */
    logOffset(name: string): number {
        return existsSync(this.logFile(name)) ? statSync(this.logFile(name)).size : 0;
    }

    logSince(name: string, offset: number): string {
        return existsSync(this.logFile(name)) ? readFileSync(this.logFile(name)).subarray(offset).toString("utf8") : "";
    }

    logTail(name: string, lines: number): string {
        return this.log(name).trimEnd().split("\n").slice(-lines).join("\n");
    }

    /** Runs etcdctl against the given endpoints (default: every running member) as the given client. */
    etcdctl(
        args: readonly string[],
        options: {
            endpoints?: readonly string[];
            client?: KeyPair | null;
            caFile?: string;
            input?: string;
            timeoutMs?: number;
        } = {},
    ): Promise<RunResult> {
        const endpoints = options.endpoints ?? this.running().map((n) => this.clientUrl(n));
        const client = options.client === undefined ? this.options.client : options.client;
        const tls = [
            `--cacert=${options.caFile ?? this.options.caFile}`,
            ...(client ? [`--cert=${client.cert}`, `--key=${client.key}`] : []),
        ];
        return run(labTool("etcdctl"), [`--endpoints=${endpoints.join(",")}`, ...tls, ...args], {
            input: options.input,
            timeoutMs: options.timeoutMs ?? 30_000,
        });
    }

    /** `endpoint health` (with --cluster: every member from the member list). */
    async health(
        options: {
            cluster?: boolean;
            endpoints?: readonly string[];
            client?: KeyPair;
            dialTimeout?: string;
            commandTimeout?: string;
        } = {},
    ): Promise<{ result: RunResult; endpoints: EndpointHealth[] }> {
        const timeouts = [
            `--dial-timeout=${options.dialTimeout ?? "2s"}`,
            `--command-timeout=${options.commandTimeout ?? "3s"}`,
        ];
        const result = await this.etcdctl(
            ["endpoint", "health", "-w", "json", ...timeouts, ...(options.cluster ? ["--cluster"] : [])],
            { endpoints: options.endpoints, client: options.client, timeoutMs: 20_000 },
        );
        let endpoints: EndpointHealth[] = [];
        try {
            endpoints = (JSON.parse(result.stdout || "[]") as EndpointHealth[]).map((e) => ({
                endpoint: e.endpoint,
                health: e.health === true,
                error: e.error,
            }));
        } catch {
            // not JSON (etcdctl failed before checking): no endpoint is known healthy
        }
        return { result, endpoints };
    }

    /** Waits until `endpoint health --cluster` reports every member (or `expect` of them) healthy. */
    async waitHealthy(
        options: { timeoutMs?: number; client?: KeyPair; expect?: readonly string[] } = {},
    ): Promise<EndpointHealth[]> {
        const expect = (options.expect ?? this.members.map((m) => m.name)).map((n) => this.clientUrl(n)).sort();
        let last = "";
        return waitFor(
            `etcd members ${expect.join(", ")} to be healthy`,
            options.timeoutMs ?? 20_000,
            async () => {
                const dead = this.members.filter(
                    (m) => expect.includes(this.clientUrl(m.name)) && !this.isRunning(m.name),
                );
                if (dead.length > 0)
                    throw new Error(`member(s) ${dead.map((m) => m.name).join(", ")} not running:\n${this.describe()}`);
                // --cluster also checks members missing from `expect` (stopped ones): only when all are expected.
                const { result, endpoints } = await this.health({
                    cluster: expect.length === this.members.length,
                    client: options.client,
                    endpoints: expect,
                    dialTimeout: "1s",
                    commandTimeout: "2s",
                });
                last = `etcdctl exit ${result.code}: ${result.stdout.trim()} ${result.stderr.trim()}`;
                const healthy = endpoints
                    .filter((e) => e.health)
                    .map((e) => e.endpoint)
                    .sort();
                return result.code === 0 && JSON.stringify(healthy) === JSON.stringify(expect) ? endpoints : undefined;
            },
            () => `last: ${last}\n${this.describe()}`,
            250,
        );
    }

    /** The current leader's name as seen by the running members, or undefined. */
    async leader(): Promise<string | undefined> {
        const names = this.running();
        const result = await this.etcdctl(
            ["endpoint", "status", "-w", "json", "--dial-timeout=2s", "--command-timeout=3s"],
            { endpoints: names.map((n) => this.clientUrl(n)), timeoutMs: 10_000 },
        );
        if (!result.stdout.trim().startsWith("[")) return undefined;
        // member ids are uint64: keep them as strings (JSON numbers would lose precision).
        const statuses = JSON.parse(result.stdout.replace(/"(member_id|leader|cluster_id)":(\d+)/g, '"$1":"$2"')) as {
            Endpoint: string;
            Status: { header: { member_id: string }; leader: string };
        }[];
        const self = statuses.find((s) => s.Status.header.member_id === s.Status.leader);
        return self && names.find((n) => this.clientUrl(n) === self.Endpoint);
    }

    /**
     * `endpoint status` of every member at once (one etcdctl per member, in parallel, each bounded
     * by the timeouts): the leader's member id as that member sees it (undefined when it reports
     * none, i.e. 0), or why it gave no status.
     */
    async statuses(
        options: { dialTimeout?: string; commandTimeout?: string } = {},
    ): Promise<{ name: string; leader?: string; error?: string }[]> {
        const timeouts = [
            `--dial-timeout=${options.dialTimeout ?? "1s"}`,
            `--command-timeout=${options.commandTimeout ?? "1s"}`,
        ];
        return Promise.all(
            this.members.map(async (m) => {
                const r = await this.etcdctl(["endpoint", "status", "-w", "json", ...timeouts], {
                    endpoints: [this.clientUrl(m.name)],
                    timeoutMs: 10_000,
                });
                if (r.code !== 0 || !r.stdout.trim().startsWith("["))
                    return {
                        name: m.name,
                        error: `etcdctl exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").pop()}`,
                    };
                const [status] = JSON.parse(
                    r.stdout.replace(/"(member_id|leader|cluster_id)":(\d+)/g, '"$1":"$2"'),
                ) as { Status: { leader: string } }[];
                return { name: m.name, leader: status.Status.leader === "0" ? undefined : status.Status.leader };
            }),
        );
    }

    /**
     * Writes keys in transactions of at most `batch` puts (`--max-txn-ops` is 128) and reports
     * which were acknowledged. A txn is acknowledged only when etcdctl prints SUCCESS and exits 0.
     * `commandTimeout` bounds each txn (enforced by the harness, see txn()).
     */
    async put(
        entries: readonly (readonly [string, string])[],
        options: { endpoints?: readonly string[]; commandTimeout?: string; batch?: number } = {},
    ): Promise<PutOutcome> {
        const batch = options.batch ?? 100;
        const acknowledged: string[] = [];
        const unacknowledged: string[] = [];
        const errors: string[] = [];
        for (let i = 0; i < entries.length; i += batch) {
            const chunk = entries.slice(i, i + batch);
            const r = await this.txn(chunk, options);
            if (r.ok) acknowledged.push(...chunk.map(([k]) => k));
            else {
                unacknowledged.push(...chunk.map(([k]) => k));
                errors.push(r.error);
            }
        }
        return { acknowledged, unacknowledged, errors };
    }

    /** Like put(), but retries each failed txn (same keys and values: idempotent) until it is acknowledged or the deadline passes. */
    async putWithRetry(
        entries: readonly (readonly [string, string])[],
        options: { endpoints?: readonly string[]; commandTimeout?: string; batch?: number; deadlineMs: number },
    ): Promise<PutOutcome & { attempts: number }> {
        const batch = options.batch ?? 100;
        const deadline = Date.now() + options.deadlineMs;
        const acknowledged: string[] = [];
        const errors: string[] = [];
        let attempts = 0;
        for (let i = 0; i < entries.length; i += batch) {
            const chunk = entries.slice(i, i + batch);
            for (;;) {
                attempts++;
                const r = await this.txn(chunk, options);
                if (r.ok) {
                    acknowledged.push(...chunk.map(([k]) => k));
                    break;
                }
                errors.push(r.error);
                if (Date.now() >= deadline) {
                    const rest = entries.slice(i).map(([k]) => k);
                    return { acknowledged, unacknowledged: rest, errors, attempts };
                }
                await sleep(200);
            }
        }
        return { acknowledged, unacknowledged: [], errors, attempts };
    }

    /**
     * One txn. etcdctl's txn ignores --command-timeout (it commits with context.Background(); a
     * proposal forwarded to a dead leader then waits for the server's own 7 s request timeout), so
     * the harness bounds it instead: killed after commandTimeout + 2 s, reported as unacknowledged.
     */
    private async txn(
        chunk: readonly (readonly [string, string])[],
        options: { endpoints?: readonly string[]; commandTimeout?: string },
    ): Promise<{ ok: true } | { ok: false; error: string }> {
        for (const [k, v] of chunk) {
            if (/\s/.test(k + v) || !k || !v)
                throw new Error(
                    `txn fixture: keys and values must be non-empty and without whitespace (${JSON.stringify(k)}=${JSON.stringify(v)})`,
                );
        }
        const commandTimeout = options.commandTimeout ?? "5s";
        // Non-interactive txn: compares, blank line, success ops, blank line, failure ops.
        const input = `\n${chunk.map(([k, v]) => `put ${k} ${v}`).join("\n")}\n\n\n`;
        const r = await this.etcdctl(["txn", "--dial-timeout=2s"], {
            endpoints: options.endpoints,
            input,
            timeoutMs: durationMs(commandTimeout) + 2_000,
        });
        if (r.code === 0 && r.stdout.startsWith("SUCCESS")) return { ok: true };
        if (r.timedOut)
            return { ok: false, error: `etcdctl txn gave no answer within ${commandTimeout} + 2 s (killed)` };
        return { ok: false, error: `etcdctl txn exit ${r.code}: ${(r.stderr || r.stdout).trim()}` };
    }

    /**
     * One `etcdctl put` (which, unlike txn, honours --command-timeout): acknowledged when it prints
     * OK. The dial timeout is generous (3 s) so that a slow dial on a loaded machine is not
     * mistaken for a refused write.
     */
    async putOne(
        key: string,
        value: string,
        options: { endpoints?: readonly string[]; commandTimeout?: string } = {},
    ): Promise<{ ok: boolean; error?: string; ms: number }> {
        const commandTimeout = options.commandTimeout ?? "5s";
        const r = await this.etcdctl(["put", key, value, `--command-timeout=${commandTimeout}`, "--dial-timeout=3s"], {
            endpoints: options.endpoints,
            timeoutMs: durationMs(commandTimeout) + 10_000,
        });
        const ok = r.code === 0 && r.stdout.trim() === "OK";
        return { ok, error: ok ? undefined : `etcdctl put exit ${r.code}: ${(r.stderr || r.stdout).trim()}`, ms: r.ms };
    }

    /** Number of keys under a prefix, read from one endpoint (serializable: that member's own store). */
    async countKeys(prefix: string, endpoint: string, options: { serializable?: boolean } = {}): Promise<number> {
        const r = await this.etcdctl(
            [
                "get",
                prefix,
                "--prefix",
                "--limit=1",
                "-w",
                "json",
                `--consistency=${options.serializable ? "s" : "l"}`,
                "--command-timeout=5s",
            ],
            { endpoints: [endpoint] },
        );
        if (r.code !== 0)
            throw new Error(
                `etcdctl get --prefix ${prefix} on ${endpoint} failed (exit ${r.code}): ${r.stderr.trim()}`,
            );
        return Number((JSON.parse(r.stdout) as { count?: number }).count ?? 0);
    }

    /** Every key and value under a prefix, read from one endpoint. */
    async getPrefix(
        prefix: string,
        endpoint: string,
        options: { serializable?: boolean } = {},
    ): Promise<Map<string, string>> {
        const r = await this.etcdctl(
            [
                "get",
                prefix,
                "--prefix",
                "-w",
                "json",
                `--consistency=${options.serializable ? "s" : "l"}`,
                "--command-timeout=5s",
            ],
            { endpoints: [endpoint] },
        );
        if (r.code !== 0)
            throw new Error(
                `etcdctl get --prefix ${prefix} on ${endpoint} failed (exit ${r.code}): ${r.stderr.trim()}`,
            );
        const kvs = (JSON.parse(r.stdout) as { kvs?: { key: string; value: string }[] }).kvs ?? [];
        return new Map(
            kvs.map((kv) => [
                Buffer.from(kv.key, "base64").toString("utf8"),
                Buffer.from(kv.value, "base64").toString("utf8"),
            ]),
        );
    }
}

/** Milliseconds of a Go duration as etcdctl takes them ("500ms", "2s", "1m"). */
export function durationMs(d: string): number {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
    if (!m) throw new Error(`unsupported duration ${d} (use ms, s or m)`);
    return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000 }[m[2] as "ms" | "s" | "m"];
}

/**
 * `count` loopback addresses 127.0.<k>.11, .12, ... on which none of `ports` is in use. k starts
 * from a value derived from the PID so that two runs at the same time (two people running the
 * system suite on one machine) do not pick the same addresses; it skips any k already in use.
 */
export async function freeLoopbackAddresses(
    count: number,
    ports: readonly number[] = [2379, 2380, 2381],
): Promise<string[]> {
    const start = process.pid % 200;
    for (let i = 0; i < 250; i++) {
        const k = 1 + ((start + i) % 250);
        const ips = Array.from({ length: count }, (_, j) => `127.0.${k}.${11 + j}`);
        const busy = await Promise.all(ips.flatMap((ip) => ports.map((port) => listening(ip, port))));
        if (!busy.some(Boolean)) return ips;
    }
    throw new Error(
        `no free loopback addresses for ${count} etcd members on ports ${ports.join(", ")} (127.0.1-250.11+)`,
    );
}

/** Whether something accepts TCP connections on ip:port. */
function listening(ip: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = connect({ host: ip, port });
        const done = (result: boolean) => {
            socket.destroy();
            resolve(result);
        };
        socket.setTimeout(500, () => done(false));
        socket.once("connect", () => done(true));
        socket.once("error", () => done(false));
    });
}

function indent(text: string): string {
    return text
        .split("\n")
        .map((l) => `    ${l}`)
        .join("\n");
}
