// Pulumi.yaml, the one place every config key is declared: its type, default and description.
// The CLI applies those defaults; the program reads the same file so that validation, the
// harness that stands in for the CLI, and the README's table all take them from here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** A config key as Pulumi.yaml declares it. */
export interface ConfigDeclaration {
    readonly type: string;
    readonly items?: { readonly type: string };
    readonly default?: unknown;
    readonly description?: string;
}

/** The parts of Pulumi.yaml the program reads. */
export interface ProjectFile {
    readonly name: string;
    readonly config: Readonly<Record<string, ConfigDeclaration>>;
}

/** The repository root: the directory of Pulumi.yaml. */
export const PROJECT_ROOT = join(__dirname, "..");

export function readProject(root = PROJECT_ROOT): ProjectFile {
    return parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as ProjectFile;
}
