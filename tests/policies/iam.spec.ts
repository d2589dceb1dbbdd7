import * as assert from "assert";
import { documentProblems, nodeRoleLeastPrivilege, UNSCOPABLE_ACTIONS } from "../../policies/rules/iam";
import { sharedRun } from "../../tools/harness/sharedRun";
import { plan } from "../../tools/plan";
import { expectClean, expectLevel, runStack, Stack, UNKNOWN } from "./helpers";
import { TYPES } from "../../policies/lib/contract";

const IAM = {
    role: TYPES.role,
    profile: TYPES.instanceProfile,
    rolePolicy: TYPES.rolePolicy,
    policy: TYPES.policy,
    attachment: TYPES.rolePolicyAttachment,
    policyAttachment: TYPES.policyAttachment,
};
const EC2_TRUST = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});
const doc = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });
const BUCKET_OBJECTS = "arn:aws:s3:::k8s-dev-etcd-backups-x/k8s-dev/*";

/** A node role (trusted by EC2, carried by an instance profile) with one inline policy. */
function nodeRole(policy: unknown, opts: { trust?: string; profile?: boolean } = {}): Stack {
    const s = new Stack();
    const role = s.add(IAM.role, "k8s-dev-control-plane", { assumeRolePolicy: opts.trust ?? EC2_TRUST, name: UNKNOWN });
    if (opts.profile !== false)
        s.add(IAM.profile, "k8s-dev-control-plane", { role: UNKNOWN }, { deps: { role: [role] } });
    s.add(IAM.rolePolicy, "k8s-dev-etcd-backup-upload", { role: UNKNOWN, policy }, { deps: { role: [role] } });
    return s;
}

