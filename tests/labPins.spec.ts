// The lab builds the versions the stack deploys: if the default kubernetesVersion or the pinned
// Pulumi SDK moves, the lab's Go modules must move with it (and the other way round).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { labTool, requireLabTools } from "./lab/tools";

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

    it("the node sandboxes' kube-proxy (k8s-node) is built from the k8s toolset's k8s.io/kubernetes, with the same replaces", () => {
        const k8s = read("tools/lab/k8s/go.mod");
        const node = read("tools/lab/k8s-node/go.mod");
        assert.equal(
            required("tools/lab/k8s-node/go.mod", "k8s.io/kubernetes"),
            required("tools/lab/k8s/go.mod", "k8s.io/kubernetes"),
        );
        const replaces = (text: string) => [...text.matchAll(/^replace .+$/gm)].map((m) => m[0]).sort();
        assert.deepEqual(replaces(node), replaces(k8s));
    });

    it("the previous minor's toolset (k8s-prev) is one minor behind the k8s toolset, with its own matching replaces, built under .lab/bin/k8s-prev/", () => {
        const [, cur] = /^v1\.(\d+)\.\d+$/.exec(required("tools/lab/k8s/go.mod", "k8s.io/kubernetes"))!;
        const prev = required("tools/lab/k8s-prev/go.mod", "k8s.io/kubernetes");
        const m = /^v1\.(\d+)\.(\d+)$/.exec(prev);
        assert.ok(m, prev);
        assert.equal(Number(m[1]), Number(cur) - 1);
        const replaces = [...read("tools/lab/k8s-prev/go.mod").matchAll(/^replace (k8s\.io\/\S+) => (\S+) (\S+)$/gm)];
        assert.equal(replaces.length, [...read("tools/lab/k8s/go.mod").matchAll(/^replace /gm)].length);
        for (const [, from, to, version] of replaces)
            assert.deepEqual([to, version], [from, `v0.${m[1]}.${m[2]}`], from);
        // Its binaries never take the k8s toolset's names in .lab/bin.
        const names = [
            ...read("tools/lab/k8s-prev/build.env").matchAll(/^\s+(\S+)=k8s\.io\/kubernetes\/cmd\/(\S+)$/gm),
        ];
        assert.deepEqual(
            names.map(([, name, cmd]) => [name, cmd]).sort(),
            [
                "kube-apiserver",
                "kube-controller-manager",
                "kube-proxy",
                "kube-scheduler",
                "kubeadm",
                "kubectl",
                "kubelet",
            ].map((b) => [`k8s-prev/${b}`, b]),
        );
    });

    it("CoreDNS (coredns) is built from our own main with only the plugins of kubeadm's Corefile and log, each in its directive list, and no cloud SDK", () => {
        const main = read("tools/lab/coredns/cmd/coredns/main.go");
        const imported = [...main.matchAll(/_ "github\.com\/coredns\/coredns\/plugin\/(\w+)"/g)]
            .map((x) => (x[1] === "metrics" ? "prometheus" : x[1]))
            .sort();
        const directives = [.../var directives = \[\]string\{([^}]*)\}/.exec(main)![1].matchAll(/"(\w+)"/g)].map(
            (x) => x[1],
        );
        assert.deepEqual(imported, [
            "cache",
            "errors",
            "forward",
            "health",
            "kubernetes",
            "loadbalance",
            "log",
            "loop",
            "prometheus",
            "ready",
            "reload",
        ]);
        assert.deepEqual([...directives].sort(), imported);
        assert.doesNotMatch(main, /coredns\/core\/plugin"/, "core/plugin imports every plugin");
        assert.doesNotMatch(
            read("tools/lab/coredns/go.mod"),
            /aws-sdk-go|Azure\/azure-sdk|cloud\.google\.com\/go\/compute|google\.golang\.org\/api /,
        );
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

    it("crictl (cri-tools) is the stack's minor or the one before, a toolset of its own that every node lane builds, with every other toolset the sandboxes use", () => {
        const [, cur] = /^v1\.(\d+)\.\d+$/.exec(required("tools/lab/k8s/go.mod", "k8s.io/kubernetes"))!;
        const m = /^v1\.(\d+)\.\d+$/.exec(required("tools/lab/cri-tools/go.mod", "sigs.k8s.io/cri-tools"));
        assert.ok(m && [Number(cur), Number(cur) - 1].includes(Number(m[1])), m?.[0]);
        // Not in k8s-node: that would change its cache key and rebuild the kubelet's toolset.
        assert.doesNotMatch(read("tools/lab/k8s-node/build.env"), /crictl/);
        const scripts = JSON.parse(read("package.json")).scripts as Record<string, string>;
        // Every toolset the sandboxes' images and nodes take binaries from (tests/nodes/images.ts),
        // so that `sudo npm run test:nodes` on a fresh clone needs no `npm run lab:tools` first.
        for (const set of ["k8s", "etcd", "nodes", "k8s-node", "coredns", "cri-tools"])
            assert.match(scripts["lab:tools:nodes"], new RegExp(`build\\.sh --toolset ${set}(?: &&|$)`), set);
        // The upgrade needs it too: a control plane's upgrade stops the apiserver through crictl.
        for (const lane of ["test:nodes", "test:nodes:bringup", "test:nodes:upgrade"])
            assert.match(scripts[lane], /^npm run --silent lab:tools:nodes && /, lane);
    });
});

describe("the lab's bad input", () => {
    it("`npm run lab:tools` without Go says so in one line and exits non-zero", () => {
        // A PATH with bash's basics but no go.
        const r = spawnSync("/bin/bash", [join(ROOT, "tools/lab/build.sh")], {
            env: { PATH: "/nonexistent" },
            encoding: "utf8",
        });
        assert.equal(r.status, 1);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, /Go is not on PATH.*npm run lab:tools/);
    });

    it("a lab spec without its tools fails naming the command that builds them", () => {
        const saved = process.env.K8S_HA_LAB_BIN;
        process.env.K8S_HA_LAB_BIN = "/nonexistent/k8s-ha-lab-bin";
        try {
            assert.throws(
                () => labTool("kubeadm"),
                /\/nonexistent\/k8s-ha-lab-bin\/kubeadm is missing: build the lab's tools first with 'npm run lab:tools'/,
            );
            assert.throws(
                () => requireLabTools(["kubeadm", "etcd"]),
                /missing lab tools in \/nonexistent\/k8s-ha-lab-bin: kubeadm, etcd; build them with 'npm run lab:tools'/,
            );
        } finally {
            if (saved === undefined) delete process.env.K8S_HA_LAB_BIN;
            else process.env.K8S_HA_LAB_BIN = saved;
        }
    });
});
