// Certificate rotation on node sandboxes: what `pulumi up --replace=<every LocallySignedCert urn>`
// (README, runbook "Rotate certificates") hands a live cluster. A second render keeps the first
// one's tls state (CAs, keys, CSRs: this process's, as `plan --render --state` keeps a file) and
// issues every leaf anew; every command whose script or stdin changed then runs as the command
// provider runs an update (its `update` script, else `create` again), in the step table's order
// (components/bootstrapSteps.ts planSteps: place-pki on each control plane, the members' idempotent
// re-runs, then rotate node by node), while a read that needs etcd is polled through the NLB stand-in
// (a new connection each, as new clients are balanced; /readyz is reported too, see readyz.ts).
// Order: needs the brought-up cluster (cluster.ts) and leaves it as it found it, with new leaves.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { planSteps } from "../../components/bootstrapSteps";
import { TYPES } from "../../policies/lib/contract";
import { renderStack, type Render } from "../lab/render";
import { LB_IP } from "../lab/controlPlane";
import { labBin } from "../lab/tools";
import { run, waitFor } from "../system/etcd/cluster";
import { broughtUpCluster, stepTimer, type Cluster } from "./cluster";
import { gaps, pollApi, pollReadyz, servedSerial } from "./readyz";

/** `kubeadm certs check-expiration -o json`: one entry per certificate or kubeconfig. */
interface Expiration {
    readonly name: string;
    readonly expirationDate: string;
    readonly externallyManaged: boolean;
    readonly missing: boolean;
}

/** The leaves the stack issues and the kubeconfigs whose client certificates kubeadm signs (rotate.sh renews them). */
const LEAVES = [
    "apiserver",
    "apiserver-etcd-client",
    "apiserver-kubelet-client",
    "etcd-healthcheck-client",
    "etcd-peer",
    "etcd-server",
    "front-proxy-client",
];
const KUBECONFIGS = ["admin.conf", "controller-manager.conf", "scheduler.conf", "super-admin.conf"];

/** A command the update runs: its resource name, the node it is about, where it runs, the script's phase. */
interface Update {
    readonly name: string;
    readonly step: string;
    readonly node: string;
    readonly on: string;
    readonly phase: "create" | "update";
}

const scriptFile = (r: Render, node: string, step: string, phase: string) =>
    join(r.node(node), "scripts", `${step}.${phase}.sh`);
const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : undefined);

