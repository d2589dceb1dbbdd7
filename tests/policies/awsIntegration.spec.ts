import * as assert from "assert";
import { clusterSubnetsTagged, defaultStorageClassEncrypted } from "../../policies/rules/awsIntegration";
import { sharedRun } from "../../tools/harness/sharedRun";
import { plan } from "../../tools/plan";
import {
    checkResource,
    CP_TAGS,
    expectClean,
    expectLevel,
    expectNotApplicable,
    loadConfig,
    runStack,
    Stack,
    TYPES,
    UNKNOWN,
} from "./helpers";
import * as contract from "../../policies/lib/contract";

const STORAGE_CLASS = contract.TYPES.storageClass;
const DEFAULT = { "storageclass.kubernetes.io/is-default-class": "true" };
/** The default class the stack installs: gp3 through the EBS CSI driver, encrypted, bound where the pod lands. */
const GP3 = {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: "gp3", annotations: DEFAULT },
    provisioner: "ebs.csi.aws.com",
    parameters: { type: "gp3", encrypted: "true" },
    volumeBindingMode: "WaitForFirstConsumer",
    reclaimPolicy: "Delete",
};

/** A stack of subnets with the given tags, and optionally a control plane tagged for cluster k8s-dev. */
function subnets(tags: Record<string, unknown>[], controlPlane = true): Stack {
    const s = new Stack();
    if (controlPlane)
        s.add(TYPES.instance, "k8s-dev-cp-0", { tags: { ...CP_TAGS, "kubernetes.io/cluster/k8s-dev": "owned" } });
    tags.forEach((t, i) => s.add(TYPES.subnet, `k8s-dev-private-${i}`, { cidrBlock: `10.0.${i}.0/24`, tags: t }));
    return s;
}

