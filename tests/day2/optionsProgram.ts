// A program module for runProgram({ program }) that records, per resource, the registration
// options the shared recorder does not keep (replaceWith, replacementTrigger), then runs the real
// index.ts. Used by the day-2 specs to check the replacement wiring.
import { join } from "node:path";

const settings = require("@pulumi/pulumi/runtime/settings") as { getMonitor(): unknown };

export interface ExtraOptions {
    /** URNs this resource is replaced with. */
    readonly replaceWith: string[];
    /** The replacementTrigger value, if any. */
    readonly replacementTrigger?: unknown;
}

/** name -> options, for this run (exported to the harness as the `__recorded` output). */
const recorded = new Map<string, ExtraOptions>();

const monitor = settings.getMonitor() as { registerResource(req: any, cb: (err: unknown, resp: any) => void): unknown };
const original = monitor.registerResource.bind(monitor);
monitor.registerResource = (req, cb) => {
    const trigger = req.getReplacementTrigger?.();
    recorded.set(req.getName(), {
        replaceWith: req.getReplaceWithList?.() ?? [],
        ...(trigger ? { replacementTrigger: trigger.toJavaScript() } : {}),
    });
    return original(req, cb);
};

const index = join(__dirname, "..", "..", "index");
delete require.cache[require.resolve(index)];
module.exports = { ...require(index), __recorded: recorded };
