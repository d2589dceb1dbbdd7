// `npm run plan -- --render DIR --state FILE [--replace-type TYPE]...`: renders that keep the tls
// resources' state between runs as Pulumi's state does, so that a second render can be what
// `pulumi up --replace=<every LocallySignedCert>` hands the nodes (the rotation runbook): the
// same CAs, keys and CSRs, new leaf certificates. The first render is a real process, so the state
// the later ones read (in this process: a run with a state file reads only that file) outlived it.
import { strict as assert } from "node:assert";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { TYPES } from "../policies/lib/contract";
import { planInProcess, planProcess, type ProcessResult } from "./planCli";

const CP = "k8s-dev-cp-1";
const PKI = join(CP, "etc", "kubernetes", "pki");
const CAS = ["ca", "front-proxy-ca", "etcd/ca"];
const LEAVES = [
    "apiserver",
    "apiserver-kubelet-client",
    "apiserver-etcd-client",
    "front-proxy-client",
    "etcd/server",
    "etcd/peer",
    "etcd/healthcheck-client",
];

/** A leaf's CA when not the cluster CA (kubeadm's layout). */
const ISSUER: Record<string, string> = {
    "apiserver-etcd-client": "etcd/ca",
    "front-proxy-client": "front-proxy-ca",
    "etcd/server": "etcd/ca",
    "etcd/peer": "etcd/ca",
    "etcd/healthcheck-client": "etcd/ca",
};

const cert = (dir: string, name: string) => new X509Certificate(readFileSync(join(dir, PKI, `${name}.crt`)));
const adminCert = (dir: string) => {
    const kc = parse(readFileSync(join(dir, "admin.conf"), "utf8"));
    return new X509Certificate(Buffer.from(kc.users[0].user["client-certificate-data"], "base64"));
};

