import * as assert from "assert";
import {
    controlPlaneAzQuorum,
    controlPlaneMultiAz,
    controlPlaneOddCount,
    maxPerAz,
    quorum,
} from "../../policies/rules/layout";
import { expectClean, expectLevel, expectNotApplicable, layout, loadConfig, runStack, TYPES, UNKNOWN } from "./helpers";

const AZ3 = ["a", "b", "c"];

describe("policies: control-plane layout", () => {
    it("quorum arithmetic matches etcd: quorum floor(n/2)+1, per-AZ limit n - quorum", () => {
        assert.deepStrictEqual([1, 2, 3, 4, 5, 6, 7].map(quorum), [1, 2, 2, 3, 3, 4, 4]);
        assert.deepStrictEqual([1, 2, 3, 4, 5, 6, 7].map(maxPerAz), [0, 0, 1, 1, 2, 2, 3]);
    });

    describe("control-plane-odd-count", () => {
        for (const n of [3, 5, 7]) {
            it(`passes ${n} control planes`, async () => {
                const azs = Array.from({ length: n }, (_, i) => AZ3[i % 3]);
                expectClean(await runStack(controlPlaneOddCount, layout({ azs })));
            });
        }
        for (const n of [2, 4]) {
            it(`fails ${n} control planes (even) and suggests an odd count`, async () => {
                const azs = Array.from({ length: n }, (_, i) => AZ3[i % 3]);
                const [msg] = expectLevel(await runStack(controlPlaneOddCount, layout({ azs })), "mandatory", 1);
                assert.match(msg, new RegExp(`^The number of control-plane instances is odd`));
                assert.match(msg, new RegExp(`${n} control planes \\(cp-0 \\(us-east-1a\\)`));
                assert.match(msg, /odd member count/);
                assert.match(msg, n === 2 ? /Set controlPlaneCount to 3\./ : /Set controlPlaneCount to 3 or 5\./);
            });
        }
        it("fails a single control plane with the prod config", async () => {
            const [msg] = expectLevel(
                await runStack(controlPlaneOddCount, layout({ azs: ["a"] }), { config: loadConfig("prod") }),
                "mandatory",
                1,
            );
            assert.match(msg, /below minControlPlanes=3/);
            assert.match(msg, /single control plane/);
        });
        it("fails a single control plane with the dev config too (dev is still HA)", async () => {
            expectLevel(
                await runStack(controlPlaneOddCount, layout({ azs: ["a"] }), { config: loadConfig("dev") }),
                "mandatory",
                1,
            );
        });
        it("allows a single control plane only when minControlPlanes is lowered to 1", async () => {
            expectClean(
                await runStack(controlPlaneOddCount, layout({ azs: ["a"] }), {
                    config: { "control-plane-odd-count": { minControlPlanes: 1 } },
                }),
            );
        });
        it("fails more than maxControlPlanes", async () => {
            const azs = Array.from({ length: 9 }, (_, i) => AZ3[i % 3]);
            const [msg] = expectLevel(await runStack(controlPlaneOddCount, layout({ azs })), "mandatory", 1);
            assert.match(msg, /9 control planes exceed maxControlPlanes=7/);
            assert.match(msg, /Set controlPlaneCount to 7\./);
            expectClean(
                await runStack(controlPlaneOddCount, layout({ azs }), {
                    config: { "control-plane-odd-count": { maxControlPlanes: 9 } },
                }),
            );
        });
        it("fails a stack with no tagged control planes", async () => {
            const s = layout();
            for (const r of s.resources.filter((r) => r.type === TYPES.instance)) {
                r.inputs.tags = { Name: r.name };
            }
            const [msg] = expectLevel(await runStack(controlPlaneOddCount, s), "mandatory", 1);
            assert.match(
                msg,
                /found no control-plane instances \(aws\.ec2\.Instance tagged k8s-ha\/role=control-plane\)/,
            );
        });
        it("ignores instances with another role", async () => {
            const s = layout();
            s.add(TYPES.instance, "worker-0", { availabilityZone: "us-east-1a", tags: { "k8s-ha/role": "worker" } });
            expectClean(await runStack(controlPlaneOddCount, s));
        });
        it("still decides during preview when instance and subnet ids are unknown", async () => {
            const s = layout({ azs: ["a", "b", "c", "a"], mode: "preview" });
            assert.strictEqual(s.get("cp-0").inputs.id, UNKNOWN);
            assert.strictEqual(s.get("cp-0").inputs.subnetId, UNKNOWN);
            expectLevel(await runStack(controlPlaneOddCount, s), "mandatory", 1);
        });
        it("reports an advisory, not a pass, when control-plane tags are unknown", async () => {
            const s = layout({ azs: ["a", "b", "c", "a"] });
            s.get("cp-3").inputs.tags = UNKNOWN;
            const o = await runStack(controlPlaneOddCount, s);
            expectLevel(o, "mandatory", 0);
            const [msg] = expectLevel(o, "advisory", 1);
            assert.match(msg, /the tags of cp-3 are unknown/);
        });
    });

    describe("control-plane-multi-az", () => {
        it("passes 3 control planes in 3 AZs", async () => {
            expectClean(await runStack(controlPlaneMultiAz, layout({ azs: AZ3 })));
        });
        it("fails 3 control planes in one AZ", async () => {
            const [msg] = expectLevel(
                await runStack(controlPlaneMultiAz, layout({ azs: ["a", "a", "a"] })),
                "mandatory",
                1,
            );
            assert.match(msg, /3 control planes run in 1 AZ\(s\) \(us-east-1a: cp-0, cp-1 and cp-2\)/);
            assert.match(msg, /at least 3 distinct AZs — a single AZ outage/);
        });
        it("fails 3 control planes in two AZs (needs min(n, 3) = 3)", async () => {
            expectLevel(await runStack(controlPlaneMultiAz, layout({ azs: ["a", "a", "b"] })), "mandatory", 1);
        });
        it("passes 5 control planes in 3 AZs and 2 in 2 AZs (min(n, 3))", async () => {
            expectClean(await runStack(controlPlaneMultiAz, layout({ azs: ["a", "b", "c", "a", "b"] })));
            expectClean(await runStack(controlPlaneMultiAz, layout({ azs: ["a", "b"] })));
        });
        it("fails 2 control planes in a single AZ", async () => {
            expectLevel(await runStack(controlPlaneMultiAz, layout({ azs: ["b", "b"] })), "mandatory", 1);
        });
        it("leaves a single control plane to control-plane-odd-count", async () => {
            expectNotApplicable(await runStack(controlPlaneMultiAz, layout({ azs: ["a"] })));
        });
        it("reads the AZ from the subnet when availabilityZone is unknown", async () => {
            const spread = layout({ azs: AZ3, unknownInstanceAz: true });
            assert.strictEqual(spread.get("cp-0").inputs.availabilityZone, UNKNOWN);
            expectClean(await runStack(controlPlaneMultiAz, spread));
            expectLevel(
                await runStack(controlPlaneMultiAz, layout({ azs: ["a", "a", "a"], unknownInstanceAz: true })),
                "mandatory",
                1,
            );
        });
        it("reports an advisory when an unknown AZ could still complete the spread", async () => {
            const s = layout({ azs: ["a", "b", "a"] });
            s.get("cp-2").inputs.availabilityZone = UNKNOWN;
            s.get("cp-2").propertyDependencies = {};
            const o = await runStack(controlPlaneMultiAz, s);
            expectLevel(o, "mandatory", 0);
            assert.match(expectLevel(o, "advisory", 1)[0], /the AZ of cp-2 \(AZ unknown\) is unknown/);
        });
        it("fails when even a new AZ for the unknown one cannot reach the spread", async () => {
            const s = layout({ azs: ["a", "a", "b"] });
            s.get("cp-2").inputs.availabilityZone = UNKNOWN;
            s.get("cp-2").propertyDependencies = {};
            const [msg] = expectLevel(await runStack(controlPlaneMultiAz, s), "mandatory", 1);
            assert.match(msg, /AZ unknown: cp-2/);
        });
        it("respects the minAzs knob", async () => {
            expectClean(
                await runStack(controlPlaneMultiAz, layout({ azs: ["a", "a", "b"] }), {
                    config: { "control-plane-multi-az": { minAzs: 2 } },
                }),
            );
        });
    });

    describe("control-plane-az-quorum", () => {
        it("passes 3 control planes over 3 AZs", async () => {
            expectClean(await runStack(controlPlaneAzQuorum, layout({ azs: AZ3 })));
        });
        it("fails 3 control planes over 2 AZs", async () => {
            const [msg] = expectLevel(
                await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b", "a"] })),
                "mandatory",
                1,
            );
            assert.match(msg, /losing us-east-1a \(cp-0 and cp-2\) leaves 1 of 3 etcd members, below quorum 2/);
            assert.match(msg, /no AZ may hold more than 1; spread them over at least 3 AZs/);
        });
        it("fails 5 control planes over 2 AZs", async () => {
            const [msg] = expectLevel(
                await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b", "a", "b", "a"] })),
                "mandatory",
                1,
            );
            assert.match(msg, /losing us-east-1a \(cp-0, cp-2 and cp-4\) leaves 2 of 5 etcd members, below quorum 3/);
        });
        it("passes 5 control planes over 3 AZs (2,2,1)", async () => {
            expectClean(await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b", "c", "a", "b"] })));
        });
        it("passes 7 control planes over 3 AZs (3,2,2)", async () => {
            expectClean(await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b", "c", "a", "b", "c", "a"] })));
        });
        it("fails 7 control planes over 3 AZs as (4,2,1)", async () => {
            expectLevel(
                await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b", "c", "a", "b", "a", "a"] })),
                "mandatory",
                1,
            );
        });
        it("fails 2 control planes whatever the AZs (quorum 2 of 2)", async () => {
            const [msg] = expectLevel(
                await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b"] })),
                "mandatory",
                1,
            );
            assert.match(msg, /can never survive an AZ loss/);
        });
        it("fails 4 control planes over 3 AZs (2,1,1): quorum 3 of 4", async () => {
            expectLevel(await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b", "c", "a"] })), "mandatory", 1);
        });
        it("still decides during preview with unknown ids, both ways", async () => {
            expectLevel(
                await runStack(controlPlaneAzQuorum, layout({ azs: ["a", "b", "a"], mode: "preview" })),
                "mandatory",
                1,
            );
            expectClean(await runStack(controlPlaneAzQuorum, layout({ azs: AZ3, mode: "preview" })));
        });
        it("decides from known ids alone (no propertyDependencies)", async () => {
            const s = layout({ azs: ["a", "b", "a"], mode: "known", unknownInstanceAz: true });
            assert.deepStrictEqual(s.get("cp-0").propertyDependencies, {});
            expectLevel(await runStack(controlPlaneAzQuorum, s), "mandatory", 1);
            expectClean(
                await runStack(controlPlaneAzQuorum, layout({ azs: AZ3, mode: "known", unknownInstanceAz: true })),
            );
        });
        it("fails on what is known even when another AZ is unknown, and advises when undecidable", async () => {
            const s = layout({ azs: ["a", "a", "b", "c", "a"] });
            s.get("cp-3").inputs.availabilityZone = UNKNOWN;
            s.get("cp-3").propertyDependencies = {};
            expectLevel(await runStack(controlPlaneAzQuorum, s), "mandatory", 1); // 3 in us-east-1a > 2 regardless
            const t = layout({ azs: ["a", "b", "c"] });
            t.get("cp-2").inputs.availabilityZone = UNKNOWN;
            t.get("cp-2").propertyDependencies = {};
            const o = await runStack(controlPlaneAzQuorum, t);
            expectLevel(o, "mandatory", 0);
            expectLevel(o, "advisory", 1);
        });
    });
});
