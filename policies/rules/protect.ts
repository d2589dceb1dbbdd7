// Production stacks protect what is expensive to lose: control planes (etcd data), the API load
// balancer (its DNS name is in every kubeconfig and certificate) and the CAs with their keys.

import { PolicyConfigSchema, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { StackView, T } from "../lib/graph";
import { knobs, stackFromUrn, stackMatches } from "../lib/kit";
import { asBool, isUnknown, read } from "../lib/values";

interface ProtectKnobs {
    productionStacks: string[];
}

const protectSchema: PolicyConfigSchema = {
    properties: {
        productionStacks: {
            type: "array",
            items: { type: "string" },
            default: ["prod", "production"],
            description: 'Stack names ("*" wildcards allowed) treated as production.',
        },
    },
};

export const protectCriticalInProd: StackValidationPolicy = {
    name: "protect-critical-in-prod",
    description:
        "In production stacks, control planes, the API load balancer and the CA certificates and keys are protected.",
    enforcementLevel: "advisory",
    severity: "medium",
    configSchema: protectSchema,
    validateStack: (args, reportViolation) => {
        const k = knobs<ProtectKnobs>(protectSchema, args);
        const stack = args.resources.map((r) => stackFromUrn(r.urn)).find((s): s is string => s !== undefined);
        if (stack === undefined || !stackMatches(stack, k.productionStacks)) {
            return args.notApplicable(
                `stack ${stack ?? "(unknown)"} is not a production stack (${k.productionStacks.join(", ")})`,
            );
        }
        const view = new StackView(args.resources);
        const critical: Array<[PolicyResource, string]> = [];
        for (const cp of view.controlPlanes().controlPlanes) {
            critical.push([cp.resource, "control-plane instance (its disk holds an etcd member)"]);
        }
        const lbs = view.apiLoadBalancers();
        for (const lb of lbs) {
            critical.push([
                lb,
                "API load balancer (its DNS name is the controlPlaneEndpoint in every kubeconfig and apiserver certificate)",
            ]);
        }
        for (const cert of view.ofType(T.selfSignedCert)) {
            if (asBool(read(() => cert.props.isCaCertificate)) !== true) {
                continue;
            }
            critical.push([cert, "CA certificate (replacing it invalidates every certificate it signed)"]);
            for (const key of cert.propertyDependencies?.privateKeyPem ?? []) {
                if ((T.privateKey as readonly string[]).includes(key.type)) {
                    critical.push([key, `private key of CA ${cert.name}`]);
                }
            }
        }
        const seen = new Set<PolicyResource>();
        for (const [r, what] of critical) {
            if (seen.has(r)) {
                continue;
            }
            seen.add(r);
            if (!r.opts.protect) {
                reportViolation(
                    `${r.name} is a ${what} in production stack ${stack} but is not protected. ` +
                        `Pass { protect: true } (config protect=true) so a mistaken change or destroy cannot delete it.`,
                    r.urn,
                );
            }
        }
        for (const lb of lbs) {
            const del = read(() => lb.props.enableDeletionProtection);
            if (!isUnknown(del) && asBool(del) !== true) {
                reportViolation(
                    `API load balancer ${lb.name} in production stack ${stack} has enableDeletionProtection off; ` +
                        `set enableDeletionProtection: true so AWS refuses to delete it.`,
                    lb.urn,
                );
            }
        }
    },
};

export const protectPolicies = [protectCriticalInProd];
