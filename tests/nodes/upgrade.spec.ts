// A minor upgrade on node sandboxes (tests/nodes/sandbox.ts): three control planes of the dev stack
// brought up at the previous minor by the stack's own scripts rendered at kubernetesVersion 1.34.x
// (the plan's render of that configuration), then upgraded one node after another to 1.35.4 by the
// upgrade scripts the plan renders for 1.35.4 (what `pulumi up` re-runs after the version bump).
// Only the package installs are replaced: the lab's package source (sandbox/packages) serves the
// versions the lab builds (toolsets k8s-prev and k8s) to apt-get, apt-cache and curl, and a
// package install stages that version's binaries on the node (README, "Node sandboxes").
// Meanwhile the API is read through the NLB stand-in, a new connection each, and every gap fails
// it. (The lab's CoreDNS serving a cluster is coredns.spec.ts.)
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { renderStack, type Render } from "../lab/render";
import { labBin, requireLabTools } from "../lab/tools";
import { run, waitFor } from "../system/etcd/cluster";
import { LB_IP } from "../lab/controlPlane";
import { imageArchive, kubeadmImages } from "./images";
import { NodeSandboxes, SANDBOX_DIR, stagedDir } from "./sandbox";
import { runOver, sshThroughBastion, stepTimer } from "./cluster";
import type { SshAccess } from "./ssh";
import { labPodCidrAt, writeLabCni } from "./cni";
import { gaps, pollApi, pollReadyz, type Poll } from "./readyz";

/** The k8s.io/kubernetes a toolset builds, as 1.N.P (tools/lab/NAME/go.mod). */
const toolsetVersion = (name: string) =>
    /^require k8s\.io\/kubernetes v(1\.\d+\.\d+)$/m.exec(
        readFileSync(resolve(__dirname, "..", "..", "tools", "lab", name, "go.mod"), "utf8"),
    )![1];
/** The previous minor (toolset k8s-prev) and the stack's default, the k8s toolset's (tests/labPins.spec.ts). */
const PREV = toolsetVersion("k8s-prev");
const TARGET = toolsetVersion("k8s");
/** Two minors past the previous one: a skipped minor from a cluster at PREV. */
const minor = (v: string) => Number(v.split(".")[1]);
/** The taint a kubelet with an external cloud provider registers with, until the CCM initialises the node. */
const UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized:NoSchedule";
const SKIPPED = `1.${minor(PREV) + 2}.0`;
const PACKAGES_DIR = join(SANDBOX_DIR, "packages");
const PREV_BIN = join(labBin(), "k8s-prev");

