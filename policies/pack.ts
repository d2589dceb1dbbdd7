// The policy pack's contents, importable without starting the analyzer server:
// `index.ts` serves exactly this list; tests and the offline plan evaluate the same objects.

import * as fs from "fs";
import * as path from "path";
import { EnforcementLevel, Policies, PolicyPackConfig } from "@pulumi/policy";
import { awsIntegrationPolicies } from "./rules/awsIntegration";
import { iamPolicies } from "./rules/iam";
import { instancePolicies } from "./rules/instances";
import { layoutPolicies } from "./rules/layout";
import { loadBalancerPolicies } from "./rules/loadBalancer";
import { networkPolicies } from "./rules/network";
import { protectPolicies } from "./rules/protect";
import { tlsPolicies } from "./rules/tls";

export const packName = "k8s-ha-control-plane";
export const packVersion: string = (require("./package.json") as { version: string }).version;
export const packDescription =
    "Keeps the Kubernetes control plane highly available (odd count, AZ spread, etcd quorum per AZ, API NLB) and secure (IMDSv2, encryption, no world-open ports, least-privilege node roles, sound PKI).";

/** The level of a policy that sets none (PolicyPack's own default); every policy here sets one. */
export const packEnforcementLevel: EnforcementLevel = "advisory";

/** Every policy of the pack, in reporting order. */
export const policies: Policies = [
    ...layoutPolicies,
    ...loadBalancerPolicies,
    ...instancePolicies,
    ...networkPolicies,
    ...iamPolicies,
    ...awsIntegrationPolicies,
    ...tlsPolicies,
    ...protectPolicies,
];

/** policy name -> default enforcement level (before any --policy-pack-config). */
export const defaultEnforcementLevels: Readonly<Record<string, EnforcementLevel>> = Object.freeze(
    Object.fromEntries(policies.map((p) => [p.name, p.enforcementLevel ?? packEnforcementLevel])),
);

/** The directory of the pack (for `pulumi preview --policy-pack <dir>`). */
export const packDir = __dirname;

/** The --policy-pack-config file for a stack (policies/config.<stack>.json), if there is one. */
export function policyConfigPath(stack: string): string | undefined {
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
        return undefined;
    }
    const p = path.join(packDir, `config.${stack}.json`);
    return fs.existsSync(p) ? p : undefined;
}

/** The parsed --policy-pack-config for a stack; undefined when the stack has none (defaults apply). */
export function loadPolicyConfig(stack: string): PolicyPackConfig | undefined {
    const p = policyConfigPath(stack);
    return p === undefined ? undefined : (JSON.parse(fs.readFileSync(p, "utf8")) as PolicyPackConfig);
}
