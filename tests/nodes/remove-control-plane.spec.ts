// Remove a control plane on node sandboxes: cp-2's own reset script (reset-control-plane, what
// `pulumi up` runs when the node goes away), its quorum guard, and cp-2's rejoin with its own
// place-pki and join scripts (what a replacement runs).
// Order: needs the brought-up cluster (cluster.ts: bringup.spec.ts's, or brought up here) and
// leaves it as it found it: three voting members, every node Ready.
import assert from "node:assert/strict";
import { waitFor } from "../system/etcd/cluster";
import { broughtUpCluster, stepTimer, type Cluster } from "./cluster";
import { installLabCni } from "./cni";

describe("node sandboxes: remove a control plane (cp-2's reset script), the quorum guard, and its rejoin", function () {
    let c: Cluster;
    let cp1: string;
    let cp2: string;
    const { timings, timed } = stepTimer();
    /** Each member's health as etcdctl sees it, by client URL. */
    const healthy = async (): Promise<string[]> => {
        const r = await c.etcdctl(["endpoint", "health", "--cluster", "-w", "json"]);
        return (JSON.parse(r.stdout || "[]") as { endpoint: string; health: boolean }[])
            .filter((e) => e.health)
            .map((e) => e.endpoint);
    };
    const ready = async (node: string): Promise<boolean> => {
        const r = await c.kubectl([
            "get",
            "node",
            node,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return r.stdout.trim() === "True";
    };

    before(async function () {
        c = await broughtUpCluster();
        [, cp1, cp2] = c.controlPlanes;
    });

    after(function () {
        console.log(`      remove-a-control-plane timings (s): ${JSON.stringify(timings)}`);
    });

    it("refuses to reset cp-2 while cp-1's etcd is down (1 healthy of 2 would be left), and changes nothing", async function () {
        const manifest = "/etc/kubernetes/manifests/etcd.yaml";
        const parked = "/etc/kubernetes/etcd.yaml.lab-stopped";
        // cp-1's etcd stops as a failed member would: the kubelet ends its static pod.
        assert.equal((await c.lab.exec(cp1, ["mv", manifest, parked])).code, 0);
        try {
            await waitFor(
                "cp-1's etcd down",
                120_000,
                async () => ((await healthy()).length === 2 ? true : undefined),
                undefined,
                2_000,
            );
            const r = await timed("refused reset", () =>
                c.lab.exec(cp2, ["bash", c.script(cp2, "reset.delete")], {
                    input: c.stdin(cp2, "reset"),
                    timeoutMs: 600_000,
                }),
            );
            assert.notEqual(r.code, 0, r.stdout);
            assert.match(
                r.stderr,
                /refusing to remove k8s-dev-cp-2: etcd would keep 1 healthy of 2 members, below the quorum of 2/,
            );
            assert.doesNotMatch(r.stdout, /draining|kubeadm reset/);
            assert.equal((await c.etcdMembers()).length, 3);
            const cordoned = await c.kubectl(["get", "node", cp2, "-o", "jsonpath={.spec.unschedulable}"]);
            assert.equal(cordoned.stdout.trim(), "", "cp-2 was cordoned by a refused reset");
            assert.equal((await c.lab.exec(cp2, ["test", "-e", "/etc/kubernetes/kubelet.conf"])).code, 0);
        } finally {
            await c.lab.exec(cp1, ["mv", parked, manifest]);
        }
        await timed("cp-1's etcd back", () =>
            waitFor(
                "three healthy members",
                180_000,
                async () => ((await healthy()).length === 3 ? true : undefined),
                undefined,
                2_000,
            ),
        );
    });

    it("resets cp-2: drained, kubeadm reset, its etcd member and Node gone; two voting members and the API answers", async function () {
        const r = await timed("reset cp-2", () => c.runScript(cp2, "reset.delete", "reset"));
        assert.match(r.stdout, /etcd quorum check passed: 3\/3 healthy now, 2\/2 after removing k8s-dev-cp-2/);
        assert.match(r.stdout, /removed k8s-dev-cp-2$/m);
        const members = await c.etcdMembers(c.controlPlanes.slice(0, 2));
        assert.deepEqual(members.map((m) => [m.name, m.isLearner ?? false]).sort(), [
            [c.node0, false],
            [cp1, false],
        ]);
        const node = await c.kubectl(["get", "node", cp2, "--ignore-not-found", "-o", "name"]);
        assert.equal(node.stdout.trim(), "");
        assert.equal(
            (await c.lab.exec(cp2, ["test", "-e", "/etc/kubernetes/kubelet.conf"])).code,
            1,
            "kubeadm reset left kubelet.conf",
        );
        assert.equal((await c.kubectl(["get", "--raw", "/readyz"])).stdout.trim(), "ok");
    });

    it("cp-2 rejoins with its place-pki and join scripts: three voting members again, every node Ready", async function () {
        await timed("rejoin cp-2", async () => {
            await c.runScript(cp2, "place-pki.create", "place-pki");
            const joined = await c.runScript(cp2, "join.create", "join");
            assert.match(joined.stdout, /kubeadm join of k8s-dev-cp-2 \(control-plane\)/);
        });
        // reset removed its CNI configuration (clean_network_state); the lab writes it again. reset
        // removed the directory itself, which containerd 1.6 watched: it sees no new file there
        // ("failed to reload cni configuration after receiving fs change event(REMOVE ...)") until
        // it restarts (see the README: what a rejoin on the same disk needs).
        await installLabCni(c);
        await c.lab.exec(cp2, ["systemctl", "restart", "containerd"]);
        const members = await c.etcdMembers();
        assert.deepEqual(
            members.map((m) => [m.name, m.isLearner ?? false]).sort(),
            c.controlPlanes.map((n) => [n, false]),
        );
        await timed("cp-2 Ready", () =>
            waitFor("cp-2 Ready", 180_000, async () => ((await ready(cp2)) ? true : undefined), undefined, 2_000),
        );
        for (const n of c.nodes) assert.ok(await ready(n), `${n} is not Ready`);
    });
});
