// Backup and restore on node sandboxes (issue 15): on the live cluster, every control plane's own
// rendered backup installer (etcd-backup.create) installs the backup and restore scripts and the
// timer; the backup runs as its timer would (the installed service's ExecStart, with the unit's
// Environment), snapshots the real etcd 3.6 member with etcdctl and uploads it with the real curl
// (SigV4, IMDSv2 credentials) to the S3 STAND-IN; then the README's runbook "Restore etcd from a
// backup" is followed with the installed k8s-ha-etcd-restore: stop, restore, start on every control
// plane (etcdutl 3.6 from the node's etcd image, run by its containerd).
// Stand-ins, and only these (AWS itself): S3 is s3rver (npm) behind the S3 checks of
// tests/system/backup/sigv4-proxy.ts and a TLS front with the bucket's virtual-hosted name (a lab CA
// the control planes trust); the instance metadata service is a small IMDSv2 server on
// 169.254.169.254; the admin's `aws s3 cp` is a signed curl GET; the runbook's scp is a copy to /tmp
// (the nodes share the host's /tmp). Lab-only: each control plane gets its own /etc/systemd/system
// and /usr/local/sbin (the installer writes there; the sandboxes share the host's otherwise),
// etcd-client is staged (the lab's etcdctl/etcdutl 3.6 on the unit's PATH, so the installer's
// apt-get never runs), and during the restore sandbox/restore/mv stands in for the rename of
// /var/lib/etcd, a bind mount in a sandbox (README, node-lane overlay table).
// Order: needs the brought-up cluster (cluster.ts) and leaves it healthy: three voting members,
// every node Ready, the timer installed.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
    appendFileSync,
    copyFileSync,
    existsSync,
    mkdirSync,
    readdirSync,
    readFileSync,
    rmSync,
    statSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { join, resolve } from "node:path";
import S3rver from "s3rver";
import { labBin } from "../lab/tools";
import { run, waitFor, type RunResult } from "../system/etcd/cluster";
import { sigV4Proxy, type CheckedRequest } from "../system/backup/sigv4-proxy";
import { broughtUpCluster, sharedCluster, stepTimer, type Cluster } from "./cluster";
import { SANDBOX_DIR } from "./sandbox";

/** The S3 stand-in's address on the lab's bridge (LB_IP is .10). */
const S3_IP = "10.0.250.20";
const IMDS_IP = "169.254.169.254";
/** s3rver's one account (lib/models/account.js); the IMDS stand-in hands it out as the role's keys. */
const ACCESS_KEY_ID = "S3RVER";
const SECRET = "S3RVER";
const ROLE = "k8s-dev-control-plane";
const SESSION_TOKEN = "IQoJb3JpZ2luX2VjEStandInSessionTokenForTheNodeLane0123456789+/=";
const IMDS_TOKEN = "AQAEAStandInImdsV2TokenNodeLane_0123456789==";
const NAMESPACE = "backup-restore";
const BEFORE = 20;
const SERVICE = "/etc/systemd/system/k8s-ha-etcd-backup.service";
const RESTORE = "/usr/local/sbin/k8s-ha-etcd-restore";
const README = resolve(__dirname, "..", "..", "README.md");

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** A STAND-IN for IMDSv2's three requests the backup makes (token, role name, credentials). */
function imdsStandIn(seen: string[]): Server {
    return createServer((req: IncomingMessage, res) => {
        const token = req.headers["x-aws-ec2-metadata-token"];
        seen.push(`${req.method} ${req.url} ${token === IMDS_TOKEN ? "token" : "-"}`);
        const send = (code: number, body: string) => res.writeHead(code, { "content-type": "text/plain" }).end(body);
        if (req.method === "PUT" && req.url === "/latest/api/token")
            return req.headers["x-aws-ec2-metadata-token-ttl-seconds"] ? send(200, IMDS_TOKEN) : send(400, "");
        if (req.method !== "GET") return send(405, "");
        if (token !== IMDS_TOKEN) return send(401, "");
        if (req.url === "/latest/meta-data/iam/security-credentials/") return send(200, ROLE);
        if (req.url === `/latest/meta-data/iam/security-credentials/${ROLE}`)
            return send(
                200,
                JSON.stringify(
                    {
                        Code: "Success",
                        Type: "AWS-HMAC",
                        AccessKeyId: ACCESS_KEY_ID,
                        SecretAccessKey: SECRET,
                        Token: SESSION_TOKEN,
                        Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
                    },
                    null,
                    2,
                ),
            );
        return send(404, "");
    });
}

