// What the in-cluster AWS integrations rely on: the cluster tag on every subnet the stack creates (the
// AWS cloud-controller-manager finds the subnets for a Service's load balancer by it), and an
// encrypted default StorageClass (every PersistentVolumeClaim that names no class gets its volume).

import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { ROLE_CONTROL_PLANE, ROLE_TAG, StackView, T } from "../lib/graph";
import { reportUndecided, validateResourceOfTypes } from "../lib/kit";
import { humanList, isUnknown, prop, read, tagValue, Unknown, UNKNOWN } from "../lib/values";
import { TYPES } from "../lib/contract";

/** The tag the AWS cloud provider finds a cluster's resources by: kubernetes.io/cluster/<name>. */
export const CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/";
/** Its values: `owned` (the cluster's alone) or `shared` (also used by others, e.g. an existing VPC's subnets). */
export const CLUSTER_TAG_VALUES: readonly string[] = ["owned", "shared"];

/** The cluster names in a resource's `kubernetes.io/cluster/<name>` tags (any value); UNKNOWN when its tags are. */
function clusterTagNames(r: PolicyResource): string[] | Unknown {
    const tags = read(() => r.props.tags);
    if (isUnknown(tags)) return UNKNOWN;
    if (tags === null || typeof tags !== "object") return [];
    return Object.keys(tags)
        .filter((k) => k.startsWith(CLUSTER_TAG_PREFIX) && k.length > CLUSTER_TAG_PREFIX.length)
        .map((k) => k.slice(CLUSTER_TAG_PREFIX.length));
}

export const clusterSubnetsTagged: StackValidationPolicy = {
    name: "cluster-subnets-tagged",
    description:
        "Every subnet the stack creates carries the cluster tag kubernetes.io/cluster/<name> = owned or shared, by which the AWS cloud-controller-manager finds subnets for load balancers.",
    enforcementLevel: "advisory",
    severity: "medium",
    configSchema: { properties: {} },
    validateStack: (args, reportViolation) => {
        const view = new StackView(args.resources);
        // The cluster's name: the one the control planes are tagged with (the CCM reads it from them).
        const names = new Set<string>();
        for (const cp of view.ofType(T.instance).filter((r) => tagValue(r.props, ROLE_TAG) === ROLE_CONTROL_PLANE)) {
            const n = clusterTagNames(cp);
            if (!isUnknown(n)) n.forEach((x) => names.add(x));
        }
        const expected = names.size > 0 ? [...names].map((n) => `${CLUSTER_TAG_PREFIX}${n}`) : undefined;
        const undecided: string[] = [];
        for (const subnet of view.ofType(T.subnet)) {
            const found = clusterTagNames(subnet);
            if (isUnknown(found)) {
                undecided.push(subnet.name);
                continue;
            }
            const keys = found
                .map((n) => `${CLUSTER_TAG_PREFIX}${n}`)
                .filter((k) => expected === undefined || expected.includes(k));
            const values = keys.map((k) => tagValue(subnet.props, k));
            if (values.some(isUnknown)) {
                undecided.push(subnet.name);
                continue;
            }
            if (values.some((v) => CLUSTER_TAG_VALUES.includes(v as string))) continue;
            const wanted = expected
                ? humanList(expected.map((k) => `"${k}"`))
                : `"${CLUSTER_TAG_PREFIX}<cluster name>"`;
            const got =
                keys.length > 0
                    ? `has ${humanList(keys.map((k, i) => `"${k}" = "${String(values[i])}"`))}`
                    : found.length > 0
                      ? `is tagged for another cluster (${humanList(found.map((n) => `"${CLUSTER_TAG_PREFIX}${n}"`))})`
                      : "has no cluster tag";
            reportViolation(
                `subnet ${subnet.name} ${got}: it needs the tag ${wanted} with the value ` +
                    `${CLUSTER_TAG_VALUES.map((v) => `"${v}"`).join(" or ")} (owned: this cluster's alone; shared: used by others too). ` +
                    `The AWS cloud-controller-manager places a Service's load balancer only in subnets tagged for its cluster.`,
                subnet.urn,
            );
        }
        if (undecided.length > 0) {
            reportUndecided(
                reportViolation,
                clusterSubnetsTagged.description,
                `the tags of ${humanList(undecided)} are unknown during preview; set them from plain values.`,
            );
        }
    },
};

/** The StorageClass resource type of @pulumi/kubernetes. */
export const STORAGE_CLASS_TYPES: readonly string[] = [TYPES.storageClass];
/** The annotations that make a StorageClass the cluster's default (the beta one is still honoured). */
export const DEFAULT_CLASS_ANNOTATIONS: readonly string[] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];
/** The EBS CSI driver; its volumes are unencrypted unless `encrypted: "true"` (or the account's EBS default encryption) says otherwise. */
export const EBS_CSI_PROVISIONER = "ebs.csi.aws.com";

export const defaultStorageClassEncrypted: ResourceValidationPolicy = {
    name: "default-storage-class-encrypted",
    description:
        'The default StorageClass (is-default-class "true") sets parameters.encrypted "true", so every volume a claim gets without naming a class is encrypted.',
    enforcementLevel: "advisory",
    severity: "high",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(STORAGE_CLASS_TYPES, (args, reportViolation) => {
        const annotations = read(() => (args.props.metadata as Record<string, unknown> | undefined)?.annotations);
        if (isUnknown(annotations)) {
            reportUndecided(
                reportViolation,
                defaultStorageClassEncrypted.description,
                `the annotations of StorageClass ${args.name} are unknown during preview.`,
            );
            return;
        }
        const marks = DEFAULT_CLASS_ANNOTATIONS.map((a) => prop(annotations, a));
        if (marks.some(isUnknown)) {
            reportUndecided(
                reportViolation,
                defaultStorageClassEncrypted.description,
                `whether StorageClass ${args.name} is the default is unknown during preview.`,
            );
            return;
        }
        if (!marks.includes("true")) return; // Kubernetes takes exactly "true" as the default mark
        const provisioner = read(() => args.props.provisioner);
        const parameters = read(() => args.props.parameters);
        const encrypted = isUnknown(parameters) ? UNKNOWN : prop(parameters, "encrypted");
        if (isUnknown(encrypted)) {
            reportUndecided(
                reportViolation,
                defaultStorageClassEncrypted.description,
                `parameters.encrypted of StorageClass ${args.name} is unknown during preview.`,
            );
            return;
        }
        if (encrypted === "true") return;
        const which = typeof provisioner === "string" ? `provisioner "${provisioner}"` : "its provisioner";
        const why =
            provisioner === EBS_CSI_PROVISIONER
                ? "the EBS CSI driver creates unencrypted volumes unless told otherwise"
                : `a default class whose ${which} does not encrypt leaves every claim that names no class unencrypted`;
        reportViolation(
            `StorageClass ${args.name} is the default (is-default-class "true") and has parameters.encrypted ` +
                `${encrypted === undefined ? "unset" : JSON.stringify(encrypted)} (${which}): ${why}. Allowed: parameters.encrypted "true" ` +
                `(with ${EBS_CSI_PROVISIONER}, optionally kmsKeyId), or take the default annotation off.`,
        );
    }),
};

export const awsIntegrationPolicies = [clusterSubnetsTagged, defaultStorageClassEncrypted];
