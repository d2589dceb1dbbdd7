// The program's own etcd PKI runs a real etcd cluster. The program runs under the mock runtime in
// update mode with real cryptography (fresh keys) and its control planes on loopback addresses;
// its CAs and certificates are written to a temp dir, judged by openssl against kubeadm's rules,
// and used by a real 3-member etcd cluster (the lab's 3.6.16, the minor kubeadm 1.35 deploys) with
// mutual TLS for clients and peers, started with the flags kubeadm 1.35's etcd manifest uses plus
// the project's etcd tuning. Then: foreign and missing
// client certificates are refused, losing one member keeps writes going, losing two stops them,
// and after recovery every acknowledged key is on every member.
import { strict as assert } from "node:assert";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ETCD_TUNING } from "../../../components/kubeadm/config";
import { runProgram, type ProgramRun } from "../../../tools/harness/program";
import { tlsEmulator } from "../../../tools/harness/tlsEmulator";
import { unwrapSecrets } from "../../../tools/harness/values";
import { labTool } from "../../lab/tools";
import {
    ETCD_TOOLS,
    EtcdCluster,
    freeLoopbackAddresses,
    requireBinaries,
    requireEtcdTools,
    run as runCommand,
    waitFor,
    type KeyPair,
} from "./cluster";
import { CLIENT_AUTH, SERVER_AUTH, extensions, foreignClient, tls12Handshake, verify } from "./openssl";
import { TYPES } from "../../../policies/lib/contract";

const CLUSTER = "k8s-dev";
const NODE_NAMES = [`${CLUSTER}-cp-0`, `${CLUSTER}-cp-1`, `${CLUSTER}-cp-2`];
const SELF_SIGNED = TYPES.selfSignedCert;
const LOCALLY_SIGNED = TYPES.locallySignedCert;
const PRIVATE_KEY = TYPES.privateKey;

/** The three CAs and which CA signs which leaf (resource names as components/pki.ts registers them). */
const CAS = { cluster: `${CLUSTER}-ca`, etcd: `${CLUSTER}-etcd-ca`, frontProxy: `${CLUSTER}-front-proxy-ca` } as const;
type LeafKind = "etcd" | "apiserver" | "client";
const LEAVES: { name: string; ca: keyof typeof CAS; kind: LeafKind }[] = [
    ...NODE_NAMES.flatMap((n) => [
        { name: `${n}-etcd-server`, ca: "etcd" as const, kind: "etcd" as const },
        { name: `${n}-etcd-peer`, ca: "etcd" as const, kind: "etcd" as const },
        { name: `${n}-apiserver`, ca: "cluster" as const, kind: "apiserver" as const },
    ]),
    { name: `${CLUSTER}-apiserver-etcd-client`, ca: "etcd", kind: "client" },
    { name: `${CLUSTER}-etcd-healthcheck-client`, ca: "etcd", kind: "client" },
    { name: `${CLUSTER}-apiserver-kubelet-client`, ca: "cluster", kind: "client" },
    { name: `${CLUSTER}-admin`, ca: "cluster", kind: "client" },
    { name: `${CLUSTER}-front-proxy-client`, ca: "frontProxy", kind: "client" },
];
/** Keys that go to disk: only what the etcd members and their clients use. */
const KEYS_ON_DISK = [
    ...NODE_NAMES.flatMap((n) => [`${n}-etcd-server`, `${n}-etcd-peer`]),
    `${CLUSTER}-apiserver-etcd-client`,
    `${CLUSTER}-etcd-healthcheck-client`,
];

interface WrittenPki {
    /** Resource name -> certificate file (0644). */
    readonly certs: Record<string, string>;
    /** Resource name -> key file (0600). */
    readonly keys: Record<string, string>;
    /** The NLB's DNS name, from outputs.apiEndpoint. */
    readonly apiHost: string;
}

