// Real kubeadm 1.35 (built from k8s.io/kubernetes by `npm run lab:tools`) reads what the program
// renders: every kubeadm configuration validates, and on every control plane kubeadm reuses the
// program's certificates instead of generating its own, and refuses certificates from a foreign
// CA. The join-side checks (SANs, discovery) need a running cluster: controlPlane.spec.ts.
import * as assert from "node:assert/strict";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { RENEWED_KUBECONFIGS } from "../../components/kubeadm/scripts";
import { run } from "../system/etcd/cluster";
import { renderStack, type Render } from "./render";
import { labTool, requireLabTools } from "./tools";
import { scratchDir } from "../scratch";

const KUBEADM_CERTS = [
    "ca",
    "apiserver",
    "apiserver-kubelet-client",
    "front-proxy-ca",
    "front-proxy-client",
    "etcd/ca",
    "etcd/server",
    "etcd/peer",
    "etcd/healthcheck-client",
    "apiserver-etcd-client",
];

/** kubeadm with `root` as its root filesystem: /etc/kubernetes there is the node's. */
async function kubeadm(root: string, args: readonly string[]) {
    return run(labTool("kubeadm"), [...args, "--rootfs", root], { timeoutMs: 120_000 });
}

/** A node's root directory holding its rendered /etc/kubernetes and kubeadm configurations. */
function nodeRoot(render: Render, node: string): string {
    const root = scratchDir(`k8s-ha-root-${node}-`);
    cpSync(join(render.node(node), "etc"), join(root, "etc"), { recursive: true });
    cpSync(join(render.node(node), "kubeadm"), root, { recursive: true });
    return root;
}

/** The configuration kubeadm's init phases read on a control plane: node 0's init, the others' phase config. */
function phaseConfig(render: Render, node: string): string {
    return readdirSync(join(render.node(node), "kubeadm")).includes("init.yaml")
        ? "/init.yaml"
        : "/rotate.kubeadm-phase-config.yaml";
}

const VARIANTS = [
    { title: "dev: 3 control planes and a worker, RSA", stack: "dev", config: {}, controlPlanes: 3, workers: 1 },
    { title: "dev: ECDSA P-256", stack: "dev", config: { pkiAlgorithm: "ECDSA" }, controlPlanes: 3, workers: 1 },
    {
        title: "prod: 5 control planes over 3 zones, 3 workers",
        stack: "prod",
        config: {},
        controlPlanes: 5,
        workers: 3,
    },
    {
        title: "prod: 7 control planes",
        stack: "prod",
        config: { controlPlaneCount: 7, pkiAlgorithm: "ECDSA" },
        controlPlanes: 7,
        workers: 3,
    },
    // The API's DNS name as controlPlaneEndpoint, with the NLB's name as one more SAN.
    {
        title: "dev: a DNS name for the API",
        stack: "dev",
        config: { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "api.dev.example.com" },
        controlPlanes: 3,
        workers: 1,
        apiHost: "api.dev.example.com",
    },
];

