import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { X509Certificate, createPublicKey } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { type ProgramRun } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { placedFiles } from "../tools/plan/render";
import { isSecretValue, plainStrings } from "../tools/harness/values";
import { T, ofType } from "./graph";
import { TYPES } from "../policies/lib/contract";
import { scratchDir } from "./scratch";

const RANDOM_BYTES = TYPES.randomBytes;
const COMMAND = TYPES.remoteCommand;

const certOf = (run: ProgramRun, name: string) => {
    const r = run.resources.find((x) => x.name === name && /Cert$/.test(x.type));
    assert.ok(r, `no certificate ${name}`);
    return new X509Certificate(String(r.outputs.certPem));
};

function opensslDiscoveryHash(caPem: string): string {
    const dir = scratchDir("ca-");
    writeFileSync(join(dir, "ca.crt"), caPem);
    const out = execFileSync(
        "bash",
        ["-c", "openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex"],
        { cwd: dir, encoding: "utf8" },
    );
    return `sha256:${out.trim().split(/\s+/).pop()}`;
}

for (const algorithm of ["RSA", "ECDSA"] as const) {
    describe(`cluster PKI (${algorithm})`, () => {
        let run: ProgramRun;
        before(async () => {
            run = await sharedRun({
                stack: "dev",
                preview: false,
                config: { pkiAlgorithm: algorithm, apiExtraSans: ["api.k8s-dev.example.com"] },
            });
            assert.ifError(run.error);
        });

        it("makes three CAs: CA flag, cert signing, ten years, no early renewal", () => {
            for (const [name, cn] of [
                ["k8s-dev-ca", "kubernetes"],
                ["k8s-dev-etcd-ca", "etcd-ca"],
                ["k8s-dev-front-proxy-ca", "front-proxy-ca"],
            ]) {
                const cert = certOf(run, name);
                assert.ok(cert.ca, `${name} is a CA`);
                assert.equal(cert.subject, `CN=${cn}`);
                const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365 * 24 * 3600 * 1000);
                assert.ok(years > 9.9, `${name} valid ${years} years`);
                const input = run.resources.find((r) => r.name === name && r.type === TYPES.selfSignedCert)!.inputs;
                assert.equal(input.earlyRenewalHours, 0);
                assert.ok((input.allowedUses as string[]).includes("cert_signing"));
            }
            const keyTypes = new Set(
                ofType(run, T.privateKey)
                    .filter((k) => k.name !== "k8s-dev-ssh")
                    .map((k) => `${k.inputs.algorithm}/${k.inputs.rsaBits ?? k.inputs.ecdsaCurve}`),
            );
            assert.deepEqual([...keyTypes], [algorithm === "RSA" ? "RSA/2048" : "ECDSA/P256"]);
        });

        it("issues every control plane's apiserver certificate with exactly kubeadm's SANs", () => {
            const ips = run.outputs.controlPlanePrivateIps.value as string[];
            const host = new URL(String(run.outputs.apiEndpoint.value)).hostname;
            ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"].forEach((node, i) => {
                const cert = certOf(run, `${node}-apiserver`);
                assert.equal(cert.subject, "CN=kube-apiserver");
                const sans = cert.subjectAltName!.split(", ").sort();
                assert.deepEqual(
                    sans,
                    [
                        `DNS:${host}`,
                        "DNS:api.k8s-dev.example.com",
                        "DNS:kubernetes",
                        "DNS:kubernetes.default",
                        "DNS:kubernetes.default.svc",
                        "DNS:kubernetes.default.svc.cluster.local",
                        `DNS:${node}`,
                        "IP Address:10.96.0.1",
                        `IP Address:${ips[i]}`,
                    ].sort(),
                );
                assert.ok(
                    cert.checkIssued(certOf(run, "k8s-dev-ca")) && cert.verify(certOf(run, "k8s-dev-ca").publicKey),
                );
            });
        });

        it("issues etcd server and peer certificates per node from the etcd CA", () => {
            const ips = run.outputs.controlPlanePrivateIps.value as string[];
            const etcdCa = certOf(run, "k8s-dev-etcd-ca");
            ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"].forEach((node, i) => {
                for (const kind of ["etcd-server", "etcd-peer"]) {
                    const cert = certOf(run, `${node}-${kind}`);
                    assert.equal(cert.subject, `CN=${node}`);
                    assert.deepEqual(
                        cert.subjectAltName!.split(", ").sort(),
                        [
                            `DNS:${node}`,
                            "DNS:localhost",
                            `IP Address:${ips[i]}`,
                            "IP Address:127.0.0.1",
                            "IP Address:0:0:0:0:0:0:0:1",
                        ].sort(),
                    );
                    assert.ok(cert.verify(etcdCa.publicKey), `${node}-${kind} is signed by the etcd CA`);
                }
            });
        });

        it("derives the discovery hash exactly as openssl does", () => {
            const caPem = String(run.outputs.clusterCaCertificate.value);
            assert.equal(run.outputs.discoveryHash.value, opensslDiscoveryHash(caPem));
            assert.match(String(run.outputs.discoveryHash.value), /^sha256:[0-9a-f]{64}$/);
        });

        it("builds an admin kubeconfig for the load balancer with kubeadm's admin identity", () => {
            assert.equal(run.outputs.kubeconfig.secret, true);
            const kc = parse(String(run.outputs.kubeconfig.value));
            assert.equal(kc.clusters[0].cluster.server, run.outputs.apiEndpoint.value);
            const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
            assert.equal(
                b64(kc.clusters[0].cluster["certificate-authority-data"]),
                run.outputs.clusterCaCertificate.value,
            );
            const cert = new X509Certificate(b64(kc.users[0].user["client-certificate-data"]));
            assert.equal(cert.subject, "O=kubeadm:cluster-admins\nCN=kubernetes-admin");
            const key = createPublicKey(b64(kc.users[0].user["client-key-data"]));
            assert.ok(cert.publicKey.equals(key), "the client key matches the certificate");
        });

        it("keeps every private key, the token and the kubeconfig out of plain text in the whole graph", () => {
            const secrets: string[] = [];
            for (const key of ofType(run, T.privateKey)) {
                assert.ok(isSecretValue(key.outputs.privateKeyPem), `${key.name} privateKeyPem is secret`);
                secrets.push((key.outputs.privateKeyPem as { value: string }).value.split("\n")[1]);
            }
            for (const p of ofType(run, TYPES.randomPassword)) {
                assert.ok(isSecretValue(p.outputs.result));
                secrets.push((p.outputs.result as { value: string }).value);
            }
            for (const b of ofType(run, RANDOM_BYTES)) {
                for (const out of ["base64", "hex"]) {
                    assert.ok(isSecretValue(b.outputs[out]), `${b.name} ${out} is secret`);
                    secrets.push((b.outputs[out] as { value: string }).value);
                }
            }
            const kubeconfigUser = parse(String(run.outputs.kubeconfig.value)).users[0].user[
                "client-key-data"
            ] as string;
            secrets.push(kubeconfigUser.slice(0, 40));
            for (const r of run.resources) {
                const plain = [...plainStrings(r.inputs), ...plainStrings(r.outputs)];
                for (const s of secrets)
                    assert.ok(!plain.some((p) => p.includes(s)), `${r.name} carries a secret in plain text`);
            }
            for (const name of ["kubeconfig", "sshPrivateKey"]) assert.equal(run.outputs[name].secret, true, name);
            for (const name of ["clusterCaCertificate", "discoveryHash", "apiEndpoint"])
                assert.equal(run.outputs[name].secret, false, name);
        });
    });
}

