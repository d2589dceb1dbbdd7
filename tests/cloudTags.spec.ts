// The tags the AWS cloud-controller-manager reads, on everything it looks up: the cluster tag
// (kubernetes.io/cluster/<name>) on the instances (the CCM takes its cluster id from its own
// instance's tags), the subnets (load-balancer placement) and the security groups (an instance
// must carry exactly one tagged group: the CCM opens load-balancer traffic in it and refuses an
// instance with several), and the subnet-role tags that choose public or internal load balancers.
import { strict as assert } from "node:assert";
import { type ProgramRun } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { T, byUrn, dependedOn, ofType, plain } from "./graph";

for (const stack of ["dev", "prod"] as const) {
    describe(`the tags the AWS cloud-controller-manager reads (${stack}, mock runtime)`, () => {
        let run: ProgramRun;
        const cluster = `k8s-${stack}`;
        const clusterTag = `kubernetes.io/cluster/${cluster}`;
        before(async () => {
            run = await sharedRun({ stack, preview: false });
            assert.ifError(run.error);
        });

        it("every subnet, security group and instance carries the cluster tag, owned", () => {
            for (const type of [T.subnet, T.securityGroup, T.instance]) {
                const all = ofType(run, type);
                assert.ok(all.length > 0, type);
                for (const r of all) assert.equal(plain(r).tags?.[clusterTag], "owned", `${r.name} (${type})`);
            }
        });

        it("public subnets are tagged for internet-facing load balancers, private ones for internal ones", () => {
            const subnets = ofType(run, T.subnet);
            const pub = subnets.filter((s) => s.name.includes("-public-"));
            const priv = subnets.filter((s) => s.name.includes("-private-"));
            assert.equal(pub.length + priv.length, subnets.length);
            assert.ok(pub.length >= 3 && priv.length >= 3);
            for (const s of pub)
                assert.deepEqual(
                    [plain(s).tags["kubernetes.io/role/elb"], plain(s).tags["kubernetes.io/role/internal-elb"]],
                    ["1", undefined],
                    s.name,
                );
            for (const s of priv)
                assert.deepEqual(
                    [plain(s).tags["kubernetes.io/role/internal-elb"], plain(s).tags["kubernetes.io/role/elb"]],
                    ["1", undefined],
                    s.name,
                );
        });

        it("every node instance is in exactly one security group that carries the cluster tag", () => {
            const nodes = ofType(run, T.instance).filter((i) => /-(cp|worker)-\d+$/.test(i.name));
            assert.ok(nodes.length >= 3);
            for (const node of nodes) {
                const groups = dependedOn(run, node, "vpcSecurityGroupIds");
                assert.equal(groups.length, 1, `${node.name}: ${groups.map((g) => g.name).join(", ")}`);
                assert.equal(plain(byUrn(run, groups[0].urn)).tags?.[clusterTag], "owned", node.name);
            }
        });
    });
}