describe("kubeadm 1.35 reads the program's configuration and PKI (lab)", function () {
    before(() => requireLabTools(["kubeadm"]));

    for (const v of VARIANTS) {
        describe(v.title, () => {
            let render: Render;
            before(async () => {
                render = await renderStack(v.stack, v.config);
            });

            it("renders the expected nodes", () => {
                assert.equal(render.nodes.filter((n) => n.role === "control-plane").length, v.controlPlanes);
                assert.equal(render.nodes.filter((n) => n.role === "worker").length, v.workers);
                if (v.apiHost) assert.equal(render.apiHost, v.apiHost, "controlPlaneEndpoint");
            });

            it("`kubeadm config validate` accepts every configuration: init on node 0, join on the others and the workers", async () => {
                const seen: string[] = [];
                for (const node of render.nodes.filter((n) => n.role !== "bastion")) {
                    const files = render.kubeadmConfigs(node.name);
                    const names = files.map((f) => f.split("/").pop()).sort();
                    if (node.role === "worker") assert.deepEqual(names, ["join-worker.yaml"], node.name);
                    else if (node.name.endsWith("-cp-0"))
                        assert.deepEqual(
                            names,
                            [
                                "init.yaml",
                                "join-control-plane.yaml",
                                "renew-kubeconfigs.kubeadm-phase-config.yaml",
                                "rotate.kubeadm-phase-config.yaml",
                                "upgrade-control-plane.kubeadm-phase-config.yaml",
                            ],
                            node.name,
                        );
                    else
                        assert.deepEqual(
                            names,
                            [
                                "join-control-plane.yaml",
                                "renew-kubeconfigs.kubeadm-phase-config.yaml",
                                "rotate.kubeadm-phase-config.yaml",
                                "upgrade-control-plane.kubeadm-phase-config.yaml",
                            ],
                            node.name,
                        );
                    for (const file of files) {
                        // init and join register the kubelet with the external cloud provider and the node's own providerID
                        if (!file.includes("phase-config")) {
                            const text = readFileSync(file, "utf8");
                            assert.match(text, /- name: cloud-provider\n\s+value: external\n/, file);
                            assert.match(
                                text,
                                /- name: provider-id\n\s+value: aws:\/\/\/[a-z0-9-]+\/i-[0-9a-f]+\n/,
                                file,
                            );
                        }
                        const r = await run(labTool("kubeadm"), ["config", "validate", "--config", file]);
                        assert.equal(r.code, 0, `${node.name} ${file}:\n${r.stdout}${r.stderr}`);
                        seen.push(file);
                    }
                }
                // init; per control plane its join and the phase configurations of rotate, the
                // renewal and the upgrade; per worker its join
                assert.equal(seen.length, 1 + 4 * v.controlPlanes + v.workers);
            });

            it("`kubeadm init phase certs all` reuses every certificate on every control plane and generates none", async () => {
                for (const node of render.nodes.filter((n) => n.role === "control-plane")) {
                    const root = nodeRoot(render, node.name);
                    const r = await kubeadm(root, [
                        "init",
                        "phase",
                        "certs",
                        "all",
                        "--config",
                        phaseConfig(render, node.name),
                    ]);
                    assert.equal(r.code, 0, `${node.name}:\n${r.stdout}${r.stderr}`);
                    assert.doesNotMatch(r.stdout, /Generating/, node.name);
                    for (const cert of KUBEADM_CERTS)
                        assert.match(
                            r.stdout,
                            new RegExp(`Using existing ${cert} (certificate authority|certificate and key on disk)`),
                            `${node.name}: ${cert}`,
                        );
                    assert.match(r.stdout, /Using the existing "sa" key/, node.name);
                }
            });
        });
    }

    describe("on one control plane (dev, ECDSA)", () => {
        let render: Render;
        before(async () => {
            render = await renderStack("dev", { pkiAlgorithm: "ECDSA" });
        });

        it("`kubeadm certs check-expiration` reads every certificate: leaves for about a year, CAs for ten", async () => {
            const root = nodeRoot(render, "k8s-dev-cp-0");
            for (const phase of ["certs all", "kubeconfig all"]) {
                const r = await kubeadm(root, ["init", "phase", ...phase.split(" "), "--config", "/init.yaml"]);
                assert.equal(r.code, 0, r.stderr);
            }
            const r = await kubeadm(root, ["certs", "check-expiration", "--config", "/init.yaml"]);
            assert.equal(r.code, 0, r.stderr);
            const rows = new Map(
                r.stdout
                    .split("\n")
                    .map((l) => l.trim().split(/\s{2,}/))
                    .filter((c) => c.length >= 4)
                    .map((c) => [c[0], c[2]]),
            );
            for (const leaf of [
                "apiserver",
                "apiserver-etcd-client",
                "apiserver-kubelet-client",
                "etcd-healthcheck-client",
                "etcd-peer",
                "etcd-server",
                "front-proxy-client",
            ]) {
                assert.match(rows.get(leaf) ?? "", /^36[0-5]d$/, `${leaf}: ${rows.get(leaf)}\n${r.stdout}`);
            }
            for (const ca of ["ca", "etcd-ca", "front-proxy-ca"])
                assert.match(rows.get(ca) ?? "", /^(9|10)y$/, `${ca}\n${r.stdout}`);
        });

        it("`kubeadm certs renew`, as rotate runs it, renews kubeadm's own client certificates near expiry with the stack's CA", async () => {
            // A joined control plane (cp-1, the rotate script's configuration): kubeadm wrote its
            // kubeconfigs; two of their client certificates are 10 days from expiry.
            const root = nodeRoot(render, "k8s-dev-cp-1");
            const config = phaseConfig(render, "k8s-dev-cp-1");
            for (const phase of ["certs all", "kubeconfig all"]) {
                const r = await kubeadm(root, ["init", "phase", ...phase.split(" "), "--config", config]);
                assert.equal(r.code, 0, r.stderr);
            }
            const kdir = join(root, "etc", "kubernetes");
            const pki = join(kdir, "pki");
            for (const [file, subject] of [
                ["admin.conf", "/O=kubeadm:cluster-admins/CN=kubernetes-admin"],
                ["controller-manager.conf", "/CN=system:kube-controller-manager"],
            ]) {
                const dir = scratchDir("k8s-ha-old-");
                const key = join(dir, "k.pem");
                const csr = join(dir, "c.csr");
                const crt = join(dir, "c.crt");
                const ext = join(dir, "ext.cnf");
                writeFileSync(ext, "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
                for (const args of [
                    [
                        "req",
                        "-new",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-nodes",
                        "-subj",
                        subject,
                        "-keyout",
                        key,
                        "-out",
                        csr,
                    ],
                    // kubeadm renews from the old certificate as a template: it needs the client usage kubeadm gave it
                    [
                        "x509",
                        "-req",
                        "-in",
                        csr,
                        "-CA",
                        join(pki, "ca.crt"),
                        "-CAkey",
                        join(pki, "ca.key"),
                        "-days",
                        "10",
                        "-extfile",
                        ext,
                        "-out",
                        crt,
                    ],
                ]) {
                    const r = await run("openssl", args);
                    assert.equal(r.code, 0, r.stderr);
                }
                const b64 = (f: string) => readFileSync(f).toString("base64");
                const path = join(kdir, file);
                writeFileSync(
                    path,
                    readFileSync(path, "utf8")
                        .replace(/client-certificate-data: \S+/, `client-certificate-data: ${b64(crt)}`)
                        .replace(/client-key-data: \S+/, `client-key-data: ${b64(key)}`),
                );
            }
            const residual = async () => {
                const r = await kubeadm(root, ["certs", "check-expiration", "--config", config]);
                assert.equal(r.code, 0, r.stderr);
                return new Map(
                    r.stdout
                        .split("\n")
                        .map((l) => l.trim().split(/\s{2,}/))
                        .filter((c) => c.length >= 4)
                        .map((c) => [c[0], c[2]]),
                );
            };
            const before = await residual();
            assert.match(before.get("admin.conf") ?? "", /^9d$/, JSON.stringify([...before]));
            assert.match(before.get("controller-manager.conf") ?? "", /^9d$/);
            // What rotate.sh runs for every kubeconfig of RENEWED_KUBECONFIGS that exists.
            for (const file of RENEWED_KUBECONFIGS) {
                const r = await kubeadm(root, ["certs", "renew", file, "--config", config]);
                assert.equal(r.code, 0, `${file}: ${r.stderr}`);
            }
            const after = await residual();
            for (const file of RENEWED_KUBECONFIGS)
                assert.match(after.get(file) ?? "", /^36[45]d$/, `${file}: ${after.get(file)}`);
            // Still signed by the stack's CA, with the same identity.
            const data = /client-certificate-data: (\S+)/.exec(readFileSync(join(kdir, "admin.conf"), "utf8"))![1];
            const renewed = join(scratchDir("k8s-ha-new-"), "admin.crt");
            writeFileSync(renewed, Buffer.from(data, "base64"));
            const verify = await run("openssl", ["verify", "-CAfile", join(pki, "ca.crt"), renewed]);
            assert.equal(verify.code, 0, verify.stderr + verify.stdout);
            const subject = await run("openssl", ["x509", "-noout", "-subject", "-in", renewed]);
            assert.match(subject.stdout, /O ?= ?kubeadm:cluster-admins, CN ?= ?kubernetes-admin/);
        });

        it("`kubeadm init phase kubeconfig/control-plane/etcd` write the manifests the lab's control plane runs", async () => {
            const root = nodeRoot(render, "k8s-dev-cp-0");
            for (const phase of ["certs all", "kubeconfig all", "control-plane all", "etcd local"]) {
                const r = await kubeadm(root, ["init", "phase", ...phase.split(" "), "--config", "/init.yaml"]);
                assert.equal(r.code, 0, `${phase}: ${r.stderr}`);
            }
            assert.deepEqual(readdirSync(join(root, "etc", "kubernetes", "manifests")).sort(), [
                "etcd.yaml",
                "kube-apiserver.yaml",
                "kube-controller-manager.yaml",
                "kube-scheduler.yaml",
            ]);
            assert.deepEqual(
                readdirSync(join(root, "etc", "kubernetes"))
                    .filter((f) => f.endsWith(".conf"))
                    .sort(),
                ["admin.conf", "controller-manager.conf", "kubelet.conf", "scheduler.conf", "super-admin.conf"],
            );
            // The apiserver reads the encryption configuration from pki/, which kubeadm mounts into its pod.
            const apiserver = parse(
                readFileSync(join(root, "etc", "kubernetes", "manifests", "kube-apiserver.yaml"), "utf8"),
            );
            assert.ok(
                (apiserver.spec.containers[0].command as string[]).includes(
                    "--encryption-provider-config=/etc/kubernetes/pki/encryption-config.yaml",
                ),
            );
            const mount = (apiserver.spec.containers[0].volumeMounts as { name: string; mountPath: string }[]).find(
                (m) => m.mountPath === "/etc/kubernetes/pki",
            );
            assert.ok(mount, "kubeadm mounts /etc/kubernetes/pki");
            assert.equal(
                (apiserver.spec.volumes as { name: string; hostPath: { path: string } }[]).find(
                    (v) => v.name === mount.name,
                )?.hostPath.path,
                "/etc/kubernetes/pki",
            );
        });

        it("a kubeconfig of an old CA: kubeadm will not write over it, so rotate has it written whole beside it (--kubeconfig-dir)", async () => {
            const root = nodeRoot(render, "k8s-dev-cp-1");
            const config = phaseConfig(render, "k8s-dev-cp-1");
            for (const phase of ["certs all", "kubeconfig all"]) {
                const r = await kubeadm(root, ["init", "phase", ...phase.split(" "), "--config", config]);
                assert.equal(r.code, 0, r.stderr);
            }
            // A new cluster CA, as place-pki puts it when the stack's CA changed.
            const pki = join(root, "etc", "kubernetes", "pki");
            const made = await run("openssl", [
                ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"],
                ...["-subj", "/CN=kubernetes", "-keyout", join(pki, "ca.key"), "-out", join(pki, "ca.crt")],
            ]);
            assert.equal(made.code, 0, made.stderr);
            const over = await kubeadm(root, ["init", "phase", "kubeconfig", "kubelet", "--config", config]);
            assert.notEqual(over.code, 0, over.stdout);
            assert.match(over.stderr, /kubelet\.conf" exists but does not contain a trusted CA/);
            // rotate's command, into its directory beside the old file (the script makes it first)
            const rotate = readFileSync(join(render.node("k8s-dev-cp-1"), "scripts", "rotate.update.sh"), "utf8");
            assert.match(rotate, /fresh="\$KUBE_DIR\/\.kubeconfigs-new"/);
            assert.match(
                rotate,
                /kubeadm init phase kubeconfig "\$phase" --config "\$work\/kubeadm\.yaml" --kubeconfig-dir "\$fresh"/,
            );
            mkdirSync(join(root, "etc", "kubernetes", ".kubeconfigs-new"), { mode: 0o700 });
            const beside = await kubeadm(root, [
                ...["init", "phase", "kubeconfig", "kubelet", "--config", config],
                ...["--kubeconfig-dir", "/etc/kubernetes/.kubeconfigs-new"],
            ]);
            assert.equal(beside.code, 0, beside.stderr);
            const fresh = readFileSync(join(root, "etc", "kubernetes", ".kubeconfigs-new", "kubelet.conf"), "utf8");
            const caData = Buffer.from(readFileSync(join(pki, "ca.crt"))).toString("base64");
            assert.ok(
                fresh.includes(`certificate-authority-data: ${caData}`),
                "the new kubelet.conf embeds the new CA",
            );
            // the old one is untouched until rotate renames the new one over it
            const old = readFileSync(join(root, "etc", "kubernetes", "kubelet.conf"), "utf8");
            assert.ok(!old.includes(caData), "kubelet.conf itself still embeds the old CA");
        });

        it("refuses certificates issued by a foreign CA (the check can fail)", async () => {
            const root = nodeRoot(render, "k8s-dev-cp-0");
            const pki = join(root, "etc", "kubernetes", "pki");
            // A CA of the same name and algorithm that did not sign the program's leaves.
            const made = await run("openssl", [
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=kubernetes",
                "-keyout",
                join(pki, "ca.key"),
                "-out",
                join(pki, "ca.crt"),
            ]);
            assert.equal(made.code, 0, made.stderr);
            const r = await kubeadm(root, ["init", "phase", "certs", "all", "--config", "/init.yaml"]);
            assert.notEqual(r.code, 0, r.stdout);
            assert.match(r.stderr, /certificate apiserver not signed by CA certificate ca/);
        });

        it("refuses a configuration kubeadm does not know (the validation can fail)", async () => {
            const bad = join(scratchDir("k8s-ha-bad-"), "bad.yaml");
            writeFileSync(
                bad,
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  criSocket: 42\n  naem: typo\n",
            );
            const r = await run(labTool("kubeadm"), ["config", "validate", "--config", bad]);
            assert.notEqual(r.code, 0);
            assert.match(r.stderr, /naem|unknown field|cannot unmarshal/);
        });
    });
});
