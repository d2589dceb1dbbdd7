// The lab builds the versions the stack deploys: if the default kubernetesVersion or the pinned
// Pulumi SDK moves, the lab's Go modules must move with it (and the other way round).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const ROOT = join(__dirname, "..");
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");

function required(goMod: string, module: string): string {
    const m = new RegExp(`^\\s*(?:require\\s+)?${module.replace(/\./g, "\\.")} (v\\S+)`, "m").exec(read(goMod));
    assert.ok(m, `${goMod} does not require ${module}`);
    return m[1];
}

describe("the lab's Go modules pin what the stack deploys", () => {
    it("k8s.io/kubernetes is the default kubernetesVersion (Pulumi.yaml)", () => {
        const def = parse(read("Pulumi.yaml")).config.kubernetesVersion.default;
        assert.equal(required("tools/lab/k8s/go.mod", "k8s.io/kubernetes"), `v${def}`);
    });

    it("every Kubernetes staging module is replaced by the matching v0.N.P", () => {
        const v = required("tools/lab/k8s/go.mod", "k8s.io/kubernetes");
        const staging = `v0.${v.split(".").slice(1).join(".")}`;
        const replaces = [...read("tools/lab/k8s/go.mod").matchAll(/^replace (k8s\.io\/\S+) => (\S+) (\S+)$/gm)];
        assert.ok(replaces.length >= 30, `${replaces.length} replaces`);
        for (const [, from, to, version] of replaces) {
            assert.equal(to, from);
            assert.equal(version, staging, from);
        }
    });

    it("the Pulumi CLI is the release of the pinned @pulumi/pulumi SDK (package.json)", () => {
        const sdk = JSON.parse(read("package.json")).dependencies["@pulumi/pulumi"];
        assert.equal(required("tools/lab/pulumi/go.mod", "github.com/pulumi/pulumi/pkg/v3"), `v${sdk}`);
        assert.equal(required("tools/lab/pulumi/go.mod", "github.com/pulumi/pulumi/sdk/v3"), `v${sdk}`);
    });

    it("etcd is the 3.6 minor kubeadm 1.35 deploys, with etcdutl and etcdctl at the same patch", () => {
        const server = required("tools/lab/etcd/go.mod", "go.etcd.io/etcd/server/v3");
        assert.match(server, /^v3\.6\.\d+$/);
        assert.equal(required("tools/lab/etcd/go.mod", "go.etcd.io/etcd/etcdutl/v3"), server);
        assert.equal(required("tools/lab/etcd/go.mod", "go.etcd.io/etcd/etcdctl/v3"), server);
    });
});
