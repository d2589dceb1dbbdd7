// The lab's CoreDNS (toolset coredns: our own main with only the plugins of kubeadm's Corefile)
// serving a cluster: node 0 of the dev stack initialised by its own rendered scripts on a sandbox
// (tests/nodes/sandbox.ts), then CoreDNS runs kubeadm's own Corefile, read from the cluster, and
// answers a Service's name through the API. Outside a pod, three lines differ: the kubernetes
// plugin gets a kubeconfig (in a pod: its service account), the server a port of its own, and
// forward an upstream file (the node has no resolver). The Service routing a CoreDNS pod would
// need to reach the API (kube-proxy) is not what this proves.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderStack, type Render } from "../lab/render";
import { labBin, requireLabTools } from "../lab/tools";
import { run, waitFor } from "../system/etcd/cluster";
import { LB_IP } from "../lab/controlPlane";
import { imageArchive, kubeadmImages } from "./images";
import { NodeSandboxes } from "./sandbox";

/** The plugins of kubeadm's default Corefile. */
const KUBEADM_PLUGINS = [
    "errors",
    "health",
    "ready",
    "kubernetes",
    "prometheus",
    "forward",
    "cache",
    "loop",
    "reload",
    "loadbalance",
];

/** kubeadm's Corefile as CoreDNS runs it outside a pod (see above). */
export function corefileOutsidePod(corefile: string, port: number, kubeconfig: string, upstream: string): string {
    const out = corefile
        .replace(/^\.:53 \{/m, `.:${port} {`)
        .replace(/(kubernetes [^{\n]*\{)/, `$1\n       kubeconfig ${kubeconfig}`)
        .replace(/^(\s*forward \. )\/etc\/resolv\.conf/m, `$1${upstream}`);
    for (const [what, re] of [
        ["port", `^\\.:${port} \\{`],
        ["kubeconfig", `kubeconfig ${kubeconfig}`],
        ["upstream", `forward \\. ${upstream}`],
    ] as const) {
        if (!new RegExp(re, "m").test(out))
            throw new Error(`kubeadm's Corefile changed shape: no place for the ${what}:\n${corefile}`);
    }
    return out;
}

describe("node sandboxes: the lab's CoreDNS serves the cluster with kubeadm's Corefile", function () {
    let render: Render;
    let lab: NodeSandboxes;
    let dir: string;
    let cp0: string;
    const script = (name: string) => join(render.node(cp0), "scripts", `${name}.sh`);
    const stdin = (name: string) => readFileSync(join(render.node(cp0), "stdin", name), "utf8");
    const kubectl = (args: readonly string[]) =>
        run(
            join(labBin(), "kubectl"),
            [
                "--kubeconfig",
                join(render.dir, "admin.conf"),
                "--server",
                `https://${LB_IP}:6443`,
                "--tls-server-name",
                render.apiHost,
                "--request-timeout=10s",
                ...args,
            ],
            { timeoutMs: 30_000 },
        );

    before(async function () {
        requireLabTools(["kubeadm", "kubelet", "kubectl"]);
        if (!existsSync(join(labBin(), "coredns")))
            throw new Error(`${labBin()}/coredns is missing: build it with 'npm run lab:tools -- --toolset coredns'`);
        render = await renderStack("dev");
        const cps = render.nodes.filter((n) => n.role === "control-plane");
        cp0 = cps[0].name;
        const archives = await Promise.all((await kubeadmImages("v1.35.4")).map((ref) => imageArchive(ref)));
        dir = mkdtempSync(join(tmpdir(), "k8s-ha-coredns-"));
        lab = new NodeSandboxes(dir, render.apiHost);
        for (const n of cps) await lab.add(n.name, n.privateIp);
        lab.startNlb([cp0]);
        await lab.script(cp0, script("prepare.create"));
        await lab.importImages(cp0, archives);
        await lab.script(cp0, script("upgrade.create"), stdin("upgrade"));
        await lab.exec(cp0, ["systemctl", "enable", "kubelet"]);
        await lab.script(cp0, script("place-pki.create"), stdin("place-pki"));
        await lab.script(cp0, script("init.create"), stdin("init"), 900_000);
    });

    after(async function () {
        if (lab) await lab.stopAll();
        if (dir && !process.env.K8S_HA_NODES_KEEP) rmSync(dir, { recursive: true, force: true });
        if (render) rmSync(render.dir, { recursive: true, force: true });
    });

    it("has every plugin of kubeadm's Corefile compiled in, and no cloud plugin", async function () {
        const cm = await kubectl([
            "-n",
            "kube-system",
            "get",
            "configmap",
            "coredns",
            "-o",
            "jsonpath={.data.Corefile}",
        ]);
        assert.equal(cm.code, 0, cm.stderr);
        for (const p of KUBEADM_PLUGINS)
            assert.match(
                cm.stdout,
                new RegExp(`^\\s*${p}\\b`, "m"),
                `kubeadm's Corefile has no ${p} now: update KUBEADM_PLUGINS and tools/lab/coredns/cmd/coredns`,
            );
        const plugins = (await run(join(labBin(), "coredns"), ["-plugins"])).stdout.split("\n").map((l) => l.trim());
        for (const p of [...KUBEADM_PLUGINS, "log"]) assert.ok(plugins.includes(p), `the lab's CoreDNS lacks ${p}`);
        for (const p of ["route53", "azure", "clouddns"])
            assert.ok(!plugins.includes(p), `the lab's CoreDNS carries ${p}`);
    });

    it("resolves kubernetes.default.svc.cluster.local to the Service's address, through the API", async function () {
        const cm = await kubectl([
            "-n",
            "kube-system",
            "get",
            "configmap",
            "coredns",
            "-o",
            "jsonpath={.data.Corefile}",
        ]);
        const node = lab.node(cp0);
        // Nothing answers on the node's 127.0.0.1:53: forward has an upstream, and loop finds no loop.
        writeFileSync(join(node.dir, "resolv.upstream"), "nameserver 127.0.0.1\n");
        writeFileSync(
            join(node.dir, "Corefile"),
            corefileOutsidePod(cm.stdout, 1053, "/etc/kubernetes/admin.conf", join(node.dir, "resolv.upstream")),
        );
        const coredns = spawn(
            "nsenter",
            ["-t", String(node.pid), "-n", "-m", "--", join(labBin(), "coredns"), "-conf", join(node.dir, "Corefile")],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        coredns.stdout.on("data", (d: Buffer) => (out += d.toString()));
        coredns.stderr.on("data", (d: Buffer) => (out += d.toString()));
        try {
            const svc = await kubectl([
                "-n",
                "default",
                "get",
                "service",
                "kubernetes",
                "-o",
                "jsonpath={.spec.clusterIP}",
            ]);
            assert.match(svc.stdout, /^\d+\.\d+\.\d+\.\d+$/);
            const dns = new Resolver({ timeout: 2000, tries: 1 });
            dns.setServers([`${node.ip}:1053`]);
            const answer = await waitFor(
                "CoreDNS to answer kubernetes.default.svc.cluster.local",
                60_000,
                async () => {
                    try {
                        return await dns.resolve4("kubernetes.default.svc.cluster.local");
                    } catch {
                        return undefined;
                    }
                },
                () => out,
            );
            assert.deepEqual(answer, [svc.stdout]);
            // A name the cluster does not have: NXDOMAIN from the kubernetes plugin, not a timeout.
            await assert.rejects(dns.resolve4("no-such-service.default.svc.cluster.local"), { code: "ENOTFOUND" });
            assert.match(out, /CoreDNS-1\.13\.1/);
        } finally {
            coredns.kill("SIGKILL");
        }
    });
});
