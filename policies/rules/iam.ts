// IAM on the node roles: what a compromised node (or a pod reaching its credentials) can do is what
// the policies attached to its role allow. No wildcard action, and `Resource: "*"` only for actions
// AWS cannot scope to a resource (and those the AWS cloud-controller-manager's upstream policy needs
// on "*").
//
// A node role is a role an instance profile carries, or one that EC2 may assume. Its policies are
// read from the four places AWS attaches them: aws.iam.RolePolicy, aws.iam.RolePolicyAttachment and
// aws.iam.PolicyAttachment (of an aws.iam.Policy of the stack), and the role's own inlinePolicies.
// Only Allow statements count: a Deny takes rights away.

import { PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { StackView } from "../lib/graph";
import { reportUndecided } from "../lib/kit";
import { humanList, isUnknown, prop, read, readList, Unknown, UNKNOWN } from "../lib/values";
import { TYPES } from "../lib/contract";

/**
 * Actions the Service Authorization Reference lists with no resource type: they cannot be scoped, and
 * the stack's components (the AWS cloud provider, the EBS CSI driver, image pulls) call them. Exact
 * names: a pattern such as ec2:Describe* would itself be a wildcard.
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
 */
const NO_RESOURCE_TYPE: readonly string[] = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeTags",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInstanceTopology",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeRegions",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSnapshots",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVolumeStatus",
    "ec2:DescribeVolumes",
    "ec2:DescribeVolumesModifications",
    "ec2:DescribeVpcs",
    "ecr:GetAuthorizationToken",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancerPolicies",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "sts:GetCallerIdentity",
];

/**
 * Actions AWS could scope but the AWS cloud-controller-manager's upstream policy grants on "*" (its
 * "Control Plane Policy"): the CCM creates security groups, load balancers, listeners and target
 * groups whose ARNs do not exist beforehand, and changes routes and instances it finds by tag at run
 * time. Following upstream (components/cloudIntegrationIam.ts) means accepting them on "*".
 * https://github.com/kubernetes/cloud-provider-aws/blob/2f4b2e2f8620bc86ab949aa15269d504f0c38a23/docs/prerequisites.md
 */
const CLOUD_CONTROLLER_MANAGER_UNSCOPED: readonly string[] = [
    "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateRoute",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:DeleteRoute",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteVolume",
    "ec2:DetachVolume",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyVolume",
    "ec2:RevokeSecurityGroupIngress",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
    "elasticloadbalancing:AttachLoadBalancerToSubnets",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:CreateLoadBalancerPolicy",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
    "kms:DescribeKey",
];

/**
 * The actions a node role may allow on `Resource: "*"`: those AWS cannot scope, and those the AWS
 * cloud-controller-manager's upstream policy needs on "*". IAM action names are case-insensitive.
 */
export const UNSCOPABLE_ACTIONS: readonly string[] = [...NO_RESOURCE_TYPE, ...CLOUD_CONTROLLER_MANAGER_UNSCOPED];

const UNSCOPABLE = new Set(UNSCOPABLE_ACTIONS.map((a) => a.toLowerCase()));

const IAM = {
    role: [TYPES.role],
    instanceProfile: [TYPES.instanceProfile],
    rolePolicy: [TYPES.rolePolicy],
    policy: [TYPES.policy],
    rolePolicyAttachment: [TYPES.rolePolicyAttachment],
    policyAttachment: [TYPES.policyAttachment],
} as const;

/** What is wrong with one policy document, as sentences; UNKNOWN when it cannot be read yet. */
export function documentProblems(doc: unknown): string[] | Unknown {
    let d = doc;
    if (isUnknown(d)) return UNKNOWN;
    if (typeof d === "string") {
        try {
            d = JSON.parse(d);
        } catch {
            return ["is not valid JSON"];
        }
    }
    const statements = readList(() => (d as Record<string, unknown>)?.Statement as unknown);
    if (isUnknown(statements)) return UNKNOWN;
    const problems: string[] = [];
    let unknown = false;
    (statements ?? []).forEach((st, i) => {
        if (isUnknown(st)) {
            unknown = true;
            return;
        }
        const effect = prop(st, "Effect");
        if (isUnknown(effect)) {
            unknown = true;
            return;
        }
        if (effect !== "Allow") return;
        const label = `statement ${typeof prop(st, "Sid") === "string" && prop(st, "Sid") !== "" ? `"${String(prop(st, "Sid"))}"` : i}`;
        if (prop(st, "NotAction") !== undefined) {
            problems.push(`${label} allows NotAction (every action but some: a wildcard)`);
            return;
        }
        const actions = readList(() => (st as Record<string, unknown>).Action as unknown);
        if (isUnknown(actions) || (actions ?? []).some(isUnknown)) {
            unknown = true;
            return;
        }
        const names = (actions ?? []).map(String);
        const wild = names.filter((a) => /[*?]/.test(a));
        if (wild.length > 0) {
            problems.push(
                `${label} allows wildcard action${wild.length > 1 ? "s" : ""} ${humanList(wild.map((a) => `"${a}"`))}`,
            );
        }
        // Computed ARNs (unknown during preview) are resources, never the literal "*".
        const resources = readList(() => (st as Record<string, unknown>).Resource as unknown);
        const everything =
            prop(st, "NotResource") !== undefined ||
            (!isUnknown(resources) && (resources ?? []).some((r) => r === "*"));
        const unscoped = names.filter((a) => !/[*?]/.test(a) && !UNSCOPABLE.has(a.toLowerCase()));
        if (everything && unscoped.length > 0) {
            problems.push(
                `${label} allows ${humanList(unscoped)} on every resource ("*"${prop(st, "NotResource") !== undefined ? " by NotResource" : ""}); ` +
                    'scope them to ARNs (only the actions AWS cannot scope may use "*")',
            );
        }
    });
    return problems.length === 0 && unknown ? UNKNOWN : problems;
}

