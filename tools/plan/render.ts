// `npm run plan -- --stack S --render DIR`: writes what the program hands every node, from an
// update-mode run with real cryptography, so that a person can read exactly what runs where and
// the lab can feed it to the real kubeadm, etcd and apiserver:
//
//   DIR/nodes.json                          every node: name, role, zone, private address
//   DIR/admin.conf                          the stack's admin kubeconfig (secret, 0600)
//   DIR/<node>/scripts/<step>.<phase>.sh    the script each remote.Command runs (create, update, delete)
//   DIR/<node>/stdin/<step>                 what that command receives on stdin (secret, 0600)
//   DIR/<node>/kubeadm/<script>.yaml        the kubeadm configuration a script hands kubeadm,
//                                           with the bootstrap token from stdin and the version
//                                           the node's upgrade step installs (secret, 0600)
//   DIR/<node>/etc/kubernetes/...           the files place-pki writes, with their modes
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ProgramRun } from "../harness/program";
import { unwrapSecrets } from "../harness/values";
import { TYPES } from "../../policies/lib/contract";

const ROLE_TAG = "k8s-ha/role";
const SECRET_MODE = 0o600;

export interface RenderedNode {
    readonly name: string;
    readonly role: string;
    readonly availabilityZone: string;
    readonly privateIp: string;
}

export interface RenderSummary {
    readonly nodes: RenderedNode[];
    readonly files: number;
}

/** Refuses a directory that exists and holds anything: a render never mixes with old files. */
export function assertEmptyTarget(dir: string): void {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
        throw new Error(`--render ${dir}: the directory exists and is not empty; name a new or empty directory`);
    }
}

/**
 * Reads one bash word made of single-quoted parts (`'a'\''b'`, as shellQuote writes them)
 * starting at `from`. Returns the value and where the word ends.
 */
export function readQuotedWord(text: string, from: number): { value: string; end: number } {
    let value = "";
    let i = from;
    for (;;) {
        if (text[i] === "'") {
            const close = text.indexOf("'", i + 1);
            if (close < 0) throw new Error(`unterminated quote at ${i}`);
            value += text.slice(i + 1, close);
            i = close + 1;
        } else if (text.startsWith("\\'", i)) {
            value += "'";
            i += 2;
        } else {
            return { value, end: i };
        }
    }
}

/** The script inside `sudo bash -c '<script>'`, or the command itself when it is not one. */
export function scriptOf(command: string): string {
    const prefix = "sudo bash -c ";
    if (!command.startsWith(prefix)) return command.endsWith("\n") ? command : `${command}\n`;
    const { value, end } = readQuotedWord(command, prefix.length);
    const rest = command.slice(end);
    // The rotation appends "# certificates <fingerprint>" so that a new certificate changes its text.
    return rest ? `${value}${value.endsWith("\n") ? "" : "\n"}${rest.trim()}\n` : value;
}

/** The `readonly NAME='…'` values of a rendered script's header. */
export function readonlyValues(script: string): Record<string, string> {
    const out: Record<string, string> = {};
    const re = /^readonly ([A-Z][A-Z0-9_]*)=/gm;
    for (let m = re.exec(script); m; m = re.exec(script)) {
        if (script[re.lastIndex] !== "'") continue;
        const { value, end } = readQuotedWord(script, re.lastIndex);
        out[m[1]] = value;
        re.lastIndex = end;
    }
    return out;
}

/** The files a place-pki stdin carries: `<octal mode> <path> <base64 content>` per line. */
export function placedFiles(stdin: string): { path: string; mode: number; content: Buffer }[] {
    return stdin
        .split("\n")
        .filter(Boolean)
        .map((line) => {
            const [mode, path, content] = line.split(" ");
            return { path, mode: parseInt(mode, 8), content: Buffer.from(content, "base64") };
        });
}

function text(value: unknown): string | undefined {
    const v = unwrapSecrets(value);
    return typeof v === "string" ? v : undefined;
}

function write(path: string, content: string | Buffer, mode: number): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode });
    chmodSync(path, mode); // the umask must not widen or narrow what the node gets
}

