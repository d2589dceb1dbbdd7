// Queries over a recorded run for the day-2 specs.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { runProgram, type ProgramRun, type RecordedResource, type RunOptions } from "../../tools/harness/program";
import { unwrapSecrets } from "../../tools/harness/values";
import { byUrn } from "../graph";
import type { ExtraOptions } from "./optionsProgram";
import { TYPES } from "../../policies/lib/contract";

export const COMMAND = TYPES.remoteCommand;
export const INSTANCE = TYPES.instance;

export function cmd(run: ProgramRun, name: string): RecordedResource {
    const r = run.resources.find((x) => x.type === COMMAND && x.name === name);
    assert.ok(
        r,
        `no command ${name} (commands: ${run.resources
            .filter((x) => x.type === COMMAND)
            .map((x) => x.name)
            .join(", ")})`,
    );
    return r;
}

export function named(run: ProgramRun, type: string, name: string): RecordedResource {
    const r = run.resources.find((x) => x.type === type && x.name === name);
    assert.ok(r, `no ${type} named ${name}`);
    return r;
}

/**
 * Every URN a resource waits for directly: dependsOn, property dependencies, and its explicit
 * provider (the engine creates a provider before any resource that uses it).
 */
export function directDeps(r: RecordedResource): string[] {
    const provider = r.provider ? [r.provider.split("::").slice(0, -1).join("::")] : [];
    return [...new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat(), ...provider])];
}

/** The names of the commands and instances a resource waits for directly. */
export function waitsFor(run: ProgramRun, r: RecordedResource): string[] {
    return directDeps(r)
        .map((u) => byUrn(run, u))
        .filter((d) => d.type === COMMAND || d.type === INSTANCE)
        .map((d) => d.name)
        .sort();
}

/** Every URN a resource waits for, transitively. */
export function ancestors(run: ProgramRun, r: RecordedResource, seen = new Set<string>()): Set<string> {
    for (const u of directDeps(r)) {
        if (seen.has(u)) continue;
        seen.add(u);
        ancestors(run, byUrn(run, u), seen);
    }
    return seen;
}

/** A command input as text (secret wrappers removed). */
export function text(r: RecordedResource, field: string): string | undefined {
    const v = unwrapSecrets(r.inputs[field]);
    return typeof v === "string" ? v : undefined;
}

/** The script inside `sudo bash -c '<script>'`. */
export function unwrapRemote(command: string): string {
    const prefix = "sudo bash -c ";
    assert.ok(
        command.startsWith(`${prefix}'`) && command.endsWith("'"),
        `not a rendered remote command: ${command.slice(0, 60)}`,
    );
    return command.slice(prefix.length + 1, -1).replace(/'\\''/g, "'");
}

/** The value of `readonly NAME='...'` in a rendered script. */
export function scriptVar(script: string, name: string): string {
    const m = new RegExp(`^readonly ${name}='((?:[^']|'\\\\'')*)'$`, "m").exec(script);
    assert.ok(m, `no readonly ${name} in the script`);
    return m[1].replace(/'\\''/g, "'");
}

/** Runs the program and also records replaceWith and replacementTrigger per resource name. */
export async function runWithOptions(
    options: RunOptions,
): Promise<{ run: ProgramRun; extra: Map<string, ExtraOptions> }> {
    const run = await runProgram({ ...options, program: join(__dirname, "optionsProgram") });
    assert.ifError(run.error);
    const extra = run.outputs.__recorded?.value as Map<string, ExtraOptions> | undefined;
    assert.ok(extra instanceof Map, "the options recorder ran");
    return { run, extra };
}

/**
 * The order in which the engine can run a set of changed steps: a step runs once every step it
 * depends on (transitively, through unchanged resources too) has run. Returns each step's wave.
 */
export function waves(run: ProgramRun, changed: readonly RecordedResource[]): Map<string, number> {
    const changedUrns = new Set(changed.map((r) => r.urn));
    const wave = new Map<string, number>();
    const of = (r: RecordedResource): number => {
        const known = wave.get(r.urn);
        if (known !== undefined) return known;
        const before = [...ancestors(run, r)].filter((u) => changedUrns.has(u)).map((u) => of(byUrn(run, u)));
        const w = before.length === 0 ? 0 : Math.max(...before) + 1;
        wave.set(r.urn, w);
        return w;
    };
    changed.forEach(of);
    return new Map(changed.map((r) => [r.name, wave.get(r.urn)!]));
}
