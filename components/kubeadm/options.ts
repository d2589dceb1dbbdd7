// The one set of script options (bounded waits, stdin timeout, token lifetime, drain timeout) and
// the readonly parameters they become. Every builder validates options the same way.
import { KubeadmInputError } from "./types";

export interface WaitOptions {
    /** Seconds between probes. Default 5. */
    readonly waitIntervalSeconds?: number;
    /** Upper bound of every wait in seconds; the default depends on the script (10 minutes for most). */
    readonly waitTimeoutSeconds?: number;
    /** How long a script waits for stdin to arrive. Default 60. */
    readonly stdinTimeoutSeconds?: number;
}

export interface ScriptOptions extends WaitOptions {
    /** Lifetime of the bootstrap token a join (re)creates. Default 30. */
    readonly tokenTtlMinutes?: number;
    /** kubectl drain --timeout (reset, upgrade). Default "300s". */
    readonly drainTimeout?: string;
}

/** Options of the upgrade scripts: waits and the drain timeout. */
export type UpgradeOptions = WaitOptions & Pick<ScriptOptions, "drainTimeout">;

export function positiveInt(field: string, v: number): number {
    if (!Number.isInteger(v) || v <= 0) throw new KubeadmInputError(field, v, "a positive integer");
    return v;
}

export function duration(field: string, v: string): string {
    if (!/^\d+[smh]$/.test(v)) throw new KubeadmInputError(field, v, 'a duration such as "300s"');
    return v;
}

/** WAIT_INTERVAL_SECONDS, WAIT_ATTEMPTS (timeout / interval, at least 1) and STDIN_TIMEOUT_SECONDS. */
export function waitParams(o: WaitOptions = {}, defaultTimeoutSeconds = 600) {
    const interval = positiveInt("script option waitIntervalSeconds", o.waitIntervalSeconds ?? 5);
    const timeout = positiveInt("script option waitTimeoutSeconds", o.waitTimeoutSeconds ?? defaultTimeoutSeconds);
    return {
        WAIT_INTERVAL_SECONDS: interval,
        WAIT_ATTEMPTS: Math.max(1, Math.ceil(timeout / interval)),
        STDIN_TIMEOUT_SECONDS: positiveInt("script option stdinTimeoutSeconds", o.stdinTimeoutSeconds ?? 60),
    };
}

/** Every option of the bootstrap scripts, validated at once (a bad option fails whichever script reads it). */
export function scriptParams(o: ScriptOptions = {}) {
    return {
        ...waitParams(o),
        TOKEN_TTL_MINUTES: positiveInt("script option tokenTtlMinutes", o.tokenTtlMinutes ?? 30),
        DRAIN_TIMEOUT: duration("script option drainTimeout", o.drainTimeout ?? "300s"),
    };
}
