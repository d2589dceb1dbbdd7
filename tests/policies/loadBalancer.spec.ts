import * as assert from "assert";
import {
    apiLbCoversControlPlaneAzs,
    apiLbTargetsEveryControlPlane,
    apiListenerTcp6443,
    apiTargetHealthCheck,
    apiTargetNoClientIpPreservation,
    nlbCrossZone,
} from "../../policies/rules/loadBalancer";
import {
    checkResource,
    expectClean,
    expectLevel,
    expectNotApplicable,
    layout,
    loadConfig,
    runStack,
    TYPES,
    UNKNOWN,
} from "./helpers";
import * as contract from "../../policies/lib/contract";

const goodTg = {
    port: 6443,
    protocol: "TCP",
    targetType: "instance",
    preserveClientIp: "false",
    healthCheck: {
        protocol: "TCP",
        port: "traffic-port",
        interval: 10,
        timeout: 10,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
    },
};

describe("policies: API load balancer", () => {
    describe("api-lb-covers-control-plane-azs", () => {
        it("passes when the NLB has a subnet in every control-plane AZ (preview and known ids)", async () => {
            expectClean(await runStack(apiLbCoversControlPlaneAzs, layout({ mode: "preview" })));
            expectClean(await runStack(apiLbCoversControlPlaneAzs, layout({ mode: "known" })));
        });
        it("fails when a control-plane AZ has no NLB subnet, naming the AZ and the control plane", async () => {
            for (const mode of ["preview", "known"] as const) {
                const s = layout({ mode });
                const lb = s.get("api");
                lb.inputs.subnets = mode === "known" ? ["subnet-a", "subnet-b"] : [UNKNOWN, UNKNOWN];
                lb.propertyDependencies =
                    mode === "known" ? {} : { subnets: [s.get("private-a").urn, s.get("private-b").urn] };
                const [msg] = expectLevel(await runStack(apiLbCoversControlPlaneAzs, s), "mandatory", 1);
                assert.match(
                    msg,
                    /load balancer api has subnets in us-east-1a and us-east-1b but not in us-east-1c \(cp-2\)/,
                );
                assert.match(msg, /Add a subnet in us-east-1c/);
            }
        });
        it("reads subnetMappings too", async () => {
            const s = layout();
            const lb = s.get("api");
            delete lb.inputs.subnets;
            lb.inputs.subnetMappings = [{ subnetId: UNKNOWN }, { subnetId: UNKNOWN }];
            lb.propertyDependencies = { subnetMappings: [s.get("private-a").urn, s.get("private-b").urn] };
            expectLevel(await runStack(apiLbCoversControlPlaneAzs, s), "mandatory", 1);
            lb.propertyDependencies.subnetMappings.push(s.get("private-c").urn);
            lb.inputs.subnetMappings = [{ subnetId: UNKNOWN }, { subnetId: UNKNOWN }, { subnetId: UNKNOWN }];
            expectClean(await runStack(apiLbCoversControlPlaneAzs, s));
        });
        it("ignores an unknown (computed) subnetMappings when subnets resolve", async () => {
            const s = layout();
            s.get("api").inputs.subnetMappings = UNKNOWN;
            expectClean(await runStack(apiLbCoversControlPlaneAzs, s));
        });
        it("finds an untagged API NLB through its 6443 listener", async () => {
            const s = layout();
            s.get("api").inputs.tags = {};
            s.get("api").inputs.subnets = [UNKNOWN];
            s.get("api").propertyDependencies = { subnets: [s.get("private-a").urn] };
            const [msg] = expectLevel(await runStack(apiLbCoversControlPlaneAzs, s), "mandatory", 1);
            assert.match(msg, /not in us-east-1b \(cp-1\) and us-east-1c \(cp-2\)/);
            // Without the tag and without the listener it is not the API load balancer.
            s.remove("api-6443");
            expectNotApplicable(await runStack(apiLbCoversControlPlaneAzs, s));
        });
        it("advises instead of failing when the NLB's subnets are not resources of the stack", async () => {
            const s = layout();
            s.get("api").inputs.subnets = ["subnet-existing-1", "subnet-existing-2"];
            s.get("api").propertyDependencies = {};
            const o = await runStack(apiLbCoversControlPlaneAzs, s);
            expectLevel(o, "mandatory", 0);
            assert.match(expectLevel(o, "advisory", 1)[0], /2 of its subnets are not resources of this stack/);
        });
    });

    describe("api-lb-targets-every-control-plane", () => {
        it("passes when every control plane is attached (preview and known ids)", async () => {
            expectClean(await runStack(apiLbTargetsEveryControlPlane, layout({ mode: "preview" })));
            expectClean(
                await runStack(
                    apiLbTargetsEveryControlPlane,
                    layout({ mode: "known", azs: ["a", "b", "c", "a", "b"] }),
                ),
            );
        });
        it("fails for the control plane without an attachment, on that instance's URN", async () => {
            for (const mode of ["preview", "known"] as const) {
                const s = layout({ mode });
                s.remove("api-cp-1");
                const o = await runStack(apiLbTargetsEveryControlPlane, s);
                const [msg] = expectLevel(o, "mandatory", 1);
                assert.match(
                    msg,
                    /control plane cp-1 \(us-east-1b\) is not registered in the API target group api-tg \(port 6443\)/,
                );
                assert.strictEqual(o.at("mandatory")[0].urn, s.get("cp-1").urn);
            }
        });
        it("fails an attachment that registers a control plane on another port", async () => {
            const s = layout();
            s.get("api-cp-0").inputs.port = 443;
            const msgs = expectLevel(await runStack(apiLbTargetsEveryControlPlane, s), "mandatory", 2);
            assert.match(msgs[0], /registers cp-0 \(us-east-1a\) on port 443/);
            assert.match(msgs[1], /cp-0 .* is not registered/);
        });
        it("does not count attachments to another target group", async () => {
            const s = layout();
            const other = s.add(TYPES.tg, "other", { port: 80, protocol: "TCP" });
            s.get("api-cp-2").propertyDependencies = { targetGroupArn: [other.urn], targetId: [s.get("cp-2").urn] };
            expectLevel(await runStack(apiLbTargetsEveryControlPlane, s), "mandatory", 1);
        });
        it("fails when there is no target group on 6443 at all", async () => {
            const s = layout();
            s.get("api-tg").inputs.port = 443;
            const [msg] = expectLevel(await runStack(apiLbTargetsEveryControlPlane, s), "mandatory", 1);
            assert.match(msg, /no target group on port 6443/);
        });
        it("advises when attachments cannot be matched during preview", async () => {
            const s = layout();
            s.get("api-cp-1").propertyDependencies = {};
            const o = await runStack(apiLbTargetsEveryControlPlane, s);
            expectLevel(o, "mandatory", 0);
            assert.match(expectLevel(o, "advisory", 1)[0], /cp-1 \(us-east-1b\) may be unregistered/);
        });
    });

    describe("api-listener-tcp-6443", () => {
        it("passes a TCP listener and a TCP target group on 6443", async () => {
            expectClean(
                await checkResource(apiListenerTcp6443, TYPES.listener, {
                    port: 6443,
                    protocol: "TCP",
                    loadBalancerArn: UNKNOWN,
                }),
            );
            expectClean(await checkResource(apiListenerTcp6443, TYPES.tg, goodTg));
            expectClean(
                await checkResource(apiListenerTcp6443, contract.TYPES.albListener, { port: 6443, protocol: "TCP" }),
            );
        });
        it("fails TLS termination on 6443", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    apiListenerTcp6443,
                    TYPES.listener,
                    {
                        port: 6443,
                        protocol: "TLS",
                        certificateArn: "arn:aws:acm:cert",
                        sslPolicy: "ELBSecurityPolicy-2016-08",
                    },
                    { name: "api-6443" },
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /listener api-6443 on 6443 uses protocol TLS; listener api-6443 sets a certificate/);
            assert.match(msg, /set protocol: "TCP"/);
        });
        it("fails a TLS target group and a listener with no protocol", async () => {
            expectLevel(
                await checkResource(apiListenerTcp6443, TYPES.tg, { ...goodTg, protocol: "TLS" }),
                "mandatory",
                1,
            );
            expectLevel(await checkResource(apiListenerTcp6443, TYPES.listener, { port: 6443 }), "mandatory", 1);
        });
        it("does not apply to other ports or other types", async () => {
            expectNotApplicable(
                await checkResource(apiListenerTcp6443, TYPES.listener, { port: 443, protocol: "HTTPS" }),
            );
            expectNotApplicable(await checkResource(apiListenerTcp6443, TYPES.instance, { instanceType: "t3.medium" }));
        });
    });

    describe("api-target-health-check", () => {
        it("passes TCP on the traffic port, and HTTPS /readyz on 6443", async () => {
            expectClean(await checkResource(apiTargetHealthCheck, TYPES.tg, goodTg));
            expectClean(
                await checkResource(apiTargetHealthCheck, TYPES.tg, {
                    ...goodTg,
                    healthCheck: { protocol: "HTTPS", path: "/readyz", port: "6443", interval: 30, timeout: 5 },
                }),
            );
        });
        it("fails a missing health check", async () => {
            const [msg] = expectLevel(
                await checkResource(apiTargetHealthCheck, TYPES.tg, { port: 6443, protocol: "TCP" }, { name: "api" }),
                "mandatory",
                1,
            );
            assert.match(msg, /target group api on 6443 has no explicit health check/);
        });
        it("fails HTTP, HTTPS on /, a wrong port and out-of-range timings, all in one message", async () => {
            const [msg] = expectLevel(
                await checkResource(apiTargetHealthCheck, TYPES.tg, {
                    ...goodTg,
                    healthCheck: {
                        protocol: "HTTPS",
                        path: "/",
                        port: "10250",
                        interval: 2,
                        timeout: 200,
                        healthyThreshold: 1,
                        unhealthyThreshold: 11,
                    },
                }),
                "mandatory",
                1,
            );
            for (const part of [
                /path is "\/"/,
                /port is 10250/,
                /interval is 2, allowed 5–300/,
                /timeout is 200, allowed 2–120/,
                /healthyThreshold is 1, allowed 2–10/,
                /unhealthyThreshold is 11, allowed 2–10/,
            ]) {
                assert.match(msg, part);
            }
            const [http] = expectLevel(
                await checkResource(apiTargetHealthCheck, TYPES.tg, {
                    ...goodTg,
                    healthCheck: { protocol: "HTTP", path: "/readyz" },
                }),
                "mandatory",
                1,
            );
            assert.match(http, /protocol is HTTP; use TCP or HTTPS/);
            expectLevel(
                await checkResource(apiTargetHealthCheck, TYPES.tg, {
                    ...goodTg,
                    healthCheck: { protocol: "TCP", enabled: false },
                }),
                "mandatory",
                1,
            );
        });
        it("does not apply to other target groups", async () => {
            expectNotApplicable(await checkResource(apiTargetHealthCheck, TYPES.tg, { port: 80, protocol: "TCP" }));
        });
    });

    describe("api-target-no-client-ip-preservation", () => {
        it("passes instance targets with preservation off, and ip targets by default", async () => {
            expectClean(await checkResource(apiTargetNoClientIpPreservation, TYPES.tg, goodTg));
            expectClean(
                await checkResource(apiTargetNoClientIpPreservation, TYPES.tg, {
                    port: 6443,
                    protocol: "TCP",
                    targetType: "ip",
                }),
            );
        });
        it("advises on instance targets that keep the default (on)", async () => {
            const o = await checkResource(apiTargetNoClientIpPreservation, TYPES.tg, { port: 6443, protocol: "TCP" });
            const [msg] = expectLevel(o, "advisory", 1);
            assert.match(msg, /keeps the default client-IP preservation on/);
            assert.match(msg, /hairpin\)\. Set preserveClientIp: "false"/);
            expectLevel(
                await checkResource(apiTargetNoClientIpPreservation, TYPES.tg, { ...goodTg, preserveClientIp: "true" }),
                "advisory",
                1,
            );
        });
        it("is mandatory under the prod config", async () => {
            expectLevel(
                await checkResource(
                    apiTargetNoClientIpPreservation,
                    TYPES.tg,
                    { port: 6443, protocol: "TCP" },
                    { config: loadConfig("prod") },
                ),
                "mandatory",
                1,
            );
        });
    });

    describe("nlb-cross-zone", () => {
        it("passes an NLB with cross-zone on, and ignores ALBs", async () => {
            expectClean(
                await checkResource(nlbCrossZone, TYPES.lb, {
                    loadBalancerType: "network",
                    enableCrossZoneLoadBalancing: true,
                }),
            );
            expectNotApplicable(await checkResource(nlbCrossZone, TYPES.lb, { loadBalancerType: "application" }));
        });
        it("advises on an NLB with cross-zone at its default", async () => {
            const [msg] = expectLevel(
                await checkResource(nlbCrossZone, TYPES.lb, { loadBalancerType: "network" }, { name: "api" }),
                "advisory",
                1,
            );
            assert.match(msg, /network load balancer api has cross-zone load balancing at its default \(off\)/);
        });
    });
});