describe("policies: AWS integration", () => {
    describe("cluster-subnets-tagged", function () {
        this.timeout(120_000); // the program-graph cases run the whole program
        it("passes subnets tagged for the control planes' cluster, owned or shared", async () => {
            expectClean(
                await runStack(
                    clusterSubnetsTagged,
                    subnets([
                        { Name: "a", "kubernetes.io/cluster/k8s-dev": "owned", "kubernetes.io/role/internal-elb": "1" },
                        { "kubernetes.io/cluster/k8s-dev": "shared", "kubernetes.io/cluster/other": "shared" },
                    ]),
                ),
            );
            // with no control plane in the stack, any cluster's tag will do
            expectClean(await runStack(clusterSubnetsTagged, subnets([{ "kubernetes.io/cluster/x": "owned" }], false)));
        });
        it("fails a subnet without the cluster tag, naming the subnet, the key and the allowed values", async () => {
            const s = subnets([{ "kubernetes.io/cluster/k8s-dev": "owned" }, { Name: "k8s-dev-private-1" }]);
            const o = await runStack(clusterSubnetsTagged, s);
            const [msg] = expectLevel(o, "advisory", 1);
            assert.match(
                msg,
                /subnet k8s-dev-private-1 has no cluster tag: it needs the tag "kubernetes\.io\/cluster\/k8s-dev" with the value "owned" or "shared"/,
            );
            assert.strictEqual(o.at("advisory")[0].urn, s.get("k8s-dev-private-1").urn);
            // mandatory in prod
            expectLevel(await runStack(clusterSubnetsTagged, s, { config: loadConfig("prod") }), "mandatory", 1);
        });
        it("fails a wrong value, and a tag for another cluster than the control planes'", async () => {
            const msgs = expectLevel(
                await runStack(
                    clusterSubnetsTagged,
                    subnets([
                        { "kubernetes.io/cluster/k8s-dev": "yes" },
                        { "kubernetes.io/cluster/k8s-prod": "owned" },
                        {},
                    ]),
                    { config: loadConfig("prod") },
                ),
                "mandatory",
                3,
            );
            assert.match(msgs[0], /subnet k8s-dev-private-0 has "kubernetes\.io\/cluster\/k8s-dev" = "yes"/);
            assert.match(
                msgs[1],
                /subnet k8s-dev-private-1 is tagged for another cluster \("kubernetes\.io\/cluster\/k8s-prod"\)/,
            );
            assert.match(msgs[2], /subnet k8s-dev-private-2 has no cluster tag/);
        });
        it("advises, never passes, when a subnet's tags are unknown during preview", async () => {
            const s = new Stack();
            s.add(TYPES.subnet, "computed", { tags: UNKNOWN });
            const o = await runStack(clusterSubnetsTagged, s, { config: loadConfig("prod") });
            expectLevel(o, "mandatory", 0);
            assert.match(expectLevel(o, "advisory", 1)[0], /the tags of computed are unknown during preview/);
        });
        for (const stack of ["dev", "prod"]) {
            it(`passes on the program's own ${stack} graph, and fails it once a subnet loses the tag`, async () => {
                const p = await plan(stack, {}, { runner: sharedRun });
                assert.ifError(p.run.error);
                const subnetsOfProgram = p.run.resources.filter((r) => r.type === TYPES.subnet);
                assert.ok(subnetsOfProgram.length >= 6, "not vacuous: the program creates public and private subnets");
                assert.deepStrictEqual(
                    p.violations.filter((v) => v.policy === "cluster-subnets-tagged"),
                    [],
                );
                const s = new Stack(stack);
                // the stack analysis reads outputs where there are some (after a preview, the inputs)
                const untag = (bag: Record<string, unknown>) => ({
                    ...bag,
                    tags: Object.fromEntries(
                        Object.entries(bag.tags as Record<string, string>).filter(
                            ([k]) => !k.startsWith("kubernetes.io/cluster/"),
                        ),
                    ),
                });
                for (const r of p.run.resources) {
                    const first = r === subnetsOfProgram[0];
                    s.resources.push({
                        urn: r.urn,
                        type: r.type,
                        name: r.name,
                        inputs: first ? untag(r.wireInputs) : r.wireInputs,
                        outputs: first && r.wireOutputs ? untag(r.wireOutputs) : r.wireOutputs,
                        parent: r.parent,
                        dependencies: r.dependencies,
                        propertyDependencies: r.propertyDependencies,
                        protect: r.protect,
                    });
                }
                const [msg] = expectLevel(
                    await runStack(clusterSubnetsTagged, s, { config: loadConfig(stack as "dev" | "prod") }),
                    stack === "prod" ? "mandatory" : "advisory",
                    1,
                );
                assert.match(
                    msg,
                    new RegExp(
                        `subnet ${subnetsOfProgram[0].name} has no cluster tag: it needs the tag "kubernetes\\.io/cluster/k8s-${stack}"`,
                    ),
                );
            });
        }
    });

    describe("default-storage-class-encrypted", () => {
        it('passes the stack\'s gp3 default class, a non-default unencrypted class, and is-default-class "false"', async () => {
            expectClean(await checkResource(defaultStorageClassEncrypted, STORAGE_CLASS, GP3));
            expectClean(
                await checkResource(defaultStorageClassEncrypted, STORAGE_CLASS, {
                    ...GP3,
                    metadata: { name: "scratch" },
                    parameters: { type: "gp3" },
                }),
            );
            expectClean(
                await checkResource(defaultStorageClassEncrypted, STORAGE_CLASS, {
                    ...GP3,
                    metadata: { name: "old", annotations: { "storageclass.kubernetes.io/is-default-class": "false" } },
                    parameters: { type: "gp2" },
                }),
            );
            expectNotApplicable(await checkResource(defaultStorageClassEncrypted, TYPES.subnet, { tags: {} }));
        });
        it("fails a default EBS CSI class without encrypted, naming the class and what is allowed (mandatory in prod)", async () => {
            const inputs = { ...GP3, parameters: { type: "gp3" } };
            const [msg] = expectLevel(
                await checkResource(defaultStorageClassEncrypted, STORAGE_CLASS, inputs, { name: "gp3" }),
                "advisory",
                1,
            );
            assert.match(
                msg,
                /StorageClass gp3 is the default \(is-default-class "true"\) and has parameters\.encrypted unset \(provisioner "ebs\.csi\.aws\.com"\): the EBS CSI driver creates unencrypted volumes unless told otherwise\. Allowed: parameters\.encrypted "true"/,
            );
            expectLevel(
                await checkResource(defaultStorageClassEncrypted, STORAGE_CLASS, inputs, {
                    config: loadConfig("prod"),
                }),
                "mandatory",
                1,
            );
        });
        it('fails encrypted "false", the beta default annotation, and a default class of another provisioner', async () => {
            const prod = { config: loadConfig("prod") };
            const [f] = expectLevel(
                await checkResource(
                    defaultStorageClassEncrypted,
                    STORAGE_CLASS,
                    { ...GP3, parameters: { type: "gp3", encrypted: "false" } },
                    prod,
                ),
                "mandatory",
                1,
            );
            assert.match(f, /parameters\.encrypted "false"/);
            expectLevel(
                await checkResource(
                    defaultStorageClassEncrypted,
                    STORAGE_CLASS,
                    {
                        ...GP3,
                        metadata: {
                            name: "b",
                            annotations: { "storageclass.beta.kubernetes.io/is-default-class": "true" },
                        },
                        parameters: {},
                    },
                    prod,
                ),
                "mandatory",
                1,
            );
            const [other] = expectLevel(
                await checkResource(
                    defaultStorageClassEncrypted,
                    STORAGE_CLASS,
                    { metadata: { name: "local", annotations: DEFAULT }, provisioner: "rancher.io/local-path" },
                    { ...prod, name: "local" },
                ),
                "mandatory",
                1,
            );
            assert.match(other, /provisioner "rancher\.io\/local-path"/);
        });
        it("advises when the default mark or the parameters are unknown during preview", async () => {
            const prod = { config: loadConfig("prod") };
            const a = await checkResource(
                defaultStorageClassEncrypted,
                STORAGE_CLASS,
                { ...GP3, metadata: { name: "x", annotations: UNKNOWN } },
                prod,
            );
            expectLevel(a, "mandatory", 0);
            expectLevel(a, "advisory", 1);
            const b = await checkResource(
                defaultStorageClassEncrypted,
                STORAGE_CLASS,
                { ...GP3, parameters: UNKNOWN },
                prod,
            );
            expectLevel(b, "mandatory", 0);
            assert.match(expectLevel(b, "advisory", 1)[0], /parameters\.encrypted of StorageClass subject is unknown/);
        });
    });
});
