// SANs, the kubeadm certificate table, the PKI file list, and the discovery hash against openssl.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    KUBEADM_CAS,
    KUBEADM_LEAF_CERTS,
    SERVICE_ACCOUNT_KEY,
    apiServerSans,
    discoveryHash,
    etcdPeerSans,
    etcdServerSans,
    firstServiceIp,
    leafCert,
    leafCertRequest,
    pkiFilesFor,
} from "../../components/kubeadm";
import { SAMPLE_CLUSTER, SAMPLE_NODES } from "../../tools/render-scripts";

const CP0 = SAMPLE_NODES[0];
const WORKER = SAMPLE_NODES[3];
const NLB = SAMPLE_CLUSTER.apiEndpointHost;

describe("firstServiceIp", () => {
    it("is the network address + 1, as kubeadm computes it", () => {
        assert.equal(firstServiceIp("10.96.0.0/12"), "10.96.0.1");
        assert.equal(firstServiceIp("172.20.0.0/16"), "172.20.0.1");
        assert.equal(firstServiceIp("10.100.0.0/24"), "10.100.0.1");
        // host bits are ignored (net.ParseCIDR masks them)
        assert.equal(firstServiceIp("10.96.7.9/12"), "10.96.0.1");
        assert.equal(firstServiceIp("fd00:10:96::/112"), "fd00:10:96::1");
        assert.equal(firstServiceIp("2001:db8::/108"), "2001:db8::1");
    });

    it("rejects what is not a CIDR or too small for a Service IP", () => {
        for (const bad of ["10.96.0.0", "10.96.0.0/33", "300.1.1.1/8", "10.96.0.0/32", "10.96.0.0/31", "x/8", ""]) {
            assert.throws(() => firstServiceIp(bad), /serviceCidr/, bad);
        }
    });
});

describe("SANs kubeadm requires", () => {
    it("apiserver: node name, kubernetes.* names, first Service IP, node IP, NLB, extras", () => {
        assert.deepEqual(apiServerSans(SAMPLE_CLUSTER, CP0), {
            dnsNames: [
                CP0.name,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                NLB,
                "api.k8s-ha-dev.example.com",
            ],
            ipAddresses: ["10.96.0.1", CP0.privateIp],
        });
    });

    it("apiserver: IP extras land in ipAddresses, duplicates are dropped", () => {
        const sans = apiServerSans(
            { ...SAMPLE_CLUSTER, extraSans: ["203.0.113.7", NLB, "10.96.0.1", "api.k8s-ha-dev.example.com"] },
            CP0,
        );
        assert.deepEqual(sans.ipAddresses, ["10.96.0.1", CP0.privateIp, "203.0.113.7"]);
        assert.equal(sans.dnsNames.filter((n) => n === NLB).length, 1);
    });

    it("etcd server and peer: node name, localhost, node IP, 127.0.0.1, ::1", () => {
        const expected = { dnsNames: [CP0.name, "localhost"], ipAddresses: [CP0.privateIp, "127.0.0.1", "::1"] };
        assert.deepEqual(etcdServerSans(SAMPLE_CLUSTER, CP0), expected);
        assert.deepEqual(etcdPeerSans(SAMPLE_CLUSTER, CP0), expected);
        assert.deepEqual(etcdServerSans({ ...SAMPLE_CLUSTER, etcdExtraSans: ["etcd.internal"] }, CP0).dnsNames, [
            CP0.name,
            "localhost",
            "etcd.internal",
        ]);
    });

    it("only control planes have apiserver or etcd certificates", () => {
        assert.throws(() => apiServerSans(SAMPLE_CLUSTER, WORKER), /control-plane/);
        assert.throws(() => etcdServerSans(SAMPLE_CLUSTER, WORKER), /control-plane/);
    });
});

