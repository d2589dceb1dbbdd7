// Reads the GitHub Actions workflows as data, for the workflow specs.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const ROOT = join(__dirname, "..", "..");
export const WORKFLOWS_DIR = join(ROOT, ".github", "workflows");

export interface Step {
    name?: string;
    id?: string;
    "continue-on-error"?: boolean | string;
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, string | boolean | number>;
    env?: Record<string, string>;
}

export interface Job {
    name?: string;
    if?: string;
    needs?: string | string[];
    environment?: string | { name: string; url?: string };
    permissions?: Record<string, string> | string;
    concurrency?: { group: string; "cancel-in-progress"?: boolean } | string;
    strategy?: { "fail-fast"?: boolean; matrix?: { stack?: string[]; include?: Record<string, string>[] } };
    steps: Step[];
    "runs-on": string;
}

export interface Workflow {
    file: string;
    text: string;
    name: string;
    on: Record<string, unknown>;
    permissions?: Record<string, string> | string;
    concurrency?: { group: string; "cancel-in-progress"?: boolean } | string;
    env?: Record<string, string>;
    jobs: Record<string, Job>;
}

export function workflowFiles(): string[] {
    return readdirSync(WORKFLOWS_DIR)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort();
}

export function loadWorkflow(file: string): Workflow {
    const text = readFileSync(join(WORKFLOWS_DIR, file), "utf8");
    return { file, text, ...(parse(text) as Omit<Workflow, "file" | "text">) };
}

/** The matrix rows of a job (one empty row when it has no matrix). */
export function matrixRows(job: Job): Record<string, string>[] {
    const m = job.strategy?.matrix;
    if (!m) return [{}];
    if (m.include) return m.include;
    if (m.stack) return m.stack.map((stack) => ({ stack }));
    return [{}];
}

/** Substitutes `${{ matrix.x }}` and `${{ env.X }}` the way the runner would, for one matrix row. */
export function resolve(value: unknown, row: Record<string, string>, env: Record<string, string> = {}): string {
    return String(value).replace(
        /\$\{\{\s*(matrix|env)\.([A-Za-z0-9_-]+)\s*\}\}/g,
        (whole, scope: string, key: string) => {
            const v = scope === "matrix" ? row[key] : env[key];
            if (v === undefined) throw new Error(`${whole} does not resolve (row ${JSON.stringify(row)})`);
            return v;
        },
    );
}

export function needsOf(job: Job): string[] {
    return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

export function environmentOf(job: Job): string | undefined {
    return typeof job.environment === "string" ? job.environment : job.environment?.name;
}

export const actionName = (uses: string) => uses.split("@")[0];
export const stepsUsing = (job: Job, action: string) =>
    job.steps.filter((s) => s.uses !== undefined && actionName(s.uses) === action);