async function must(what: string, r: Promise<RunResult>): Promise<RunResult> {
    const x = await r;
    if (x.code !== 0)
        throw new Error(`${what} failed (${x.timedOut ? "timed out" : `exit ${x.code}`}):\n${x.stdout}\n${x.stderr}`);
    return x;
}

/** A CA and a server certificate for `host` (EC P-256), for the S3 stand-in's TLS front. */
async function tlsFor(dir: string, host: string): Promise<{ ca: string; cert: string; key: string }> {
    mkdirSync(dir, { recursive: true });
    const f = (n: string) => join(dir, n);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await must(
        "openssl (CA)",
        run(
            "openssl",
            ["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "1"]
                .concat(["-subj", "/CN=k8s-ha lab S3 stand-in CA", "-addext", "basicConstraints=critical,CA:TRUE"])
                .concat(["-addext", "keyUsage=critical,keyCertSign"]),
        ),
    );
    await must(
        "openssl (csr)",
        run("openssl", [
            "req",
            "-new",
            ...ec,
            "-keyout",
            f("s3.key"),
            "-out",
            f("s3.csr"),
            "-subj",
            "/CN=k8s-ha lab S3 stand-in",
        ]),
    );
    writeFileSync(f("s3.ext"), `subjectAltName=DNS:${host}\nextendedKeyUsage=serverAuth\n`);
    await must(
        "openssl (cert)",
        run(
            "openssl",
            ["x509", "-req", "-in", f("s3.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key")].concat([
                "-CAcreateserial",
                "-out",
                f("s3.crt"),
                "-days",
                "1",
                "-extfile",
                f("s3.ext"),
            ]),
        ),
    );
    return { ca: f("ca.crt"), cert: f("s3.crt"), key: f("s3.key") };
}

/** Every object key in s3rver's store under the bucket (its files are KEY._S3rver_object). */
function storedKeys(dir: string, prefix = ""): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap((e) => {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) return storedKeys(p, `${prefix}${e}/`);
        return e.endsWith("._S3rver_object") ? [`${prefix}${e.slice(0, -"._S3rver_object".length)}`] : [];
    });
}