function pemOf(run: ProgramRun, type: string, name: string, field: string): string {
    const r = run.resources.find((x) => x.type === type && x.name === name);
    assert.ok(
        r,
        `the program registered no ${type} named ${name} (it has: ${run.resources
            .filter((x) => x.type === type)
            .map((x) => x.name)
            .join(", ")})`,
    );
    const pem = (unwrapSecrets(r.outputs) as Record<string, unknown>)[field];
    assert.ok(typeof pem === "string" && pem.includes("-----BEGIN"), `${type} ${name} has no PEM in ${field}`);
    return pem;
}

/** Writes the CAs and leaves (0644) and the keys etcd needs (0600), named after their resources. */
function writePki(run: ProgramRun, dir: string): WrittenPki {
    mkdirSync(join(dir, "pki"), { recursive: true });
    const certs: Record<string, string> = {};
    const keys: Record<string, string> = {};
    const write = (file: string, content: string, mode: number) => {
        writeFileSync(file, content, { mode });
        chmodSync(file, mode); // whatever the umask said
        assert.equal(statSync(file).mode & 0o777, mode, `${file} mode`);
    };
    for (const name of Object.values(CAS))
        write((certs[name] = join(dir, "pki", `${name}.crt`)), pemOf(run, SELF_SIGNED, name, "certPem"), 0o644);
    for (const leaf of LEAVES)
        write(
            (certs[leaf.name] = join(dir, "pki", `${leaf.name}.crt`)),
            pemOf(run, LOCALLY_SIGNED, leaf.name, "certPem"),
            0o644,
        );
    for (const name of KEYS_ON_DISK)
        write((keys[name] = join(dir, "pki", `${name}.key`)), pemOf(run, PRIVATE_KEY, name, "privateKeyPem"), 0o600);
    const endpoint = run.outputs.apiEndpoint;
    assert.ok(endpoint?.known, "outputs.apiEndpoint is known in update mode");
    return { certs, keys, apiHost: new URL(String(endpoint.value)).hostname };
}

/** Go's time.Duration.String() for whole milliseconds: 100ms, 1s, 1m30s, 1h0m0s. */
function goDuration(ms: number): string {
    if (ms < 1000) return `${ms}ms`;
    const h = Math.floor(ms / 3_600_000);
    const m = Math.floor((ms % 3_600_000) / 60_000);
    const s = (ms % 60_000) / 1000;
    return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}

/** A Go duration flag value ("1h", "90m", "5s"); a bare number is hours (auto-compaction-retention in periodic mode). */
function durationFlagMs(v: string): number {
    if (/^\d+$/.test(v)) return Number(v) * 3_600_000;
    let total = 0;
    const rest = v.replace(/(\d+(?:\.\d+)?)(h|ms|m|s)/g, (_, n: string, unit: string) => {
        total += Number(n) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[unit as "h" | "m" | "s" | "ms"]!;
        return "";
    });
    if (rest) throw new Error(`cannot read duration ${v}`);
    return total;
}

/** How etcd 3.6 reports a tuning flag in its "starting an etcd server" log entry, where the spec knows. */
function loggedAs(flag: string, value: string): unknown {
    switch (flag) {
        case "heartbeat-interval":
        case "election-timeout":
            return goDuration(Number(value));
        case "snapshot-count":
        case "quota-backend-bytes":
            return Number(value);
        case "auto-compaction-retention":
            return goDuration(durationFlagMs(value));
        case "auto-compaction-mode":
            return value;
        default:
            return undefined; // only checked on the command line
    }
}

const sorted = (a: Iterable<string>) => [...a].sort();

describe("etcd system spec prerequisites", () => {
    it("the lab's etcd, etcdctl and etcdutl are built and are 3.6, and openssl is installed (a missing binary fails naming 'npm run lab:tools', never skips)", async () => {
        requireEtcdTools();
        requireBinaries();
        for (const tool of ETCD_TOOLS) {
            const r = await runCommand(labTool(tool), tool === "etcd" ? ["--version"] : ["version"]);
            assert.equal(r.code, 0, `${tool} version: ${r.stderr}`);
            assert.match(
                r.stdout,
                new RegExp(`^${tool}( version:| Version:) 3\\.6\\.\\d+$`, "m"),
                `${tool} is 3.6 (kubeadm 1.35's etcd minor): ${r.stdout}`,
            );
        }
    });
});

