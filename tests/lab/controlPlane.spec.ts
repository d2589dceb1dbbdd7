// A real control plane from the program's output: three nodes at the stack's addresses running
// etcd 3.6, kube-apiserver, kube-controller-manager and kube-scheduler 1.35 with the command
// lines of kubeadm's own manifests, behind haproxy standing in for the NLB. The program's admin
// kubeconfig reaches the API through it, verifying the NLB's name against the certificate.
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../system/etcd/cluster";
import { LabControlPlane, type LabNode } from "./controlPlane";
import { renderStack, type Render } from "./render";
import { labTool, requireLabTools } from "./tools";
import { scratchDir } from "../scratch";

const CONTROL_PLANES = ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Requests through the load balancer every `everyMs` until stopped, each with its time and outcome. */
function probeLoop(cp: LabControlPlane, everyMs = 100) {
    let stop = false;
    const samples: { at: number; ok: boolean }[] = [];
    const done = (async () => {
        while (!stop) {
            const at = Date.now();
            samples.push({ at, ok: await cp.readyThroughNlb() });
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

/** A key's raw value in etcd, as the apiserver stored it (etcdctl 3.6 prints values base64 in JSON). */
async function rawEtcdValue(cp: LabControlPlane, node: LabNode, key: string): Promise<Buffer> {
    const r = await cp.etcdctl(node, ["get", key, "-w", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const kvs = (JSON.parse(r.stdout) as { kvs?: { value: string }[] }).kvs ?? [];
    assert.equal(kvs.length, 1, `${key} in etcd`);
    return Buffer.from(kvs[0].value, "base64");
}

/** The encryption configuration the program renders for a key list (place-pki's file on cp-0). */
async function renderedEncryptionConfig(keys: readonly string[]): Promise<string> {
    const r = await renderStack("dev", { pkiAlgorithm: "ECDSA", secretsEncryptionKeys: keys });
    return readFileSync(join(r.node("k8s-dev-cp-0"), "etc", "kubernetes", "pki", "encryption-config.yaml"), "utf8");
}

describe("a real HA control plane from the program's render (lab)", function () {
    let render: Render;
    let cp: LabControlPlane;
    const report: string[] = [];

    before(async function () {
        requireLabTools([
            "kubeadm",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kubectl",
            "etcd",
            "etcdctl",
        ]);
        render = await renderStack("dev", { pkiAlgorithm: "ECDSA" });
        cp = new LabControlPlane(render, scratchDir("k8s-ha-lab-cp-"));
        const started = Date.now();
        await cp.bringUp();
        report.push(
            `bring-up ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(cp.timings)
                .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
                .join("; ")}`,
        );
    });

    after(async () => {
        if (cp) await cp.stopAll();
        if (report.length) console.log(`      lab figures:\n${report.map((r) => `        ${r}`).join("\n")}`);
    });

    it("kubeadm's join-side checks accepted each joining node's certificates after discovery through the NLB name", async () => {
        // bringUp ran `kubeadm join phase control-plane-prepare certs` on nodes 1 and 2: discovery
        // with the token and the program's CA hash, then kubeadm's SAN checks on every certificate.
        const r = await cp.mustKubeadm(cp.node(1), [
            "join",
            "phase",
            "control-plane-prepare",
            "certs",
            "--config",
            "/join-control-plane.yaml",
        ]);
        assert.match(r, /Using the existing "apiserver" certificate and key/);
        assert.match(r, /Using the existing "etcd\/peer" certificate and key/);
        assert.doesNotMatch(r, /Generating/);
    });

    it("kubeadm's join refuses an apiserver certificate that lacks the NLB's name (the check can fail)", async () => {
        const node = cp.node(2);
        const root = scratchDir("k8s-ha-badsan-");
        cpSync(node.root, root, { recursive: true, filter: (src) => !src.includes("/var/") });
        const bad: LabNode = { ...node, root };
        const pki = join(root, "etc", "kubernetes", "pki");
        rmSync(join(pki, "apiserver.crt"));
        const sans = [
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
            `DNS:${node.name}`,
            "IP:10.96.0.1",
            `IP:${node.ip}`,
        ];
        const csr = await run("openssl", [
            "req",
            "-new",
            "-key",
            join(pki, "apiserver.key"),
            "-subj",
            "/CN=kube-apiserver",
            "-out",
            join(root, "a.csr"),
        ]);
        assert.equal(csr.code, 0, csr.stderr);
        const ext = join(root, "ext.cnf");
        writeFileSync(
            ext,
            `subjectAltName=${sans.join(",")}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`,
        );
        const signed = await run("openssl", [
            "x509",
            "-req",
            "-in",
            join(root, "a.csr"),
            "-CA",
            join(pki, "ca.crt"),
            "-CAkey",
            join(pki, "ca.key"),
            "-days",
            "30",
            "-extfile",
            ext,
            "-out",
            join(pki, "apiserver.crt"),
        ]);
        assert.equal(signed.code, 0, signed.stderr);
        const r = await cp.kubeadm(bad, [
            "join",
            "phase",
            "control-plane-prepare",
            "certs",
            "--config",
            "/join-control-plane.yaml",
        ]);
        assert.notEqual(r.code, 0, r.stdout);
        assert.match(r.stderr, new RegExp(`certificate apiserver is invalid.*${render.apiHost.replace(/\./g, "\\.")}`));
    });

    it("etcd has three voting members and every component runs on every node", async () => {
        assert.deepEqual(await cp.votingMembers(), CONTROL_PLANES);
        for (const n of cp.nodes)
            for (const c of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const)
                assert.ok(cp.isRunning(n, c), `${n.name} ${c}`);
    });

    it("the program's admin kubeconfig creates and reads objects through the NLB, verifying its name", async () => {
        const created = await cp.kubectl(["create", "configmap", "before-drills", "--from-literal=k=v"]);
        assert.equal(created.code, 0, created.stderr);
        const read = await cp.kubectl(["get", "configmap", "before-drills", "-o", "jsonpath={.data.k}"]);
        assert.equal(read.stdout, "v");
        const version = await cp.kubectl(["version", "-o", "json"]);
        assert.equal(JSON.parse(version.stdout).serverVersion.gitVersion, "v1.35.4");
        // The same kubeconfig with a name the certificate does not carry is refused: the check is real.
        const wrong = readFileSync(cp.adminKubeconfig, "utf8").replace(
            `tls-server-name: ${render.apiHost}`,
            "tls-server-name: not-the-nlb.example.com",
        );
        const path = join(cp.dir, "wrong.conf");
        writeFileSync(path, wrong, { mode: 0o600 });
        const refused = await run(labTool("kubectl"), [`--kubeconfig=${path}`, "--request-timeout=5s", "get", "ns"]);
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /certificate is valid for .*not not-the-nlb\.example\.com/);
    });

    it("stores a Secret encrypted in etcd (k8s:enc:secretbox:v1:key1:) and reads it back in clear; a ConfigMap stays clear", async () => {
        const clear = `s3cr3t-${randomBytes(12).toString("hex")}`;
        const created = await cp.kubectl([
            "create",
            "secret",
            "generic",
            "at-rest",
            `--from-literal=password=${clear}`,
        ]);
        assert.equal(created.code, 0, created.stderr);
        const cm = await cp.kubectl(["create", "configmap", "at-rest-control", `--from-literal=value=${clear}`]);
        assert.equal(cm.code, 0, cm.stderr);
        for (const node of cp.nodes) {
            // Every member holds the same bytes: what a snapshot of any of them would carry.
            const secret = await rawEtcdValue(cp, node, "/registry/secrets/default/at-rest");
            assert.equal(secret.subarray(0, 26).toString("latin1"), "k8s:enc:secretbox:v1:key1:", node.name);
            assert.ok(!secret.includes(clear), `${node.name}: the clear value is not in etcd`);
            assert.ok(!secret.includes(Buffer.from(clear).toString("base64")), `${node.name}: nor its base64`);
            // The control: a ConfigMap is not encrypted, so the same check finds its value in clear.
            const control = await rawEtcdValue(cp, node, "/registry/configmaps/default/at-rest-control");
            assert.ok(!control.subarray(0, 8).toString("latin1").startsWith("k8s:enc:"), node.name);
            assert.ok(control.includes(clear), `${node.name}: the ConfigMap's value is in clear`);
        }
        const read = await cp.kubectl(["get", "secret", "at-rest", "-o", "jsonpath={.data.password}"]);
        assert.equal(read.code, 0, read.stderr);
        assert.equal(Buffer.from(read.stdout, "base64").toString("utf8"), clear);
    });

    it("rotates the key as the README's runbook says: add key2 second, make it first, rewrite the Secrets, drop key1", async () => {
        const clear = `rotated-${randomBytes(12).toString("hex")}`;
        assert.equal(
            (await cp.kubectl(["create", "secret", "generic", "before-rotation", `--from-literal=v=${clear}`])).code,
            0,
        );
        // Each step: the program's render for that key list on every node, then the apiservers
        // restarted one at a time (what place-pki and rotate do), each back ready before the next.
        const step = async (keys: readonly string[]) => {
            const config = await renderedEncryptionConfig(keys);
            const started = Date.now();
            for (const node of cp.nodes) {
                writeFileSync(join(node.root, "etc", "kubernetes", "pki", "encryption-config.yaml"), config, {
                    mode: 0o600,
                });
                await cp.kill(node, "kube-apiserver");
                await cp.startApiServer(node);
            }
            report.push(
                `key rotation step ${JSON.stringify(keys)}: three apiservers restarted one at a time in ${((Date.now() - started) / 1000).toFixed(1)} s`,
            );
        };
        const prefix = async (name: string) =>
            (await rawEtcdValue(cp, cp.node(0), `/registry/secrets/default/${name}`))
                .subarray(0, 26)
                .toString("latin1");
        await step(["key1", "key2"]);
        assert.equal(await prefix("before-rotation"), "k8s:enc:secretbox:v1:key1:", "key1 still encrypts");
        await step(["key2", "key1"]);
        assert.equal(
            (await cp.kubectl(["create", "secret", "generic", "after-rotation", "--from-literal=v=x"])).code,
            0,
        );
        assert.equal(await prefix("after-rotation"), "k8s:enc:secretbox:v1:key2:", "key2 encrypts new writes");
        assert.equal(
            await prefix("before-rotation"),
            "k8s:enc:secretbox:v1:key1:",
            "old Secrets keep key1 until rewritten",
        );
        const all = await cp.kubectl(["get", "secrets", "-A", "-o", "json"]);
        assert.equal(all.code, 0, all.stderr);
        const replaced = await cp.kubectl(["replace", "-f", "-"], all.stdout, 60_000);
        assert.equal(replaced.code, 0, replaced.stderr);
        assert.equal(await prefix("before-rotation"), "k8s:enc:secretbox:v1:key2:", "rewritten with key2");
        await step(["key2"]);
        const read = await cp.kubectl(["get", "secret", "before-rotation", "-o", "jsonpath={.data.v}"]);
        assert.equal(read.code, 0, read.stderr);
        assert.equal(Buffer.from(read.stdout, "base64").toString("utf8"), clear, "readable without key1");
    });

    it("controller-manager and scheduler hold leader election across the three nodes; a leader's loss moves the lease", async () => {
        for (const lease of ["kube-controller-manager", "kube-scheduler"]) {
            let holder: string | undefined;
            await cp.waitFor(
                `a ${lease} leader`,
                60_000,
                async () => (holder = await leaseHolder(cp, lease)) !== undefined,
            );
            const leader = cp.nodes.find((n) => n.name === holder)!;
            assert.ok(leader, `${lease} held by ${holder}`);
            const killed = Date.now();
            await cp.kill(leader, lease as "kube-controller-manager" | "kube-scheduler");
            let next: string | undefined;
            await cp.waitFor(`a new ${lease} leader`, 60_000, async () => {
                next = await leaseHolder(cp, lease);
                return next !== undefined && next !== holder;
            });
            report.push(
                `${lease} leader failover ${((Date.now() - killed) / 1000).toFixed(1)} s (${holder} -> ${next}; lease 15 s)`,
            );
            cp.start(leader, lease as "kube-controller-manager" | "kube-scheduler");
        }
    });

    it("killing one apiserver: once the health check takes it out, every request through the NLB succeeds again", async () => {
        // The scenarios before restart components; this one starts from a settled control plane
        // (two rounds of the round robin over 3 targets answering), so that "before the kill"
        // speaks of this kill, not of their aftermath (a CI run saw one probe fail there).
        let streak = 0;
        await cp.waitFor("/readyz through the NLB on 6 requests in a row", 60_000, async () => {
            streak = (await cp.readyThroughNlb()) ? streak + 1 : 0;
            return streak >= 6;
        });
        const probe = probeLoop(cp);
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
        report.push(
            `apiserver loss: requests through the NLB failed for ${(windowMs / 1000).toFixed(1)} s after the kill (${failed.length}/${after.length} probes, round robin over 3 targets; health check every 1 s, 2 failures; on AWS every 10 s)`,
        );
        assert.ok(
            samples.filter((s) => s.at < killedAt).every((s) => s.ok),
            "all requests succeed before the kill",
        );
        assert.ok(windowMs <= 5_000, `requests still failed ${windowMs} ms after the kill`);
        assert.ok(
            after.filter((s) => s.at > killedAt + 5_000).every((s) => s.ok),
            "every request after the health check's window succeeds",
        );
        await cp.startApiServer(cp.node(0));
    });

    it("killing one etcd member: writes go on", async () => {
        await cp.kill(cp.node(2), "etcd");
        let ok = false;
        await cp.waitFor(
            "a write with one etcd member down",
            30_000,
            async () =>
                (ok =
                    (await cp.kubectl(["create", "configmap", "during-one-etcd-loss", "--from-literal=k=v"])).code ===
                    0),
        );
        assert.ok(ok);
    });

    it("killing a second etcd member: /readyz fails and writes are refused", async () => {
        await cp.kill(cp.node(1), "etcd");
        await cp.waitFor("every apiserver not ready", 60_000, async () =>
            (await Promise.all(cp.nodes.map((n) => cp.apiStatus(n.ip, "/readyz")))).every((s) => s !== 200),
        );
        const write = await cp.kubectl(
            ["create", "configmap", "without-quorum", "--from-literal=k=v"],
            undefined,
            30_000,
        );
        assert.notEqual(write.code, 0, write.stdout);
    });

    it("healing: with the members back, every object written before is there", async () => {
        cp.start(cp.node(1), "etcd");
        cp.start(cp.node(2), "etcd");
        await cp.waitFor("the API ready through the NLB again", 120_000, async () => cp.readyThroughNlb());
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
