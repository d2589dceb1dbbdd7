// shellcheck on rendered script text (from stdin), shared by the system specs. A missing
// shellcheck throws: the specs fail, never skip.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";

export interface Finding {
    line: number;
    column: number;
    level: string;
    code: number;
    message: string;
}

export function shellcheck(text: string): Finding[] {
    const r = spawnSync("shellcheck", ["-s", "bash", "-f", "json1", "-"], { input: text, encoding: "utf8" });
    if (r.error) throw new Error(`shellcheck could not run (is the Debian package installed?): ${r.error.message}`);
    // exit 0: clean; 1: findings (JSON on stdout); anything else: shellcheck itself failed
    assert.ok(r.status === 0 || r.status === 1, `shellcheck exited ${r.status}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { comments: Finding[] }).comments;
}

/**
 * shellcheck on files by path (so `source-path=SCRIPTDIR` directives resolve): `-x` follows the
 * `source` lines; `exclude` lists checks to relax. Findings carry their file.
 */
export function shellcheckFiles(
    paths: readonly string[],
    options: { exclude?: readonly number[] } = {},
): (Finding & { file: string })[] {
    const args = [
        "-x",
        "-s",
        "bash",
        "-f",
        "json1",
        ...(options.exclude?.length ? ["-e", options.exclude.map((c) => `SC${c}`).join(",")] : []),
        ...paths,
    ];
    const r = spawnSync("shellcheck", args, { encoding: "utf8" });
    if (r.error) throw new Error(`shellcheck could not run (is the Debian package installed?): ${r.error.message}`);
    assert.ok(r.status === 0 || r.status === 1, `shellcheck exited ${r.status}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { comments: (Finding & { file: string })[] }).comments;
}