describe("Secrets encrypted at rest: the key, its file on every control plane, the rotation fingerprint", () => {
    let run: ProgramRun;
    let rotating: ProgramRun;
    const command = (r: ProgramRun, name: string) => r.resources.find((x) => x.type === COMMAND && x.name === name)!;
    const stdinOf = (r: ProgramRun, name: string) => {
        const stdin = command(r, name).inputs.stdin;
        assert.ok(isSecretValue(stdin), `${name} stdin is secret`);
        return String(stdin.value);
    };
    const placedConfig = (r: ProgramRun, node: string) => {
        const f = placedFiles(stdinOf(r, `${node}-place-pki`)).find(
            (x) => x.path === "/etc/kubernetes/pki/encryption-config.yaml",
        );
        assert.ok(f, `${node}'s place-pki writes the encryption configuration`);
        assert.equal(f.mode, 0o600);
        return parse(f.content.toString("utf8"));
    };
    const keyOf = (r: ProgramRun, name: string) => {
        const b = r.resources.find((x) => x.type === RANDOM_BYTES && x.name === name);
        assert.ok(b, `no RandomBytes ${name}`);
        return (b.outputs.base64 as { value: string }).value;
    };
    const rotateUpdate = (r: ProgramRun, node: string) => command(r, `${node}-rotate`).inputs.update;

    before(async () => {
        run = await sharedRun({ stack: "dev", preview: false });
        rotating = await sharedRun({
            stack: "dev",
            preview: false,
            config: { secretsEncryptionKeys: ["key2", "key1"], protect: true },
        });
        assert.ifError(run.error);
        assert.ifError(rotating.error);
    });

    it("generates one 32-byte key per name with RandomBytes, protected with the CAs", () => {
        const keys = ofType(run, RANDOM_BYTES);
        assert.deepEqual(
            keys.map((k) => k.name),
            ["k8s-dev-secrets-key-key1"],
        );
        assert.equal(keys[0].inputs.length, 32);
        assert.equal(Buffer.from(keyOf(run, "k8s-dev-secrets-key-key1"), "base64").length, 32);
        assert.deepEqual(
            ofType(rotating, RANDOM_BYTES)
                .map((k) => k.name)
                .sort(),
            ["k8s-dev-secrets-key-key1", "k8s-dev-secrets-key-key2"],
        );
        // Losing a key loses every Secret written with it: protected like the CAs when the stack protects.
        assert.ok(ofType(rotating, RANDOM_BYTES).every((k) => k.protect) && !keys[0].protect);
        assert.ok(rotating.resources.find((r) => r.name === "k8s-dev-ca" && r.type === T.privateKey)!.protect);
    });

    it("places the same EncryptionConfiguration on every control plane: secretbox with the stack's key, identity last", () => {
        const key1 = keyOf(run, "k8s-dev-secrets-key-key1");
        for (const node of ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"]) {
            assert.deepEqual(
                placedConfig(run, node).resources,
                [
                    {
                        resources: ["secrets"],
                        providers: [{ secretbox: { keys: [{ name: "key1", secret: key1 }] } }, { identity: {} }],
                    },
                ],
                node,
            );
        }
        // In the order of the config key: the first name encrypts.
        const providers = placedConfig(rotating, "k8s-dev-cp-1").resources[0].providers;
        assert.deepEqual(
            providers[0].secretbox.keys.map((k: { name: string }) => k.name),
            ["key2", "key1"],
        );
        assert.equal(providers[0].secretbox.keys[1].secret, keyOf(rotating, "k8s-dev-secrets-key-key1"));
    });

    it("a changed key list changes every control plane's rotation fingerprint, which stays public and carries no key", () => {
        for (const node of ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"]) {
            const before = rotateUpdate(run, node);
            const after = rotateUpdate(rotating, node);
            // Not secret: a secret command text would hide every rotation from previews and diffs.
            assert.ok(!isSecretValue(before) && !isSecretValue(after), `${node} rotate update is not secret`);
            assert.match(String(before), / # certificates [0-9a-f]{64}$/);
            // Same certificates (deterministic mocks), different encryption configuration.
            assert.notEqual(
                String(after).slice(-64),
                String(before).slice(-64),
                `${node}: a new key list restarts its apiserver`,
            );
            assert.equal(
                String(after).slice(0, -64),
                String(before).slice(0, -64),
                `${node}: only the fingerprint differs`,
            );
            for (const r of [run, rotating]) {
                for (const k of ofType(r, RANDOM_BYTES)) {
                    for (const out of ["base64", "hex"])
                        assert.ok(!String(rotateUpdate(r, node)).includes((k.outputs[out] as { value: string }).value));
                }
            }
        }
    });
});