describe("node sandboxes: certificate rotation, every leaf re-issued from the same CAs, node by node", function () {
    let c: Cluster;
    let first: Render;
    let second: Render;
    let updates: Update[];
    const expiryBefore: Record<string, Record<string, string>> = {};
    const servedBefore: Record<string, string> = {};
    const { timings, timed } = stepTimer();

    const expirations = async (node: string): Promise<Record<string, string>> => {
        const r = await c.lab.exec(node, ["kubeadm", "certs", "check-expiration", "-o", "json"]);
        assert.equal(r.code, 0, `${node}: kubeadm certs check-expiration: ${r.stderr}`);
        const list = (JSON.parse(r.stdout) as { certificates: Expiration[] }).certificates.filter((e) => !e.missing);
        for (const e of list) assert.equal(e.externallyManaged, false, `${node}: ${e.name} is externally managed`);
        return Object.fromEntries(list.map((e) => [e.name, e.expirationDate]));
    };
    const served = async (): Promise<Record<string, string>> => {
        const out: Record<string, string> = { nlb: await servedSerial(LB_IP, first.apiHost) };
        for (const n of c.controlPlanes) out[n] = await servedSerial(c.lab.node(n).ip, first.apiHost);
        return out;
    };

    before(async function () {
        // rotate.sh restarts the static pods through crictl (lib/static-pods.sh).
        if (!existsSync(join(labBin(), "crictl")))
            throw new Error(
                `${join(labBin(), "crictl")} is missing: build it with 'npm run lab:tools -- --toolset cri-tools'`,
            );
        c = await broughtUpCluster();
        first = c.render;
        for (const n of c.controlPlanes) expiryBefore[n] = await expirations(n);
        Object.assign(servedBefore, await served());
        // The rotation runbook's `up`: the same state, every LocallySignedCert replaced.
        second = await timed("second render (leaves replaced)", () =>
            renderStack("dev", {}, undefined, { replaceTypes: [TYPES.locallySignedCert] }),
        );
        // What the engine would update: every command whose script text or stdin changed, in
        // registration order (a valid order for the dependencies the engine follows).
        const backup = c.controlPlanes.some((n) => existsSync(scriptFile(first, n, "etcd-backup", "create")));
        updates = [];
        for (const p of planSteps(c.controlPlanes, c.workers, { etcdBackup: backup })) {
            const step = p.step.action;
            const on = p.step.runsOn === "node 0" ? c.node0 : p.node;
            const phase = existsSync(scriptFile(second, p.node, step, "update"))
                ? "update"
                : existsSync(scriptFile(second, p.node, step, "create"))
                  ? "create"
                  : undefined;
            // A command with neither (delete only: reset, remove-*) runs nothing on an update.
            if (!phase) continue;
            const changed =
                read(scriptFile(second, p.node, step, phase)) !== read(scriptFile(first, p.node, step, phase)) ||
                read(join(second.node(p.node), "stdin", step)) !== read(join(first.node(p.node), "stdin", step));
            if (changed) updates.push({ name: p.name, step, node: p.node, on, phase });
        }
    });

    after(function () {
        console.log(`      rotation timings (s): ${JSON.stringify(timings)}`);
        if (second) rmSync(second.dir, { recursive: true, force: true });
    });

    it("the second render keeps every CA and key and re-issues every leaf: place-pki's files and rotate's text change, on every control plane", function () {
        const pki = (r: Render, n: string, f: string) => readFileSync(join(r.node(n), "etc/kubernetes/pki", f));
        for (const n of c.controlPlanes) {
            for (const f of ["ca.crt", "ca.key", "etcd/ca.crt", "front-proxy-ca.crt", "sa.key", "apiserver.key"])
                assert.ok(pki(second, n, f).equals(pki(first, n, f)), `${n}: ${f} changed`);
            const a = new X509Certificate(pki(first, n, "apiserver.crt"));
            const b = new X509Certificate(pki(second, n, "apiserver.crt"));
            assert.notEqual(b.serialNumber, a.serialNumber, `${n}: apiserver.crt kept its serial`);
            assert.ok(b.verify(new X509Certificate(pki(first, n, "ca.crt")).publicKey));
        }
        const names = updates.map((u) => `${u.name}:${u.phase}`);
        console.log(`      commands the update runs, in order: ${names.join(", ")}`);
        for (const n of c.controlPlanes) {
            assert.ok(names.includes(`${n}-place-pki:create`), `${n}'s place-pki is not updated`);
            assert.ok(names.includes(`${n}-rotate:update`), `${n}'s rotate is not updated`);
        }
        // rotate goes node after node, each after every control plane's PKI is placed.
        const rotates = names.filter((x) => x.endsWith("-rotate:update"));
        assert.deepEqual(
            rotates,
            c.controlPlanes.map((n) => `${n}-rotate:update`),
        );
        const lastPlace = Math.max(...c.controlPlanes.map((n) => names.indexOf(`${n}-place-pki:create`)));
        assert.ok(names.indexOf(rotates[0]) > lastPlace);
    });

    it("runs every changed command as the update does, rotate node by node, the API answering through the NLB stand-in throughout", async function () {
        const poller = pollApi(join(first.dir, "admin.conf"), first.apiHost);
        // /readyz through the NLB on one kept connection (the upgrade scenario's probe), reported only.
        const readyz = pollReadyz(join(first.dir, "admin.conf"), first.apiHost);
        // Each apiserver directly too, to tell which node an NLB gap came from (reported, not asserted).
        const direct = c.controlPlanes.map(
            (n) => [n, pollReadyz(join(first.dir, "admin.conf"), first.apiHost, 500, c.lab.node(n).ip)] as const,
        );
        const started = Date.now();
        const at = (t: number) => `+${((t - started) / 1000).toFixed(1)} s`;
        const spans: string[] = [];
        try {
            for (const u of updates) {
                const from = Date.now();
                const r = await timed(`${u.name} (${u.phase})`, () =>
                    c.runFile(
                        u.on,
                        scriptFile(second, u.node, u.step, u.phase),
                        read(join(second.node(u.node), "stdin", u.step)) ?? "",
                        900_000,
                    ),
                );
                if (u.step === "place-pki") assert.match(r.stdout, /summary: [1-9]\d* changed/);
                spans.push(`${u.name} ${at(from)}..${at(Date.now())}`);
                if (u.step === "rotate") {
                    console.log(
                        `      ${u.node}'s rotate (${at(from)}):\n${r.stdout.trimEnd().replace(/^/gm, "        ")}`,
                    );
                    assert.match(r.stdout, /renewed the client certificate in admin\.conf/);
                    assert.match(r.stdout, new RegExp(`rotated the certificates of ${u.node}`));
                }
            }
        } finally {
            await Promise.all([poller.stop(), readyz.stop(), ...direct.map(([, p]) => p.stop())]);
        }
        timings["rotation (all commands)"] = (Date.now() - started) / 1000;
        const found = gaps(poller.polls);
        console.log(`      commands run: ${spans.join(", ")}`);
        for (const [n, p] of direct)
            console.log(
                `      /readyz of ${n} directly: ${JSON.stringify(gaps(p.polls).map((g) => ({ ...g, from: at(g.from) })))}`,
            );
        console.log(
            `      /readyz through the NLB on a kept connection: ${JSON.stringify(gaps(readyz.polls).map((g) => ({ ...g, from: at(g.from) })))}`,
        );
        console.log(
            `      GET the default Namespace through the NLB, a new connection each: ${poller.polls.length} polls, ${poller.polls.filter((p) => !p.ok).length} failed, gaps: ${JSON.stringify(found.map((g) => ({ ...g, from: at(g.from) })))}`,
        );
        assert.ok(poller.polls.length > 20, "too few polls to speak of 'throughout'");
        assert.deepEqual(found, [], "the API stopped answering through the NLB stand-in");
    });

    it("kubeadm certs check-expiration shows later dates on every control plane for every leaf and kubeconfig client certificate", async function () {
        for (const n of c.controlPlanes) {
            const after = await expirations(n);
            const r = await c.lab.exec(n, ["kubeadm", "certs", "check-expiration"]);
            console.log(`      ${n}:\n${r.stdout.replace(/^/gm, "        ")}`);
            for (const name of [...LEAVES, ...KUBECONFIGS]) {
                // kubeadm writes super-admin.conf only where it ran init (node 0, unless a scenario
                // before replaced node 0 by a join): absent before, it must stay absent.
                if (name === "super-admin.conf" && !expiryBefore[n][name] && !after[name]) continue;
                assert.ok(expiryBefore[n][name] && after[name], `${n}: ${name} not listed`);
                assert.ok(
                    Date.parse(after[name]) > Date.parse(expiryBefore[n][name]),
                    `${n}: ${name} expires ${after[name]}, not later than ${expiryBefore[n][name]}`,
                );
            }
        }
    });

    it("every apiserver, and the NLB stand-in, serves the new certificate, and the cluster still works: every node Ready", async function () {
        const now = await served();
        for (const n of c.controlPlanes) {
            const issued = new X509Certificate(readFileSync(join(second.node(n), "etc/kubernetes/pki/apiserver.crt")));
            assert.notEqual(now[n], servedBefore[n], `${n} still serves its old certificate`);
            assert.equal(now[n], issued.serialNumber, `${n} serves a certificate the second render did not issue`);
        }
        assert.notEqual(now.nlb, servedBefore.nlb);
        await waitFor(
            "every Node Ready",
            180_000,
            async () => {
                const r = await c.kubectl([
                    "get",
                    "nodes",
                    "-o",
                    'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
                ]);
                const ready = r.stdout.trim().split("\n");
                return ready.length === c.nodes.length && ready.every((s) => s === "True") ? true : undefined;
            },
            () => c.lab.logs(c.node0),
        );
        // The new admin credential (the stack's kubeconfig output changed) works too.
        const kc = await run(
            join(labBin(), "kubectl"),
            [
                "--kubeconfig",
                join(second.dir, "admin.conf"),
                "--server",
                `https://${LB_IP}:6443`,
                "--tls-server-name",
                second.apiHost,
                "--request-timeout=10s",
                "get",
                "--raw",
                "/readyz",
            ],
            { timeoutMs: 30_000 },
        );
        assert.equal(kc.stdout.trim(), "ok", kc.stderr);
    });
});