describe("policies: iam", () => {
    describe("node-role-least-privilege", () => {
        it("passes exact actions on scoped resources, and Resource * for an action AWS cannot scope", async () => {
            expectClean(
                await runStack(
                    nodeRoleLeastPrivilege,
                    nodeRole(
                        doc(
                            {
                                Sid: "Put",
                                Effect: "Allow",
                                Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
                                Resource: BUCKET_OBJECTS,
                            },
                            {
                                Sid: "Describe",
                                Effect: "Allow",
                                Action: ["ec2:DescribeInstances", "EC2:describeregions"],
                                Resource: "*",
                            },
                        ),
                    ),
                ),
            );
        });
        it("passes a document whose ARNs are unknown during preview (actions known), and a Deny with wildcards", async () => {
            expectClean(
                await runStack(
                    nodeRoleLeastPrivilege,
                    nodeRole({
                        Version: "2012-10-17",
                        Statement: [
                            { Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: UNKNOWN },
                            {
                                Effect: "Deny",
                                Action: "s3:*",
                                Resource: "*",
                                Condition: { Bool: { "aws:SecureTransport": "false" } },
                            },
                        ],
                    }),
                ),
            );
        });
        for (const action of ["*", "ec2:*", "s3:*", "s3:Put*", "ec2:Describe*", "iam:?assRole"]) {
            it(`fails the wildcard action ${JSON.stringify(action)}, even on a scoped resource`, async () => {
                const s = nodeRole(doc({ Sid: "Broad", Effect: "Allow", Action: [action], Resource: BUCKET_OBJECTS }));
                const o = await runStack(nodeRoleLeastPrivilege, s);
                const [msg] = expectLevel(o, "mandatory", 1);
                assert.match(
                    msg,
                    new RegExp(
                        `inline policy k8s-dev-etcd-backup-upload, attached to node role k8s-dev-control-plane: statement "Broad" allows wildcard action "${action.replace(/[*?]/g, "\\$&")}"`,
                    ),
                );
                assert.strictEqual(o.at("mandatory")[0].urn, s.get("k8s-dev-etcd-backup-upload").urn);
            });
        }
        it("fails Resource * for an action AWS can scope, naming the action", async () => {
            const [msg] = expectLevel(
                await runStack(
                    nodeRoleLeastPrivilege,
                    nodeRole(
                        doc({
                            Effect: "Allow",
                            Action: ["ec2:DescribeInstances", "s3:GetObject", "kms:Decrypt"],
                            Resource: ["*"],
                        }),
                    ),
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /statement 0 allows s3:GetObject and kms:Decrypt on every resource \("\*"\)/);
            assert.doesNotMatch(msg, /ec2:DescribeInstances on/);
        });
        it("accepts the cloud-controller-manager's upstream actions on \"*\", but not iam:CreateServiceLinkedRole (the stack scopes it to ELB's role)", async () => {
            expectClean(
                await runStack(
                    nodeRoleLeastPrivilege,
                    nodeRole(
                        doc({
                            Sid: "Ccm",
                            Effect: "Allow",
                            Action: [
                                "ec2:CreateSecurityGroup",
                                "elasticloadbalancing:CreateLoadBalancer",
                                "kms:DescribeKey",
                            ],
                            Resource: "*",
                        }),
                    ),
                ),
            );
            const [msg] = expectLevel(
                await runStack(
                    nodeRoleLeastPrivilege,
                    nodeRole(
                        doc({
                            Sid: "Ccm",
                            Effect: "Allow",
                            Action: ["ec2:CreateSecurityGroup", "iam:CreateServiceLinkedRole"],
                            Resource: "*",
                        }),
                    ),
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /statement "Ccm" allows iam:CreateServiceLinkedRole on every resource/);
        });
        it("fails NotAction and NotResource in an Allow", async () => {
            expectLevel(
                await runStack(
                    nodeRoleLeastPrivilege,
                    nodeRole(doc({ Effect: "Allow", NotAction: "iam:*", Resource: BUCKET_OBJECTS })),
                ),
                "mandatory",
                1,
            );
            const [msg] = expectLevel(
                await runStack(
                    nodeRoleLeastPrivilege,
                    nodeRole(doc({ Effect: "Allow", Action: "s3:GetObject", NotResource: BUCKET_OBJECTS })),
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /s3:GetObject on every resource \("\*" by NotResource\)/);
        });
        it("finds node roles by their instance profile or their EC2 trust; other roles are not its business", async () => {
            const bad = doc({ Effect: "Allow", Action: "*", Resource: "*" });
            expectLevel(await runStack(nodeRoleLeastPrivilege, nodeRole(bad, { profile: false })), "mandatory", 1);
            const lambdaTrust = EC2_TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com");
            expectLevel(await runStack(nodeRoleLeastPrivilege, nodeRole(bad, { trust: lambdaTrust })), "mandatory", 1);
            expectClean(await runStack(nodeRoleLeastPrivilege, nodeRole(bad, { trust: lambdaTrust, profile: false })));
        });
        it("reads managed policies of the stack attached by RolePolicyAttachment, PolicyAttachment and managedPolicyArns", async () => {
            const s = new Stack();
            const role = s.add(IAM.role, "workers", {
                assumeRolePolicy: EC2_TRUST,
                managedPolicyArns: ["arn:aws:iam::123456789012:policy/wide"],
            });
            const a = s.add(IAM.policy, "a", { policy: doc({ Effect: "Allow", Action: "ec2:*", Resource: "*" }) });
            const b = s.add(IAM.policy, "b", {
                policy: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }),
            });
            s.add(IAM.policy, "wide", {
                arn: "arn:aws:iam::123456789012:policy/wide",
                policy: doc({ Effect: "Allow", Action: "*", Resource: "*" }),
            });
            s.add(
                IAM.attachment,
                "attach-a",
                { role: UNKNOWN, policyArn: UNKNOWN },
                { deps: { role: [role], policyArn: [a] } },
            );
            s.add(
                IAM.policyAttachment,
                "attach-b",
                { roles: [UNKNOWN], policyArn: UNKNOWN },
                { deps: { roles: [role], policyArn: [b] } },
            );
            const msgs = expectLevel(await runStack(nodeRoleLeastPrivilege, s), "mandatory", 3);
            assert.match(
                msgs.join("\n"),
                /policy a \(by attach-a\), attached to node role workers: statement 0 allows wildcard action "ec2:\*"/,
            );
            assert.match(msgs.join("\n"), /policy b \(by attach-b\).*s3:GetObject on every resource/);
            assert.match(msgs.join("\n"), /policy wide \(managedPolicyArns of workers\)/);
        });
        it("advises (never passes silently) when a document or a managed policy cannot be read", async () => {
            const o = await runStack(nodeRoleLeastPrivilege, nodeRole(UNKNOWN));
            expectLevel(o, "mandatory", 0);
            assert.match(expectLevel(o, "advisory", 1)[0], /cannot read inline policy k8s-dev-etcd-backup-upload/);
            const s = nodeRole(doc({ Effect: "Allow", Action: "s3:PutObject", Resource: BUCKET_OBJECTS }));
            s.add(
                IAM.attachment,
                "aws-managed",
                { role: UNKNOWN, policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
                { deps: { role: [s.get("k8s-dev-control-plane")] } },
            );
            const m = await runStack(nodeRoleLeastPrivilege, s);
            assert.match(
                expectLevel(m, "advisory", 1)[0],
                /the managed policy arn:aws:iam::aws:policy\/AdministratorAccess of aws-managed, which the stack does not define/,
            );
        });
        it("keeps its table of unscopable actions exact: no wildcard in it, no duplicates", () => {
            assert.ok(UNSCOPABLE_ACTIONS.length > 0);
            for (const a of UNSCOPABLE_ACTIONS) assert.match(a, /^[a-z0-9-]+:[A-Za-z0-9]+$/, a);
            assert.strictEqual(new Set(UNSCOPABLE_ACTIONS.map((a) => a.toLowerCase())).size, UNSCOPABLE_ACTIONS.length);
            assert.deepStrictEqual(
                documentProblems(doc({ Effect: "Allow", Action: [...UNSCOPABLE_ACTIONS], Resource: "*" })),
                [],
            );
        });
        for (const stack of ["dev", "prod"]) {
            it(`passes on the program's own graph for ${stack}, in preview and after apply, with nothing undecided`, async () => {
                for (const preview of [true, false]) {
                    const p = await plan(stack, {}, { preview, runner: sharedRun });
                    assert.ifError(p.run.error);
                    // not vacuous: the backup upload and the CCM's and EBS CSI driver's policies are there and read (actions known even in preview)
                    const inline = p.run.resources.filter((r) => r.type === IAM.rolePolicy);
                    assert.deepStrictEqual(inline.map((r) => r.name.replace(/^k8s-(dev|prod)-/, "")).sort(), [
                        "cloud-controller-manager",
                        "ebs-csi-driver",
                        "etcd-backup-upload",
                    ]);
                    for (const r of inline)
                        assert.deepStrictEqual(
                            documentProblems(r.wireInputs.policy),
                            [],
                            `${r.name} ${stack} preview=${preview}`,
                        );
                    assert.deepStrictEqual(
                        p.violations.filter((v) => v.policy === "node-role-least-privilege"),
                        [],
                        `${stack} preview=${preview}`,
                    );
                }
            });
        }
        it("fails the program's own graph once a wildcard is attached to a node role", async () => {
            const p = await plan("dev", {}, { runner: sharedRun });
            const s = new Stack();
            for (const r of p.run.resources) {
                s.resources.push({
                    urn: r.urn,
                    type: r.type,
                    name: r.name,
                    inputs: r.wireInputs,
                    outputs: r.wireOutputs,
                    parent: r.parent,
                    dependencies: r.dependencies,
                    propertyDependencies: r.propertyDependencies,
                    protect: r.protect,
                });
            }
            const role = s.resources.find((r) => r.type === IAM.role && r.name === "k8s-dev-worker")!;
            s.add(
                IAM.rolePolicy,
                "crafted",
                { role: UNKNOWN, policy: doc({ Effect: "Allow", Action: "ec2:*", Resource: "*" }) },
                { deps: { role: [role] } },
            );
            const [msg] = expectLevel(await runStack(nodeRoleLeastPrivilege, s), "mandatory", 1);
            assert.match(
                msg,
                /inline policy crafted, attached to node role k8s-dev-worker: statement 0 allows wildcard action "ec2:\*"/,
            );
        });
    });
});
