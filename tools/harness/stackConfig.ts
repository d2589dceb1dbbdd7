// Stack configuration as the Pulumi CLI hands it to a program: Pulumi.yaml schema defaults,
// then Pulumi.<stack>.yaml, then overrides; every value a string (JSON for non-strings).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT, readProject } from "../../components/projectFile";

export const ROOT = PROJECT_ROOT;
export { readProject };

/** The stack's config map keyed "<namespace>:<key>", values as the CLI passes them. */
export function stackConfig(
    stack: string,
    overrides: Record<string, unknown> = {},
    root = ROOT,
): Record<string, string> {
    const project = readProject(root);
    const file = join(root, `Pulumi.${stack}.yaml`);
    if (!existsSync(file))
        throw new Error(`no stack file Pulumi.${stack}.yaml (stacks: ${listStacks(root).join(", ")})`);
    const stackValues =
        ((parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> }).config ?? {};
    const merged: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(project.config ?? {})) {
        if (spec.default !== undefined) merged[`${project.name}:${key}`] = spec.default;
    }
    Object.assign(merged, stackValues);
    for (const [key, value] of Object.entries(overrides))
        merged[key.includes(":") ? key : `${project.name}:${key}`] = value;
    return Object.fromEntries(
        Object.entries(merged).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    );
}

export function listStacks(root = ROOT): string[] {
    const { readdirSync } = require("node:fs") as typeof import("node:fs");
    return readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => !!s)
        .sort();
}
