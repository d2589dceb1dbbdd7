// The AWS cloud-controller-manager's and the EBS CSI driver's IAM grants, as the program registers
// them under the mock runtime, against the upstream documents (tests/fixtures/upstream-iam-policies.json):
// the same actions, one by one, and nothing granted that an upstream statement does not grant.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { documentProblems } from "../policies/rules/iam";
import { ACCOUNT } from "../tools/harness/cloud";
import { type ProgramRun, type RecordedResource } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { byUrn, dependedOn, ofType, plain } from "./graph";
import { TYPES } from "../policies/lib/contract";

interface UpstreamStatement {
    actions: string[];
    resources: string[];
    condition?: Record<string, Record<string, unknown>>;
}
interface Upstream {
    source: string;
    commit: string;
    statements: UpstreamStatement[];
}
const FIXTURE = JSON.parse(
    fs.readFileSync(path.join(__dirname, "fixtures/upstream-iam-policies.json"), "utf8"),
) as Record<"cloudControllerManager" | "ebsCsiDriver", Upstream>;

/** One granted (action, resource) pair with the condition it is granted under. */
interface Grant {
    action: string;
    resource: string;
    condition: Record<string, Record<string, unknown>>;
}

function statementsOf(doc: unknown): Record<string, unknown>[] {
    const d = (typeof doc === "string" ? JSON.parse(doc) : doc) as { Statement: Record<string, unknown>[] };
    return d.Statement;
}
const list = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).map(String);

function grantsOf(doc: unknown): Grant[] {
    return statementsOf(doc).flatMap((st) => {
        assert.equal(st.Effect, "Allow");
        assert.equal(st.NotAction, undefined);
        assert.equal(st.NotResource, undefined);
        return list(st.Action).flatMap((action) =>
            list(st.Resource).map((resource) => ({
                action,
                resource,
                condition: (st.Condition ?? {}) as Grant["condition"],
            })),
        );
    });
}

/** IAM's ARN matching: `*` any run of characters, `?` one. */
function arnMatches(pattern: string, arn: string): boolean {
    const re = new RegExp(
        `^${pattern
            .split("")
            .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
            .join("")}$`,
    );
    return re.test(arn);
}

/** Whether an upstream statement grants `g`: same action, a resource covering it, and every condition of its own also on `g`. */
function covers(up: UpstreamStatement, g: Grant): boolean {
    if (!up.actions.some((a) => a.toLowerCase() === g.action.toLowerCase())) return false;
    if (!up.resources.some((r) => arnMatches(r, g.resource))) return false;
    return Object.entries(up.condition ?? {}).every(([op, keys]) =>
        Object.entries(keys).every(([k, v]) => JSON.stringify(g.condition[op]?.[k]) === JSON.stringify(v)),
    );
}

/** Actions added to and missing from `ours`, compared with the upstream statements' actions. */
function actionDiff(ours: Grant[], upstream: Upstream): { added: string[]; missing: string[] } {
    const mine = new Set(ours.map((g) => g.action));
    const theirs = new Set(upstream.statements.flatMap((s) => s.actions));
    return {
        added: [...mine].filter((a) => !theirs.has(a)).sort(),
        missing: [...theirs].filter((a) => !mine.has(a)).sort(),
    };
}

function ungranted(ours: Grant[], upstream: Upstream): Grant[] {
    return ours.filter((g) => !upstream.statements.some((s) => covers(s, g)));
}