describe("offline plan --render with --state: the tls resources kept between renders, leaves replaced", function () {
    this.timeout(300_000);
    let scratch: string;
    let state: string;
    const dirs: string[] = [];
    const results: ProcessResult[] = [];
    const render = async (extra: string[]) => {
        const dir = join(scratch, `render-${dirs.length}`);
        dirs.push(dir);
        const args = ["--stack", "dev", "--config", "pkiAlgorithm=ECDSA", "--render", dir, ...extra];
        const r = await (dirs.length === 1 ? planProcess(args) : planInProcess(args));
        results.push(r);
        return r;
    };

    before(async () => {
        scratch = mkdtempSync(join(tmpdir(), "k8s-ha-render-state-"));
        state = join(scratch, "tls-state.json");
        // A first `pulumi up` (no state yet), the rotation's replacement of every leaf, then an up with nothing to do.
        await render(["--state", state]);
        await render(["--state", state, "--replace-type", TYPES.locallySignedCert]);
        await render(["--state", state]);
    });

    after(() => rmSync(scratch, { recursive: true, force: true }));

    it("the first render starts the state (missing file) and writes it 0600, as a secret", () => {
        for (const r of results) assert.equal(r.code, 0, r.stderr);
        assert.match(results[0].stderr, /tls state kept in .*tls-state\.json\n/);
        assert.match(
            results[1].stderr,
            /tls state kept in .*, tls:index\/locallySignedCert:LocallySignedCert issued anew\n/,
        );
        assert.equal(statSync(state).mode & 0o777, 0o600);
        assert.deepEqual(
            readdirSync(scratch).filter((f) => f.endsWith(".tmp")),
            [],
        );
    });

    it("replacing the LocallySignedCerts keeps every CA, key and the service-account key, and re-issues every leaf", () => {
        const [first, second] = dirs;
        for (const ca of CAS) {
            assert.equal(cert(second, ca).raw.toString("hex"), cert(first, ca).raw.toString("hex"), `${ca}.crt`);
            assert.equal(
                readFileSync(join(second, PKI, `${ca}.key`), "utf8"),
                readFileSync(join(first, PKI, `${ca}.key`), "utf8"),
            );
        }
        assert.equal(
            readFileSync(join(second, PKI, "sa.key"), "utf8"),
            readFileSync(join(first, PKI, "sa.key"), "utf8"),
        );
        for (const leaf of [...LEAVES.map((l) => [l, cert(first, l), cert(second, l)] as const)]) {
            const [name, before, after] = leaf;
            assert.notEqual(after.serialNumber, before.serialNumber, `${name}: same serial`);
            // Not earlier: a certificate's validity counts whole seconds, and the first render can
            // end in the second the replacement starts (it did, once the suite ran faster).
            assert.ok(Date.parse(after.validFrom) >= Date.parse(before.validFrom), `${name}: ${after.validFrom}`);
            assert.ok(Date.parse(after.validTo) >= Date.parse(before.validTo), `${name}: ${after.validTo}`);
            // The key is a resource of its own, kept: only the certificate is replaced.
            assert.equal(
                readFileSync(join(second, PKI, `${name}.key`), "utf8"),
                readFileSync(join(first, PKI, `${name}.key`), "utf8"),
            );
            const issuer = cert(second, ISSUER[name] ?? "ca");
            assert.ok(after.verify(issuer.publicKey), `${name} is not signed by the kept CA`);
        }
        assert.notEqual(adminCert(second).serialNumber, adminCert(first).serialNumber);
        assert.ok(adminCert(second).verify(cert(first, "ca").publicKey));
        // What the nodes are handed changes with it: place-pki's files and the rotation's text.
        const stdinOf = (dir: string) => readFileSync(join(dir, CP, "stdin", "place-pki"), "utf8");
        assert.notEqual(stdinOf(second), stdinOf(first));
        const rotate = (dir: string) => readFileSync(join(dir, CP, "scripts", "rotate.update.sh"), "utf8");
        assert.notEqual(rotate(second), rotate(first));
    });

    it("a render with the state and nothing replaced hands every node exactly what the one before did", () => {
        const [, second, third] = dirs;
        for (const n of ["k8s-dev-cp-0", CP, "k8s-dev-cp-2"]) {
            for (const f of ["place-pki", "join", "init"].filter((s) => existsSync(join(second, n, "stdin", s))))
                assert.equal(
                    readFileSync(join(third, n, "stdin", f), "utf8"),
                    readFileSync(join(second, n, "stdin", f), "utf8"),
                    `${n} ${f}`,
                );
            assert.equal(
                readFileSync(join(third, n, "scripts", "rotate.update.sh"), "utf8"),
                readFileSync(join(second, n, "scripts", "rotate.update.sh"), "utf8"),
            );
        }
        assert.equal(readFileSync(join(third, "admin.conf"), "utf8"), readFileSync(join(second, "admin.conf"), "utf8"));
    });

    it("refuses --state without --render, --replace-type without --state and a type it cannot replace, with exit 2, before any run", async () => {
        const cases: [string[], RegExp][] = [
            [["--state", state], /--state .*: a state is kept by renders only; add --render <dir>/],
            [
                ["--render", join(scratch, "r-a"), "--replace-type", TYPES.locallySignedCert],
                /--replace-type tls:index\/locallySignedCert:LocallySignedCert: needs --state <file>/,
            ],
            [
                ["--render", join(scratch, "r-b"), "--state", state, "--replace-type", TYPES.instance],
                /--replace-type aws:ec2\/instance:Instance: not one of tls:index\/privateKey:PrivateKey, .*tls:index\/locallySignedCert:LocallySignedCert/,
            ],
        ];
        const before = readFileSync(state, "utf8");
        for (const [args, message] of cases) {
            const r = await planInProcess(["--stack", "dev", ...args]);
            assert.equal(r.code, 2, r.stderr);
            assert.match(r.stderr, message);
        }
        assert.ok(!existsSync(join(scratch, "r-a")) && !existsSync(join(scratch, "r-b")));
        assert.equal(readFileSync(state, "utf8"), before);
    });
});
