// Whole-program runs shared by the specs that read the same configuration: one run per distinct
// set of options in a process (under mocha --parallel, per worker). A shared run is frozen, so a
// spec that tried to change what another spec reads fails at once instead of passing by luck.
// Specs that need a run of their own (two runs compared for determinism, say) call runProgram.
import { runProgram, type ProgramRun, type RunOptions } from "./program";

const runs = new Map<string, Promise<ProgramRun>>();
/** Runs one after another: the mock runtime is process-wide state. */
let queue: Promise<unknown> = Promise.resolve();

/** Objects with their keys sorted, so that the same options always give the same key. */
function canonical(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
        );
    }
    return value;
}

function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
    if (value && typeof value === "object" && !seen.has(value)) {
        seen.add(value);
        for (const v of Object.values(value)) deepFreeze(v, seen);
        Object.freeze(value);
    }
    return value;
}

/** runProgram(options), once per distinct options in this process; the result is read-only. */
export function sharedRun(options: RunOptions): Promise<ProgramRun> {
    const key = JSON.stringify(
        canonical({ ...options, preview: options.preview ?? true, config: options.config ?? {} }),
    );
    let run = runs.get(key);
    if (!run) {
        run = queue.then(() => runProgram(options)).then((r) => deepFreeze(r));
        queue = run.catch(() => undefined);
        runs.set(key, run);
    }
    return run;
}