describe("cloud integration IAM (the CCM and the EBS CSI driver on the control-plane role)", function () {
    this.timeout(180_000); // whole-program runs in update mode, on a shared machine
    it("the fixture names its upstream sources with the commit read", () => {
        for (const u of [FIXTURE.cloudControllerManager, FIXTURE.ebsCsiDriver]) {
            assert.match(u.source, /^https:\/\/github\.com\/kubernetes(-sigs)?\/[a-z-]+\/blob\/[0-9a-f]{40}\//);
            assert.ok(u.source.includes(u.commit));
            assert.ok(u.statements.length > 0);
        }
    });

    it("the comparison itself fails when an action is added, missing, or granted wider than upstream", () => {
        const up = FIXTURE.ebsCsiDriver;
        const ok: Grant[] = [
            {
                action: "ec2:DeleteVolume",
                resource: `arn:aws:ec2:us-east-1:${ACCOUNT}:volume/*`,
                condition: { StringLike: { "ec2:ResourceTag/CSIVolumeName": "*" } },
            },
        ];
        assert.deepEqual(ungranted(ok, up), []);
        assert.equal(ungranted([{ ...ok[0], condition: {} }], up).length, 1, "a dropped tag condition is wider");
        assert.equal(ungranted([{ ...ok[0], resource: "*" }], up).length, 1, "a wider resource is wider");
        assert.deepEqual(actionDiff([...ok, { ...ok[0], action: "ec2:DeleteSnapshotX" }], up).added, [
            "ec2:DeleteSnapshotX",
        ]);
        assert.ok(actionDiff(ok, up).missing.includes("ec2:CreateVolume"));
    });

    for (const stack of ["dev", "prod"]) {
        describe(`${stack}, after apply`, () => {
            let run: ProgramRun;
            let ccm: RecordedResource;
            let ebs: RecordedResource;
            before(async () => {
                run = await sharedRun({ stack, preview: false });
                assert.ifError(run.error);
                const cluster = stack === "prod" ? "k8s-prod" : "k8s-dev";
                const policies = ofType(run, TYPES.rolePolicy);
                ccm = policies.find((r) => r.name === `${cluster}-cloud-controller-manager`)!;
                ebs = policies.find((r) => r.name === `${cluster}-ebs-csi-driver`)!;
                assert.ok(ccm && ebs, policies.map((r) => r.name).join(", "));
            });

            it("attaches both inline policies to the control-plane role, as children of one component", () => {
                for (const r of [ccm, ebs]) {
                    assert.deepEqual(
                        dependedOn(run, r, "role").map((d) => d.name),
                        [stack === "prod" ? "k8s-prod-control-plane" : "k8s-dev-control-plane"],
                    );
                    const parent = byUrn(run, r.parent!);
                    assert.equal(parent.type, "k8s-ha:iam:CloudIntegrationIam");
                }
            });

            it("the CCM's actions are upstream's Control Plane Policy, action by action", () => {
                assert.deepEqual(actionDiff(grantsOf(plain(ccm).policy), FIXTURE.cloudControllerManager), {
                    added: [],
                    missing: [],
                });
            });

            it("the EBS CSI driver's actions are upstream's example policy, action by action", () => {
                assert.deepEqual(actionDiff(grantsOf(plain(ebs).policy), FIXTURE.ebsCsiDriver), {
                    added: [],
                    missing: [],
                });
            });

            it("grants nothing an upstream statement does not: every action on a resource and under conditions upstream allows", () => {
                assert.deepEqual(ungranted(grantsOf(plain(ccm).policy), FIXTURE.cloudControllerManager), []);
                assert.deepEqual(ungranted(grantsOf(plain(ebs).policy), FIXTURE.ebsCsiDriver), []);
            });

            it("keeps upstream's tag conditions and names this region's and account's ARNs only", () => {
                const grants = grantsOf(plain(ebs).policy);
                for (const g of grants.filter((x) => x.resource !== "*")) {
                    assert.match(
                        g.resource,
                        new RegExp(
                            `^arn:aws:ec2:${stack === "prod" ? "us-east-1" : "us-west-2"}:${ACCOUNT}:(volume|snapshot|instance)/`,
                        ),
                        JSON.stringify(g),
                    );
                }
                assert.deepEqual(
                    grants
                        .filter((g) => g.resource === "*")
                        .map((g) => g.action)
                        .sort(),
                    FIXTURE.ebsCsiDriver.statements[0].actions.slice().sort(),
                );
                const deletes = grants.filter(
                    (g) => g.action === "ec2:DeleteVolume" || g.action === "ec2:DeleteSnapshot",
                );
                assert.ok(
                    deletes.length >= 5 && deletes.every((g) => Object.keys(g.condition).length > 0),
                    "every delete is conditioned on the driver's tags",
                );
                const slr = grantsOf(plain(ccm).policy).filter((g) => g.action === "iam:CreateServiceLinkedRole");
                assert.deepEqual(
                    slr.map((g) => [g.resource, g.condition]),
                    [
                        [
                            `arn:aws:iam::${ACCOUNT}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing`,
                            { StringEquals: { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } },
                        ],
                    ],
                );
            });

            it('passes the pack\'s node-role rule: Resource "*" only for actions in its table', () => {
                assert.deepEqual(documentProblems(plain(ccm).policy), []);
                assert.deepEqual(documentProblems(plain(ebs).policy), []);
            });
        });
    }

    it("in preview the documents' actions are known (the pack judges them before anything exists)", async () => {
        const run = await sharedRun({ stack: "prod" });
        assert.ifError(run.error);
        const names = ofType(run, TYPES.rolePolicy)
            .map((r) => r.name)
            .sort();
        assert.deepEqual(names, [
            "k8s-prod-cloud-controller-manager",
            "k8s-prod-ebs-csi-driver",
            "k8s-prod-etcd-backup-upload",
        ]);
        for (const r of ofType(run, TYPES.rolePolicy)) {
            for (const st of statementsOf(plain(r).policy))
                assert.ok(
                    list(st.Action).every((a) => /^[a-z0-9-]+:[A-Za-z0-9]+$/.test(a)),
                    r.name,
                );
        }
    });
});