describe("kubeadm certificate table", () => {
    it("lists every leaf kubeadm makes, with kubeadm's subjects (1.29+) and usages", () => {
        const table = Object.fromEntries(
            KUBEADM_LEAF_CERTS.map((l) => [
                l.name,
                { ca: l.ca, cn: l.commonName, o: l.organizations, uses: [...l.allowedUses].sort() },
            ]),
        );
        const client = ["client_auth", "digital_signature", "key_encipherment"];
        const both = ["client_auth", "digital_signature", "key_encipherment", "server_auth"];
        assert.deepEqual(table, {
            apiserver: {
                ca: "ca",
                cn: "kube-apiserver",
                o: [],
                uses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            "apiserver-kubelet-client": {
                ca: "ca",
                cn: "kube-apiserver-kubelet-client",
                o: ["kubeadm:cluster-admins"],
                uses: client,
            },
            "apiserver-etcd-client": { ca: "etcd-ca", cn: "kube-apiserver-etcd-client", o: [], uses: client },
            "front-proxy-client": { ca: "front-proxy-ca", cn: "front-proxy-client", o: [], uses: client },
            "etcd-server": { ca: "etcd-ca", cn: { fromNode: "name" }, o: [], uses: both },
            "etcd-peer": { ca: "etcd-ca", cn: { fromNode: "name" }, o: [], uses: both },
            "etcd-healthcheck-client": { ca: "etcd-ca", cn: "kube-etcd-healthcheck-client", o: [], uses: client },
            admin: { ca: "ca", cn: "kubernetes-admin", o: ["kubeadm:cluster-admins"], uses: client },
        });
        // nothing but super-admin.conf (which kubeadm keeps on the init node) may carry system:masters
        for (const l of KUBEADM_LEAF_CERTS) assert.ok(!l.organizations.includes("system:masters"), l.name);
    });

    it("the CAs have kubeadm's common names and may sign", () => {
        assert.deepEqual(
            KUBEADM_CAS.map((c) => [c.name, c.commonName, c.certPath, c.keyPath]),
            [
                ["ca", "kubernetes", "/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.key"],
                ["etcd-ca", "etcd-ca", "/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/etcd/ca.key"],
                [
                    "front-proxy-ca",
                    "front-proxy-ca",
                    "/etc/kubernetes/pki/front-proxy-ca.crt",
                    "/etc/kubernetes/pki/front-proxy-ca.key",
                ],
            ],
        );
        for (const c of KUBEADM_CAS) assert.ok(c.allowedUses.includes("cert_signing"));
    });

    it("per-node leaves get the node's CN and SANs", () => {
        const peer = leafCertRequest(leafCert("etcd-peer"), SAMPLE_CLUSTER, CP0);
        assert.equal(peer.commonName, CP0.name);
        assert.deepEqual(peer.sans.ipAddresses, [CP0.privateIp, "127.0.0.1", "::1"]);
        const api = leafCertRequest(leafCert("apiserver"), SAMPLE_CLUSTER, CP0);
        assert.ok(api.sans.dnsNames.includes(NLB));
        const kc = leafCertRequest(leafCert("apiserver-kubelet-client"), SAMPLE_CLUSTER);
        assert.deepEqual(kc, {
            commonName: "kube-apiserver-kubelet-client",
            organizations: ["kubeadm:cluster-admins"],
            sans: { dnsNames: [], ipAddresses: [] },
        });
        assert.throws(() => leafCertRequest(leafCert("apiserver"), SAMPLE_CLUSTER), /differs per node/);
    });
});

describe("PKI files per role", () => {
    it("a control plane gets the three CAs with keys, the SA pair, every leaf at kubeadm's paths, and the encryption configuration", () => {
        const files = pkiFilesFor("control-plane");
        assert.deepEqual(files.map((f) => f.path.replace("/etc/kubernetes/pki/", "")).sort(), [
            "apiserver-etcd-client.crt",
            "apiserver-etcd-client.key",
            "apiserver-kubelet-client.crt",
            "apiserver-kubelet-client.key",
            "apiserver.crt",
            "apiserver.key",
            "ca.crt",
            "ca.key",
            "encryption-config.yaml",
            "etcd/ca.crt",
            "etcd/ca.key",
            "etcd/healthcheck-client.crt",
            "etcd/healthcheck-client.key",
            "etcd/peer.crt",
            "etcd/peer.key",
            "etcd/server.crt",
            "etcd/server.key",
            "front-proxy-ca.crt",
            "front-proxy-ca.key",
            "front-proxy-client.crt",
            "front-proxy-client.key",
            "sa.key",
            "sa.pub",
        ]);
        for (const f of files) {
            // The encryption configuration holds the Secrets' keys: 0600 like a private key.
            assert.equal(
                f.mode,
                f.path.endsWith(".key") || f.path.endsWith("/encryption-config.yaml") ? 0o600 : 0o644,
                f.path,
            );
        }
        assert.ok(files.some((f) => f.path === SERVICE_ACCOUNT_KEY.keyPath && f.source.kind === "sa-key"));
    });

    it("a worker gets nothing before its join (kubeadm refuses an existing ca.crt there)", () => {
        assert.deepEqual(pkiFilesFor("worker"), []);
    });
});

describe("discoveryHash", () => {
    let dir: string;
    before(() => {
        dir = mkdtempSync(join(tmpdir(), "k8s-ha-ca-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    function makeCa(name: string, keyArgs: string[]): string {
        const crt = join(dir, `${name}.crt`);
        execFileSync(
            "openssl",
            [
                "req",
                "-x509",
                ...keyArgs,
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=kubernetes",
                "-keyout",
                join(dir, `${name}.key`),
                "-out",
                crt,
            ],
            {
                stdio: ["ignore", "ignore", "pipe"],
            },
        );
        return crt;
    }

    /** openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex (stderr kept apart). */
    function opensslHash(crt: string): string {
        const pubPem = execFileSync("openssl", ["x509", "-pubkey", "-noout", "-in", crt], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        const der = execFileSync("openssl", ["pkey", "-pubin", "-outform", "der"], {
            input: pubPem,
            stdio: ["pipe", "pipe", "pipe"],
        });
        const out = execFileSync("openssl", ["dgst", "-sha256", "-hex"], {
            input: der,
            stdio: ["pipe", "pipe", "pipe"],
        })
            .toString()
            .trim();
        const m = /([0-9a-f]{64})$/.exec(out);
        assert.ok(m, `unexpected openssl dgst output: ${out}`);
        return `sha256:${m[1]}`;
    }

    for (const [name, keyArgs] of [
        ["RSA-2048", ["-newkey", "rsa:2048"]],
        ["ECDSA P-256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
    ] as const) {
        it(`equals openssl's SPKI digest for a ${name} CA`, function () {
            this.timeout(30000);
            const crt = makeCa(name.replace(/\W/g, ""), [...keyArgs]);
            const pem = readFileSync(crt, "utf8");
            const hash = discoveryHash(pem);
            assert.match(hash, /^sha256:[0-9a-f]{64}$/);
            assert.equal(hash, opensslHash(crt));
        });
    }

    it("differs between CAs and rejects non-certificates", () => {
        const a = discoveryHash(
            readFileSync(makeCa("a", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]), "utf8"),
        );
        const b = discoveryHash(
            readFileSync(makeCa("b", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]), "utf8"),
        );
        assert.notEqual(a, b);
        assert.throws(() => discoveryHash("not a certificate"));
    });
});
