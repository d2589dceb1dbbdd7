// Stand-in command provider (pulumi-resource-command) for the engine lane. It RUNS NOTHING: there is
// nothing to SSH to here (the real provider is for the end-to-end run on the sandboxes). It keeps
// the real provider's semantics of which command a step runs (remote.Command: create on create;
// `update`, else `create`, on update; `delete` on delete, with the connection stored in state;
// nothing in preview) and records each create, update and delete in a journal,
// <cloud dir>/command-journal.jsonl: time (start, end), resource, node, step, connection host,
// which command field ran and its sha256, and what kinds of secret its stdin held. A command that runs "takes" some time so that overlaps
// (parallel steps) and sequences are visible in the journal: prepare, which really takes minutes
// (packages, containerd) while the next instances boot, 10 s; a worker's join-token step 3 s;
// every other step 150 ms.
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { hex } from "../../harness/cloud";
import { cloudDir, nameOfUrn, plain, serve, type Props } from "./serve";
import { TYPES } from "../../../policies/lib/contract";

const JOURNAL = join(cloudDir(), "command-journal.jsonl");
// A command is named "<node>-<step>" after the node it runs on ("k8s-dev-cp-1-join"): the node
// name ends with its pool and index, so no list of steps is kept here.
const NODE_STEP = /^(.+-(?:cp|worker)-\d+)-([a-z][a-z-]*)$/;
// A worker's join-token step waits on node 0 until the worker's join registers its Node: it lasts
// as long as the join, so that the two are seen running side by side.
const TAKES_MS: Record<string, number> = { prepare: 10_000, "join-token": 3_000 };
const DEFAULT_TAKES_MS = 150;

export interface JournalEntry {
    start: string;
    end: string;
    op: "create" | "update" | "delete";
    resource: string;
    node: string;
    step: string;
    host: string | null;
    proxy: string | null;
    /** The command field that ran (create, update or delete), or null when there was none. */
    ran: "create" | "update" | "delete" | null;
    sha256: string | null;
    /**
     * What the command's stdin held, by kind (never the values): "bootstrap-token" for a token
     * line, "client-key" for a kubeconfig with a client key, "private-key" for PEM key material.
     */
    stdinHolds: string[];
}

/** The kinds of secret a command's stdin carries, for the journal. */
export function secretKinds(stdin: unknown): string[] {
    if (typeof stdin !== "string") return [];
    const kinds: string[] = [];
    if (/^[a-z0-9]{6}\.[a-z0-9]{16}$/m.test(stdin)) kinds.push("bootstrap-token");
    if (stdin.includes("client-key-data")) kinds.push("client-key");
    if (/PRIVATE KEY-----/.test(stdin) || /^0600 \S+\.key /m.test(stdin)) kinds.push("private-key");
    return kinds;
}

async function record(op: JournalEntry["op"], urn: string, props: Props, field: JournalEntry["ran"]): Promise<void> {
    const resource = nameOfUrn(urn);
    const [, nodeName, step] = NODE_STEP.exec(resource) ?? [undefined, resource, ""];
    const p = plain(props) as Props;
    const script = field ? p[field] : undefined;
    const ran = typeof script === "string" && script !== "" ? field : null;
    const start = new Date();
    if (ran) await new Promise((resolve) => setTimeout(resolve, TAKES_MS[step] ?? DEFAULT_TAKES_MS));
    const entry: JournalEntry = {
        start: start.toISOString(),
        end: new Date().toISOString(),
        op,
        resource,
        node: nodeName,
        step,
        host: p.connection?.host ?? null,
        proxy: p.connection?.proxy?.host ?? null,
        ran,
        sha256: ran ? createHash("sha256").update(String(script)).digest("hex") : null,
        stdinHolds: ran ? secretKinds(p.stdin) : [],
    };
    appendFileSync(JOURNAL, JSON.stringify(entry) + "\n");
}

serve({
    name: "command",
    types: [TYPES.remoteCommand],
    async create(_type, urn, inputs) {
        await record("create", urn, inputs, "create");
        return { id: hex(`${urn}/${Date.now()}/${Math.random()}`, 16), outs: { ...inputs, stdout: "", stderr: "" } };
    },
    async update(_type, _id, urn, olds, news) {
        await record("update", urn, news, plain(news).update ? "update" : "create");
        return { ...news, stdout: olds.stdout ?? "", stderr: olds.stderr ?? "" };
    },
    async delete(_type, _id, urn, state) {
        await record("delete", urn, state, "delete");
    },
});
