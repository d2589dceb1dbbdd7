// Helpers of the engine specs: run the real CLI through tools/engine/cli.ts on a fresh state
// directory, and read what the stand-ins recorded (the command journal, the aws journal) and the
// stack's state file. A missing CLI fails a spec (MissingToolsError): it never skips.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { readProject } from "../../tools/harness/stackConfig";
import { runEngine, type EngineCommand, type EngineRun } from "../../tools/engine/cli";
import type { JournalEntry } from "../../tools/engine/providers/command";
import { scratchDir } from "../scratch";

export type { JournalEntry };

export interface AwsJournalEntry {
    time: string;
    op: "create" | "update" | "delete";
    type: string;
    resource: string;
    id: string;
}

/** One stack's lab: a state directory of its own, removed by dispose(). */
export class Lab {
    readonly state: string;

    constructor(readonly stack: string) {
        this.state = scratchDir(`k8s-ha-engine-${stack}-`);
    }

    async run(command: EngineCommand, config: Record<string, unknown> = {}, extra: string[] = []): Promise<EngineRun> {
        return runEngine({ command, stack: this.stack, config, state: this.state, extra });
    }

    /** Like run, but fails with the CLI's output unless it exits 0. */
    async ok(command: EngineCommand, config: Record<string, unknown> = {}, extra: string[] = []): Promise<EngineRun> {
        const r = await this.run(command, config, extra);
        if (r.code !== 0)
            throw new Error(
                `pulumi ${command} -s ${this.stack} exited ${r.code}:\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-4000)}`,
            );
        return r;
    }

    commands(): JournalEntry[] {
        return jsonLines(join(this.state, "cloud", "command-journal.jsonl"));
    }

    aws(): AwsJournalEntry[] {
        return jsonLines(join(this.state, "cloud", "aws-journal.jsonl"));
    }

    /** What the kubernetes stand-in was asked to create, update and delete (same shape as aws's). */
    kubernetes(): AwsJournalEntry[] {
        return jsonLines(join(this.state, "cloud", "kubernetes-journal.jsonl"));
    }

    /** The raw checkpoint file of the stack, as the file backend keeps it. */
    stateFile(): string {
        return readFileSync(
            join(this.state, "backend", ".pulumi", "stacks", readProject().name, `${this.stack}.json`),
            "utf8",
        );
    }

    /** Resources in the checkpoint (dependencies: the URNs each waits for). */
    resources(): {
        urn: string;
        type: string;
        id?: string;
        protect?: boolean;
        dependencies?: string[];
        outputs?: Record<string, unknown>;
    }[] {
        return JSON.parse(this.stateFile()).checkpoint.latest?.resources ?? [];
    }

    dispose(): void {
        rmSync(this.state, { recursive: true, force: true });
    }
}

function jsonLines<T>(file: string): T[] {
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as T);
}

/** The output of a CLI run, for assertion messages. */
export function transcript(r: EngineRun): string {
    return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-8000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}
