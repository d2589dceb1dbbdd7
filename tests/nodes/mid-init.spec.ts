// Failure mid-init on node sandboxes: node 0's own first-control-plane script (what `pulumi up`
// runs as its init command) is killed right after kubeadm init's kubeconfig phase, its whole
// process tree at once with SIGKILL, as an instance dying would end it; then the same script runs
// again, unchanged, and must finish the cluster by its own guards (init.sh's resume), after which
// the other control planes and the worker join as in the bring-up.
// Order: needs a cluster whose node 0 has not initialised: a cluster that did (bringup.spec.ts's)
// is ended and a new one made. It leaves the cluster brought up whole for the specs after it.
import assert from "node:assert/strict";
import { existsSync, readdirSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { everyNodeReady, releaseSharedCluster, sharedCluster, stepTimer, type Cluster } from "./cluster";
import { killTree } from "./sandbox";

/** Files of kubeadm init's phases after kubeconfig, as paths under the node's root. */
const LATER_PHASES = [
    "etc/kubernetes/manifests/etcd.yaml",
    "etc/kubernetes/manifests/kube-apiserver.yaml",
    "etc/kubernetes/manifests/kube-controller-manager.yaml",
    "etc/kubernetes/manifests/kube-scheduler.yaml",
    "var/lib/kubelet/config.yaml",
];
const KUBECONFIGS = ["admin", "super-admin", "kubelet", "controller-manager", "scheduler"].map(
    (n) => `etc/kubernetes/${n}.conf`,
);

describe("node sandboxes: failure mid-init (node 0's init killed after kubeadm's kubeconfig phase), then the same script again", function () {
    let c: Cluster;
    let root: string;
    const { timings, timed } = stepTimer();
    const present = (paths: readonly string[]) => paths.filter((p) => existsSync(join(root, p)));

    before(async function () {
        c = await sharedCluster();
        if (c.has(`init ${c.node0}`) || c.has(`stage ${c.node0}`)) {
            await releaseSharedCluster();
            c = await sharedCluster();
        }
        root = join(c.lab.node(c.node0).dir, "root");
        await c.stage(c.node0);
    });

    after(function () {
        console.log(`      mid-init timings (s): ${JSON.stringify(timings)}`);
    });

    it("kills node 0's first-control-plane script as kubeadm init starts its etcd phase: the kubeconfigs are written, nothing runs the control plane", async function () {
        const manifests = join(root, "etc", "kubernetes", "manifests");
        const script = c.lab.startScript(c.node0, c.script(c.node0, "init.create"), c.stdin(c.node0, "init"));
        let killed: number[] | undefined;
        // The etcd phase's first act is a file in manifests/ (the kubeconfig phase is done by then):
        // inotify on that directory, and a 10 ms poll behind it, stop and kill the tree at once.
        const kill = () => {
            if (!killed && existsSync(manifests) && readdirSync(manifests).length > 0) killed = killTree(script.pid);
        };
        const watchers: FSWatcher[] = [];
        let poll: NodeJS.Timeout | undefined;
        await timed("killed init", async () => {
            // kubeadm makes manifests/ when prepare did not: its parent is watched for that.
            watchers.push(
                watch(join(root, "etc", "kubernetes"), () => {
                    if (existsSync(manifests) && watchers.length === 1) watchers.push(watch(manifests, kill));
                    kill();
                }),
            );
            if (existsSync(manifests)) watchers.push(watch(manifests, kill));
            poll = setInterval(kill, 10);
            try {
                const r = await script.done;
                assert.ok(
                    killed,
                    `the script ended before kubeadm's etcd phase (exit ${r.code}):\n${r.stdout}\n${r.stderr}`,
                );
                assert.equal(r.signal, "SIGKILL");
                console.log(
                    `      killed ${killed.length} processes; the script's last lines:\n${r.stdout
                        .trimEnd()
                        .split("\n")
                        .slice(-4)
                        .map((l) => `        ${l}`)
                        .join("\n")}`,
                );
            } finally {
                clearInterval(poll);
                for (const w of watchers) w.close();
            }
        });
        const kubeadm = await c.lab.exec(c.node0, ["pgrep", "-a", "kubeadm"]);
        assert.equal(kubeadm.code, 1, `kubeadm survived the kill:\n${kubeadm.stdout}`);
        assert.deepEqual(present(KUBECONFIGS), KUBECONFIGS, "kubeadm's kubeconfig phase did not finish");
        const later = present(LATER_PHASES);
        console.log(`      written by later phases when it died: ${JSON.stringify(later)}`);
        assert.ok(
            !later.includes("var/lib/kubelet/config.yaml"),
            "the kill came after kubelet-start: not the case under test",
        );
        assert.equal(existsSync(join(root, "var/lib/k8s-ha/initialised")), false);
        const readyz = await c.kubectl(["get", "--raw", "/readyz"], 15_000);
        assert.notEqual(
            readyz.stdout.trim(),
            "ok",
            "an API answers, though the init was killed before the kubelet ran it",
        );
    });

    it("runs the same script again, unchanged: it resumes the init (no second kubeadm init) and the API answers through the NLB", async function () {
        const again = await timed("init again", () => c.init());
        assert.ok(again);
        assert.match(again.stdout, /admin\.conf exists but k8s-dev-cp-0 is not marked initialised/);
        assert.match(again.stdout, /running its kubeconfig, etcd, control-plane and kubelet-start phases/);
        assert.doesNotMatch(again.stdout, /kubeadm init of/);
        assert.match(again.stdout, /initialised \(finished or confirmed\)/);
        assert.equal(existsSync(join(root, "var/lib/k8s-ha/initialised")), true);
        assert.equal((await c.kubectl(["get", "--raw", "/readyz"])).stdout.trim(), "ok");
        // What the killed init never reached: cluster-info is published (every join's discovery).
        const info = await c.kubectl(["-n", "kube-public", "get", "configmap", "cluster-info", "-o", "name"]);
        assert.equal(info.stdout.trim(), "configmap/cluster-info", info.stderr);
    });

    it("then the control planes join one at a time and the worker joins: three voting members, every node Ready", async function () {
        await timed("joins and CNI", () => c.bringUp());
        const members = await c.etcdMembers();
        assert.deepEqual(
            members.map((m) => [m.name, m.isLearner ?? false]).sort(),
            c.controlPlanes.map((n) => [n, false]),
        );
        await timed("every node Ready", () => everyNodeReady(c, c.workers[0]));
    });
});
