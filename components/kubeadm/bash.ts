// Composing the node scripts from their bash sources in components/kubeadm/scripts/ (see the
// README there): read the file, keep the lines of the node's role, inline the `source lib/…`
// includes, and prepend the header with the script's parameters as shell-quoted readonly variables.
// The builders (scripts.ts, day2.ts) only compute the typed parameters.
import { readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import { bashArray, readonlyVars } from "./shell";
import { KubeadmInputError, validateNode, type NodeRole, type NodeSpec } from "./types";

/** The bash sources, read at run time (the program runs from the repository under ts-node). */
export const SCRIPTS_DIR = join(__dirname, "scripts");

/** The flags `#@if <flag>` may test: a node's role. */
const FLAGS: ReadonlySet<string> = new Set<NodeRole>(["control-plane", "worker"]);
const PARAM_RE = /^[A-Z][A-Z0-9_]*(\[\])?$/;
const INCLUDE_RE = /^source lib\/([a-z0-9-]+\.sh)$/;
const DIRECTIVE_RE = /^#@(if|else|endif)(?: (\S+))?$/;

/** A script source for one set of flags: its declarations and its text with the includes inlined. */
export interface ScriptSource {
    /** Relative to SCRIPTS_DIR, e.g. "membership/join.sh". */
    readonly file: string;
    /** What the script reads on stdin (`# stdin:`), copied into the rendered header. */
    readonly stdin: string;
    /** Scalar parameters (`# params: NAME`), in declared order. */
    readonly params: readonly string[];
    /** Array parameters (`# params: NAME[]`), in declared order. */
    readonly arrays: readonly string[];
    /** Parameters that carry whole rendered scripts (`# embeds:`). */
    readonly embeds: readonly string[];
    /** The lib files inlined, in order. */
    readonly includes: readonly string[];
    /** Everything after the comment block, with the includes inlined. */
    readonly text: string;
    /** The part after the last include line (the script's own code), as written. */
    readonly body: string;
}

const cache = new Map<string, string>();
function read(rel: string): string {
    let text = cache.get(rel);
    if (text === undefined) {
        text = readFileSync(join(SCRIPTS_DIR, rel), "utf8");
        cache.set(rel, text);
    }
    return text;
}

/** Every file under SCRIPTS_DIR read so far (relative paths), for the spec that finds unused sources. */
export function sourcesRead(): string[] {
    return [...cache.keys()].sort();
}

/** A lib file's text, as inlined (without its final newline). */
export function libText(name: string): string {
    return read(`lib/${name}`).replace(/\n$/, "");
}

function fail(file: string, line: number | undefined, message: string): never {
    throw new Error(`components/kubeadm/scripts/${file}${line === undefined ? "" : `:${line}`}: ${message}`);
}

interface Line {
    readonly text: string;
    /** 1-based, in the source file. */
    readonly no: number;
}

/** Keeps the lines whose `#@if FLAG` / `#@else` / `#@endif` blocks hold for `flags`; drops the directives. */
function applyConditionals(file: string, lines: readonly string[], flags: ReadonlySet<string>): Line[] {
    const out: Line[] = [];
    const open: { holds: boolean; inElse: boolean; no: number }[] = [];
    lines.forEach((text, i) => {
        const no = i + 1;
        if (!text.startsWith("#@")) {
            if (open.every((b) => b.holds !== b.inElse)) out.push({ text, no });
            return;
        }
        const m = DIRECTIVE_RE.exec(text);
        if (!m) fail(file, no, `unknown directive ${JSON.stringify(text)} (#@if <flag>, #@else, #@endif)`);
        if (m[1] === "if") {
            if (!m[2] || !FLAGS.has(m[2]))
                fail(file, no, `#@if needs one of ${[...FLAGS].join(", ")}, not ${JSON.stringify(m[2] ?? "")}`);
            open.push({ holds: flags.has(m[2]), inElse: false, no });
        } else if (m[2] !== undefined) {
            fail(file, no, `#@${m[1]} takes no argument`);
        } else if (m[1] === "else") {
            const top = open[open.length - 1];
            if (!top || top.inElse) fail(file, no, "#@else without its #@if");
            top.inElse = true;
        } else if (!open.pop()) {
            fail(file, no, "#@endif without its #@if");
        }
    });
    if (open.length > 0) fail(file, open[open.length - 1].no, "#@if without its #@endif");
    return out;
}

/**
 * Parses a script source (its text `raw`) for the given flags (a node's role): the declarations of
 * its comment block, and the rest with every `source lib/NAME.sh` line replaced by `lib(NAME.sh)`.
 * Pure: loadScript() supplies the files.
 */
export function parseScript(
    file: string,
    raw: string,
    flags: readonly string[],
    lib: (name: string) => string,
): ScriptSource {
    for (const f of flags) if (!FLAGS.has(f)) throw new Error(`${file}: unknown flag ${f}`);
    const lines = applyConditionals(file, raw.split("\n"), new Set(flags));
    if (lines[0]?.text !== "#!/usr/bin/env bash") fail(file, 1, "must start with #!/usr/bin/env bash");
    const start = lines.findIndex((l) => !l.text.startsWith("#"));
    const preamble = start < 0 ? lines : lines.slice(0, start);
    const rest = start < 0 ? [] : lines.slice(start);

    let stdin: string | undefined;
    const params: string[] = [];
    const arrays: string[] = [];
    const embeds: string[] = [];
    for (const { text, no } of preamble) {
        const m = /^# (stdin|params|embeds):(.*)$/.exec(text);
        if (!m) continue;
        const value = m[2].trim();
        if (m[1] === "stdin") {
            if (stdin !== undefined) fail(file, no, "a second # stdin: line");
            stdin = value;
            continue;
        }
        for (const name of value.split(/\s+/).filter(Boolean)) {
            if (!PARAM_RE.test(name))
                fail(file, no, `bad parameter name ${name} in # ${m[1]}: (NAME, or NAME[] for an array)`);
            const bare = name.replace(/\[\]$/, "");
            if (m[1] === "embeds") {
                if (name !== bare) fail(file, no, `# embeds: names a scalar parameter, not ${name}`);
                embeds.push(bare);
            } else if ([...params, ...arrays].includes(bare)) {
                fail(file, no, `${bare} declared twice`);
            } else {
                (name === bare ? params : arrays).push(bare);
            }
        }
    }
    if (stdin === undefined) fail(file, undefined, "no # stdin: line in the comment block");
    for (const e of embeds)
        if (!params.includes(e)) fail(file, undefined, `# embeds: ${e} is not a declared parameter`);

    const includes: string[] = [];
    let lastInclude = -1;
    const inlined = rest.map(({ text, no }, i) => {
        const m = INCLUDE_RE.exec(text);
        if (!m) {
            if (/^\s*(source|\.)\s/.test(text))
                fail(file, no, `only whole-line "source lib/<name>.sh" includes are allowed: ${text}`);
            return text;
        }
        const content = lib(m[1]);
        if (/^\s*(source|\.)\s|^#@/m.test(content))
            fail(`lib/${m[1]}`, undefined, "a lib file holds no includes and no directives");
        includes.push(m[1]);
        lastInclude = i;
        return content.replace(/\n$/, "");
    });
    return {
        file,
        stdin,
        params,
        arrays,
        embeds,
        includes,
        text: inlined.join("\n"),
        body: rest
            .slice(lastInclude + 1)
            .map((l) => l.text)
            .join("\n"),
    };
}

/** Reads and parses a script source under SCRIPTS_DIR (files are read once per process). */
export function loadScript(file: string, flags: readonly string[] = []): ScriptSource {
    return parseScript(file, read(file), flags, (name) => read(`lib/${name}`));
}

/** The text expands $NAME or ${NAME…}. */
function expands(text: string, name: string): boolean {
    return text.includes(`$${name}`) || text.includes(`\${${name}`);
}

/** Code (not a comment line) names NAME: an expansion, or a bare name in arithmetic such as ((NAME)). */
function references(text: string, name: string): boolean {
    const code = text
        .split("\n")
        .filter((l) => !/^\s*#/.test(l))
        .join("\n");
    return new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).test(code);
}

export interface ScriptRender {
    /** The script's name in its header and log lines, e.g. "join-worker". */
    readonly name: string;
    /** One line on what it does for this node. */
    readonly title: string;
    /** The node's role, for `#@if` blocks. */
    readonly role?: NodeRole;
    readonly params: Readonly<Record<string, string | number>>;
    readonly arrays?: Readonly<Record<string, readonly string[]>>;
}

/** Names the builder gives that the script does not declare, and the other way round. */
function mismatch(what: string, declared: readonly string[], given: readonly string[]): string | undefined {
    const missing = declared.filter((n) => !given.includes(n));
    const extra = given.filter((n) => !declared.includes(n));
    if (missing.length === 0 && extra.length === 0) return undefined;
    return `${what}: ${[missing.length ? `declared but not given: ${missing.join(", ")}` : "", extra.length ? `given but not declared: ${extra.join(", ")}` : ""].filter(Boolean).join("; ")}`;
}

/** The rendered script: header, readonly parameters, then the source with its includes inlined. */
export function renderScript(file: string, r: ScriptRender): string {
    return composeScript(loadScript(file, r.role ? [r.role] : []), r);
}

/** The rendered script of a parsed source; fails when the builder's parameters differ from the declared ones. */
export function composeScript(src: ScriptSource, r: ScriptRender): string {
    const file = src.file;
    const arrays = r.arrays ?? {};
    const problems = [
        mismatch("parameters", src.params, Object.keys(r.params)),
        mismatch("array parameters", src.arrays, Object.keys(arrays)),
    ].filter(Boolean);
    if (problems.length)
        fail(
            file,
            undefined,
            `the builder of "${r.name}" does not match the script's declarations: ${problems.join("; ")}`,
        );
    const unused = [...src.params, ...src.arrays].filter((n) => !references(src.text, n));
    if (unused.length) fail(file, undefined, `declared but never used: ${unused.join(", ")}`);

    const vars: Record<string, string | number> = { SCRIPT_NAME: r.name };
    for (const n of src.params) vars[n] = r.params[n];
    const arrayLines = src.arrays.map((n) => `readonly -a ${n}=${bashArray(arrays[n])}`);
    return (
        [
            "#!/usr/bin/env bash",
            // The script carries other rendered scripts in single-quoted variables: shellcheck lints
            // each embedded script on its own.
            ...(src.embeds.length ? ["# shellcheck disable=SC2016"] : []),
            `# k8s-ha ${r.name}: ${r.title}`,
            "# Rendered by k8s-ha from typed data; do not edit by hand.",
            `# stdin: ${src.stdin}`,
            "# Tests only: K8S_HA_FSROOT prefixes every host path (default: empty, the real filesystem);",
            "# commands are replaced through PATH.",
            "set -euo pipefail",
            "umask 077",
            "",
            readonlyVars(vars),
            ...arrayLines,
            'readonly FSROOT="${K8S_HA_FSROOT:-}"',
            ...(expands(src.text, "KUBE_DIR") ? ['readonly KUBE_DIR="$FSROOT/etc/kubernetes"'] : []),
            ...(expands(src.text, "STATE_DIR") ? ['readonly STATE_DIR="$FSROOT/var/lib/k8s-ha"'] : []),
        ].join("\n") +
        "\n" +
        src.text.trimEnd() +
        "\n"
    );
}

export function urlHost(ip: string): string {
    return isIPv6(ip) ? `[${ip}]` : ip;
}

export function requireRole(node: NodeSpec, role: NodeRole, what: string): void {
    validateNode(node);
    if (node.role !== role) throw new KubeadmInputError(`node ${node.name} role`, node.role, `"${role}" (${what})`);
}
