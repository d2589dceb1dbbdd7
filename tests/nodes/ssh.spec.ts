// The connection path of the stack's remote.Command steps, on the node sandboxes (ssh.ts): the
// host reaches a node only through the bastion sandbox, the product's command text runs as the
// stack's user `ubuntu` and becomes root through cloud-init's sudo rule, a failing script's exit
// code and output come back to the caller, and the secrets a script reads on stdin appear in no
// process's argv or environment on the node (every execve of the SSH session traced) nor in the
// sshds' logs (at LogLevel DEBUG3). Sandboxes alone suffice (no kubelet): a run that has brought
// the cluster up already (bringup.spec.ts) serves too, place-pki being idempotent.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { asRemoteCommand } from "../../components/kubeadm/shell";
import { placedFiles } from "../../tools/plan/render";
import { run, waitFor } from "../system/etcd/cluster";
import { sharedCluster, type Cluster } from "./cluster";
import type { SshAccess } from "./ssh";

/** Whether a TCP connection to ip:port opens within timeoutMs (a dropped SYN never answers). */
function tcpOpens(ip: string, port: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = connect({ host: ip, port });
        const done = (ok: boolean) => {
            s.destroy();
            resolve(ok);
        };
        s.setTimeout(timeoutMs, () => done(false));
        s.once("connect", () => done(true));
        s.once("error", () => done(false));
    });
}

/** The host PID of the sshd listening in a sandbox (its cmdline names the sandbox's own config). */
function listenerPid(nodeDir: string): number {
    const config = join(nodeDir, "ssh", "sshd_config");
    for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        let cmdline = "";
        try {
            cmdline = readFileSync(`/proc/${p}/cmdline`, "utf8");
        } catch {
            continue; // gone meanwhile
        }
        if (cmdline.includes(config) && cmdline.includes("[listener]")) return Number(p);
    }
    throw new Error(`no sshd listener with ${config}`);
}

