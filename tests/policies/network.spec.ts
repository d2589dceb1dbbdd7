import * as assert from "assert";
import {
    controlPlanePrivateSubnet,
    etcdPortsControlPlaneOnly,
    noWorldOpenApi,
    noWorldOpenSensitivePorts,
} from "../../policies/rules/network";
import { Policy } from "@pulumi/policy";
import { parseCidr } from "../../policies/lib/cidr";
import { EvaluateOptions } from "../../tools/harness/analyzer";
import { expectClean, expectLevel, layout, runStack, Stack, TYPES, UNKNOWN } from "./helpers";

/** Runs a world-open rule (a stack rule: it judges each rule and the union of a group's rules) on a stack of one ingress resource. */
function checkResource(
    policy: Policy,
    type: string,
    inputs: Record<string, unknown>,
    opts: Omit<EvaluateOptions, "policies"> & { name?: string } = {},
) {
    const s = new Stack();
    s.add(type, opts.name ?? "subject", inputs);
    return runStack(policy, s, opts);
}

describe("policies: network", () => {
    describe("no-world-open-sensitive-ports", () => {
        it("passes SSH from a CIDR, the world on 443, and UDP ranges", async () => {
            expectClean(
                await checkResource(noWorldOpenSensitivePorts, TYPES.sgRule, {
                    type: "ingress",
                    protocol: "tcp",
                    fromPort: 22,
                    toPort: 22,
                    cidrBlocks: ["203.0.113.0/24"],
                }),
            );
            expectClean(
                await checkResource(noWorldOpenSensitivePorts, TYPES.sgIngress, {
                    ipProtocol: "tcp",
                    fromPort: 443,
                    toPort: 443,
                    cidrIpv4: "0.0.0.0/0",
                }),
            );
            expectClean(
                await checkResource(noWorldOpenSensitivePorts, TYPES.sg, {
                    ingress: [{ protocol: "udp", fromPort: 0, toPort: 65535, cidrBlocks: ["0.0.0.0/0"] }],
                }),
            );
            expectClean(
                await checkResource(noWorldOpenSensitivePorts, TYPES.sgRule, {
                    type: "egress",
                    protocol: "-1",
                    fromPort: 0,
                    toPort: 0,
                    cidrBlocks: ["0.0.0.0/0"],
                }),
            );
        });
        it("fails SSH from 0.0.0.0/0 on a security group rule", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    noWorldOpenSensitivePorts,
                    TYPES.sgRule,
                    { type: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] },
                    { name: "ssh" },
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /ssh opens TCP 22 to 0.0.0.0\/0, which includes 22 \(SSH\)/);
        });
        it("fails a range that includes etcd and kubelet, from ::/0, in an inline ingress block", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    noWorldOpenSensitivePorts,
                    TYPES.sg,
                    {
                        ingress: [
                            { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
                            { protocol: "tcp", fromPort: 2000, toPort: 11000, ipv6CidrBlocks: ["::/0"] },
                        ],
                    },
                    { name: "nodes" },
                ),
                "mandatory",
                1,
            );
            assert.match(
                msg,
                /ingress\[1\] of security group nodes opens TCP 2000-11000 to ::\/0, which includes 2379 \(etcd client\), 2380 \(etcd peer\), 10250 \(kubelet\), 10257 \(kube-controller-manager\) and 10259 \(kube-scheduler\)/,
            );
        });
        it("fails all-protocol rules (-1) on the vpc ingress rule resource", async () => {
            const [msg] = expectLevel(
                await checkResource(noWorldOpenSensitivePorts, TYPES.sgIngress, {
                    ipProtocol: "-1",
                    cidrIpv4: "0.0.0.0/0",
                }),
                "mandatory",
                1,
            );
            assert.match(msg, /opens all protocols, all ports to 0.0.0.0\/0/);
        });
        it("does not fire mandatory for 6443 alone", async () => {
            expectClean(
                await checkResource(noWorldOpenSensitivePorts, TYPES.sgIngress, {
                    ipProtocol: "tcp",
                    fromPort: 6443,
                    toPort: 6443,
                    cidrIpv4: "0.0.0.0/0",
                }),
            );
        });
        describe("judges what the sources cover, not how they are spelled", () => {
            const ssh = (cidrBlocks: string[]) =>
                checkResource(noWorldOpenSensitivePorts, TYPES.sgRule, {
                    type: "ingress",
                    protocol: "tcp",
                    fromPort: 22,
                    toPort: 22,
                    cidrBlocks,
                });
            for (const cidrs of [
                ["0.0.0.0/00"],
                ["0.0.0.0/1"],
                ["128.0.0.0/1"],
                ["0.0.0.0/1", "128.0.0.0/1"],
                ["2.0.0.0/7"],
                ["3.0.0.0/9", "3.128.0.0/9", "4.0.0.0/9"],
                ["0000.0.0.0/0"],
            ]) {
                it(`fails SSH from ${cidrs.join(" + ")}`, async () => {
                    const [msg] = expectLevel(await ssh(cidrs), "mandatory", 1);
                    assert.match(
                        msg,
                        /which includes 22 \(SSH\); together those sources cover more than 16777216 public addresses/,
                    );
                });
            }
            for (const cidrs of [
                ["3.0.0.0/8"],
                ["10.0.0.0/8"],
                ["010.0.0.0/8"],
                ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"],
                ["203.0.113.0/24"],
            ]) {
                it(`passes SSH from ${cidrs.join(" + ")}: at most a /8 of public addresses`, async () =>
                    expectClean(await ssh(cidrs)));
            }
            it("fails IPv6 broader than /32 reaching global unicast, passes a /48 and unique-local fd00::/8", async () => {
                const v6 = (ipv6CidrBlocks: string[]) =>
                    checkResource(noWorldOpenSensitivePorts, TYPES.sgRule, {
                        type: "ingress",
                        protocol: "tcp",
                        fromPort: 22,
                        toPort: 22,
                        ipv6CidrBlocks,
                    });
                expectLevel(await v6(["::/1"]), "mandatory", 1);
                expectLevel(await v6(["2000::/4"]), "mandatory", 1);
                expectClean(await v6(["2001:db8:1::/48"]));
                expectClean(await v6(["fd00::/8"]));
            });
            it("the ceiling is a knob: a stricter pack refuses a public /16", async () => {
                const cfg = { "no-world-open-sensitive-ports": { maxPublicAddresses: 256 } };
                expectLevel(
                    await checkResource(
                        noWorldOpenSensitivePorts,
                        TYPES.sgRule,
                        {
                            type: "ingress",
                            protocol: "tcp",
                            fromPort: 22,
                            toPort: 22,
                            cidrBlocks: ["198.18.0.0/15", "3.3.0.0/16"],
                        },
                        { config: cfg },
                    ),
                    "mandatory",
                    1,
                );
                expectClean(
                    await checkResource(
                        noWorldOpenSensitivePorts,
                        TYPES.sgRule,
                        { type: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["3.3.3.0/24"] },
                        { config: cfg },
                    ),
                );
            });
        });
        describe("judges the union of the rules of one security group on each sensitive port", () => {
            /** A group and one standalone rule per CIDR, on `port` (as the program makes them: one rule per sshAllowedCidrs entry). */
            function rules(
                cidrs: string[],
                opts: { port?: [number, number]; protocol?: string; mode?: "preview" | "known" } = {},
            ) {
                const s = new Stack();
                const sg = s.add(TYPES.sg, "bastion-sg", {
                    id: opts.mode === "known" ? "sg-0123456789abcdef0" : UNKNOWN,
                });
                const [from, to] = opts.port ?? [22, 22];
                cidrs.forEach((cidrIpv4, i) =>
                    s.add(
                        TYPES.sgIngress,
                        `bastion-in-ssh-${i}`,
                        {
                            ipProtocol: opts.protocol ?? "tcp",
                            fromPort: from,
                            toPort: to,
                            cidrIpv4,
                            securityGroupId: opts.mode === "known" ? "sg-0123456789abcdef0" : UNKNOWN,
                        },
                        { deps: opts.mode === "known" ? {} : { securityGroupId: [sg] } },
                    ),
                );
                return s;
            }
            it("fails three /9s in three rules on port 22: each is under a /8, together they are not", async () => {
                const s = rules(["3.0.0.0/9", "3.128.0.0/9", "4.0.0.0/9"]);
                const o = await runStack(noWorldOpenSensitivePorts, s);
                const [msg] = expectLevel(o, "mandatory", 1);
                assert.match(
                    msg,
                    /bastion-in-ssh-0, bastion-in-ssh-1 and bastion-in-ssh-2 on security group bastion-sg together open 22 \(SSH\) to 3\.0\.0\.0\/9, 3\.128\.0\.0\/9 and 4\.0\.0\.0\/9: no one of them alone/,
                );
                assert.strictEqual(o.at("mandatory")[0].urn, s.get("bastion-sg").urn);
                // each rule alone passes: only the union fails
                for (let i = 0; i < 3; i++)
                    expectClean(
                        await checkResource(
                            noWorldOpenSensitivePorts,
                            TYPES.sgIngress,
                            s.get(`bastion-in-ssh-${i}`).inputs,
                        ),
                    );
            });
            it("fails 0.0.0.0/2 + 64.0.0.0/2 where the ceiling lets each /2 through alone (the knob applies to the union)", async () => {
                const config = { "no-world-open-sensitive-ports": { maxPublicAddresses: 2 ** 30 } };
                expectClean(await runStack(noWorldOpenSensitivePorts, rules(["0.0.0.0/2"]), { config }));
                expectClean(await runStack(noWorldOpenSensitivePorts, rules(["64.0.0.0/2"]), { config }));
                const [msg] = expectLevel(
                    await runStack(noWorldOpenSensitivePorts, rules(["0.0.0.0/2", "64.0.0.0/2"]), { config }),
                    "mandatory",
                    1,
                );
                assert.match(msg, /together open 22 \(SSH\) to 0\.0\.0\.0\/2 and 64\.0\.0\.0\/2/);
            });
            it("fails the split halves, each also on its own", async () => {
                const o = await runStack(noWorldOpenSensitivePorts, rules(["0.0.0.0/1", "128.0.0.0/1"]));
                const msgs = expectLevel(o, "mandatory", 2);
                assert.ok(
                    msgs.every((m) => /bastion-in-ssh-\d opens TCP 22 to \d+\.0\.0\.0\/1/.test(m)),
                    msgs.join("\n"),
                );
            });
            it("groups by the group's id when it is known and no dependency is recorded", async () => {
                expectLevel(
                    await runStack(
                        noWorldOpenSensitivePorts,
                        rules(["3.0.0.0/9", "3.128.0.0/9", "4.0.0.0/9"], { mode: "known" }),
                    ),
                    "mandatory",
                    1,
                );
            });
            it("counts overlaps once: a /8 and a /9 inside it cover a /8, which passes", async () => {
                expectClean(
                    await runStack(noWorldOpenSensitivePorts, rules(["3.0.0.0/8", "3.0.0.0/9", "3.128.0.0/9"])),
                );
            });
            it("passes a union under the ceiling, and private ranges however many", async () => {
                expectClean(
                    await runStack(noWorldOpenSensitivePorts, rules(["3.0.0.0/10", "3.64.0.0/10", "203.0.113.0/24"])),
                );
                expectClean(
                    await runStack(
                        noWorldOpenSensitivePorts,
                        rules(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "3.0.0.0/9"]),
                    ),
                );
            });
            it("passes when the rules are on different groups, or carry different ports", async () => {
                const s = rules(["3.0.0.0/9", "3.128.0.0/9"]);
                const other = s.add(TYPES.sg, "other-sg", { id: UNKNOWN });
                s.add(
                    TYPES.sgIngress,
                    "other-in-ssh",
                    { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "4.0.0.0/9", securityGroupId: UNKNOWN },
                    { deps: { securityGroupId: [other] } },
                );
                expectClean(await runStack(noWorldOpenSensitivePorts, s));
                const t = rules(["3.0.0.0/9", "3.128.0.0/9"]);
                t.add(
                    TYPES.sgIngress,
                    "etcd-from-4",
                    {
                        ipProtocol: "tcp",
                        fromPort: 2379,
                        toPort: 2379,
                        cidrIpv4: "4.0.0.0/9",
                        securityGroupId: UNKNOWN,
                    },
                    { deps: { securityGroupId: [t.get("bastion-sg")] } },
                );
                expectClean(await runStack(noWorldOpenSensitivePorts, t));
            });
            it("an all-ports rule joins the union on every sensitive port it carries, named once per set of ports", async () => {
                const s = rules(["3.0.0.0/9", "3.128.0.0/9"], { port: [2379, 2380] });
                s.add(
                    TYPES.sgIngress,
                    "all-from-4",
                    { ipProtocol: "-1", cidrIpv4: "4.0.0.0/9", securityGroupId: UNKNOWN },
                    { deps: { securityGroupId: [s.get("bastion-sg")] } },
                );
                const [msg] = expectLevel(await runStack(noWorldOpenSensitivePorts, s), "mandatory", 1);
                assert.match(
                    msg,
                    /bastion-in-ssh-0, bastion-in-ssh-1 and all-from-4 on security group bastion-sg together open 2379 \(etcd client\) and 2380 \(etcd peer\)/,
                );
            });
            it("unites inline blocks and standalone rules of the same group", async () => {
                const s = new Stack();
                const sg = s.add(TYPES.sg, "nodes", {
                    ingress: [
                        { protocol: "tcp", fromPort: 10250, toPort: 10250, cidrBlocks: ["3.0.0.0/9"] },
                        { protocol: "tcp", fromPort: 10250, toPort: 10250, cidrBlocks: ["3.128.0.0/9"] },
                    ],
                });
                expectClean(await runStack(noWorldOpenSensitivePorts, s));
                s.add(
                    TYPES.sgRule,
                    "kubelet-from-4",
                    {
                        type: "ingress",
                        protocol: "tcp",
                        fromPort: 10250,
                        toPort: 10250,
                        cidrBlocks: ["4.0.0.0/9"],
                        securityGroupId: UNKNOWN,
                    },
                    { deps: { securityGroupId: [sg] } },
                );
                const [msg] = expectLevel(await runStack(noWorldOpenSensitivePorts, s), "mandatory", 1);
                assert.match(
                    msg,
                    /ingress\[0\] of security group nodes, ingress\[1\] of security group nodes and kubelet-from-4 on security group nodes together open 10250 \(kubelet\)/,
                );
            });
            it("IPv6: three /33s of global unicast are more than a /32 together; a prefix outside 2000::/3 is no public source", async () => {
                const v6 = (cidrs: string[]) => {
                    const s = new Stack();
                    const sg = s.add(TYPES.sg, "sg", { id: UNKNOWN });
                    cidrs.forEach((cidrIpv6, i) =>
                        s.add(
                            TYPES.sgIngress,
                            `v6-${i}`,
                            { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv6, securityGroupId: UNKNOWN },
                            { deps: { securityGroupId: [sg] } },
                        ),
                    );
                    return runStack(noWorldOpenSensitivePorts, s);
                };
                expectClean(await v6(["2600::/33", "2600:0:8000::/33"]));
                expectLevel(await v6(["2600::/33", "2600:0:8000::/33", "2601::/33"]), "mandatory", 1);
                expectClean(await v6(["8000::/1", "fc00::/7"]));
            });
            it("config refuses what the pack reads leniently: /00, leading zeros and host bits never reach a rule", () => {
                assert.match(String(parseCidr("0.0.0.0/00")), /the prefix has a leading zero/);
                assert.match(String(parseCidr("010.0.0.0/16")), /leading zero/);
                assert.match(String(parseCidr("3.0.0.1/9")), /host bits are set/);
                assert.deepStrictEqual(
                    parseCidr("0.0.0.0/1"),
                    { base: 0, prefix: 1 },
                    "a canonical /1 is config-valid: the pack refuses it",
                );
            });
        });
        it("advises when a world-open rule's ports are unknown", async () => {
            const o = await checkResource(noWorldOpenSensitivePorts, TYPES.sgRule, {
                type: "ingress",
                protocol: "tcp",
                fromPort: UNKNOWN,
                toPort: UNKNOWN,
                cidrBlocks: ["0.0.0.0/0"],
            });
            expectLevel(o, "mandatory", 0);
            expectLevel(o, "advisory", 1);
        });
    });

    describe("no-world-open-api", () => {
        it("advises (only) on 6443 from the world", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    noWorldOpenApi,
                    TYPES.sgIngress,
                    { ipProtocol: "tcp", fromPort: 6443, toPort: 6443, cidrIpv4: "0.0.0.0/0" },
                    { name: "api-world" },
                ),
                "advisory",
                1,
            );
            assert.match(msg, /api-world opens TCP 6443 to 0.0.0.0\/0, which includes 6443 \(kube-apiserver\)/);
            assert.match(msg, /apiAllowedCidrs/);
        });
        it("passes 6443 from a CIDR", async () => {
            expectClean(
                await checkResource(noWorldOpenApi, TYPES.sgIngress, {
                    ipProtocol: "tcp",
                    fromPort: 6443,
                    toPort: 6443,
                    cidrIpv4: "10.0.0.0/16",
                }),
            );
        });
    });

    describe("etcd-ports-control-plane-only", () => {
        it("passes etcd from the control-plane security group (preview and known ids), and self", async () => {
            expectClean(await runStack(etcdPortsControlPlaneOnly, layout({ mode: "preview" })));
            expectClean(await runStack(etcdPortsControlPlaneOnly, layout({ mode: "known" })));
            const s = layout();
            const rule = s.get("cp-etcd");
            delete rule.inputs.sourceSecurityGroupId;
            rule.inputs.self = true;
            rule.propertyDependencies = { securityGroupId: [s.get("control-plane-sg").urn] };
            expectClean(await runStack(etcdPortsControlPlaneOnly, s));
        });
        it("fails etcd from a CIDR, and an all-ports rule from the VPC CIDR, on the control-plane group", async () => {
            const s = layout();
            s.add(
                TYPES.sgIngress,
                "vpc-all",
                { securityGroupId: UNKNOWN, ipProtocol: "-1", cidrIpv4: "10.0.0.0/16" },
                { deps: { securityGroupId: [s.get("control-plane-sg")] } },
            );
            const o = await runStack(etcdPortsControlPlaneOnly, s);
            const [msg] = expectLevel(o, "mandatory", 1);
            assert.match(
                msg,
                /vpc-all \(all protocols, all ports\) lets CIDR 10.0.0.0\/16 reach etcd on control-plane security group control-plane-sg/,
            );
            assert.strictEqual(o.at("mandatory")[0].urn, s.get("vpc-all").urn);
        });
        it("fails etcd from a group that workers share", async () => {
            const s = layout();
            const nodes = s.add(TYPES.sg, "nodes-sg", { id: UNKNOWN });
            s.add(
                TYPES.instance,
                "worker-0",
                { tags: { "k8s-ha/role": "worker" }, vpcSecurityGroupIds: [UNKNOWN] },
                { deps: { vpcSecurityGroupIds: [nodes] } },
            );
            s.add(
                TYPES.sgRule,
                "etcd-from-nodes",
                {
                    type: "ingress",
                    protocol: "tcp",
                    fromPort: 2379,
                    toPort: 2379,
                    securityGroupId: UNKNOWN,
                    sourceSecurityGroupId: UNKNOWN,
                },
                { deps: { securityGroupId: [s.get("control-plane-sg")], sourceSecurityGroupId: [nodes] } },
            );
            const [msg] = expectLevel(await runStack(etcdPortsControlPlaneOnly, s), "mandatory", 1);
            assert.match(msg, /etcd-from-nodes \(TCP 2379\) lets security group nodes-sg reach etcd/);
        });
        it("fails an inline ingress on the control-plane group opening etcd to a CIDR", async () => {
            const s = layout();
            s.get("control-plane-sg").inputs.ingress = [
                { protocol: "tcp", fromPort: 2380, toPort: 2380, cidrBlocks: ["10.0.1.0/24"] },
            ];
            const [msg] = expectLevel(await runStack(etcdPortsControlPlaneOnly, s), "mandatory", 1);
            assert.match(
                msg,
                /ingress\[0\] of security group control-plane-sg \(TCP 2380\) lets CIDR 10.0.1.0\/24 reach etcd/,
            );
        });
        it("ignores rules on groups no control plane uses", async () => {
            const s = layout();
            const other = s.add(TYPES.sg, "bastion-sg", {});
            s.add(
                TYPES.sgRule,
                "bastion-all",
                {
                    type: "ingress",
                    protocol: "-1",
                    fromPort: 0,
                    toPort: 0,
                    cidrBlocks: ["10.0.0.0/8"],
                    securityGroupId: UNKNOWN,
                },
                { deps: { securityGroupId: [other] } },
            );
            expectClean(await runStack(etcdPortsControlPlaneOnly, s));
        });
        it("reads a control-plane group's unknown (computed) ingress as no inline rules, unless built from outputs", async () => {
            const s = layout();
            s.get("control-plane-sg").inputs.ingress = UNKNOWN;
            expectClean(await runStack(etcdPortsControlPlaneOnly, s));
            s.get("control-plane-sg").propertyDependencies = { ingress: [s.get("private-a").urn] };
            const o = await runStack(etcdPortsControlPlaneOnly, s);
            expectLevel(o, "mandatory", 0);
            assert.match(expectLevel(o, "advisory", 1)[0], /cannot tell whether control-plane-sg expose etcd/);
        });
        it("advises when the rule's group cannot be resolved", async () => {
            const s = layout();
            s.add(TYPES.sgRule, "mystery", {
                type: "ingress",
                protocol: "tcp",
                fromPort: 2379,
                toPort: 2380,
                cidrBlocks: ["10.0.0.0/8"],
                securityGroupId: UNKNOWN,
            });
            const o = await runStack(etcdPortsControlPlaneOnly, s);
            expectLevel(o, "mandatory", 0);
            assert.match(expectLevel(o, "advisory", 1)[0], /cannot tell whether mystery expose etcd/);
        });
    });

    describe("control-plane-private-subnet", () => {
        it("passes control planes in private subnets", async () => {
            expectClean(await runStack(controlPlanePrivateSubnet, layout()));
        });
        it("fails a control plane in a subnet that maps public IPs, unless it opts out", async () => {
            const s = layout();
            s.get("private-b").inputs.mapPublicIpOnLaunch = true;
            const o = await runStack(controlPlanePrivateSubnet, s);
            const [msg] = expectLevel(o, "mandatory", 1);
            assert.match(
                msg,
                /control plane cp-1 is in subnet private-b \(us-east-1b\), which has mapPublicIpOnLaunch: true/,
            );
            assert.strictEqual(o.at("mandatory")[0].urn, s.get("cp-1").urn);
            s.get("cp-1").inputs.associatePublicIpAddress = false;
            expectClean(await runStack(controlPlanePrivateSubnet, s));
        });
    });
});
