// The README's configuration table, generated from Pulumi.yaml (the one place each key, its type,
// default and description are written). `npm run readme:config` rewrites the table in place; a
// spec fails while the README's copy differs.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT, readProject, type ConfigDeclaration, type ProjectFile } from "../components/projectFile";

export const TABLE_START = "<!-- config-table: generated from Pulumi.yaml by `npm run readme:config` -->";
export const TABLE_END = "<!-- config-table end -->";

function typeOf(d: ConfigDeclaration): string {
    return d.type === "array" ? `${d.items?.type ?? "any"}[]` : d.type;
}

function defaultOf(d: ConfigDeclaration): string {
    if (d.default === undefined) return "(none)";
    return (
        "`" + (typeof d.default === "string" ? (d.default === "" ? '""' : d.default) : JSON.stringify(d.default)) + "`"
    );
}

/** One Markdown row per key, in Pulumi.yaml's order. */
export function renderConfigTable(project: ProjectFile): string {
    const rows = Object.entries(project.config).map(([key, d]) => {
        const text = (d.description ?? "").replace(/\s+/g, " ").trim().replace(/\|/g, "\\|");
        return `| \`${key}\` | ${typeOf(d)} | ${defaultOf(d)} | ${text} |`;
    });
    return [
        TABLE_START,
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
        ...rows,
        "",
        TABLE_END,
    ].join("\n");
}

/** The README with its table replaced by a fresh render; throws when the markers are missing. */
export function withConfigTable(readme: string, project: ProjectFile): string {
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    if (start < 0 || end < start)
        throw new Error(`README.md: the configuration table's markers are missing (${TABLE_START} ... ${TABLE_END})`);
    return readme.slice(0, start) + renderConfigTable(project) + readme.slice(end + TABLE_END.length);
}

if (require.main === module) {
    const file = join(PROJECT_ROOT, "README.md");
    const before = readFileSync(file, "utf8");
    const after = withConfigTable(before, readProject());
    if (after !== before) writeFileSync(file, after);
    console.log(
        after === before
            ? "README.md: the configuration table is current"
            : "README.md: configuration table rewritten from Pulumi.yaml",
    );
}