/** Every execve (argv and environment) of the sshd's processes and their children while f runs. */
async function traceExecs<T>(pid: number, out: string, f: () => Promise<T>): Promise<{ result: T; trace: string }> {
    const strace = spawn("strace", ["-f", "-v", "-s", "4194304", "-e", "trace=execve", "-o", out, "-p", String(pid)], {
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    strace.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<void>((resolve) => strace.once("close", () => resolve()));
    let result: T;
    try {
        await waitFor(
            "strace to attach",
            10_000,
            async () => (/attached/.test(stderr) ? true : undefined),
            () => stderr,
        );
        result = await f();
    } finally {
        strace.kill("SIGINT");
        await exited;
    }
    return { result, trace: readFileSync(out, "utf8") };
}

describe("node sandboxes: scripts reach the nodes over SSH through the bastion, as remote.Command", function () {
    let c: Cluster;
    let ssh: SshAccess;

    before(async function () {
        c = await sharedCluster();
        if (!c.ssh) throw new Error("the cluster runs its scripts through nsenter (K8S_HA_NODES_TRANSPORT=nsenter)");
        ssh = c.ssh;
    });

    it("reaches a node only through the bastion: the host's own SSH to the node is dropped", async function () {
        const node = c.lab.node(c.workers[0] ?? c.node0);
        const bastion = c.lab.node(ssh.bastion);
        assert.equal(await tcpOpens(bastion.ip, 22, 5_000), true, "the bastion's sshd answers the host");
        assert.equal(await tcpOpens(node.ip, 22, 3_000), false, `${node.name}:22 answered the host directly`);
        const direct = await run("ssh", ["-F", ssh.config, "-o", "ConnectTimeout=3", `ubuntu@${node.ip}`, "true"]);
        assert.equal(direct.code, 255, direct.stderr);
        assert.match(direct.stderr, /timed out/);

        const through = await ssh.run(node.name, "echo reached");
        assert.equal(through.code, 0, through.stderr);
        assert.equal(through.stdout, "reached\n");
        // The cost of the path: an empty command over SSH (two handshakes) against nsenter, medians of 5.
        const median = async (f: () => Promise<unknown>) => {
            const ms: number[] = [];
            for (let i = 0; i < 5; i++) {
                const t = Date.now();
                await f();
                ms.push(Date.now() - t);
            }
            return ms.sort((a, b) => a - b)[2];
        };
        const overSsh = await median(() => ssh.run(node.name, "true"));
        const inPlace = await median(() => c.lab.exec(node.name, ["true"]));
        console.log(
            `      an empty command: ${overSsh} ms over SSH through the bastion, ${inPlace} ms through nsenter`,
        );
        // The node's sshd saw the bastion's address; the bastion's opened the channel to the node.
        const nodeLog = readFileSync(join(node.dir, "logs", "sshd.log"), "utf8");
        assert.match(nodeLog, new RegExp(`Connection from ${bastion.ip.replace(/\./g, "\\.")} port`));
        const bastionLog = readFileSync(join(bastion.dir, "logs", "sshd.log"), "utf8");
        assert.match(
            bastionLog,
            new RegExp(
                `server_request_direct_tcpip: originator \\S+ port \\d+, target ${node.ip.replace(/\./g, "\\.")} port 22`,
            ),
        );
    });

    it("logs in as the stack's user ubuntu, unprivileged, and the product's command runs as root through sudo", async function () {
        const node = c.node0;
        const login = await ssh.run(node, "id -un; id -Gn; touch /etc/kubernetes/k8s-ha-lab-probe");
        assert.equal(login.stdout.split("\n")[0], "ubuntu");
        assert.match(login.stdout.split("\n")[1], /\bsudo\b/);
        assert.notEqual(login.code, 0, "ubuntu wrote /etc/kubernetes without sudo");
        assert.match(login.stderr, /Permission denied/);

        const product = await ssh.run(node, asRemoteCommand('printf "%s %s\\n" "$(id -un)" "$SUDO_USER"\n'));
        assert.equal(product.code, 0, product.stderr);
        assert.equal(product.stdout, "root ubuntu\n");
    });

    it("hands a failing script's exit code, stdout and stderr back to the caller", async function () {
        const node = c.node0;
        const r = await ssh.run(node, asRemoteCommand("echo out; echo err >&2; exit 7\n"));
        assert.deepEqual([r.code, r.stdout, r.stderr], [7, "out\n", "err\n"]);

        // A rendered script refusing its input: the same exit code and message over SSH as run in place.
        const script = c.script(node, "place-pki.create");
        const overSsh = await ssh.run(node, asRemoteCommand(readFileSync(script, "utf8")), { input: "bad input\n" });
        const inPlace = await c.lab.exec(node, ["bash", script], { input: "bad input\n" });
        assert.equal(inPlace.code, 1, inPlace.stderr);
        assert.equal(overSsh.code, inPlace.code, overSsh.stderr);
        assert.match(overSsh.stderr, /ERROR: malformed input: stdin line 1/);
        await assert.rejects(ssh.script(node, script, "bad input\n"), /over SSH failed \(exit 1\)/);
    });

    it("keeps the secrets of stdin out of every argv and environment on the node and out of the sshds' logs", async function () {
        // place-pki's stdin carries the control plane's private keys (the CAs', the apiserver's, ...).
        const node = c.controlPlanes[1] ?? c.node0;
        const stdin = c.stdin(node, "place-pki");
        const keys = placedFiles(stdin).filter((f) => f.path.endsWith(".key"));
        assert.ok(keys.length >= 5, `place-pki's stdin holds ${keys.length} keys`);
        const secrets = keys.flatMap((k) => {
            const pem = k.content
                .toString("utf8")
                .split("\n")
                .filter((l) => l && !l.startsWith("-----"));
            // As sent (base64 of the PEM) and as written (a line of the PEM's body).
            return [k.content.toString("base64").slice(40, 100), pem[Math.floor(pem.length / 2)]];
        });
        const sandbox = c.lab.node(node);
        const command = asRemoteCommand(readFileSync(c.script(node, "place-pki.create"), "utf8"));
        const { result, trace } = await traceExecs(listenerPid(sandbox.dir), join(c.dir, `execve-${node}.trace`), () =>
            ssh.run(node, command, { input: stdin, timeoutMs: 300_000 }),
        );
        assert.equal(result.code, 0, result.stderr);
        // The trace holds the session: the product's command run by the login shell, sudo, bash -c.
        assert.match(trace, /execve\("[^"]*\/sudo", \["sudo", "bash", "-c", "/);
        assert.match(trace, /k8s-ha place-pki: place PKI files under \/etc\/kubernetes from stdin/);
        const logs = [sandbox.dir, c.lab.node(ssh.bastion).dir].map((d) =>
            readFileSync(join(d, "logs", "sshd.log"), "utf8"),
        );
        assert.match(logs[0], /Starting session: command for ubuntu from/);
        const argv = ssh.argv(node, command).join(" ");
        for (const s of secrets) {
            assert.ok(s.length >= 40);
            assert.ok(!trace.includes(s), `a private key's text is in an argv or environment on ${node}`);
            assert.ok(!logs.some((l) => l.includes(s)), "a private key's text is in an sshd's log");
            assert.ok(!argv.includes(s), "a private key's text is in the ssh client's argv");
        }
    });
});
