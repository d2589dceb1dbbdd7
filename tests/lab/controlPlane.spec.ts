// A real control plane from the program's output: three nodes at the stack's addresses running
// etcd 3.6, kube-apiserver, kube-controller-manager and kube-scheduler 1.35 with the command
// lines of kubeadm's own manifests, behind haproxy standing in for the NLB. The program's admin
// kubeconfig reaches the API through it, verifying the NLB's name against the certificate.
import * as assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../system/etcd/cluster";
import { LabControlPlane, LB_IP, type LabNode } from "./controlPlane";
import { renderStack, type Render } from "./render";
import { labTool, requireLabTools } from "./tools";

const CONTROL_PLANES = ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Requests through the load balancer every `everyMs` until stopped, each with its time and outcome. */
function probeLoop(cp: LabControlPlane, host: string, everyMs = 100) {
    let stop = false;
    const samples: { at: number; ok: boolean }[] = [];
    const done = (async () => {
        while (!stop) {
            const at = Date.now();
            samples.push({ at, ok: (await cp.apiStatus(LB_IP, "/readyz", host)) === 200 });
            await sleep(everyMs);
        }
    })();
    return {
        async finish() {
            stop = true;
            await done;
            return samples;
        },
    };
}

async function leaseHolder(cp: LabControlPlane, lease: string): Promise<string | undefined> {
    const r = await cp.kubectl(["-n", "kube-system", "get", "lease", lease, "-o", "jsonpath={.spec.holderIdentity}"]);
    return r.code === 0 && r.stdout ? r.stdout.split("_")[0] : undefined;
}