describe(`node sandboxes: a minor upgrade ${PREV} → ${TARGET}, node by node, by the stack's own scripts`, function () {
    let prev: Render;
    let target: Render;
    let lab: NodeSandboxes;
    let dir: string;
    let cps: string[];
    let archives: string[];
    /** SSH through the bastion, as remote.Command reaches the nodes (unless K8S_HA_NODES_TRANSPORT=nsenter). */
    let ssh: SshAccess | undefined;
    const { timings, timed } = stepTimer();
    const runOn = (n: string, file: string, input = "", timeoutMs = 900_000) =>
        runOver(lab, ssh, n, file, input, timeoutMs);
    const script = (r: Render, node: string, name: string) => join(r.node(node), "scripts", `${name}.sh`);
    const stdin = (r: Render, node: string, name: string) => readFileSync(join(r.node(node), "stdin", name), "utf8");
    /** kubectl from the host through the NLB stand-in, with the cluster's admin kubeconfig. */
    const kubectl = (args: readonly string[]) =>
        run(
            join(labBin(), "kubectl"),
            [
                "--kubeconfig",
                join(prev.dir, "admin.conf"),
                "--server",
                `https://${LB_IP}:6443`,
                "--tls-server-name",
                prev.apiHost,
                "--request-timeout=10s",
                ...args,
            ],
            { timeoutMs: 30_000 },
        );
    const kubeletVersions = async () => {
        const r = await kubectl([
            "get",
            "nodes",
            "-o",
            'jsonpath={range .items[*]}{.metadata.name}={.status.nodeInfo.kubeletVersion}{"\\n"}{end}',
        ]);
        assert.equal(r.code, 0, r.stderr);
        return Object.fromEntries(
            r.stdout
                .trim()
                .split("\n")
                .map((l) => l.split("=")),
        );
    };

    before(async function () {
        requireLabTools(["kubeadm", "kubelet", "kubectl"]);
        if (!existsSync(join(PREV_BIN, "kubeadm")))
            throw new Error(
                `${PREV_BIN}/kubeadm is missing: build the previous minor with 'npm run lab:tools -- --toolset k8s-prev'`,
            );
        // One after the other: a plan run holds the Pulumi runtime's global state.
        prev = await timed(`render (${PREV})`, () => renderStack("dev", { kubernetesVersion: PREV }));
        target = await timed(`render (${TARGET})`, () => renderStack("dev"));
        cps = prev.nodes.filter((n) => n.role === "control-plane").map((n) => n.name);
        archives = await timed("images (build or cache)", async () => {
            const prevRefs = await kubeadmImages(`v${PREV}`, join(PREV_BIN, "kubeadm"));
            const targetRefs = await kubeadmImages(`v${TARGET}`);
            const all = [
                ...prevRefs.map((ref) => imageArchive(ref)),
                ...targetRefs.filter((r) => !prevRefs.includes(r)).map((ref) => imageArchive(ref)),
            ];
            return Promise.all(all);
        });
        dir = mkdtempSync(join(tmpdir(), "k8s-ha-upgrade-"));
        lab = new NodeSandboxes(dir, prev.apiHost);
        // The package source before the lab's overlay (its apt-get stages, then hands over); the
        // upgrade's kubeadm flags after it (the lab's kubeadm calls the next kubeadm on PATH).
        lab.overlays.unshift(PACKAGES_DIR);
        lab.overlays.push(join(SANDBOX_DIR, "upgrade"));
        const podSubnet = /^ {2}podSubnet: (.+)$/m.exec(
            readFileSync(join(prev.node(cps[0]), "kubeadm", "init.yaml"), "utf8"),
        )?.[1];
        assert.ok(podSubnet, "the init configuration has no podSubnet");
        await timed("sandboxes", async () => {
            for (const [i, name] of cps.entries()) {
                const node = await lab.add(name, prev.nodes.find((n) => n.name === name)!.privateIp);
                // The node's own apt sources and keyrings: upgrade.sh writes its pkgs.k8s.io source
                // there, which must not land in the host's /etc/apt.
                for (const d of ["/etc/apt/sources.list.d", "/etc/apt/keyrings"]) {
                    mkdirSync(join(node.dir, "root", d), { recursive: true });
                    const r = await lab.exec(name, ["mount", "--bind", join(node.dir, "root", d), d]);
                    assert.equal(r.code, 0, r.stderr);
                }
                // The network before the node registers: kubeadm upgrade apply requires every control plane Ready.
                writeLabCni(node.dir, labPodCidrAt(podSubnet!, i));
            }
        });
        ssh = await timed("bastion and sshd", () => sshThroughBastion(prev, lab, dir, cps));
        lab.startNlb(cps);
    });

    after(async function () {
        if (lab) await lab.stopAll();
        console.log(`      timings (s): ${JSON.stringify(timings)}`);
        if (dir && !process.env.K8S_HA_NODES_KEEP) rmSync(dir, { recursive: true, force: true });
        for (const r of [prev, target]) if (r) rmSync(r.dir, { recursive: true, force: true });
    });

    it("renders the version bump into the upgrade scripts' title and version parameters alone; prepare, place-pki and the rollout gate stay as they were", function () {
        for (const n of cps) {
            for (const s of ["prepare.create", "place-pki.create", "rollout-gate.update"]) {
                assert.equal(
                    readFileSync(script(target, n, s), "utf8"),
                    readFileSync(script(prev, n, s), "utf8"),
                    `${n}'s ${s} differs between ${PREV} and ${TARGET}`,
                );
            }
            const before = readFileSync(script(prev, n, "upgrade.create"), "utf8").split("\n");
            const after = readFileSync(script(target, n, "upgrade.create"), "utf8").split("\n");
            assert.equal(after.length, before.length);
            const changed = after.filter((line, i) => line !== before[i]);
            assert.deepEqual(changed, [
                `# k8s-ha upgrade-control-plane: upgrade ${n} to Kubernetes ${TARGET} (kubeadm upgrade ${n === cps[0] ? "apply" : "node"})`,
                `readonly K8S_VERSION='${TARGET}'`,
                `readonly K8S_REPO='https://pkgs.k8s.io/core:/stable:/v1.${minor(TARGET)}/deb/'`,
            ]);
        }
    });

    it(`brings up three control planes at ${PREV}: prepare, the first install from the package source, place-pki, init, then the joins one at a time`, async function () {
        for (const [i, n] of cps.entries()) {
            await timed(`prepare (${n})`, () => runOn(n, script(prev, n, "prepare.create")));
            await timed(`image import (${n})`, () => lab.importImages(n, archives));
            const install = await timed(`first install (${n})`, () =>
                runOn(n, script(prev, n, "upgrade.create"), stdin(prev, n, "upgrade")),
            );
            assert.match(
                install.stdout,
                new RegExp(`installed kubelet/kubeadm/kubectl ${PREV}-1\\.1 on ${n} \\(held\\)`),
            );
            await runOn(n, script(prev, n, "place-pki.create"), stdin(prev, n, "place-pki"));
            if (i === 0) {
                const init = await timed(`init (${n})`, () =>
                    runOn(n, script(prev, n, "init.create"), stdin(prev, n, "init"), 900_000),
                );
                assert.match(init.stdout, /: a new cluster/);
            } else {
                const joined = await timed(`join (${n})`, () =>
                    runOn(n, script(prev, n, "join.create"), stdin(prev, n, "join"), 900_000),
                );
                assert.match(joined.stdout, new RegExp(`kubeadm join of ${n} \\(control-plane\\)`));
            }
        }
        const versions = await kubeletVersions();
        assert.deepEqual(versions, Object.fromEntries(cps.map((n) => [n, `v${PREV}`])));
        await waitFor(
            "every control plane Ready (the lab's bridge CNI)",
            180_000,
            async () => {
                const r = await kubectl([
                    "get",
                    "nodes",
                    "-o",
                    'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
                ]);
                const ready = r.stdout.trim().split("\n");
                return ready.length === cps.length && ready.every((s) => s === "True") ? true : undefined;
            },
            () => lab.logs(cps[0]),
        );
        const server = await kubectl(["version", "-o", "json"]);
        assert.equal(JSON.parse(server.stdout).serverVersion.gitVersion, `v${PREV}`);
        // The lab in the cloud-controller-manager's place: with `cloud-provider: external` every
        // kubelet registers with the uninitialized taint, which only the CCM (an add-on applied
        // through AWS) removes. Until then nothing but DaemonSets schedules, and kubeadm upgrade
        // apply's CreateJob check waits for a pod.
        for (const n of cps) {
            const r = await kubectl(["taint", "nodes", n, `${UNINITIALIZED_TAINT}-`]);
            assert.ok(r.code === 0 || /not found/.test(r.stderr), r.stderr);
        }
    });

    it(`refuses a skipped minor: the configuration refuses ${SKIPPED}, and the upgrade script at ${SKIPPED} refuses the live ${PREV} cluster before any change`, async function () {
        await assert.rejects(
            renderStack("dev", { kubernetesVersion: SKIPPED }),
            new RegExp(`kubernetesVersion.*${SKIPPED.replace(/\./g, "\\.")}`, "s"),
        );
        // The stack's own script with only its version parameters at SKIPPED: what a render at that
        // minor would run once the configuration allows it.
        const cp0 = cps[0];
        const skipped = join(dir, `upgrade-${SKIPPED}.sh`);
        const text = readFileSync(script(target, cp0, "upgrade.create"), "utf8")
            .replace(/^readonly K8S_VERSION='[^']*'$/m, `readonly K8S_VERSION='${SKIPPED}'`)
            .replace(
                /^readonly K8S_REPO='[^']*'$/m,
                `readonly K8S_REPO='https://pkgs.k8s.io/core:/stable:/v1.${minor(SKIPPED)}/deb/'`,
            );
        writeFileSync(skipped, text);
        const refused = await runOn(cp0, skipped, stdin(prev, cp0, "upgrade")).then(
            (r) => assert.fail(`the skipped minor ran through:\n${r.stdout}`),
            (e: Error) => e.message,
        );
        assert.match(
            refused,
            new RegExp(
                `refusing to skip a minor version: the live apiserver is at v${PREV.replace(/\./g, "\\.")} and the configured kubernetesVersion is ${SKIPPED.replace(/\./g, "\\.")}; upgrade to 1\\.${minor(TARGET)}\\.x first`,
            ),
        );
        assert.equal((await lab.exec(cp0, ["kubeadm", "version", "-o", "short"])).stdout.trim(), `v${PREV}`);
    });

    it(`upgrades node by node to ${TARGET} with the ${TARGET} render's upgrade scripts, the API answering through the NLB stand-in throughout (a read on a new connection each)`, async function () {
        // About 7 minutes a node here: two graceful apiserver stops of up to 45 s each, etcd's
        // restart, kubeadm's own waits.
        this.timeout(2_700_000);
        // Asserted: a read that needs etcd through the NLB stand-in, a new connection each (the
        // rotation's probe: a stopping apiserver fails /readyz on purpose for its shutdown delay
        // while it still serves). Reported beside it: the same read and /readyz on one kept
        // connection, and each apiserver's own /readyz, to tell where a gap came from.
        const reads = pollApi(join(prev.dir, "admin.conf"), prev.apiHost);
        const keptReads = pollApi(join(prev.dir, "admin.conf"), prev.apiHost, 500, false);
        const poller = pollReadyz(join(prev.dir, "admin.conf"), prev.apiHost);
        const direct = cps.map(
            (n) => [n, pollReadyz(join(prev.dir, "admin.conf"), prev.apiHost, 500, lab.node(n).ip)] as const,
        );
        const started = Date.now();
        const at = (t: number) => `+${((t - started) / 1000).toFixed(1)} s`;
        const spans: string[] = [];
        try {
            for (const [i, n] of cps.entries()) {
                const from = Date.now();
                // stdin: the cluster's admin kubeconfig, as the state holds it (a version bump changes no certificate).
                const up = await timed(`upgrade (${n})`, () =>
                    runOn(n, script(target, n, "upgrade.create"), stdin(prev, n, "upgrade"), 1_200_000),
                );
                assert.match(
                    up.stdout,
                    i === 0
                        ? new RegExp(`kubeadm upgrade apply v${TARGET} on ${n}`)
                        : new RegExp(`kubeadm upgrade node on ${n}`),
                );
                assert.match(up.stdout, new RegExp(`upgraded ${n} to Kubernetes v${TARGET}`));
                spans.push(`${n} ${at(from)}..${at(Date.now())}`);
                assert.equal((await kubeletVersions())[n], `v${TARGET}`);
            }
        } finally {
            await Promise.all([poller.stop(), reads.stop(), keptReads.stop(), ...direct.map(([, p]) => p.stop())]);
        }
        console.log(`      upgrades: ${spans.join(", ")}`);
        for (const [n, p] of direct)
            console.log(
                `      /readyz of ${n} directly: ${JSON.stringify(gaps(p.polls).map((g) => ({ ...g, from: at(g.from) })))}`,
            );
        const report = (what: string, polls: readonly Poll[]) =>
            console.log(
                `      ${what}: ${polls.length} polls, ${polls.filter((p) => !p.ok).length} failed, gaps: ${JSON.stringify(gaps(polls).map((g) => ({ ...g, from: at(g.from) })))}`,
            );
        timings["upgrade (all nodes)"] = (Date.now() - started) / 1000;
        report("/readyz through the NLB on a kept connection", poller.polls);
        report("GET the default Namespace through the NLB on a kept connection", keptReads.polls);
        report("GET the default Namespace through the NLB, a new connection each", reads.polls);
        assert.ok(reads.polls.length > 20, "too few polls to speak of 'throughout'");
        assert.deepEqual(gaps(reads.polls), [], "the API stopped answering through the NLB stand-in");
    });

    it(`ends with every node, the apiserver and kubeadm's cluster configuration at v${TARGET}, and a second run does nothing`, async function () {
        assert.deepEqual(await kubeletVersions(), Object.fromEntries(cps.map((n) => [n, `v${TARGET}`])));
        const server = await kubectl(["version", "-o", "json"]);
        assert.equal(JSON.parse(server.stdout).serverVersion.gitVersion, `v${TARGET}`);
        const cfg = await kubectl([
            "-n",
            "kube-system",
            "get",
            "configmap",
            "kubeadm-config",
            "-o",
            "jsonpath={.data.ClusterConfiguration}",
        ]);
        assert.match(cfg.stdout, new RegExp(`kubernetesVersion: v${TARGET.replace(/\./g, "\\.")}`));
        for (const n of cps) {
            const manifest = readFileSync(
                join(lab.node(n).dir, "root", "etc", "kubernetes", "manifests", "kube-apiserver.yaml"),
                "utf8",
            );
            assert.match(manifest, new RegExp(`kube-apiserver:v${TARGET.replace(/\./g, "\\.")}`));
            // The node's kubelet, kubeadm and kubectl are the k8s toolset's, staged by the upgrade's installs.
            for (const b of ["kubelet", "kubeadm", "kubectl"])
                assert.equal(realpathSync(join(stagedDir(lab.node(n)), b)), realpathSync(join(labBin(), b)));
        }
        const again = await runOn(cps[0], script(target, cps[0], "upgrade.create"), stdin(prev, cps[0], "upgrade"));
        assert.match(
            again.stdout,
            new RegExp(`already runs Kubernetes v${TARGET.replace(/\./g, "\\.")}; nothing to do`),
        );
    });
});
