import { strict as assert } from "node:assert";
import { API_HEALTH_CHECK } from "../components/apiLoadBalancer";
import { EXISTING_VPC_CIDR, UBUNTU_IMAGES, existingNatGateways } from "../tools/harness/cloud";
import { type ProgramRun } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { isSecretValue, plainStrings } from "../tools/harness/values";
import { T, controlPlanes, dependedOn, groupName, ofType, one, plain } from "./graph";

describe("stack layout under the mock runtime", () => {
    for (const count of [3, 5, 7]) {
        describe(`${count} control planes over 3 zones`, () => {
            let run: ProgramRun;
            before(async () => {
                run = await sharedRun({ stack: "dev", config: { controlPlaneCount: count } });
                assert.ifError(run.error);
            });

            it("land round-robin, each with an explicit zone in that zone's private subnet", () => {
                const cps = controlPlanes(run);
                assert.equal(cps.length, count);
                cps.forEach((cp, i) => {
                    const zone = ["us-west-2a", "us-west-2b", "us-west-2c"][i % 3];
                    assert.equal(cp.name, `k8s-dev-cp-${i}`);
                    assert.equal(plain(cp).availabilityZone, zone);
                    const [subnet] = dependedOn(run, cp, "subnetId");
                    assert.equal(subnet.name, `k8s-dev-private-${zone}`);
                    assert.equal(plain(subnet).availabilityZone, zone);
                });
            });

            it("are hardened: IMDSv2, encrypted gp3 root, no public address, role tag, no user-data replacement", () => {
                for (const cp of controlPlanes(run)) {
                    const i = plain(cp);
                    assert.equal(i.metadataOptions.httpTokens, "required");
                    assert.deepEqual([i.rootBlockDevice.encrypted, i.rootBlockDevice.volumeType], [true, "gp3"]);
                    assert.equal(i.associatePublicIpAddress, false);
                    assert.equal(i.tags["k8s-ha/role"], "control-plane");
                    assert.equal(i.tags["kubernetes.io/cluster/k8s-dev"], "owned");
                    assert.deepEqual(
                        cp.ignoreChanges,
                        ["userData"],
                        "the pool chooses each node's image (tests/day2/nodeImage.spec.ts)",
                    );
                }
            });

            it("each get exactly one target attachment on the 6443 target group", () => {
                const attachments = ofType(run, T.attachment);
                assert.equal(attachments.length, count);
                const targets = attachments.map((a) => dependedOn(run, a, "targetId")[0].name).sort();
                assert.deepEqual(
                    targets,
                    controlPlanes(run)
                        .map((cp) => cp.name)
                        .sort(),
                );
                for (const a of attachments) {
                    assert.equal(plain(a).port, 6443);
                    assert.equal(dependedOn(run, a, "targetGroupArn")[0].type, T.targetGroup);
                }
            });

            it("sit behind a network load balancer whose subnets cover every control-plane zone", () => {
                const lb = one(run, T.lb);
                assert.equal(plain(lb).loadBalancerType, "network");
                assert.equal(plain(lb).enableCrossZoneLoadBalancing, true);
                assert.equal(plain(lb).tags["k8s-ha/role"], "api-lb");
                const lbZones = dependedOn(run, lb, "subnets")
                    .map((s) => plain(s).availabilityZone)
                    .sort();
                const cpZones = [...new Set(controlPlanes(run).map((cp) => plain(cp).availabilityZone))].sort();
                assert.deepEqual(lbZones, cpZones);
                assert.ok(dependedOn(run, lb, "subnets").every((s) => s.name.startsWith("k8s-dev-public-")));
            });
        });
    }

    describe("the API front door", () => {
        let run: ProgramRun;
        before(async () => {
            run = await sharedRun({ stack: "dev" });
            assert.ifError(run.error);
        });

        it("listens on TCP 6443 and forwards to the API target group", () => {
            const listener = plain(one(run, T.listener));
            assert.deepEqual([listener.port, listener.protocol], [6443, "TCP"]);
            assert.equal(listener.defaultActions[0].type, "forward");
            assert.equal(dependedOn(run, one(run, T.listener), "loadBalancerArn")[0].type, T.lb);
        });

        it("targets instances on 6443 without client-IP preservation, checking HTTPS /readyz inside AWS's ranges", () => {
            const tg = plain(one(run, T.targetGroup));
            assert.deepEqual(
                [tg.port, tg.protocol, tg.targetType, tg.preserveClientIp],
                [6443, "TCP", "instance", "false"],
            );
            const hc = tg.healthCheck;
            assert.deepEqual([hc.protocol, hc.path, hc.port, hc.enabled], ["HTTPS", "/readyz", "6443", true]);
            assert.deepEqual(hc, { ...API_HEALTH_CHECK, enabled: true });
            assert.ok(hc.interval >= 5 && hc.interval <= 300, "interval 5-300 s");
            assert.ok(
                hc.timeout >= 2 && hc.timeout <= 120 && hc.timeout < hc.interval,
                "timeout 2-120 s and below the interval",
            );
            for (const t of [hc.healthyThreshold, hc.unhealthyThreshold])
                assert.ok(t >= 2 && t <= 10, "thresholds 2-10");
            assert.ok(tg.deregistrationDelay <= 60, "a short deregistration delay");
        });
    });

    describe("security rules", () => {
        let run: ProgramRun;
        before(async () => {
            run = await sharedRun({ stack: "dev" });
            assert.ifError(run.error);
        });

        const describeRule = (run: ProgramRun, r: ReturnType<typeof ofType>[number]) => {
            const i = plain(r);
            const source =
                i.cidrIpv4 !== undefined
                    ? typeof i.cidrIpv4 === "string"
                        ? i.cidrIpv4
                        : "nat"
                    : `sg:${groupName(run, r, "referencedSecurityGroupId")}`;
            return `${groupName(run, r, "securityGroupId")} ${i.ipProtocol}/${i.fromPort ?? "*"}-${i.toPort ?? "*"} ${source}`;
        };

        it("are exactly the intended ingress set, each with a description", () => {
            const rules = ofType(run, T.ingress);
            for (const r of rules) assert.ok(plain(r).description?.length > 10, `${r.name} needs a description`);
            assert.deepEqual(
                rules.map((r) => describeRule(run, r)).sort(),
                [
                    "k8s-dev-api-lb tcp/6443-6443 10.0.0.0/16",
                    "k8s-dev-api-lb tcp/6443-6443 203.0.113.0/24",
                    "k8s-dev-api-lb tcp/6443-6443 nat",
                    "k8s-dev-bastion tcp/22-22 203.0.113.0/24",
                    "k8s-dev-control-plane tcp/10250-10250 sg:k8s-dev-control-plane",
                    "k8s-dev-control-plane tcp/22-22 sg:k8s-dev-bastion",
                    "k8s-dev-control-plane tcp/2379-2380 sg:k8s-dev-control-plane",
                    "k8s-dev-control-plane tcp/6443-6443 sg:k8s-dev-api-lb",
                    "k8s-dev-control-plane tcp/6443-6443 sg:k8s-dev-control-plane",
                    "k8s-dev-control-plane tcp/6443-6443 sg:k8s-dev-worker",
                    "k8s-dev-worker tcp/10250-10250 sg:k8s-dev-control-plane",
                    "k8s-dev-worker tcp/22-22 sg:k8s-dev-bastion",
                    // Calico: VXLAN and Typha between every pair of node groups.
                    ...["control-plane", "worker"].flatMap((to) =>
                        ["control-plane", "worker"].flatMap((from) => [
                            `k8s-dev-${to} udp/4789-4789 sg:k8s-dev-${from}`,
                            `k8s-dev-${to} tcp/5473-5473 sg:k8s-dev-${from}`,
                        ]),
                    ),
                ].sort(),
            );
        });

        it("are exactly the intended egress set", () => {
            assert.deepEqual(
                ofType(run, T.egress)
                    .map((r) => describeRule(run, r))
                    .sort(),
                [
                    "k8s-dev-api-lb tcp/6443-6443 sg:k8s-dev-control-plane",
                    "k8s-dev-bastion tcp/22-22 10.0.0.0/16",
                    "k8s-dev-control-plane -1/*-* 0.0.0.0/0",
                    "k8s-dev-worker -1/*-* 0.0.0.0/0",
                ],
            );
        });

        it("open no sensitive port to the world, even with the widest allowed lists", async () => {
            const wide = await sharedRun({ stack: "dev", config: { apiAllowedCidrs: ["0.0.0.0/0"] } });
            for (const r of ofType(wide, T.ingress)) {
                const i = plain(r);
                if (i.cidrIpv4 === "0.0.0.0/0" || i.cidrIpv6 === "::/0") {
                    assert.deepEqual(
                        [i.fromPort, i.toPort],
                        [6443, 6443],
                        `${r.name} opens more than the API to the world`,
                    );
                }
            }
            for (const port of [22, 2379, 2380, 10250, 10257, 10259]) {
                const open = ofType(wide, T.ingress).filter(
                    (r) =>
                        plain(r).fromPort <= port &&
                        port <= plain(r).toPort &&
                        typeof plain(r).cidrIpv4 === "string" &&
                        !plain(r).cidrIpv4.startsWith("10.") &&
                        !plain(r).cidrIpv4.startsWith("203.0.113."),
                );
                assert.deepEqual(
                    open.map((r) => r.name),
                    [],
                    `port ${port}`,
                );
            }
        });
    });

    describe("dev and prod stack files", () => {
        let dev: ProgramRun;
        let prod: ProgramRun;
        before(async () => {
            dev = await sharedRun({ stack: "dev" });
            prod = await sharedRun({ stack: "prod" });
            assert.ifError(dev.error);
            assert.ifError(prod.error);
        });

        it("differ in NAT gateways: one in dev, one per zone in prod", () => {
            assert.equal(ofType(dev, T.natGateway).length, 1);
            assert.equal(ofType(prod, T.natGateway).length, 3);
        });

        it("differ in protection: prod protects control planes and the load balancer, dev nothing", () => {
            assert.ok(controlPlanes(prod).every((r) => r.protect));
            assert.ok(one(prod, T.lb).protect);
            assert.equal(plain(one(prod, T.lb)).enableDeletionProtection, true);
            assert.deepEqual(
                dev.resources.filter((r) => r.protect).map((r) => r.name),
                [],
            );
        });

        it("differ in sizes, counts and region", () => {
            assert.deepEqual(
                controlPlanes(dev).map((r) => plain(r).instanceType),
                ["t3.medium", "t3.medium", "t3.medium"],
            );
            assert.equal(controlPlanes(prod).length, 5);
            assert.ok(controlPlanes(prod).every((r) => plain(r).instanceType === "m6i.xlarge"));
            assert.ok(controlPlanes(prod).every((r) => plain(r).availabilityZone.startsWith("us-east-1")));
            const workers = (run: ProgramRun) =>
                ofType(run, T.instance).filter((r) => plain(r).tags["k8s-ha/role"] === "worker").length;
            assert.deepEqual([workers(dev), workers(prod)], [1, 3]);
        });
    });

    describe("secrets", () => {
        it("the SSH private key is a provider secret and a secret stack output, even while unknown (preview)", async () => {
            const run = await sharedRun({ stack: "dev", preview: true });
            const key = ofType(run, T.privateKey).find((r) => r.name === "k8s-dev-ssh")!;
            for (const field of ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"])
                assert.ok(key.additionalSecretOutputs.includes(field), field);
            assert.deepEqual([run.outputs.sshPrivateKey.known, run.outputs.sshPrivateKey.secret], [false, true]);
        });

        it("the SSH private key is secret in every recorded input and output (update)", async () => {
            const run = await sharedRun({ stack: "dev", preview: false });
            const key = ofType(run, T.privateKey).find((r) => r.name === "k8s-dev-ssh")!;
            for (const field of ["privateKeyOpenssh", "privateKeyPem"])
                assert.ok(isSecretValue(key.outputs[field]), `${field} output`);
            const secretText = (key.outputs.privateKeyOpenssh as { value: string }).value;
            const body = secretText.trim().split("\n")[1];
            assert.ok(body.length > 20);
            for (const r of run.resources) {
                const leaks = [...plainStrings(r.inputs), ...plainStrings(r.outputs)].filter((s) => s.includes(body));
                assert.deepEqual(leaks, [], `${r.name} carries the private key in plain text`);
            }
            assert.deepEqual([run.outputs.sshPrivateKey.secret, run.outputs.sshPrivateKey.value], [true, secretText]);
        });
    });

    describe("options", () => {
        const zones = ["us-west-2a", "us-west-2b", "us-west-2c"];
        const nats = existingNatGateways("vpc-0123abcd").filter((n) => n.connectivityType === "public");
        const existingVpc = {
            vpcId: "vpc-0123abcd",
            publicSubnets: Object.fromEntries(zones.map((z, i) => [z, `subnet-0a${i}`])),
            privateSubnets: Object.fromEntries(zones.map((z, i) => [z, `subnet-0b${i}`])),
            natGatewayIds: nats.map((n) => n.id),
        };

        it("an internal API (in an existing VPC, where pulumi up then runs) puts the load balancer in the private subnets and drops the NAT rules", async () => {
            const run = await sharedRun({ stack: "dev", config: { internalApi: true, existingVpc } });
            const lb = one(run, T.lb);
            assert.equal(plain(lb).internal, true);
            assert.deepEqual([...plain(lb).subnets].sort(), Object.values(existingVpc.privateSubnets).sort());
            assert.equal(ofType(run, T.ingress).filter((r) => r.name.includes("nat")).length, 0);
        });

        it("an existing VPC creates no network and places nodes in its subnets", async () => {
            const run = await sharedRun({ stack: "dev", config: { existingVpc } });
            assert.ifError(run.error);
            assert.deepEqual(ofType(run, T.subnet), []);
            assert.deepEqual(
                controlPlanes(run).map((r) => plain(r).subnetId),
                ["subnet-0b0", "subnet-0b1", "subnet-0b2"],
            );
            assert.deepEqual(plain(one(run, T.lb)).subnets, ["subnet-0a0", "subnet-0a1", "subnet-0a2"]);
        });

        it("an existing VPC's groups use its looked-up block, not vpcCidr, and admit its NAT addresses to the API", async () => {
            const run = await sharedRun({ stack: "dev", config: { existingVpc, vpcCidr: "10.1.0.0/16" } });
            assert.ifError(run.error);
            const rule = (name: string) =>
                plain(
                    ofType(run, T.ingress)
                        .concat(ofType(run, T.egress))
                        .find((r) => r.name === name)!,
                );
            assert.equal(rule("k8s-dev-api-lb-in-vpc").cidrIpv4, EXISTING_VPC_CIDR);
            assert.equal(rule("k8s-dev-bastion-out-ssh").cidrIpv4, EXISTING_VPC_CIDR);
            const natRules = ofType(run, T.ingress).filter((r) => r.name.startsWith("k8s-dev-api-lb-in-nat-"));
            assert.deepEqual(
                natRules.map((r) => [plain(r).cidrIpv4, plain(r).fromPort]),
                nats.map((n) => [`${n.publicIp}/32`, 6443]),
            );
        });

        it("Graviton control planes get the arm64 Ubuntu image, x86_64 workers and bastion the amd64 one", async () => {
            const run = await sharedRun({ stack: "dev", config: { controlPlaneInstanceType: "m7g.large" } });
            assert.ifError(run.error);
            const images = (role: string) => [
                ...new Set(
                    ofType(run, T.instance)
                        .filter((r) => plain(r).tags["k8s-ha/role"] === role)
                        .map((r) => plain(r).ami),
                ),
            ];
            assert.deepEqual(images("control-plane"), [UBUNTU_IMAGES.arm64.id]);
            assert.deepEqual(images("worker"), [UBUNTU_IMAGES.x86_64.id]);
            assert.deepEqual(images("bastion"), [UBUNTU_IMAGES.x86_64.id]);
        });

        it("an explicit AMI skips the Ubuntu lookup", async () => {
            const run = await sharedRun({ stack: "dev", config: { amiId: "ami-0123456789abcdef0" } });
            assert.ok(controlPlanes(run).every((r) => plain(r).ami === "ami-0123456789abcdef0"));
        });
    });
});
