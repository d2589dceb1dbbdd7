// Control-plane layout: odd member count, spread over AZs, and etcd quorum surviving an AZ loss.
//
// Control planes are the aws.ec2.Instance resources tagged k8s-ha/role=control-plane; their AZ is
// the explicit `availabilityZone` input (the program always sets it), else their subnet's. Ids and
// subnet ids are not needed, so these rules decide during preview.

import { PolicyConfigSchema, StackValidationPolicy } from "@pulumi/policy";
import { ControlPlane, describeControlPlane, groupByAz, ROLE_TAG, ROLE_CONTROL_PLANE, StackView } from "../lib/graph";
import { knobs, reportUndecided } from "../lib/kit";
import { humanList } from "../lib/values";

/** etcd quorum for n members. */
export function quorum(n: number): number {
    return Math.floor(n / 2) + 1;
}

/** How many members one AZ may hold so that losing it keeps quorum. */
export function maxPerAz(n: number): number {
    return n - quorum(n);
}

function names(cps: readonly ControlPlane[]): string {
    return humanList(cps.map(describeControlPlane));
}

function azSummary(byAz: Map<string, ControlPlane[]>): string {
    return [...byAz.entries()].map(([az, l]) => `${az}: ${humanList(l.map((c) => c.name))}`).join("; ");
}

const TAG_HINT = `aws.ec2.Instance tagged ${ROLE_TAG}=${ROLE_CONTROL_PLANE}`;

// ------------------------------------------------------------------------------------------------

interface OddCountKnobs {
    minControlPlanes: number;
    maxControlPlanes: number;
}

const oddCountSchema: PolicyConfigSchema = {
    properties: {
        minControlPlanes: {
            type: "integer",
            minimum: 1,
            default: 3,
            description: "Fewest control planes allowed (3 survives one failure; 1 only for a throwaway stack).",
        },
        maxControlPlanes: {
            type: "integer",
            minimum: 1,
            default: 7,
            description: "Most control planes allowed (etcd beyond 7 members only adds write latency).",
        },
    },
};

/** The odd counts in [min, max] nearest to n, as a suggestion. */
function suggestCounts(n: number, min: number, max: number): number[] {
    const odd: number[] = [];
    for (let i = Math.max(1, min); i <= max; i++) {
        if (i % 2 === 1) {
            odd.push(i);
        }
    }
    const below = odd.filter((i) => i < n).pop();
    const above = odd.find((i) => i > n);
    return [below, above].filter((x): x is number => x !== undefined);
}

export const controlPlaneOddCount: StackValidationPolicy = {
    name: "control-plane-odd-count",
    description: "The number of control-plane instances is odd and within [minControlPlanes, maxControlPlanes].",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: oddCountSchema,
    validateStack: (args, reportViolation) => {
        const k = knobs<OddCountKnobs>(oddCountSchema, args);
        const { controlPlanes, untagged } = new StackView(args.resources).controlPlanes();
        const n = controlPlanes.length;
        const problems: string[] = [];
        if (n === 0) {
            problems.push(`found no control-plane instances (${TAG_HINT}).`);
        } else if (n % 2 === 0) {
            problems.push(
                `${n} control planes (${names(controlPlanes)}): etcd needs an odd member count — ` +
                    `quorum of ${n} is ${quorum(n)}, so ${n} members tolerate ${n - quorum(n)} failure(s), ` +
                    `no more than ${n - 1} do, and an even split halts the cluster.`,
            );
        }
        if (n > 0 && n < k.minControlPlanes) {
            problems.push(
                `${n} control plane(s) (${names(controlPlanes)}) is below minControlPlanes=${k.minControlPlanes}: ` +
                    `${n === 1 ? "a single control plane is lost with its node or AZ" : "too few members to survive failures"}.`,
            );
        }
        if (n > k.maxControlPlanes) {
            problems.push(
                `${n} control planes exceed maxControlPlanes=${k.maxControlPlanes}: every etcd write waits for a majority, ` +
                    `so more members add latency without useful fault tolerance.`,
            );
        }
        if (problems.length > 0) {
            const fix = suggestCounts(n, k.minControlPlanes, k.maxControlPlanes);
            const how =
                fix.length > 0
                    ? `Set controlPlaneCount to ${fix.join(" or ")}.`
                    : `No odd count fits [${k.minControlPlanes}, ${k.maxControlPlanes}]; fix the policy config.`;
            const certain = untagged.length === 0 || n > k.maxControlPlanes;
            if (certain) {
                reportViolation(`${problems.join(" ")} ${how}`);
                return;
            }
        }
        if (untagged.length > 0) {
            reportUndecided(
                reportViolation,
                controlPlaneOddCount.description,
                `cannot count control planes during preview: the tags of ${humanList(untagged.map((r) => r.name))} are unknown. ` +
                    `Set the ${ROLE_TAG} tag from plain values so the count is known before deployment.`,
            );
        }
    },
};

