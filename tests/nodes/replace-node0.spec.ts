// Replace node 0 on node sandboxes: node 0 is reset by its own reset script (what `pulumi up` runs
// when the instance goes away), given its PKI again by place-pki, and then runs its
// first-control-plane script (its init command) with the other control planes up, while the NLB
// stand-in refuses every connection for a few seconds. The script must see that the cluster
// exists (its direct probes of the other control planes) and join it: never kubeadm init, which
// would start a second one-member etcd behind the same NLB.
// Order: needs the brought-up cluster (cluster.ts: bringup.spec.ts's, or brought up here) and
// leaves it as it found it: three voting members, every node Ready.
import assert from "node:assert/strict";
import { waitFor } from "../system/etcd/cluster";
import { broughtUpCluster, everyNodeReady, stepTimer, type Cluster } from "./cluster";
import { installLabCni } from "./cni";

/** How long the NLB stand-in refuses connections while node 0's script starts. */
const NLB_REFUSAL_MS = 12_000;

describe("node sandboxes: replace node 0 (reset, then its first-control-plane script with the others up and the NLB refusing)", function () {
    let c: Cluster;
    const { timings, timed } = stepTimer();
    /** The etcd cluster's ID as the given member reports it (etcdctl endpoint status). */
    const clusterId = async (member: string): Promise<string> => {
        const r = await c.etcdctl(["endpoint", "status", "-w", "json"], [member]);
        assert.equal(r.code, 0, r.stderr);
        // Read as text: a uint64 loses digits as a JSON number.
        const id = /"cluster_id":(\d+)/.exec(r.stdout)?.[1];
        assert.ok(id, `no cluster_id in ${r.stdout}`);
        return id;
    };
    let idBefore: string;

    before(async function () {
        c = await broughtUpCluster();
    });

    after(function () {
        console.log(`      replace-node-0 timings (s): ${JSON.stringify(timings)}`);
    });

    it("resets node 0 by its reset script: its etcd member and Node are gone, two voting members answer", async function () {
        const [, cp1] = c.controlPlanes;
        idBefore = await clusterId(cp1);
        // An object written before: the joined node 0 must find the same cluster, not a new one.
        const marker = await c.kubectl(
            ["-n", "default", "create", "configmap", "k8s-ha-replace-node0", "--from-literal=cluster-id=" + idBefore],
            30_000,
        );
        assert.equal(marker.code, 0, marker.stderr);
        const r = await timed("reset node 0", () => c.runScript(c.node0, "reset.delete", "reset"));
        assert.match(r.stdout, new RegExp(`removed ${c.node0}$`, "m"));
        const members = await c.etcdMembers(c.controlPlanes.slice(1));
        assert.deepEqual(members.map((m) => [m.name, m.isLearner ?? false]).sort(), [
            [c.controlPlanes[1], false],
            [c.controlPlanes[2], false],
        ]);
        assert.equal((await c.kubectl(["get", "node", c.node0, "--ignore-not-found", "-o", "name"])).stdout.trim(), "");
        for (const f of ["/etc/kubernetes/admin.conf", "/var/lib/k8s-ha/initialised"])
            assert.equal((await c.lab.exec(c.node0, ["test", "-e", f])).code, 1, `reset left ${f}`);
    });

    it("runs node 0's first-control-plane script again while the NLB refuses: it joins (kubeadm join), never kubeadm init", async function () {
        await timed("place-pki node 0", () => c.runScript(c.node0, "place-pki.create", "place-pki"));
        const refusal = c.lab.refuseNlbFor(NLB_REFUSAL_MS);
        // The stand-in has stopped listening before the script starts.
        await waitFor("the NLB stand-in refusing", 10_000, async () =>
            (await c.kubectl(["get", "--raw", "/readyz"], 5_000)).stderr.includes("refused") ? true : undefined,
        );
        const r = await timed("first-control-plane on node 0", () => c.runScript(c.node0, "init.create", "init"));
        await refusal;
        assert.match(
            r.stdout,
            /the cluster already answers and k8s-dev-cp-0 never initialised: joining it \(node 0 was replaced\)/,
        );
        // The join itself met the refusal: its wait for the API through the NLB retried.
        assert.match(r.stdout, /waiting for the API at https:\/\/[^ ]+:6443\/readyz \(attempt 1\//);
        assert.match(r.stdout, /kubeadm join of k8s-dev-cp-0 \(control-plane\)/);
        assert.match(r.stdout, /joined k8s-dev-cp-0 \(control-plane\)/);
        assert.doesNotMatch(r.stdout, /kubeadm init of|a new cluster/);
        assert.equal((await c.lab.exec(c.node0, ["test", "-e", "/var/lib/k8s-ha/joined"])).code, 0);
        assert.equal((await c.lab.exec(c.node0, ["test", "-e", "/var/lib/k8s-ha/initialised"])).code, 1);
    });

    it("node 0 is a joined control plane of the same cluster: same etcd cluster ID and objects, three voting members, every node Ready", async function () {
        assert.equal(await clusterId(c.node0), idBefore, "node 0's etcd is another cluster");
        const marker = await c.kubectl([
            "-n",
            "default",
            "get",
            "configmap",
            "k8s-ha-replace-node0",
            "-o",
            "jsonpath={.data.cluster-id}",
        ]);
        assert.equal(marker.stdout.trim(), idBefore);
        const members = await c.etcdMembers();
        assert.deepEqual(
            members.map((m) => [m.name, m.isLearner ?? false]).sort(),
            c.controlPlanes.map((n) => [n, false]),
        );
        // reset removed node 0's CNI configuration; the lab writes it again, and containerd 1.6
        // needs a restart to see the directory made again (as cp-2's rejoin, remove-control-plane.spec.ts).
        await installLabCni(c);
        await c.lab.exec(c.node0, ["systemctl", "restart", "containerd"]);
        await timed("every node Ready", () => everyNodeReady(c, c.node0));
        const role = await c.kubectl(["get", "node", c.node0, "-o", "jsonpath={.metadata.labels}"]);
        assert.match(role.stdout, /node-role\.kubernetes\.io\/control-plane/);
        assert.equal((await c.kubectl(["get", "--raw", "/readyz"])).stdout.trim(), "ok");
        await c.kubectl(["-n", "default", "delete", "configmap", "k8s-ha-replace-node0"]);
    });
});
