// SSH into the node sandboxes the way the stack's remote.Command steps reach the EC2 nodes
// (components/bootstrap.ts `connection`): as `ubuntu` with the cluster's key, through the bastion,
// the command text being the product's `sudo bash -c '<script>'` (components/kubeadm/shell.ts) and
// the secrets on stdin. Each node sandbox and a bastion sandbox on the lab's bridge run Debian's
// sshd with host keys of their own (sandbox/ssh/setup.sh); a node drops SSH from anything but the
// bastion, so the host reaches the nodes only through it, as the security groups allow.
//
// OpenSSH's client (`ssh -J`) stands in for @pulumi/command's Go SSH client, which dials the
// bastion, opens a direct-tcpip channel to the node's port 22 through it (what -J does too),
// then runs the command as one SSH "exec" request with stdin from the `stdin` input and no PTY
// (provider/pkg/provider/remote/commandOutputs.go: session.Run(cmd)). Unlike the provider, the lab
// checks host keys (the sandboxes' keys are known; the provider ignores them) and does not retry
// failed dials (dialErrorLimit): the sandboxes' sshds are up before the first command.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SSH_USER } from "../../components/bootstrap";
import { asRemoteCommand } from "../../components/kubeadm/shell";
import { run, type RunResult } from "../system/etcd/cluster";
import { SANDBOX_DIR, type NodeSandboxes } from "./sandbox";

const SETUP = join(SANDBOX_DIR, "ssh", "setup.sh");

/** The node's sudoers file for the lab's PATH (see secure path below); sudo skips names with a dot. */
const LAB_SUDOERS = "99-k8s-ha-lab";

export class SshAccess {
    private readonly securePaths = new Map<string, string>();

    private constructor(
        readonly lab: NodeSandboxes,
        /** Holds the run's key pair (0600), known_hosts and ssh_config. */
        readonly dir: string,
        /** The bastion sandbox's name. */
        readonly bastion: string,
    ) {}

    get config(): string {
        return join(this.dir, "ssh_config");
    }

    /** The run's private key file (0600): the stack's key is a secret, so it is never in argv. */
    get keyFile(): string {
        return join(this.dir, "id_ed25519");
    }

    /**
     * A key pair for this run, then sshd on the bastion and on every node (the nodes taking SSH
     * from the bastion only), known_hosts from their host keys and the client's configuration.
     */
    static async setUp(lab: NodeSandboxes, dir: string, bastion: string, nodes: readonly string[]): Promise<SshAccess> {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const access = new SshAccess(lab, dir, bastion);
        // ssh-keygen writes the private key 0600 itself; -N '' as the stack's tls.PrivateKey has none.
        const keygen = await run("ssh-keygen", [
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "k8s-ha-lab",
            "-f",
            access.keyFile,
        ]);
        if (keygen.code !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
        const bastionIp = lab.node(bastion).ip;
        const known: string[] = [];
        for (const name of [bastion, ...nodes]) {
            const node = lab.node(name);
            const args = [SETUP, node.dir, `${access.keyFile}.pub`, ...(name === bastion ? [] : [bastionIp])];
            const r = await lab.exec(name, ["bash", ...args], { timeoutMs: 60_000 });
            if (r.code !== 0)
                throw new Error(`sshd setup on ${name} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
            const hostKey = readFileSync(join(node.dir, "ssh", "ssh_host_ed25519_key.pub"), "utf8").trim();
            known.push(`${node.ip} ${hostKey}`);
        }
        writeFileSync(join(dir, "known_hosts"), `${known.join("\n")}\n`, { mode: 0o600 });
        writeFileSync(access.config, sshConfig(access.keyFile, join(dir, "known_hosts")), { mode: 0o600 });
        chmodSync(access.config, 0o600);
        return access;
    }

    /** ssh's argv for one command on a node through the bastion (no secret: the key is a file). */
    argv(node: string, command: string): string[] {
        const target = this.lab.node(node).ip;
        return [
            "-F",
            this.config,
            "-J",
            `${SSH_USER}@${this.lab.node(this.bastion).ip}`,
            `${SSH_USER}@${target}`,
            command,
        ];
    }

    /** Runs a command text on a node as remote.Command does: one exec request, stdin, its exit code. */
    async run(node: string, command: string, options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
        this.syncSecurePath(node);
        return run("ssh", this.argv(node, command), { input: options.input, timeoutMs: options.timeoutMs ?? 120_000 });
    }

    /**
     * A rendered script (`npm run plan -- --render`) run as its remote.Command runs it: the
     * product's command text for it (`sudo bash -c '<script>'`) with its stdin; fails loudly.
     */
    async script(node: string, scriptFile: string, stdin = "", timeoutMs = 600_000): Promise<RunResult> {
        const r = await this.run(node, asRemoteCommand(readFileSync(scriptFile, "utf8")), { input: stdin, timeoutMs });
        if (r.code !== 0)
            throw new Error(
                `${scriptFile} on ${node} over SSH failed (${r.timedOut ? "timed out" : `exit ${r.code}`}):\n${r.stdout}\n${r.stderr}\n${this.lab.logs(node)}`,
            );
        return r;
    }

    /**
     * sudo's secure_path on the node: the lab's PATH (overlays, staged binaries, the lab's build;
     * NodeSandboxes.path), which a scenario may change between runs. On an instance the packages
     * put those commands in /usr/bin, which Ubuntu's secure_path holds already.
     */
    private syncSecurePath(node: string): void {
        const path = this.lab.path(node);
        if (this.securePaths.get(node) === path) return;
        const file = join(this.lab.node(node).dir, "ssh", "sudoers.d", LAB_SUDOERS);
        writeFileSync(
            file,
            `# k8s-ha lab: the node's PATH for sudo (tests/nodes/ssh.ts)\nDefaults secure_path="${path}"\n`,
            {
                mode: 0o440,
            },
        );
        chmodSync(file, 0o440);
        this.securePaths.set(node, path);
    }
}

/**
 * The client's configuration: the run's key alone (no agent), the sandboxes' host keys checked,
 * no prompt. A file (-F), because ssh hands it to the ProxyJump's own ssh too (-o is not).
 */
export function sshConfig(keyFile: string, knownHosts: string): string {
    return [
        "Host *",
        `    IdentityFile ${keyFile}`,
        "    IdentitiesOnly yes",
        "    IdentityAgent none",
        `    UserKnownHostsFile ${knownHosts}`,
        "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking yes",
        "    BatchMode yes",
        "    ConnectTimeout 10",
        "    RequestTTY no",
        "    LogLevel ERROR",
        "",
    ].join("\n");
}