// ------------------------------------------------------------------------------------------------

interface MultiAzKnobs {
    minAzs: number;
}

const multiAzSchema: PolicyConfigSchema = {
    properties: {
        minAzs: {
            type: "integer",
            minimum: 2,
            default: 3,
            description: "Distinct AZs required: min(controlPlaneCount, minAzs).",
        },
    },
};

export const controlPlaneMultiAz: StackValidationPolicy = {
    name: "control-plane-multi-az",
    description: "Control-plane instances are spread over at least min(count, minAzs) distinct availability zones.",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: multiAzSchema,
    validateStack: (args, reportViolation) => {
        const k = knobs<MultiAzKnobs>(multiAzSchema, args);
        const { controlPlanes, untagged } = new StackView(args.resources).controlPlanes();
        const n = controlPlanes.length;
        if (n <= 1) {
            return args.notApplicable(
                n === 0
                    ? `no control-plane instances (${TAG_HINT})`
                    : "a single control plane is in one AZ by definition; control-plane-odd-count decides whether one is allowed",
            );
        }
        const required = Math.min(n, k.minAzs);
        const { byAz, unknownAz } = groupByAz(controlPlanes);
        if (byAz.size >= required && untagged.length === 0) {
            return;
        }
        if (byAz.size + unknownAz.length < required) {
            const single = byAz.size === 1 && unknownAz.length === 0;
            reportViolation(
                `${n} control planes run in ${byAz.size} AZ(s) (${azSummary(byAz)}${unknownAz.length ? `; AZ unknown: ${names(unknownAz)}` : ""}); ` +
                    `they need at least ${required} distinct AZs${single ? " — a single AZ outage would take down the whole control plane" : ""}. ` +
                    `List at least ${required} AZs in availabilityZones so the control planes are placed round-robin, one per AZ.`,
            );
            return;
        }
        if (byAz.size >= required) {
            // Spread is fine; only the count is uncertain.
            reportUndecided(
                reportViolation,
                controlPlaneMultiAz.description,
                `the tags of ${humanList(untagged.map((r) => r.name))} are unknown during preview, so the set of control planes is not final.`,
            );
            return;
        }
        reportUndecided(
            reportViolation,
            controlPlaneMultiAz.description,
            `cannot decide during preview: the AZ of ${names(unknownAz)} is unknown (known: ${azSummary(byAz) || "none"}). ` +
                `Set availabilityZone explicitly on control-plane instances.`,
        );
    },
};

// ------------------------------------------------------------------------------------------------

export const controlPlaneAzQuorum: StackValidationPolicy = {
    name: "control-plane-az-quorum",
    description:
        "Losing any one availability zone leaves etcd with quorum: no AZ holds more than n - (floor(n/2)+1) control planes.",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema: { properties: {} },
    validateStack: (args, reportViolation) => {
        const { controlPlanes, untagged } = new StackView(args.resources).controlPlanes();
        const n = controlPlanes.length;
        if (n <= 1) {
            return args.notApplicable(
                n === 0
                    ? `no control-plane instances (${TAG_HINT})`
                    : "a single control plane cannot survive any failure; control-plane-odd-count decides whether one is allowed",
            );
        }
        const q = quorum(n);
        const limit = maxPerAz(n);
        const { byAz, unknownAz } = groupByAz(controlPlanes);
        const azsNeeded = limit > 0 ? Math.ceil(n / limit) : Infinity;
        const fix =
            limit > 0
                ? `With ${n} control planes no AZ may hold more than ${limit}; spread them over at least ${azsNeeded} AZs (availabilityZones, round-robin).`
                : `${n} control planes can never survive an AZ loss (quorum ${q} of ${n}); use 3 control planes in 3 AZs, or 5 in 3 or more.`;
        const over = [...byAz.entries()].filter(([, l]) => l.length > limit);
        if (over.length > 0) {
            const losses = over.map(
                ([az, l]) =>
                    `losing ${az} (${humanList(l.map((c) => c.name))}) leaves ${n - l.length} of ${n} etcd members, below quorum ${q}`,
            );
            reportViolation(`${losses.join("; ")}. ${fix}`);
            return;
        }
        if (limit === 0) {
            reportViolation(`${n} control planes (${names(controlPlanes)}): ${fix}`);
            return;
        }
        if (unknownAz.length > 0 || untagged.length > 0) {
            const what =
                unknownAz.length > 0
                    ? `the AZ of ${names(unknownAz)} is unknown`
                    : `the tags of ${humanList(untagged.map((r) => r.name))} are unknown`;
            reportUndecided(
                reportViolation,
                controlPlaneAzQuorum.description,
                `cannot decide during preview: ${what} (known: ${azSummary(byAz) || "none"}). Set availabilityZone and tags explicitly.`,
            );
        }
    },
};

export const layoutPolicies = [controlPlaneOddCount, controlPlaneMultiAz, controlPlaneAzQuorum];