/** Whether `r`'s `key` refers to one of `targets`: through its dependencies, or by id, name or ARN. */
function refersTo(r: PolicyResource, key: string, targets: readonly PolicyResource[]): PolicyResource[] {
    const found = new Set<PolicyResource>((r.propertyDependencies?.[key] ?? []).filter((d) => targets.includes(d)));
    const values = readList(() => r.props[key] as unknown);
    if (!isUnknown(values)) {
        for (const v of values ?? []) {
            if (typeof v !== "string") continue;
            for (const t of targets) {
                if ([read(() => t.props.id), read(() => t.props.name), read(() => t.props.arn)].includes(v))
                    found.add(t);
            }
        }
    }
    return [...found];
}

/** Whether a role's trust policy lets EC2 assume it (an instance role). */
function trustsEc2(role: PolicyResource): boolean {
    let doc = read(() => role.props.assumeRolePolicy);
    if (typeof doc === "string") {
        try {
            doc = JSON.parse(doc);
        } catch {
            return false;
        }
    }
    if (isUnknown(doc) || typeof doc !== "object" || doc === null) return false;
    return JSON.stringify(doc).includes("ec2.amazonaws.com");
}

export const nodeRoleLeastPrivilege: StackValidationPolicy = {
    name: "node-role-least-privilege",
    description:
        'Policies attached to node roles allow no wildcard action, and Resource "*" only for actions AWS cannot scope to a resource.',
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
        const view = new StackView(args.resources);
        const roles = view.ofType(IAM.role);
        const profiles = view.ofType(IAM.instanceProfile);
        const nodeRoles = roles.filter(
            (role) => trustsEc2(role) || profiles.some((p) => refersTo(p, "role", [role]).length > 0),
        );
        if (nodeRoles.length === 0) return;
        const undecided: string[] = [];
        const judge = (what: string, doc: unknown, urn: string, roleNames: string[]) => {
            const problems = documentProblems(doc);
            if (isUnknown(problems)) {
                undecided.push(what);
            } else if (problems.length > 0) {
                reportViolation(
                    `${what}, attached to node role ${humanList(roleNames)}: ${problems.join("; ")}. A node's credentials reach ` +
                        `whatever its role allows: name exact actions, and scope every action AWS can scope to the ARNs it needs.`,
                    urn,
                );
            }
        };
        const names = (rs: PolicyResource[]) => rs.map((r) => r.name);
        const stackPolicies = view.ofType(IAM.policy);
        const attachedPolicy = (r: PolicyResource, roleNames: string[]) => {
            const targets = refersTo(r, "policyArn", stackPolicies);
            if (targets.length === 0) {
                const arn = read(() => r.props.policyArn);
                undecided.push(
                    `the managed policy ${isUnknown(arn) ? "(unknown ARN)" : String(arn)} of ${r.name}, which the stack does not define`,
                );
            }
            for (const p of targets)
                judge(
                    `policy ${p.name} (by ${r.name})`,
                    read(() => p.props.policy),
                    p.urn,
                    roleNames,
                );
        };
        for (const r of view.ofType(IAM.rolePolicy)) {
            const on = refersTo(r, "role", nodeRoles);
            if (on.length > 0)
                judge(
                    `inline policy ${r.name}`,
                    read(() => r.props.policy),
                    r.urn,
                    names(on),
                );
        }
        for (const r of view.ofType(IAM.rolePolicyAttachment)) {
            const on = refersTo(r, "role", nodeRoles);
            if (on.length > 0) attachedPolicy(r, names(on));
        }
        for (const r of view.ofType(IAM.policyAttachment)) {
            const on = refersTo(r, "roles", nodeRoles);
            if (on.length > 0) attachedPolicy(r, names(on));
        }
        for (const role of nodeRoles) {
            // Both are computed when unset: only values built from other outputs are undecided.
            const inline = readList(() => role.props.inlinePolicies as unknown);
            if (isUnknown(inline)) {
                if ((role.propertyDependencies?.inlinePolicies ?? []).length > 0)
                    undecided.push(`the inline policies of role ${role.name}`);
            } else {
                (inline ?? []).forEach((p, i) =>
                    judge(
                        `inline policy ${i} of role ${role.name}`,
                        isUnknown(p) ? UNKNOWN : prop(p, "policy"),
                        role.urn,
                        [role.name],
                    ),
                );
            }
            const managed = readList(() => role.props.managedPolicyArns as unknown);
            if (isUnknown(managed)) {
                if ((role.propertyDependencies?.managedPolicyArns ?? []).length > 0)
                    undecided.push(`the managed policies of role ${role.name}`);
                continue;
            }
            for (const arn of managed ?? []) {
                const p = isUnknown(arn) ? undefined : stackPolicies.find((x) => read(() => x.props.arn) === arn);
                if (p)
                    judge(
                        `policy ${p.name} (managedPolicyArns of ${role.name})`,
                        read(() => p.props.policy),
                        p.urn,
                        [role.name],
                    );
                else
                    undecided.push(
                        `the managed policy ${isUnknown(arn) ? "(unknown ARN)" : String(arn)} of role ${role.name}`,
                    );
            }
        }
        if (undecided.length > 0) {
            reportUndecided(
                reportViolation,
                nodeRoleLeastPrivilege.description,
                `cannot read ${humanList(undecided)}; ` +
                    "the rule judges only policy documents of the stack whose actions are known.",
            );
        }
    },
};

export const iamPolicies = [nodeRoleLeastPrivilege];