describe("a real HA control plane from the program's render (lab)", function () {
    let render: Render;
    let cp: LabControlPlane;
    const report: string[] = [];

    before(async function () {
        requireLabTools(["kubeadm", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "etcdctl"]);
        render = await renderStack("dev", { pkiAlgorithm: "ECDSA" });
        cp = new LabControlPlane(render, mkdtempSync(join(tmpdir(), "k8s-ha-lab-cp-")));
        const started = Date.now();
        await cp.bringUp();
        report.push(`bring-up ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(cp.timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join("; ")}`);
    });

    after(async () => {
        if (cp) await cp.stopAll();
        if (report.length) console.log(`      lab figures:\n${report.map((r) => `        ${r}`).join("\n")}`);
    });

    it("kubeadm's join-side checks accepted each joining node's certificates after discovery through the NLB name", async () => {
        // bringUp ran `kubeadm join phase control-plane-prepare certs` on nodes 1 and 2: discovery
        // with the token and the program's CA hash, then kubeadm's SAN checks on every certificate.
        const r = await cp.mustKubeadm(cp.node(1), ["join", "phase", "control-plane-prepare", "certs", "--config", "/join-control-plane.yaml"]);
        assert.match(r, /Using the existing "apiserver" certificate and key/);
        assert.match(r, /Using the existing "etcd\/peer" certificate and key/);
        assert.doesNotMatch(r, /Generating/);
    });

    it("kubeadm's join refuses an apiserver certificate that lacks the NLB's name (the check can fail)", async () => {
        const node = cp.node(2);
        const root = mkdtempSync(join(tmpdir(), "k8s-ha-badsan-"));
        cpSync(node.root, root, { recursive: true, filter: (src) => !src.includes("/var/") });
        const bad: LabNode = { ...node, root };
        const pki = join(root, "etc", "kubernetes", "pki");
        rmSync(join(pki, "apiserver.crt"));
        const sans = ["DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local", `DNS:${node.name}`, "IP:10.96.0.1", `IP:${node.ip}`];
        const csr = await run("openssl", ["req", "-new", "-key", join(pki, "apiserver.key"), "-subj", "/CN=kube-apiserver", "-out", join(root, "a.csr")]);
        assert.equal(csr.code, 0, csr.stderr);
        const ext = join(root, "ext.cnf");
        writeFileSync(ext, `subjectAltName=${sans.join(",")}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`);
        const signed = await run("openssl", ["x509", "-req", "-in", join(root, "a.csr"), "-CA", join(pki, "ca.crt"), "-CAkey", join(pki, "ca.key"), "-days", "30", "-extfile", ext, "-out", join(pki, "apiserver.crt")]);
        assert.equal(signed.code, 0, signed.stderr);
        const r = await cp.kubeadm(bad, ["join", "phase", "control-plane-prepare", "certs", "--config", "/join-control-plane.yaml"]);
        assert.notEqual(r.code, 0, r.stdout);
        assert.match(r.stderr, new RegExp(`certificate apiserver is invalid.*${render.apiHost.replace(/\./g, "\\.")}`));
    });

    it("etcd has three voting members and every component runs on every node", async () => {
        assert.deepEqual(await cp.votingMembers(), CONTROL_PLANES);
        for (const n of cp.nodes) for (const c of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const) assert.ok(cp.isRunning(n, c), `${n.name} ${c}`);
    });

    it("the program's admin kubeconfig creates and reads objects through the NLB, verifying its name", async () => {
        const created = await cp.kubectl(["create", "configmap", "before-drills", "--from-literal=k=v"]);
        assert.equal(created.code, 0, created.stderr);
        const read = await cp.kubectl(["get", "configmap", "before-drills", "-o", "jsonpath={.data.k}"]);
        assert.equal(read.stdout, "v");
        const version = await cp.kubectl(["version", "-o", "json"]);
        assert.equal(JSON.parse(version.stdout).serverVersion.gitVersion, "v1.35.4");
        // The same kubeconfig with a name the certificate does not carry is refused: the check is real.
        const wrong = readFileSync(cp.adminKubeconfig, "utf8").replace(`tls-server-name: ${render.apiHost}`, "tls-server-name: not-the-nlb.example.com");
        const path = join(cp.dir, "wrong.conf");
        writeFileSync(path, wrong, { mode: 0o600 });
        const refused = await run(labTool("kubectl"), [`--kubeconfig=${path}`, "--request-timeout=5s", "get", "ns"]);
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /certificate is valid for .*not not-the-nlb\.example\.com/);
    });

    it("controller-manager and scheduler hold leader election across the three nodes; a leader's loss moves the lease", async () => {
        for (const lease of ["kube-controller-manager", "kube-scheduler"]) {
            let holder: string | undefined;
            await cp.waitFor(`a ${lease} leader`, 60_000, async () => (holder = await leaseHolder(cp, lease)) !== undefined);
            const leader = cp.nodes.find((n) => n.name === holder)!;
            assert.ok(leader, `${lease} held by ${holder}`);
            const killed = Date.now();
            await cp.kill(leader, lease as "kube-controller-manager" | "kube-scheduler");
            let next: string | undefined;
            await cp.waitFor(`a new ${lease} leader`, 60_000, async () => {
                next = await leaseHolder(cp, lease);
                return next !== undefined && next !== holder;
            });
            report.push(`${lease} leader failover ${((Date.now() - killed) / 1000).toFixed(1)} s (${holder} -> ${next}; lease 15 s)`);
            cp.start(leader, lease as "kube-controller-manager" | "kube-scheduler");
        }
    });

    it("killing one apiserver: once the health check takes it out, every request through the NLB succeeds again", async () => {
        const probe = probeLoop(cp, render.apiHost);
        await sleep(1_000);
        const killedAt = Date.now();
        await cp.kill(cp.node(0), "kube-apiserver");
        await sleep(8_000);
        const mid = await cp.kubectl(["create", "configmap", "during-apiserver-loss", "--from-literal=k=v"]);
        const samples = await probe.finish();
        assert.equal(mid.code, 0, mid.stderr);
        const after = samples.filter((s) => s.at >= killedAt);
        const failed = after.filter((s) => !s.ok);
        const windowMs = failed.length ? failed[failed.length - 1].at - killedAt : 0;
        report.push(`apiserver loss: requests through the NLB failed for ${(windowMs / 1000).toFixed(1)} s after the kill (${failed.length}/${after.length} probes, round robin over 3 targets; health check every 1 s, 2 failures; on AWS every 10 s)`);
        assert.ok(samples.filter((s) => s.at < killedAt).every((s) => s.ok), "all requests succeed before the kill");
        assert.ok(windowMs <= 5_000, `requests still failed ${windowMs} ms after the kill`);
        assert.ok(after.filter((s) => s.at > killedAt + 5_000).every((s) => s.ok), "every request after the health check's window succeeds");
        await cp.startApiServer(cp.node(0));
    });

    it("killing one etcd member: writes go on", async () => {
        await cp.kill(cp.node(2), "etcd");
        let ok = false;
        await cp.waitFor("a write with one etcd member down", 30_000, async () => (ok = (await cp.kubectl(["create", "configmap", "during-one-etcd-loss", "--from-literal=k=v"])).code === 0));
        assert.ok(ok);
    });

    it("killing a second etcd member: /readyz fails and writes are refused", async () => {
        await cp.kill(cp.node(1), "etcd");
        await cp.waitFor("every apiserver not ready", 60_000, async () => (await Promise.all(cp.nodes.map((n) => cp.apiStatus(n.ip, "/readyz")))).every((s) => s !== 200));
        const write = await cp.kubectl(["create", "configmap", "without-quorum", "--from-literal=k=v"], undefined, 30_000);
        assert.notEqual(write.code, 0, write.stdout);
    });

    it("healing: with the members back, every object written before is there", async () => {
        cp.start(cp.node(1), "etcd");
        cp.start(cp.node(2), "etcd");
        await cp.waitFor("the API ready through the NLB again", 120_000, async () => (await cp.apiStatus(LB_IP, "/readyz", render.apiHost)) === 200);
        for (const name of ["before-drills", "during-apiserver-loss", "during-one-etcd-loss"]) {
            let r = await cp.kubectl(["get", "configmap", name, "-o", "jsonpath={.data.k}"]);
            for (let i = 0; i < 20 && r.code !== 0; i++) {
                await sleep(500);
                r = await cp.kubectl(["get", "configmap", name, "-o", "jsonpath={.data.k}"]);
            }
            assert.equal(r.stdout, "v", `${name}: ${r.stderr}`);
        }
        assert.deepEqual(await cp.votingMembers(), CONTROL_PLANES);
    });
});
