// Small helpers shared by the rules: knobs with defaults, multi-type resource validations, and the
// advisory a mandatory rule reports when it cannot decide during preview.

import { PolicyConfigSchema, ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";

/**
 * A rule's knobs: the `default`s of its config schema overlaid with the configured values.
 * The Pulumi CLI fills schema defaults in too, but a rule must not depend on that (unit tests and
 * the offline plan call it with whatever config they have).
 */
export function knobs<T extends object>(schema: PolicyConfigSchema, args: { getConfig<U extends object>(): U }): T {
    const out: Record<string, unknown> = {};
    for (const [k, s] of Object.entries(schema.properties)) {
        if (typeof s === "object" && s !== null && s.default !== undefined) {
            out[k] = JSON.parse(JSON.stringify(s.default));
        }
    }
    const configured = args.getConfig<Record<string, unknown>>() ?? {};
    for (const [k, v] of Object.entries(configured)) {
        if (v !== undefined && k !== "enforcementLevel") {
            out[k] = v;
        }
    }
    return out as T;
}

/**
 * Like validateResourceOfType, for a rule that applies to several types (e.g. the aws:lb and the
 * aws:alb alias of the same resource). Other types are reported as not applicable.
 */
export function validateResourceOfTypes(types: readonly string[], validate: ResourceValidation): ResourceValidation {
    const set = new Set(types);
    const fn: ResourceValidation = (args: ResourceValidationArgs, report: ReportViolation) => {
        if (!set.has(args.type)) {
            return args.notApplicable(
                `Policy only applies to resources of type ${types.map((t) => `'${t}'`).join(" or ")}`,
            );
        }
        return validate(args, report);
    };
    if (types.length === 1) {
        // The same fast-path marker validateResourceOfType attaches; the server filters on it.
        (fn as unknown as { __pulumiType: string }).__pulumiType = types[0];
    }
    return fn;
}

/**
 * Reports, from a rule of any level, an advisory that the rule could not decide because a value is
 * unknown during preview. It uses the object form of reportViolation that @pulumi/policy's server
 * accepts at runtime (its typings only show the string form); the message is laid out the way the
 * server lays out string-form violations (description, newline, detail).
 */
export function reportUndecided(report: ReportViolation, description: string, message: string, urn?: string): void {
    (report as unknown as (v: { message: string; enforcementLevel: "advisory"; urn?: string }) => void)({
        message: `${description}\n${message}`,
        enforcementLevel: "advisory",
        urn,
    });
}

/** The stack's name, from a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackFromUrn(urn: string): string | undefined {
    const m = /^urn:pulumi:([^:]+)::/.exec(urn);
    return m ? m[1] : undefined;
}

/** Matches a stack name against a list of names; `*` in an entry matches any run of characters. */
export function stackMatches(stack: string, patterns: readonly string[]): boolean {
    return patterns.some((p) => {
        const re = new RegExp(
            `^${p
                .split("*")
                .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
                .join(".*")}$`,
        );
        return re.test(stack);
    });
}
