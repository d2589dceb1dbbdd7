// Bring-up on node sandboxes (tests/nodes/sandbox.ts): the dev stack's own rendered scripts, run
// unchanged on namespaces that behave like its EC2 instances, with a real kubelet and Debian's
// containerd running kubeadm's static pods from images built here. Only the package installs are
// replaced, by the lab's overlay (tests/nodes/sandbox/bin, listed in the README). Node 0
// initialises the cluster with its first-control-plane script (the other control planes exist,
// their addresses answer, nothing listens: that is what lets it decide "init"), the other control
// planes join one at a time, the worker joins, and the lab's CNI makes every node Ready.
// Order: the tests below are the bring-up's steps, in order; the cluster (cluster.ts) then serves
// the scenario specs of the same run.
import assert from "node:assert/strict";
import { waitFor } from "../system/etcd/cluster";
import { everyNodeReady, sharedCluster, type Cluster } from "./cluster";

describe("node sandboxes: the dev stack brought up by its own scripts (real kubelet, containerd, kubeadm)", function () {
    let c: Cluster;

    before(async function () {
        c = await sharedCluster();
    });

    after(function () {
        if (c) console.log(`      bring-up timings (s): ${JSON.stringify(c.timings)}`);
    });

    it("prepares node 0 and stages its packages: prepare, the first install and place-pki, unchanged", async function () {
        await c.stage(c.node0);
        const active = await c.lab.exec(c.node0, ["systemctl", "is-active", "containerd"]);
        assert.equal(active.stdout.trim(), "active", c.lab.logs(c.node0));
        assert.match(
            await c.lab.exec(c.node0, ["cat", "/var/lib/k8s-ha/prepared"]).then((r) => r.stdout),
            /^[0-9a-f]{64}$/m,
        );
    });

    it("initialises the cluster on node 0: kubeadm init, and /readyz answers through the NLB stand-in", async function () {
        const init = await c.init();
        assert.ok(init);
        assert.match(
            init.stdout,
            /no other control plane runs etcd or an apiserver \(2 probed, every connection refused\): a new cluster/,
        );
        assert.match(init.stdout, /initialised k8s-dev-cp-0; the API answers at/);
        const readyz = await c.kubectl(["get", "--raw", "/readyz"]);
        assert.equal(readyz.stdout.trim(), "ok", `${readyz.stderr}\n${c.lab.logs(c.node0)}`);
    });

    it("runs etcd, kube-apiserver, -controller-manager and -scheduler as the kubelet's static pods in containerd", async function () {
        const containers = await c.lab.exec(c.node0, ["ctr", "-n", "k8s.io", "containers", "ls"]);
        for (const image of [
            "etcd:3.6.6-0",
            "kube-apiserver:v1.35.4",
            "kube-controller-manager:v1.35.4",
            "kube-scheduler:v1.35.4",
        ]) {
            assert.ok(
                containers.stdout.includes(`registry.k8s.io/${image}`),
                `no container of ${image} in ${c.node0}'s containerd:\n${containers.stdout}`,
            );
        }
        const pods = await waitFor(
            "the control plane's mirror pods Running",
            120_000,
            async () => {
                const r = await c.kubectl([
                    "-n",
                    "kube-system",
                    "get",
                    "pods",
                    "-o",
                    'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\\n"}{end}',
                ]);
                const running = r.stdout
                    .split("\n")
                    .filter((l) => l.endsWith(`${c.node0} Running`))
                    .map((l) => l.split(" ")[0]);
                return ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"].every((p) =>
                    running.includes(`${p}-${c.node0}`),
                )
                    ? running
                    : undefined;
            },
            undefined,
            1_000,
        );
        assert.ok(pods.includes(`etcd-${c.node0}`));
        const node = await c.kubectl([
            "get",
            "node",
            c.node0,
            "-o",
            "jsonpath={.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion}",
        ]);
        assert.match(node.stdout, /^v1\.35\.4 containerd:\/\/1\.6\./);
    });

    it("leaves an initialised node alone when its init runs again (the script's guard)", async function () {
        const again = await c.runScript(c.node0, "init.create", "init");
        assert.match(again.stdout, /already initialised; nothing to do/);
        assert.doesNotMatch(again.stdout, /kubeadm init of/);
    });

    it("joins the other control planes one at a time (kubeadm join --control-plane): etcd has three voting members", async function () {
        for (const n of c.controlPlanes.slice(1)) {
            await c.stage(n);
            const joined = await c.joinControlPlane(n);
            assert.ok(joined);
            assert.match(joined.stdout, new RegExp(`kubeadm join of ${n} \\(control-plane\\)`));
        }
        const members = await c.etcdMembers();
        assert.deepEqual(
            members.map((m) => [m.name, m.isLearner ?? false]).sort(),
            c.controlPlanes.map((n) => [n, false]),
        );
        const readyz = await c.kubectl(["get", "--raw", "/readyz"]);
        assert.equal(readyz.stdout.trim(), "ok");
    });

    it("joins the worker with its bootstrap token, made on node 0 in parallel and deleted once it registered", async function () {
        for (const n of c.workers) {
            await c.stage(n);
            const out = await c.joinWorker(n);
            assert.ok(out);
            const [token, join] = out;
            assert.match(join.stdout, new RegExp(`kubeadm join of ${n}`));
            assert.match(token.stdout, new RegExp(`Node ${n} registered; its bootstrap token is deleted`));
        }
        const secrets = await c.kubectl([
            "-n",
            "kube-system",
            "get",
            "secrets",
            "--field-selector",
            "type=bootstrap.kubernetes.io/token",
            "-o",
            "name",
        ]);
        assert.doesNotMatch(secrets.stdout, /k8s-ha: join of/);
    });

    it("with the lab's CNI every node is Ready, and kube-proxy (iptables from Debian in its image) runs on every node", async function () {
        await c.cni();
        const all = c.nodes;
        await everyNodeReady(c, c.workers[0]);
        const proxies = await waitFor(
            "kube-proxy Ready on every node",
            180_000,
            async () => {
                const r = await c.kubectl([
                    "-n",
                    "kube-system",
                    "get",
                    "pods",
                    "-l",
                    "k8s-app=kube-proxy",
                    "-o",
                    'jsonpath={range .items[*]}{.spec.nodeName} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount}{"\\n"}{end}',
                ]);
                const lines = r.stdout
                    .split("\n")
                    .filter(Boolean)
                    .map((l) => l.split(" "));
                return lines.length === all.length && lines.every((l) => l[1] === "true") ? lines : undefined;
            },
            undefined,
            2_000,
        );
        // Ready and staying up: no restart since (a crash loop restarts within seconds).
        await new Promise((r) => setTimeout(r, 15_000));
        const again = await c.kubectl([
            "-n",
            "kube-system",
            "get",
            "pods",
            "-l",
            "k8s-app=kube-proxy",
            "-o",
            'jsonpath={range .items[*]}{.spec.nodeName} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount}{"\\n"}{end}',
        ]);
        assert.deepEqual(
            again.stdout
                .split("\n")
                .filter(Boolean)
                .map((l) => l.split(" "))
                .sort(),
            proxies.sort(),
        );
        // Its rules: the apiserver's Service is programmed into the worker's nat table.
        const nat = await c.lab.exec(c.workers[0], ["iptables-save", "-t", "nat"]);
        assert.match(nat.stdout, /KUBE-SVC-NPX46M4PTMTKRN6Y/);
        const members = await c.etcdMembers();
        assert.equal(members.filter((m) => !m.isLearner).length, 3);
    });
});
