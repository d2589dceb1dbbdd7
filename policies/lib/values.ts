// Reading resource properties without tripping over values that are unknown during preview.
//
// The analyzer server of @pulumi/policy wraps every property bag in `unknownCheckingProxy`: reading
// a value the engine does not know yet (an id, an ARN, anything computed from another resource's
// output) throws `UnknownValueError`, and the server turns the whole policy into an advisory "can't
// run policy during preview". A policy that must block a pull request therefore never lets that
// error escape: it reads through `read()` below and decides from what is known.

import * as policy from "@pulumi/policy";

/** Exports that @pulumi/policy's JavaScript has but its published typings strip. */
interface PolicyRuntime {
    unknownCheckingProxy<T extends object>(toProxy: T): T;
    UnknownValueError: new (...args: any[]) => Error;
}

/** The runtime-only half of @pulumi/policy: the very proxy and error class its server uses. */
export const policyRuntime = policy as unknown as PolicyRuntime;

/**
 * The sentinels the engine sends for unknown values (one per type), as @pulumi/policy knows them.
 * The proxy throws before a rule ever sees one; `read()` also recognises them so that a bag that
 * was not proxied behaves the same.
 */
const proxyModule = require("@pulumi/policy/proxy") as Record<string, unknown>;
export const unknownSentinels: ReadonlySet<string> = new Set(
    [
        "unknownBooleanValue",
        "unknownNumberValue",
        "unknownStringValue",
        "unknownArrayValue",
        "unknownAssetValue",
        "unknownArchiveValue",
        "unknownObjectValue",
    ]
        .map((k) => proxyModule[k])
        .filter((v): v is string => typeof v === "string"),
);

/** The value of a property that is not known yet (preview). */
export const UNKNOWN: unique symbol = Symbol("unknown during preview");
export type Unknown = typeof UNKNOWN;

export function isUnknown(v: unknown): v is Unknown {
    return v === UNKNOWN;
}

export function isUnknownValueError(e: unknown): boolean {
    return e instanceof policyRuntime.UnknownValueError;
}

/**
 * Evaluates a property read; returns UNKNOWN instead of throwing when the value (or anything on the
 * path to it) is unknown. Other errors propagate.
 */
export function read<T>(get: () => T): T | Unknown {
    try {
        const v = get();
        if (typeof v === "string" && unknownSentinels.has(v)) {
            return UNKNOWN;
        }
        return v;
    } catch (e) {
        if (isUnknownValueError(e)) {
            return UNKNOWN;
        }
        throw e;
    }
}

/**
 * Reads a list property element by element: UNKNOWN when the list itself is unknown, undefined when
 * absent, otherwise the elements with UNKNOWN in place of unknown ones. A scalar is a one-element list.
 */
export function readList<T>(get: () => T | readonly T[] | undefined | null): Array<T | Unknown> | Unknown | undefined {
    const list = read(get);
    if (isUnknown(list)) {
        return UNKNOWN;
    }
    if (list === undefined || list === null) {
        return undefined;
    }
    if (!Array.isArray(list)) {
        return [list as T];
    }
    const arr = list as readonly T[];
    const out: Array<T | Unknown> = [];
    const n = arr.length;
    for (let i = 0; i < n; i++) {
        out.push(read(() => arr[i]));
    }
    return out;
}

/** Reads one property of a bag by name. */
export function prop(bag: unknown, key: string): unknown {
    return read(() => (bag === undefined || bag === null ? undefined : (bag as Record<string, unknown>)[key]));
}

/** A tag's value: string, UNKNOWN when the tags (or the value) are unknown, undefined when absent. */
export function tagValue(props: Record<string, unknown>, key: string): string | Unknown | undefined {
    const tags = read(() => props.tags);
    if (isUnknown(tags)) {
        return UNKNOWN;
    }
    if (tags === undefined || tags === null || typeof tags !== "object") {
        return undefined;
    }
    const v = read(() => (tags as Record<string, unknown>)[key]);
    if (isUnknown(v)) {
        return UNKNOWN;
    }
    return typeof v === "string" ? v : undefined;
}

/** Interprets a boolean the providers sometimes model as a string ("true"/"false"). */
export function asBool(v: unknown): boolean | undefined {
    if (typeof v === "boolean") {
        return v;
    }
    if (typeof v === "string") {
        const s = v.trim().toLowerCase();
        if (s === "true") {
            return true;
        }
        if (s === "false") {
            return false;
        }
    }
    return undefined;
}

/** Interprets a number the providers sometimes model as a string ("6443"). */
export function asNumber(v: unknown): number | undefined {
    if (typeof v === "number" && Number.isFinite(v)) {
        return v;
    }
    if (typeof v === "string" && /^-?\d+$/.test(v.trim())) {
        return Number(v.trim());
    }
    return undefined;
}

/** Human-readable list: "a, b and c". */
export function humanList(items: readonly string[]): string {
    if (items.length <= 1) {
        return items.join("");
    }
    return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
