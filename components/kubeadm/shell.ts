// Shell-quoting and small builders for the generated bash scripts. Pure.

/**
 * Quotes `value` as one bash word that expands to exactly `value`: single quotes, with each
 * embedded single quote written as '\''. Nothing inside single quotes is special to bash
 * ($, `, \, !, newlines, globs), so any string round-trips. NUL cannot live in a bash string,
 * so it is rejected.
 */
export function shellQuote(value: string): string {
    if (typeof value !== "string") throw new TypeError(`shellQuote: expected a string, got ${typeof value}`);
    if (value.includes("\0")) throw new Error("shellQuote: a NUL byte cannot be passed to bash");
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

const VAR_NAME_RE = /^[A-Z][A-Z0-9_]*$/;

/** `readonly NAME=<quoted value>` lines for the top of a script. */
export function readonlyVars(vars: Readonly<Record<string, string | number>>): string {
    return Object.entries(vars)
        .map(([name, value]) => {
            if (!VAR_NAME_RE.test(name)) throw new Error(`readonlyVars: bad variable name ${name}`);
            return `readonly ${name}=${shellQuote(String(value))}`;
        })
        .join("\n");
}

/** A bash array literal of quoted words: ('a' 'b'). */
export function bashArray(values: readonly string[]): string {
    return `(${values.map(shellQuote).join(" ")})`;
}

/**
 * The command line a remote.Command runs for a rendered script: `sudo bash -c '<script>'`.
 * The script text is non-secret (secrets go to stdin, which bash -c passes through to the script).
 */
export function asRemoteCommand(script: string): string {
    // One argv string is limited to 128 KiB on Linux (MAX_ARG_STRLEN).
    if (Buffer.byteLength(script, "utf8") > 100 * 1024)
        throw new Error("asRemoteCommand: script too large for one argument");
    return `sudo bash -c ${shellQuote(script)}`;
}