for (const algorithm of ["RSA", "ECDSA"] as const) {
    describe(`etcd on the program's own PKI (${algorithm}; real etcd and openssl)`, function () {
        let dir: string;
        let pki: WrittenPki;
        let nodes: { name: string; ip: string }[];
        let failed = false;

        before(async function () {
            requireEtcdTools();
            requireBinaries();
            dir = mkdtempSync(join(tmpdir(), `etcd-system-${algorithm.toLowerCase()}-`));
            // Loopback addresses no other run on this machine is using (127.0.<k>.11-13).
            const ips = await freeLoopbackAddresses(NODE_NAMES.length);
            nodes = NODE_NAMES.map((name, i) => ({ name, ip: ips[i] }));
            const started = Date.now();
            const run = await runProgram({
                stack: "dev",
                preview: false,
                config: { pkiAlgorithm: algorithm },
                mocks: {
                    privateIps: Object.fromEntries(nodes.map((n) => [n.name, n.ip])),
                    overrides: tlsEmulator({ keepIssued: false }),
                },
            });
            assert.ifError(run.error);
            assert.deepEqual(
                run.outputs.controlPlanePrivateIps?.value,
                ips,
                "the control planes sit on the loopback addresses the test chose",
            );
            pki = writePki(run, dir);
            console.log(
                `      program run (${algorithm}, fresh keys): ${Date.now() - started} ms; control planes on ${ips.join(", ")}; files in ${dir}`,
            );
        });

        afterEach(function () {
            if (this.currentTest?.state === "failed") failed = true;
        });

        after(function () {
            if (!dir) return;
            if (failed) console.log(`      kept ${dir} (certificates, member logs) for the failure above`);
            else rmSync(dir, { recursive: true, force: true });
        });

        describe("certificates, judged by openssl", () => {
            it("every leaf verifies against its own CA, for its purpose (-purpose), and against no other CA", async () => {
                for (const leaf of LEAVES) {
                    const own = pki.certs[CAS[leaf.ca]];
                    const good = await verify(own, pki.certs[leaf.name]);
                    assert.ok(good.ok, `openssl verify ${leaf.name} against ${CAS[leaf.ca]}: ${good.output}`);
                    // -purpose checks extendedKeyUsage: etcd server/peer both ways, apiserver server only, clients client only.
                    const asClient = await verify(own, pki.certs[leaf.name], "sslclient");
                    const asServer = await verify(own, pki.certs[leaf.name], "sslserver");
                    assert.equal(
                        asClient.ok,
                        leaf.kind !== "apiserver",
                        `${leaf.name} as a TLS client: ${asClient.output}`,
                    );
                    assert.equal(
                        asServer.ok,
                        leaf.kind !== "client",
                        `${leaf.name} as a TLS server: ${asServer.output}`,
                    );
                    for (const [other, otherName] of Object.entries(CAS)) {
                        if (other === leaf.ca) continue;
                        const wrong = await verify(pki.certs[otherName], pki.certs[leaf.name]);
                        assert.ok(!wrong.ok, `${leaf.name} must not verify against ${otherName}`);
                        assert.match(
                            wrong.output,
                            /unable to get local issuer certificate|certificate signature failure/,
                        );
                    }
                }
            });

            it("CAs: CA:TRUE (critical), keyCertSign, self-signed", async () => {
                for (const name of Object.values(CAS)) {
                    const ext = await extensions(pki.certs[name]);
                    assert.deepEqual(ext.basicConstraints, ["CA:TRUE"], `${name}:\n${ext.text}`);
                    assert.ok(ext.basicConstraintsCritical, `${name} basicConstraints critical:\n${ext.text}`);
                    assert.ok(ext.keyUsage.includes("Certificate Sign"), `${name} keyCertSign:\n${ext.text}`);
                    const self = await verify(pki.certs[name], pki.certs[name]);
                    assert.ok(self.ok, `${name} is self-signed: ${self.output}`);
                }
            });

            it("etcd server and peer: CN node name; SANs exactly node name, localhost, node IP, 127.0.0.1, ::1; serverAuth+clientAuth", async () => {
                for (const node of nodes) {
                    for (const kind of ["etcd-server", "etcd-peer"]) {
                        const ext = await extensions(pki.certs[`${node.name}-${kind}`]);
                        const where = `${node.name}-${kind}:\n${ext.text}`;
                        assert.equal(ext.subject, `CN=${node.name}`, where);
                        assert.deepEqual(
                            sorted(ext.subjectAltNames),
                            sorted([
                                `DNS:${node.name}`,
                                "DNS:localhost",
                                `IP Address:${node.ip}`,
                                "IP Address:127.0.0.1",
                                "IP Address:0:0:0:0:0:0:0:1",
                            ]),
                            where,
                        );
                        assert.deepEqual(sorted(ext.extendedKeyUsage), sorted([SERVER_AUTH, CLIENT_AUTH]), where);
                        assert.ok(
                            ext.keyUsage.includes("Digital Signature") && !ext.keyUsage.includes("Certificate Sign"),
                            where,
                        );
                        assert.deepEqual(ext.basicConstraints, ["CA:FALSE"], where);
                    }
                }
            });

            it("client certificates (apiserver-etcd-client and the others): clientAuth only, no SANs, not CAs", async () => {
                const subjects: Record<string, string> = {
                    [`${CLUSTER}-apiserver-etcd-client`]: "CN=kube-apiserver-etcd-client",
                    [`${CLUSTER}-etcd-healthcheck-client`]: "CN=kube-etcd-healthcheck-client",
                };
                for (const leaf of LEAVES.filter((l) => l.kind === "client")) {
                    const ext = await extensions(pki.certs[leaf.name]);
                    const where = `${leaf.name}:\n${ext.text}`;
                    assert.deepEqual(ext.extendedKeyUsage, [CLIENT_AUTH], where);
                    assert.deepEqual(ext.subjectAltNames, [], where);
                    assert.deepEqual(ext.basicConstraints, ["CA:FALSE"], where);
                    if (subjects[leaf.name]) assert.equal(ext.subject, subjects[leaf.name], where);
                }
            });

            it("apiserver: serverAuth only; SANs include the NLB's DNS name, 10.96.0.1, node name and IP, kubernetes.*", async () => {
                assert.match(pki.apiHost, /\.elb\.[a-z0-9-]+\.amazonaws\.com$/);
                for (const node of nodes) {
                    const ext = await extensions(pki.certs[`${node.name}-apiserver`]);
                    const where = `${node.name}-apiserver:\n${ext.text}`;
                    assert.deepEqual(ext.extendedKeyUsage, [SERVER_AUTH], where);
                    assert.equal(ext.subject, "CN=kube-apiserver", where);
                    const required = [
                        `DNS:${pki.apiHost}`,
                        "IP Address:10.96.0.1",
                        `DNS:${node.name}`,
                        `IP Address:${node.ip}`,
                        "DNS:kubernetes",
                        "DNS:kubernetes.default",
                        "DNS:kubernetes.default.svc",
                        "DNS:kubernetes.default.svc.cluster.local",
                    ];
                    assert.deepEqual(
                        required.filter((s) => !ext.subjectAltNames.includes(s)),
                        [],
                        `missing SANs on ${where}`,
                    );
                }
            });
        });

        describe("a 3-member etcd cluster with mutual TLS", () => {
            let cluster: EtcdCluster;
            let apiserverClient: KeyPair;
            let healthcheckClient: KeyPair;
            let healthyAfterMs = 0;
            const flags = { ...ETCD_TUNING, "pre-vote": "true" };

            before(async function () {
                apiserverClient = {
                    cert: pki.certs[`${CLUSTER}-apiserver-etcd-client`],
                    key: pki.keys[`${CLUSTER}-apiserver-etcd-client`],
                };
                healthcheckClient = {
                    cert: pki.certs[`${CLUSTER}-etcd-healthcheck-client`],
                    key: pki.keys[`${CLUSTER}-etcd-healthcheck-client`],
                };
                cluster = new EtcdCluster({
                    dir: join(dir, "etcd"),
                    caFile: pki.certs[CAS.etcd],
                    client: apiserverClient,
                    members: nodes.map((n) => ({
                        name: n.name,
                        ip: n.ip,
                        server: { cert: pki.certs[`${n.name}-etcd-server`], key: pki.keys[`${n.name}-etcd-server`] },
                        peer: { cert: pki.certs[`${n.name}-etcd-peer`], key: pki.keys[`${n.name}-etcd-peer`] },
                    })),
                    flags,
                });
                const started = Date.now();
                await cluster.startAll();
                await cluster.waitHealthy({ timeoutMs: 20_000 });
                healthyAfterMs = Date.now() - started;
            });

            after(async function () {
                this.timeout(30_000);
                await cluster?.stopAll("SIGKILL");
            });

            it("is healthy (endpoint health --cluster) for kube-apiserver's client certificate and the healthcheck client's", async () => {
                console.log(`      3 members healthy ${healthyAfterMs} ms after start`);
                for (const client of [apiserverClient, healthcheckClient]) {
                    const { result, endpoints } = await cluster.health({
                        cluster: true,
                        client,
                        endpoints: [cluster.clientUrl(nodes[0].name)],
                        dialTimeout: "3s",
                        commandTimeout: "5s",
                    });
                    assert.equal(
                        result.code,
                        0,
                        `endpoint health --cluster as ${client.cert}: ${result.stdout}${result.stderr}`,
                    );
                    assert.deepEqual(
                        sorted(endpoints.filter((e) => e.health).map((e) => e.endpoint)),
                        sorted(nodes.map((n) => `https://${n.ip}:2379`)),
                    );
                }
                const members = await cluster.etcdctl(["member", "list", "-w", "json", "--dial-timeout=3s"]);
                assert.equal(members.code, 0, members.stderr);
                const list = JSON.parse(members.stdout.replace(/"(ID|member_id|cluster_id)":(\d+)/g, '"$1":"$2"')) as {
                    members: { name: string; peerURLs: string[]; clientURLs: string[] }[];
                };
                assert.deepEqual(
                    sorted(list.members.map((m) => `${m.name} ${m.peerURLs.join()} ${m.clientURLs.join()}`)),
                    sorted(nodes.map((n) => `${n.name} https://${n.ip}:2380 https://${n.ip}:2379`)),
                    "members advertise https peer and client URLs",
                );

                const put = await cluster.put([["/k8s-ha-test/hello", `from-${algorithm}`]]);
                assert.deepEqual(put.errors, []);
                for (const n of nodes) {
                    const got = await waitFor(`${n.name} to serve the key from its own store`, 5_000, async () =>
                        (
                            await cluster.getPrefix("/k8s-ha-test/hello", cluster.clientUrl(n.name), {
                                serializable: true,
                            })
                        ).get("/k8s-ha-test/hello"),
                    );
                    assert.equal(got, `from-${algorithm}`);
                }
            });

            it("runs every member with kubeadm's TLS flags and the project's etcd tuning, as etcd itself reports", () => {
                for (const n of nodes) {
                    // What the process really got (not what the fixture meant to pass).
                    const argv = readFileSync(`/proc/${cluster.pid(n.name)}/cmdline`, "utf8")
                        .split("\0")
                        .filter(Boolean);
                    for (const [k, v] of Object.entries({
                        ...flags,
                        "client-cert-auth": "true",
                        "peer-client-cert-auth": "true",
                        "snapshot-count": ETCD_TUNING["snapshot-count"] ?? "10000",
                    })) {
                        assert.ok(argv.includes(`--${k}=${v}`), `${n.name} runs with --${k}=${v}: ${argv.join(" ")}`);
                    }
                    // What etcd made of it: its effective configuration, logged once at start.
                    const line = cluster
                        .log(n.name)
                        .split("\n")
                        .find((l) => l.includes('"msg":"starting an etcd server"'));
                    assert.ok(line, `${n.name} logged its configuration`);
                    const effective = JSON.parse(line) as Record<string, unknown>;
                    for (const [k, v] of Object.entries(ETCD_TUNING)) {
                        const expected = loggedAs(k, v);
                        if (expected !== undefined)
                            assert.deepEqual(
                                effective[k],
                                expected,
                                `${n.name}: etcd reports ${k}=${JSON.stringify(effective[k])} for --${k}=${v}`,
                            );
                    }
                    assert.equal(effective["pre-vote"], true, `${n.name} pre-vote`);
                    // 3.6 takes the initial corruption check as a feature gate; its log line's own
                    // "initial-corrupt-check" field is the deprecated flag's and stays false (measured on
                    // 3.6.16), so the gate string is what tells. That the check really runs on a
                    // restarted member is asserted by the failure drill.
                    assert.match(
                        String(effective["feature-gates"]),
                        /(^|,)InitialCorruptCheck=true(,|$)/,
                        `${n.name} initial corrupt check (feature-gates: ${String(effective["feature-gates"])})`,
                    );
                    assert.match(String(effective["etcd-version"]), /^3\.6\./, `${n.name} is etcd 3.6`);
                    for (const side of ["client", "peer"]) {
                        const tls = cluster
                            .log(n.name)
                            .split("\n")
                            .find((l) => l.includes(`"msg":"starting with ${side} TLS"`));
                        assert.ok(tls, `${n.name} starts with ${side} TLS`);
                        assert.match(tls, /client-cert-auth = true/, `${n.name} requires ${side} certificates`);
                        assert.ok(
                            tls.includes(`trusted-ca = ${pki.certs[CAS.etcd]}`),
                            `${n.name} trusts the etcd CA for ${side}s`,
                        );
                    }
                }
            });

            it("refuses a foreign CA's client certificate (same CN) and no certificate, on client and peer ports, and logs why", async () => {
                const target = nodes[0];
                const foreign = await foreignClient(dir, "kube-apiserver-etcd-client");
                const get = (client: KeyPair | null) =>
                    cluster.etcdctl(["get", "/k8s-ha-test/hello", "--dial-timeout=2s", "--command-timeout=2s"], {
                        endpoints: [cluster.clientUrl(target.name)],
                        client,
                    });
                const control = await get(apiserverClient);
                assert.equal(control.code, 0, `control: the program's client certificate works: ${control.stderr}`);

                // Both impostors at once (their log lines differ): a foreign CA's certificate, and none.
                const offset = cluster.logOffset(target.name);
                const [refused, anonymous] = await Promise.all([get(foreign), get(null)]);
                assert.notEqual(
                    refused.code,
                    0,
                    `etcdctl with a foreign client certificate must fail; it printed: ${refused.stdout}`,
                );
                assert.notEqual(
                    anonymous.code,
                    0,
                    `etcdctl without a client certificate must fail; it printed: ${anonymous.stdout}`,
                );
                assert.ok(!`${refused.stdout}${anonymous.stdout}`.includes("from-"), "no data was served to either");
                assert.match(
                    refused.stderr,
                    /context deadline exceeded/,
                    "etcdctl's own error is generic; the reason is only in the server log",
                );
                // 3.6 names the listener in the message ("rejected connection on client endpoint" /
                // "... on peer endpoint"); 3.4 logged "rejected connection" for both.
                const rejection = (side: "client" | "peer", pattern: RegExp, since: number) => () =>
                    Promise.resolve(
                        cluster
                            .logSince(target.name, since)
                            .split("\n")
                            .find(
                                (l) => l.includes(`"msg":"rejected connection on ${side} endpoint"`) && pattern.test(l),
                            ),
                    );
                const why = (since: number) => () =>
                    `etcdctl said: ${refused.stderr.trim()} / ${anonymous.stderr.trim()}\n${target.name}'s log since:\n${cluster.logSince(target.name, since)}`;
                const foreignLine = await waitFor(
                    `${target.name}'s log to record the foreign certificate's rejection`,
                    5_000,
                    rejection("client", /signed by unknown authority/, offset),
                    why(offset),
                );
                const anonymousLine = await waitFor(
                    `${target.name}'s log to record the anonymous client's rejection`,
                    5_000,
                    rejection("client", /didn't provide a certificate/, offset),
                    why(offset),
                );

                // The peer port: a real peer certificate completes a TLS 1.2 handshake, the foreign one does not.
                const peerOffset = cluster.logOffset(target.name);
                const peerControl = await tls12Handshake(target.ip, 2380, pki.certs[CAS.etcd], {
                    cert: pki.certs[`${nodes[1].name}-etcd-peer`],
                    key: pki.keys[`${nodes[1].name}-etcd-peer`],
                });
                assert.ok(
                    peerControl.ok,
                    `control: a member's peer certificate is accepted on ${target.ip}:2380: ${peerControl.output}`,
                );
                const peerRefused = await tls12Handshake(target.ip, 2380, pki.certs[CAS.etcd], foreign);
                assert.ok(
                    !peerRefused.ok,
                    `a foreign certificate must not complete a handshake on the peer port: ${peerRefused.output}`,
                );
                // etcd 3.6.16 built with Go 1.26 answers a certificate from an unknown CA with alert 48
                // (unknown ca); Debian's 3.4 (older Go) sent alert 42 (bad certificate).
                assert.match(peerRefused.output, /alert unknown ca/);
                const peerLine = await waitFor(
                    `${target.name}'s log to record the peer-port rejection`,
                    5_000,
                    rejection("peer", /signed by unknown authority/, peerOffset),
                    why(peerOffset),
                );

                console.log(
                    [
                        `etcdctl: ${refused.stderr.trim().split("\n").pop()}`,
                        foreignLine,
                        anonymousLine,
                        `openssl s_client (peer port): ${peerRefused.output.split("\n").find((l) => /alert/.test(l))}`,
                        peerLine,
                    ]
                        .map((l) => `      ${l.slice(0, 260)}`)
                        .join("\n"),
                );
            });

            // The failure drill is about etcd, not the key type: once, with the default (RSA).
            if (algorithm === "RSA")
                it("keeps writing with one member lost, refuses writes with two lost, and keeps every acknowledged key", async () => {
                    const prefix = "/k8s-ha-test/drill/";
                    const entries = (phase: string, n: number) =>
                        Array.from(
                            { length: n },
                            (_, i) => [`${prefix}${phase}/${String(i).padStart(4, "0")}`, `${phase}-${i}`] as const,
                        );
                    const acknowledged = new Map<string, string>();
                    const record = (keys: string[], from: readonly (readonly [string, string])[]) => {
                        const values = new Map(from);
                        for (const k of keys) acknowledged.set(k, values.get(k)!);
                    };

                    const healthy = entries("a-healthy", 500);
                    const a = await cluster.put(healthy);
                    assert.deepEqual(a.errors, [], "all writes succeed on a healthy cluster");
                    record(a.acknowledged, healthy);

                    // Lose the leader (the harder case): the survivors elect a new one and writes resume.
                    const first = await cluster.leader();
                    assert.ok(first, "the cluster has a leader");
                    await cluster.kill(first, "SIGKILL");
                    const killedAt = Date.now();
                    const survivors = nodes.map((n) => n.name).filter((n) => n !== first);
                    const degraded = entries("b-one-lost", 500);
                    // Each txn is cut off after 1 s + 2 s: one sent before the election was forwarded to the dead leader and would wait 7 s.
                    const b = await cluster.putWithRetry(degraded, {
                        endpoints: survivors.map((n) => cluster.clientUrl(n)),
                        commandTimeout: "1s",
                        deadlineMs: 20_000,
                    });
                    assert.deepEqual(
                        b.unacknowledged,
                        [],
                        `writes continue after the leader ${first} is lost; errors: ${b.errors.join("; ")}\n${cluster.describe()}`,
                    );
                    record(b.acknowledged, degraded);
                    const resumedMs = Date.now() - killedAt;
                    const second = await cluster.leader();
                    assert.ok(second && survivors.includes(second), `a survivor leads (got ${second})`);

                    // Lose a second member: no quorum, no write.
                    await cluster.kill(second, "SIGKILL");
                    const lone = survivors.find((n) => n !== second)!;
                    const refused = await cluster.putOne(`${prefix}c-no-quorum`, "maybe", {
                        endpoints: [cluster.clientUrl(lone)],
                        commandTimeout: "2s",
                    });
                    assert.ok(!refused.ok, `a put on ${lone} alone must not be acknowledged`);
                    assert.match(
                        refused.error ?? "",
                        /request timed out|context deadline exceeded|proposal dropped|no leader/,
                        "the put is refused for want of a quorum",
                    );
                    // Control: the lone member is reachable and serves its own data; only consensus is missing.
                    const loneCount = await cluster.countKeys(prefix, cluster.clientUrl(lone), { serializable: true });
                    assert.ok(loneCount >= 500, `${lone} still serves serializable reads (${loneCount} keys)`);
                    // A timed-out write is indeterminate (the proposal may sit in a log and commit later): its absence is never asserted.

                    const restartOffsets = new Map([first, second].map((n) => [n, cluster.logOffset(n)]));
                    await cluster.start(first);
                    await cluster.start(second);
                    await cluster.waitHealthy({ timeoutMs: 20_000 });
                    // --feature-gates=InitialCorruptCheck=true at work: a member restarted on its data
                    // checks its hash against its peers' before it serves.
                    for (const [n, offset] of restartOffsets) {
                        assert.ok(
                            cluster
                                .logSince(n, offset)
                                .includes('"msg":"initial corruption checking passed; no corruption"'),
                            `${n} ran the initial corruption check on restart:\n${cluster
                                .logSince(n, offset)
                                .split("\n")
                                .filter((l) => /corrupt/i.test(l))
                                .join("\n")}`,
                        );
                    }

                    const recovered = entries("d-recovered", 100);
                    const d = await cluster.putWithRetry(recovered, { commandTimeout: "3s", deadlineMs: 15_000 });
                    assert.deepEqual(d.unacknowledged, [], `writes succeed after recovery; ${d.errors.join("; ")}`);
                    record(d.acknowledged, recovered);

                    const seen: Map<string, string>[] = [];
                    for (const n of nodes) {
                        const endpoint = cluster.clientUrl(n.name);
                        let last = new Map<string, string>();
                        const kv = await waitFor(
                            `${n.name} to hold all ${acknowledged.size} acknowledged keys (serializable reads of its own store)`,
                            15_000,
                            async () => {
                                last = await cluster.getPrefix(prefix, endpoint, { serializable: true });
                                return [...acknowledged].every(([k, v]) => last.get(k) === v) ? last : undefined;
                            },
                            () => {
                                const wrong = [...acknowledged].filter(([k, v]) => last.get(k) !== v);
                                return `${wrong.length} acknowledged keys missing or different on ${n.name}, e.g. ${wrong
                                    .slice(0, 5)
                                    .map(([k, v]) => `${k}=${v} (has ${last.get(k)})`)
                                    .join(", ")}`;
                            },
                        );
                        assert.equal(
                            await cluster.countKeys(prefix, endpoint, { serializable: true }),
                            kv.size,
                            `${n.name}: the count agrees with the keys listed`,
                        );
                        seen.push(kv);
                    }
                    for (let i = 1; i < seen.length; i++)
                        assert.deepEqual(
                            sorted(seen[i].keys()),
                            sorted(seen[0].keys()),
                            `${nodes[i].name} and ${nodes[0].name} hold the same keys`,
                        );
                    console.log(
                        `      killed leader ${first}: writes resumed after ${resumedMs} ms (${b.attempts} txns for 5 batches); killed ${second}: put on ${lone} refused after ${refused.ms} ms ` +
                            `(${refused.error?.split("\n").pop()}); after restart ${acknowledged.size} acknowledged keys on all 3 members; the refused put ${seen[0].has(`${prefix}c-no-quorum`) ? "was committed later" : "is absent"}`,
                    );
                });
        });
    });
}
