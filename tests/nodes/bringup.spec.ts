// Bring-up on node sandboxes (tests/nodes/sandbox.ts): the stack's own rendered scripts for the
// dev stack, run unchanged on namespaces that behave like its EC2 instances, with a real kubelet
// and Debian's containerd running kubeadm's static pods from images built here. Only the package
// installs are replaced, by the lab's overlay (tests/nodes/sandbox/bin, listed in the README).
// Node 0 initialises the cluster with its first-control-plane script; the other control planes
// exist (their addresses answer, nothing listens), which is what lets that script decide "init".
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderStack, type Render } from "../lab/render";
import { labBin, requireLabTools } from "../lab/tools";
import { run, waitFor } from "../system/etcd/cluster";
import { LB_IP } from "../lab/controlPlane";
import { imageArchive, kubeadmImages } from "./images";
import { NodeSandboxes } from "./sandbox";

describe("node sandboxes: node 0 brought up by the stack's own scripts (real kubelet, containerd, kubeadm init)", function () {
    let render: Render;
    let lab: NodeSandboxes;
    let dir: string;
    let cp0: string;
    let archives: string[];
    const timings: Record<string, number> = {};
    const timed = async <T>(step: string, f: () => Promise<T>): Promise<T> => {
        const started = Date.now();
        try {
            return await f();
        } finally {
            timings[step] = (Date.now() - started) / 1000;
        }
    };
    const script = (node: string, name: string) => join(render.node(node), "scripts", `${name}.sh`);
    const stdin = (node: string, name: string) => join(render.node(node), "stdin", name);
    const readFile = (f: string) => readFileSync(f, "utf8");
    /** kubectl from the host through the NLB stand-in, with the program's admin kubeconfig. */
    const kubectl = (args: readonly string[]) =>
        run(join(labBin(), "kubectl"), ["--kubeconfig", join(render.dir, "admin.conf"), "--server", `https://${LB_IP}:6443`, "--tls-server-name", render.apiHost, "--request-timeout=10s", ...args], { timeoutMs: 30_000 });

    before(async function () {
        requireLabTools(["kubeadm", "kubelet", "kubectl"]);
        render = await renderStack("dev");
        const cps = render.nodes.filter((n) => n.role === "control-plane");
        cp0 = cps[0].name;
        archives = await timed("images (build or cache)", async () => Promise.all((await kubeadmImages("v1.35.4")).map((ref) => imageArchive(ref))));
        dir = mkdtempSync(join(tmpdir(), "k8s-ha-nodes-"));
        lab = new NodeSandboxes(dir, render.apiHost);
        await timed("sandboxes", async () => {
            for (const n of cps) await lab.add(n.name, n.privateIp);
        });
        lab.startNlb(cps.map((n) => n.name));
    });

    after(async function () {
        if (lab) await lab.stopAll();
        console.log(`      timings (s): ${JSON.stringify(timings)}`);
        if (dir && !process.env.K8S_HA_NODES_KEEP) rmSync(dir, { recursive: true, force: true });
        if (render) rmSync(render.dir, { recursive: true, force: true });
    });

    it("prepares node 0 and stages its packages: prepare, the first install and place-pki, unchanged", async function () {
        await timed("prepare", () => lab.script(cp0, script(cp0, "prepare.create")));
        const active = await lab.exec(cp0, ["systemctl", "is-active", "containerd"]);
        assert.equal(active.stdout.trim(), "active", lab.logs(cp0));
        await timed("image import", () => lab.importImages(cp0, archives));
        const upgrade = await timed("upgrade (first install)", () => lab.script(cp0, script(cp0, "upgrade.create"), readFile(stdin(cp0, "upgrade"))));
        assert.match(upgrade.stdout, /kubelet and kubeadm 1\.35\.4 are installed already/);
        // What the kubelet package's install does on an instance (upgrade.sh enables it too).
        await lab.exec(cp0, ["systemctl", "enable", "kubelet"]);
        const pki = await timed("place-pki", () => lab.script(cp0, script(cp0, "place-pki.create"), readFile(stdin(cp0, "place-pki"))));
        assert.match(pki.stdout, /summary: 23 changed, 0 unchanged/);
    });

    it("initialises the cluster on node 0: kubeadm init, and /readyz answers through the NLB stand-in", async function () {
        const init = await timed("init", () => lab.script(cp0, script(cp0, "init.create"), readFile(stdin(cp0, "init")), 900_000));
        assert.match(init.stdout, /no other control plane runs etcd or an apiserver \(2 probed, every connection refused\): a new cluster/);
        assert.match(init.stdout, /initialised k8s-dev-cp-0; the API answers at/);
        const readyz = await kubectl(["get", "--raw", "/readyz"]);
        assert.equal(readyz.stdout.trim(), "ok", `${readyz.stderr}\n${lab.logs(cp0)}`);
    });

    it("runs etcd, kube-apiserver, -controller-manager and -scheduler as the kubelet's static pods in containerd", async function () {
        const containers = await lab.exec(cp0, ["ctr", "-n", "k8s.io", "containers", "ls"]);
        for (const image of ["etcd:3.6.6-0", "kube-apiserver:v1.35.4", "kube-controller-manager:v1.35.4", "kube-scheduler:v1.35.4"]) {
            assert.ok(containers.stdout.includes(`registry.k8s.io/${image}`), `no container of ${image} in ${cp0}'s containerd:\n${containers.stdout}`);
        }
        // The kubelet reports them: mirror pods, Running, on node 0.
        const pods = await waitFor("the control plane's mirror pods Running", 120_000, async () => {
            const r = await kubectl(["-n", "kube-system", "get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{\"\\n\"}{end}"]);
            const running = r.stdout.split("\n").filter((l) => l.endsWith(`${cp0} Running`)).map((l) => l.split(" ")[0]);
            return ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"].every((c) => running.includes(`${c}-${cp0}`)) ? running : undefined;
        });
        assert.ok(pods.includes(`etcd-${cp0}`));
        const node = await kubectl(["get", "node", cp0, "-o", "jsonpath={.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion}"]);
        assert.match(node.stdout, /^v1\.35\.4 containerd:\/\/1\.6\./);
    });

    it("leaves an initialised node alone when its init runs again (the script's guard)", async function () {
        const again = await timed("init again", () => lab.script(cp0, script(cp0, "init.create"), readFile(stdin(cp0, "init"))));
        assert.match(again.stdout, /already initialised; nothing to do/);
        assert.doesNotMatch(again.stdout, /kubeadm init of/);
    });

    it("joins node 1 as a second control plane: kubeadm join --control-plane, etcd then has two voting members", async function () {
        const cp1 = render.nodes.filter((n) => n.role === "control-plane")[1].name;
        await timed("prepare (node 1)", () => lab.script(cp1, script(cp1, "prepare.create")));
        await timed("image import (node 1)", () => lab.importImages(cp1, archives));
        await lab.script(cp1, script(cp1, "upgrade.create"), readFile(stdin(cp1, "upgrade")));
        await lab.exec(cp1, ["systemctl", "enable", "kubelet"]);
        await lab.script(cp1, script(cp1, "place-pki.create"), readFile(stdin(cp1, "place-pki")));
        const joined = await timed("join (node 1)", () => lab.script(cp1, script(cp1, "join.create"), readFile(stdin(cp1, "join")), 900_000));
        assert.match(joined.stdout, /kubeadm join of k8s-dev-cp-1 \(control-plane\)/);
        const pki = join(render.node(cp0), "etc", "kubernetes", "pki", "etcd");
        const members = await run(join(labBin(), "etcdctl"), ["--endpoints", `https://${lab.node(cp0).ip}:2379`, "--cacert", join(pki, "ca.crt"), "--cert", join(pki, "healthcheck-client.crt"), "--key", join(pki, "healthcheck-client.key"), "member", "list", "-w", "json"], { timeoutMs: 20_000 });
        const list = (JSON.parse(members.stdout) as { members: { name: string; isLearner?: boolean }[] }).members;
        assert.deepEqual(list.map((m) => [m.name, m.isLearner ?? false]).sort(), [[cp0, false], [cp1, false]]);
        const readyz = await kubectl(["get", "--raw", "/readyz"]);
        assert.equal(readyz.stdout.trim(), "ok");
    });
});