describe("node sandboxes: etcd backup on the live cluster to an S3 stand-in, then the README's restore runbook", function () {
    let c: Cluster;
    let dir: string;
    let s3: S3rver;
    let proxy: Server;
    let tls: TlsServer;
    let imds: Server;
    let tlsFiles: { ca: string; cert: string; key: string };
    const checked: CheckedRequest[] = [];
    const imdsSeen: string[] = [];
    let bucket = "";
    let bucketHost = "";
    let prefix = "";
    /** The lab's staged etcd-client: etcdctl and etcdutl 3.6 (Ubuntu's package puts etcdctl in /usr/bin). */
    let etcdClient = "";
    const snapshots = new Map<string, string>();
    const leftOnHost: string[] = [];
    const { timings, timed } = stepTimer();
    const started = Date.now();

    const ready = async (node: string): Promise<boolean> =>
        (
            await c.kubectl(["get", "node", node, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])
        ).stdout.trim() === "True";
    const clusterId = async (node: string): Promise<string> => {
        const r = await c.etcdctl(["endpoint", "status", "-w", "json"], [node]);
        const id = /"cluster_id":(\d+)/.exec(r.stdout)?.[1];
        if (!id) throw new Error(`no cluster_id from ${node}: ${r.stdout} ${r.stderr}`);
        return id;
    };
    /** The admin's download (the runbook's `aws s3 cp`): a signed GET through the TLS front. */
    const download = (key: string, out: string) =>
        must(
            `GET ${key}`,
            run("curl", [
                "--silent",
                "--show-error",
                "--fail",
                "--resolve",
                `${bucketHost}:443:${S3_IP}`,
                "--cacert",
                tlsFiles.ca,
                "--aws-sigv4",
                `aws:amz:${/\.s3\.([^.]+)\./.exec(bucketHost)![1]}:s3`,
                "--user",
                `${ACCESS_KEY_ID}:${SECRET}`,
                "-H",
                `x-amz-content-sha256: ${sha256("")}`,
                "-o",
                out,
                `https://${bucketHost}/${key}`,
            ]),
        );

    before(async function () {
        // The stand-ins first (they need only the render), so that a mistake there costs no bring-up.
        c = await sharedCluster();
        await timed("stand-ins", async () => {
            dir = join(c.dir, "backup-restore");
            mkdirSync(dir, { recursive: true });
            // The bucket and prefix as the rendered backup script has them (virtual-hosted URL).
            const installer = readFileSync(c.script(c.node0, "etcd-backup.create"), "utf8");
            const url = /S3_URL='\\''https:\/\/([^/']+)\/([^']+)'\\''/.exec(installer);
            assert.ok(url, "the rendered backup script has an https S3_URL");
            bucketHost = url[1];
            bucket = bucketHost.split(".s3.")[0];
            prefix = url[2].replace(/\/[^/]+$/, "");
            // s3rver, the S3 checks in front of it, TLS in front of those on S3_IP:443.
            s3 = new S3rver({
                address: "127.0.0.1",
                port: 0,
                silent: true,
                directory: join(dir, "s3rver"),
                configureBuckets: [{ name: bucket }],
            });
            const s3Port = (await s3.run()).port;
            proxy = sigV4Proxy({ host: "127.0.0.1", port: s3Port }, { [ACCESS_KEY_ID]: SECRET }, checked);
            await new Promise<void>((ok) => proxy.listen(0, "127.0.0.1", ok));
            const proxyPort = (proxy.address() as AddressInfo).port;
            tlsFiles = await tlsFor(join(dir, "tls"), bucketHost);
            await must("ip addr (S3)", run("ip", ["addr", "replace", `${S3_IP}/32`, "dev", "lab0"]));
            await must("ip addr (IMDS)", run("ip", ["addr", "replace", `${IMDS_IP}/32`, "dev", "lab0"]));
            tls = createTlsServer({ key: readFileSync(tlsFiles.key), cert: readFileSync(tlsFiles.cert) }, (socket) => {
                const up = connect(proxyPort, "127.0.0.1");
                socket.pipe(up).pipe(socket);
                socket.on("error", () => up.destroy());
                up.on("error", () => socket.destroy());
            });
            await new Promise<void>((ok) => tls.listen(443, S3_IP, ok));
            imds = imdsStandIn(imdsSeen);
            await new Promise<void>((ok) => imds.listen(80, IMDS_IP, ok));
            // The chain answers as S3 would: a signed GET of a missing key is S3's 404, not a refusal.
            const probe = await download(`${prefix}/no-such-key`, "/dev/null").catch((e: Error) => e.message);
            assert.match(String(probe), /error: 404/, String(probe));
            assert.equal(checked.pop()?.outcome, "forwarded");
        });
        c = await broughtUpCluster();
        await timed("node setup", async () => {
            etcdClient = join(dir, "etcd-client");
            mkdirSync(etcdClient);
            for (const t of ["etcdctl", "etcdutl"]) symlinkSync(join(labBin(), t), join(etcdClient, t));
            // Each control plane: its own /etc/systemd/system and /usr/local/sbin, the bucket's name
            // in /etc/hosts, and the host's CA bundle plus the lab CA where curl looks for it.
            const bundle = join(dir, "ca-certificates.crt");
            writeFileSync(
                bundle,
                readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8") + readFileSync(tlsFiles.ca, "utf8"),
            );
            for (const n of c.controlPlanes) {
                const node = c.lab.node(n);
                for (const p of ["/etc/systemd/system", "/usr/local/sbin"]) {
                    mkdirSync(join(node.dir, "root", p), { recursive: true });
                    await must(`own ${p} on ${n}`, c.lab.exec(n, ["mount", "--bind", join(node.dir, "root", p), p]));
                }
                await must(
                    `CA bundle on ${n}`,
                    c.lab.exec(n, ["mount", "--bind", bundle, "/etc/ssl/certs/ca-certificates.crt"]),
                );
                appendFileSync(join(node.dir, "hosts"), `${S3_IP} ${bucketHost}\n`);
            }
        });
    });

    after(async function () {
        this.timeout(60_000);
        timings["scenario wall"] = (Date.now() - started) / 1000;
        console.log(`      backup-restore timings (s): ${JSON.stringify(timings)}`);
        imds?.close();
        tls?.close();
        proxy?.close();
        await s3?.close();
        for (const p of leftOnHost) rmSync(p, { recursive: true, force: true });
    });

    it("installs the backup on every control plane with its rendered installer; a second run changes nothing", async function () {
        await timed("install (3 control planes)", async () => {
            for (const n of c.controlPlanes) {
                const r = await c.runScript(n, "etcd-backup.create", "etcd-backup");
                assert.doesNotMatch(r.stdout, /installing/, "etcd-client and curl are staged: no apt-get");
                assert.match(r.stdout, new RegExp(`etcd backups of ${n}: timer k8s-ha-etcd-backup.timer`));
                const root = join(c.lab.node(n).dir, "root");
                assert.equal(statSync(join(root, "usr/local/sbin/k8s-ha-etcd-backup")).mode & 0o777, 0o700);
                assert.equal(statSync(join(root, "usr/local/sbin/k8s-ha-etcd-restore")).mode & 0o777, 0o700);
                assert.match(readFileSync(join(root, SERVICE), "utf8"), new RegExp(`snapshot ${n}'s etcd member`));
                const enabled = await c.lab.exec(n, ["systemctl", "is-enabled", "k8s-ha-etcd-backup.timer"]);
                assert.equal(enabled.stdout.trim(), "enabled");
            }
        });
        const service = join(c.lab.node(c.node0).dir, "root", SERVICE);
        const before = statSync(service).mtimeMs;
        const again = await c.runScript(c.node0, "etcd-backup.create", "etcd-backup");
        assert.doesNotMatch(again.stdout, /installing/);
        assert.equal(statSync(service).mtimeMs, before, "the second run rewrote the service unit");
    });

    it("backs up every control plane as its timer would: the snapshot and its .sha256 land in the bucket where the runbook looks, signed, with no encryption header", async function () {
        await timed("write objects before", async () => {
            await must("create namespace", c.kubectl(["create", "namespace", NAMESPACE]));
            const items = Array.from({ length: BEFORE }, (_, i) => ({
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: `before-${i}`, namespace: NAMESPACE },
                data: { value: `written before the backup, ${i}` },
            }));
            await must(
                "create configmaps",
                c.kubectl(["create", "-f", "-"], 60_000, JSON.stringify({ apiVersion: "v1", kind: "List", items })),
            );
        });
        await timed("backup (3 control planes, as the timer)", async () => {
            for (const n of c.controlPlanes) {
                // What systemd runs for the timer: the unit's ExecStart with its Environment, when
                // its ConditionPathExists holds. PATH: the staged etcd-client, then the unit's own.
                const unit = readFileSync(join(c.lab.node(n).dir, "root", SERVICE), "utf8");
                const exec = /^ExecStart=(.+)$/m.exec(unit)![1];
                const env = [...unit.matchAll(/^Environment=(.+)$/gm)].map((m) => m[1]);
                const condition = /^ConditionPathExists=(.+)$/m.exec(unit)![1];
                assert.equal((await c.lab.exec(n, ["test", "-e", condition])).code, 0, `${condition} on ${n}`);
                const path = env.find((e) => e.startsWith("PATH="))!;
                const argv = [
                    "env",
                    ...env.filter((e) => e !== path),
                    `${path.replace("PATH=", `PATH=${etcdClient}:`)}`,
                    exec,
                ];
                const r = await must(`${exec} on ${n}`, c.lab.exec(n, argv, { timeoutMs: 300_000 }));
                const ok = new RegExp(
                    `etcd backup ok: s3://${bucket}/${prefix}/${n}/(${n}-\\d{8}T\\d{6}Z\\.db) revision=\\d+ keys=(\\d+) bytes=\\d+ db_bytes=\\d+ sha256=([0-9a-f]{64})`,
                ).exec(r.stdout + r.stderr);
                assert.ok(ok, r.stdout + r.stderr);
                assert.ok(Number(ok[2]) > BEFORE, `the snapshot holds the cluster's keys (${ok[2]})`);
                snapshots.set(n, ok[1]);
            }
        });
        // The bucket holds, per node, <prefix>/<node>/<node>-<UTC time>.db and its .sha256: nothing else.
        const keys = storedKeys(join(dir, "s3rver", bucket)).sort();
        assert.deepEqual(
            keys,
            c.controlPlanes
                .flatMap((n) => [`${prefix}/${n}/${snapshots.get(n)}`, `${prefix}/${n}/${snapshots.get(n)}.sha256`])
                .sort(),
        );
        const puts = checked.filter((q) => q.method === "PUT");
        assert.equal(puts.length, 6);
        for (const q of puts) {
            assert.equal(q.outcome, "forwarded", `${q.path}: signature and digests checked`);
            assert.equal(q.headers.host, bucketHost, "virtual-hosted style");
            assert.equal(q.headers["x-amz-security-token"], SESSION_TOKEN);
            for (const h of Object.keys(q.headers))
                assert.doesNotMatch(
                    h,
                    /^x-amz-server-side-encryption/,
                    "uploads name no encryption: the bucket's SSE-KMS default applies",
                );
        }
        assert.ok(
            imdsSeen.includes(`GET /latest/meta-data/iam/security-credentials/${ROLE} token`),
            imdsSeen.join("\n"),
        );
        // The runbook's example name, with the prod stack's names swapped for dev's, is the name the
        // backup gave its snapshot (only the time differs).
        const example = /^SNAP=(\S+)\s/m.exec(readFileSync(README, "utf8"))?.[1] ?? "";
        assert.equal(
            example.replaceAll("k8s-prod", "k8s-dev").replace(/\d{8}T\d{6}Z/, "TIME"),
            snapshots.get(c.node0)!.replace(/\d{8}T\d{6}Z/, "TIME"),
            "the runbook's SNAP example names the snapshot as the backup does",
        );
    });

    it("restores by the runbook after a later write: the objects from before are there, the later one is gone, three voting members, /readyz ok, every node Ready", async function () {
        const snap = snapshots.get(c.node0)!;
        const idBefore = await clusterId(c.node0);
        await must(
            "a write after the backup",
            c.kubectl(["-n", NAMESPACE, "create", "configmap", "after-the-backup", "--from-literal=value=later"]),
        );
        // Admin machine: download, check, copy to every control plane's /tmp.
        await timed("download and check", async () => {
            const admin = join(dir, "admin");
            mkdirSync(admin);
            const from = `${prefix}/${c.node0}`;
            await download(`${from}/${snap}`, join(admin, snap));
            await download(`${from}/${snap}.sha256`, join(admin, `${snap}.sha256`));
            await must("sha256sum -c", run("sha256sum", ["-c", `${snap}.sha256`], { cwd: admin }));
            for (const f of [snap, `${snap}.sha256`]) {
                copyFileSync(join(admin, f), join("/tmp", f));
                leftOnHost.push(join("/tmp", f));
            }
        });
        const onEach = (args: string[]) =>
            Promise.all(
                c.controlPlanes.map((n) =>
                    must(
                        `${RESTORE} ${args.join(" ")} on ${n}`,
                        c.lab.exec(n, [RESTORE, ...args], { timeoutMs: 600_000 }),
                    ),
                ),
            );
        await timed("restore stop (every control plane)", () => onEach(["stop"]));
        await timed("restore restore (one control plane after another)", async () => {
            // One after another: the nodes share the host's /var/lib, where the script makes its
            // fresh directory beside /var/lib/etcd (each instance has its own).
            c.lab.overlays.unshift(join(SANDBOX_DIR, "restore"));
            try {
                for (const n of c.controlPlanes) {
                    const r = await must(
                        `restore on ${n}`,
                        c.lab.exec(n, [RESTORE, "restore", `/tmp/${snap}`], { timeoutMs: 600_000 }),
                    );
                    const kept = /the previous data dir is kept as (\S+)$/m.exec(r.stdout)?.[1];
                    assert.ok(kept, r.stdout);
                    leftOnHost.push(kept);
                    assert.match(
                        r.stdout,
                        new RegExp(`restored etcd member ${n} \\(https://${c.lab.node(n).ip}:2380\\)`),
                    );
                }
            } finally {
                c.lab.overlays.splice(c.lab.overlays.indexOf(join(SANDBOX_DIR, "restore")), 1);
            }
        });
        await timed("restore start (every control plane)", () => onEach(["start"]));
        await timed("API ready", () =>
            // Generous: etcd's first election after the restore and the apiservers' start, on a loaded machine.
            waitFor(
                "/readyz through the NLB stand-in",
                600_000,
                async () => ((await c.kubectl(["get", "--raw", "/readyz"])).stdout.trim() === "ok" ? true : undefined),
                () => c.controlPlanes.map((n) => c.lab.logs(n, 5)).join("\n"),
                2_000,
            ),
        );
        const names = await must("configmaps", c.kubectl(["-n", NAMESPACE, "get", "configmaps", "-o", "name"]));
        const found = names.stdout.split("\n").filter((l) => l.startsWith("configmap/before-") || l.includes("after"));
        assert.deepEqual(
            found.sort(),
            Array.from({ length: BEFORE }, (_, i) => `configmap/before-${i}`).sort(),
            "the objects written before the backup, and not the one after",
        );
        const one = await must(
            "a value",
            c.kubectl(["-n", NAMESPACE, "get", "configmap", "before-7", "-o", "jsonpath={.data.value}"]),
        );
        assert.equal(one.stdout, "written before the backup, 7");
        const members = await c.etcdMembers();
        assert.deepEqual(
            members.map((m) => [m.name, m.isLearner ?? false]).sort(),
            c.controlPlanes.map((n) => [n, false]),
        );
        assert.notEqual(await clusterId(c.node0), idBefore, "a restored cluster has a new cluster id");
        await timed("every node Ready", () =>
            waitFor(
                "every node Ready",
                300_000,
                async () => ((await Promise.all(c.nodes.map(ready))).every(Boolean) ? true : undefined),
                undefined,
                2_000,
            ),
        );
        assert.equal((await c.kubectl(["get", "--raw", "/readyz"])).stdout.trim(), "ok");
    });
});