function nodesOf(run: ProgramRun): RenderedNode[] {
    return run.resources
        .filter(
            (r) =>
                r.type === TYPES.instance &&
                typeof (r.inputs.tags as Record<string, unknown> | undefined)?.[ROLE_TAG] === "string",
        )
        .map((r) => ({
            name: r.name,
            role: String((r.inputs.tags as Record<string, unknown>)[ROLE_TAG]),
            availabilityZone: String(r.inputs.availabilityZone),
            privateIp: String(r.outputs.privateIp),
        }));
}

/** Writes the render of an update-mode run into `dir` (which must be new or empty). */
export function renderNodes(run: ProgramRun, dir: string): RenderSummary {
    if (run.preview) throw new Error("a render needs an update-mode run: preview leaves scripts unknown");
    assertEmptyTarget(dir);
    const nodes = nodesOf(run);
    let files = 0;
    const put = (path: string, content: string | Buffer, mode: number) => {
        write(path, content, mode);
        files++;
    };
    put(join(dir, "nodes.json"), `${JSON.stringify(nodes, null, 2)}\n`, 0o644);
    const kubeconfig = text(run.outputs.kubeconfig?.value);
    if (kubeconfig) put(join(dir, "admin.conf"), kubeconfig, SECRET_MODE);

    const commands = run.resources.filter((r) => r.type === TYPES.remoteCommand);
    // Longest names first, so that "k8s-cp-1" never claims "k8s-cp-10-join".
    const byLength = [...nodes].sort((a, b) => b.name.length - a.name.length);
    for (const cmd of commands) {
        const node = byLength.find((n) => cmd.name.startsWith(`${n.name}-`));
        if (!node) continue;
        const step = cmd.name.slice(node.name.length + 1);
        const base = join(dir, node.name);
        const stdin = text(cmd.inputs.stdin);
        const installed = installedVersion(commands, node.name);
        if (stdin !== undefined) put(join(base, "stdin", step), stdin, SECRET_MODE);
        for (const phase of ["create", "update", "delete"] as const) {
            const command = text(cmd.inputs[phase]);
            if (command === undefined) continue;
            const script = scriptOf(command);
            put(join(base, "scripts", `${step}.${phase}.sh`), script, 0o755);
            files += writeKubeadmConfigs(base, step, script, stdin, installed);
        }
        if (step === "place-pki" && stdin) {
            for (const f of placedFiles(stdin)) put(join(base, f.path), f.content, f.mode);
        }
    }
    return { nodes, files };
}

/**
 * The version kubeadm has on a node: what its upgrade step installs (the scripts of init and rotate
 * put the installed kubeadm's version where their configuration holds a placeholder).
 */
function installedVersion(commands: ProgramRun["resources"], node: string): string | undefined {
    const upgrade = commands.find((c) => c.name === `${node}-upgrade`);
    const create = upgrade && text(upgrade.inputs.create);
    const version = create === undefined ? undefined : readonlyValues(scriptOf(create)).K8S_VERSION;
    return version === undefined ? undefined : `v${version}`;
}

/**
 * kubeadm documents embedded in a script's header, with the token from stdin and the installed
 * version put in, named
 * after the script that hands them to kubeadm (node 0's script carries both its init and its
 * join script, so both configurations are written).
 */
function writeKubeadmConfigs(
    base: string,
    step: string,
    script: string,
    stdin: string | undefined,
    installed: string | undefined,
): number {
    const values = readonlyValues(script);
    const token = stdin?.split("\n")[0] ?? "";
    const placeholder = values.TOKEN_PLACEHOLDER;
    const scriptName = values.SCRIPT_NAME ?? step;
    let written = 0;
    for (const [name, value] of Object.entries(values)) {
        if (value.startsWith("#!")) {
            written += writeKubeadmConfigs(base, step, value, stdin, installed);
            continue;
        }
        if (!value.startsWith("apiVersion: kubeadm.k8s.io/")) continue;
        let doc =
            placeholder && /^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(token) ? value.split(placeholder).join(token) : value;
        if (values.VERSION_PLACEHOLDER && installed) doc = doc.split(values.VERSION_PLACEHOLDER).join(installed);
        const suffix = name.endsWith("_CONFIG_TEMPLATE") ? "" : `.${name.toLowerCase().replace(/_/g, "-")}`;
        write(join(base, "kubeadm", `${scriptName}${suffix}.yaml`), doc.endsWith("\n") ? doc : `${doc}\n`, SECRET_MODE);
        written++;
    }
    return written;
}
