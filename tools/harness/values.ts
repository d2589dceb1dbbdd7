// How the Pulumi runtime represents secrets and unknowns in deserialized resource inputs, and
// helpers to walk such values. Used by the recorder, the offline plan and the tests.
import * as pulumi from "@pulumi/pulumi";

// The runtime's wire signatures (@pulumi/pulumi/runtime/rpc): stable across SDK versions.
const rpc = require("@pulumi/pulumi/runtime/rpc") as { specialSigKey: string; specialSecretSig: string };

/** Whether a deserialized value is a secret wrapper `{ <sig>: <secret sig>, value }`. */
export function isSecretValue(v: unknown): v is { value: unknown } {
    return (
        typeof v === "object" &&
        v !== null &&
        (v as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig
    );
}

/** Wraps a value the way the runtime marks a secret on the wire (a mock returns these for provider-secret outputs). */
export function secretValue<T>(value: T): T {
    return { [rpc.specialSigKey]: rpc.specialSecretSig, value } as unknown as T;
}

const output = require("@pulumi/pulumi/output") as { isUnknown(v: unknown): boolean };

/** Whether a deserialized value is the runtime's unknown sentinel (a computed value during preview). */
export function isUnknownValue(v: unknown): boolean {
    return output.isUnknown(v);
}

/** Replaces secrets and unknowns with readable markers, for printing and JSON. */
export function redact(v: unknown, markers = { secret: "[secret]", unknown: "[unknown]" }): unknown {
    if (isSecretValue(v)) return markers.secret;
    if (isUnknownValue(v)) return markers.unknown;
    if (Array.isArray(v)) return v.map((e) => redact(e, markers));
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, redact(e, markers)]));
    }
    return v;
}

/** Removes secret wrappers, keeping unknowns: what a policy sees (the engine hands policies plain values). */
export function unwrapSecrets(v: unknown): unknown {
    if (isSecretValue(v)) return unwrapSecrets(v.value);
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (typeof v === "object" && v !== null && !isUnknownValue(v)) {
        return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, unwrapSecrets(e)]));
    }
    return v;
}

/** Every string inside a value that is NOT under a secret wrapper: where a leaked secret would show. */
export function plainStrings(v: unknown, out: string[] = []): string[] {
    if (isSecretValue(v) || isUnknownValue(v)) return out;
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach((e) => plainStrings(e, out));
    else if (typeof v === "object" && v !== null) Object.values(v).forEach((e) => plainStrings(e, out));
    return out;
}

/** Resolves an Output without hanging on unknowns (an awaited unknown Output never resolves in preview). */
export async function settle(o: unknown): Promise<{ known: boolean; secret: boolean; value?: unknown }> {
    if (!pulumi.Output.isInstance(o)) return { known: true, secret: false, value: o };
    const internal = o as unknown as {
        isKnown: Promise<boolean>;
        isSecret: Promise<boolean>;
        promise(withUnknowns?: boolean): Promise<unknown>;
    };
    const [known, secret] = await Promise.all([internal.isKnown, internal.isSecret]);
    return known ? { known, secret, value: await internal.promise() } : { known, secret };
}
