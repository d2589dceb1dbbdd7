// The S3 upload of the backup script, for real (issue 12, defect 4): the rendered script, run with
// the machine's REAL curl (its --aws-sigv4 signing) and a REAL single-member etcd 3.6 (the lab's
// etcd, etcdctl, etcdutl) on mutual TLS, uploads a real snapshot to s3rver (npm, an S3-compatible
// server; its one key pair is S3RVER/S3RVER) on localhost, path style.
//
// s3rver 3.7.1 checks the access key id but not V4 signatures, nor the body against its digests:
// sigv4-proxy.ts, test code in front of it, checks those as S3 documents them.
// Stand-ins, and only these: the instance metadata service (a node http server speaking IMDSv2's
// three requests, below), and a recording shim named curl on the script's PATH that appends its
// arguments to a log and execs the real curl (to see every argv the script gives curl).
//
// Then the object is downloaded from s3rver and judged: its sha256 equals the local snapshot's,
// and `etcdutl snapshot status` reads it. A wrong secret from IMDS fails the upload (s3rver refuses
// the signature), and no argv ever carried the secret key or the session token.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
    chmodSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    readdirSync,
    readFileSync,
    rmSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { renderEtcdBackupScript, type ClusterSpec, type NodeSpec } from "../../../components/kubeadm";
import { labTool } from "../../lab/tools";
import { sigV4Proxy, type CheckedRequest } from "./sigv4-proxy";
import {
    EtcdCluster,
    freeLoopbackAddresses,
    requireBinaries,
    requireEtcdTools,
    run,
    which,
    type KeyPair,
} from "../etcd/cluster";

const BUCKET = "k8s-dev-etcd-backups-0a1b2c3";
const REGION = "us-east-1";
const NODE: NodeSpec = {
    name: "k8s-dev-cp-0",
    privateIp: "127.0.0.1",
    role: "control-plane",
    providerId: "aws:///us-east-1b/i-7c0642f59e6a14b1b",
};
const SPEC: ClusterSpec = {
    clusterName: "k8s-dev",
    kubernetesVersion: "1.35.0",
    apiEndpointHost: "api.k8s-dev.internal",
    podCidr: "10.244.0.0/16",
    serviceCidr: "10.96.0.0/12",
    extraSans: [],
};
const ROLE = "k8s-dev-control-plane";
/** s3rver's one account (lib/models/account.js). */
const ACCESS_KEY_ID = "S3RVER";
const SECRET = "S3RVER";
/** Long and distinctive so a leak into any argv is found by a plain search. */
const SESSION_TOKEN = "IQoJb3JpZ2luX2VjEStandInSessionToken0123456789abcdefABCDEF+/=";
const IMDS_TOKEN = "AQAEAStandInImdsV2Token_0123456789abcdef==";
const KEYS = 500;

async function openssl(args: readonly string[]): Promise<void> {
    const r = await run("openssl", args, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** An etcd CA and leaves as kubeadm lays them out (etcd/ca.crt, server, peer, healthcheck-client), EC P-256. */
async function etcdPki(
    dir: string,
    ip: string,
): Promise<{ ca: string; server: KeyPair; peer: KeyPair; client: KeyPair }> {
    mkdirSync(dir, { recursive: true });
    const ca = join(dir, "ca.crt");
    const caKey = join(dir, "ca.key");
    await openssl([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        caKey,
        "-out",
        ca,
        "-days",
        "1",
        "-subj",
        "/CN=etcd-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,digitalSignature",
    ]);
    const leaf = async (name: string, cn: string, eku: string, san: string): Promise<KeyPair> => {
        const key = join(dir, `${name}.key`);
        const cert = join(dir, `${name}.crt`);
        await openssl([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key,
            "-out",
            `${cert}.csr`,
            "-subj",
            `/CN=${cn}`,
        ]);
        writeFileSync(
            `${cert}.ext`,
            `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${eku}\n${san ? `subjectAltName=${san}\n` : ""}`,
        );
        await openssl([
            "x509",
            "-req",
            "-in",
            `${cert}.csr`,
            "-CA",
            ca,
            "-CAkey",
            caKey,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
            "-extfile",
            `${cert}.ext`,
        ]);
        chmodSync(key, 0o600);
        return { cert, key };
    };
    const san = `IP:${ip},IP:127.0.0.1,DNS:localhost`;
    return {
        ca,
        server: await leaf("server", NODE.name, "serverAuth,clientAuth", san),
        peer: await leaf("peer", NODE.name, "serverAuth,clientAuth", san),
        client: await leaf("healthcheck-client", "kube-etcd-healthcheck-client", "clientAuth", ""),
    };
}

/** What the IMDSv2 stand-in saw: method, path and the session-token header of each request. */
interface ImdsRequest {
    method: string;
    path: string;
    token?: string;
}

/**
 * A STAND-IN for EC2's instance metadata service, IMDSv2 only: PUT /latest/api/token (with the TTL
 * header) hands out a session token; GET .../security-credentials/ (the role's name) and
 * .../security-credentials/<role> (its temporary credentials, in IMDS's pretty-printed JSON) need
 * that token, as the real IMDSv2 does (401 without it).
 */
function imdsStandIn(secret: () => string, seen: ImdsRequest[]): Server {
    return createServer((req: IncomingMessage, res) => {
        const token = req.headers["x-aws-ec2-metadata-token"] as string | undefined;
        seen.push({ method: req.method ?? "", path: req.url ?? "", token });
        const send = (code: number, body: string) => res.writeHead(code, { "content-type": "text/plain" }).end(body);
        if (req.method === "PUT" && req.url === "/latest/api/token") {
            if (!req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) return send(400, "missing TTL header");
            return send(200, IMDS_TOKEN);
        }
        if (req.method !== "GET") return send(405, "");
        if (token !== IMDS_TOKEN) return send(401, "");
        if (req.url === "/latest/meta-data/iam/security-credentials/") return send(200, ROLE);
        if (req.url === `/latest/meta-data/iam/security-credentials/${ROLE}`) {
            return send(
                200,
                JSON.stringify(
                    {
                        Code: "Success",
                        LastUpdated: new Date().toISOString(),
                        Type: "AWS-HMAC",
                        AccessKeyId: ACCESS_KEY_ID,
                        SecretAccessKey: secret(),
                        Token: SESSION_TOKEN,
                        Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
                    },
                    null,
                    2,
                ),
            );
        }
        return send(404, "");
    });
}

function listen(server: Server): Promise<number> {
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
    );
}

function runScript(script: string, root: string, binDir: string): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
        const inherited = Object.fromEntries(
            Object.entries(process.env).filter(([k]) => !/^(ETCD(CTL)?_|AWS_|HTTPS?_PROXY|https?_proxy)/.test(k)),
        );
        const child = spawn("bash", [script], {
            env: { ...inherited, PATH: `${binDir}:${process.env.PATH ?? ""}`, K8S_HA_FSROOT: root },
            stdio: ["ignore", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
        child.stdout.on("data", (b: Buffer) => out.push(b));
        child.stderr.on("data", (b: Buffer) => out.push(b));
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, out: Buffer.concat(out).toString("utf8") });
        });
    });
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("etcd backup to S3 for real: the rendered script, real curl (SigV4), real etcd 3.6, s3rver; IMDSv2 is a stand-in", function () {
    this.timeout(180_000);
    let dir: string;
    let root: string;
    let bin: string;
    let argvLog: string;
    let script: string;
    let s3: S3rver;
    let s3Endpoint: string;
    let s3Direct: string;
    let proxy: Server;
    const checked: CheckedRequest[] = [];
    let imds: Server;
    let imdsUrl: string;
    let etcd: EtcdCluster;
    let secret = SECRET;
    const imdsSeen: ImdsRequest[] = [];
    let failed = false;

    before(async function () {
        requireEtcdTools();
        requireBinaries(["openssl", "curl", "flock", "sha256sum", "base64"]);
        dir = mkdtempSync(join(tmpdir(), "etcd-backup-s3-"));
        root = join(dir, "node");
        const [ip] = await freeLoopbackAddresses(1);
        const pkiDir = join(root, "etc", "kubernetes", "pki", "etcd");
        const pki = await etcdPki(pkiDir, ip);
        etcd = new EtcdCluster({
            dir: join(dir, "etcd"),
            caFile: pki.ca,
            client: pki.client,
            members: [{ name: NODE.name, ip, server: pki.server, peer: pki.peer }],
        });
        await etcd.startAll();
        await etcd.waitHealthy({ timeoutMs: 30_000 });
        const value = "v".repeat(1024);
        const put = await etcd.putWithRetry(
            Array.from({ length: KEYS }, (_, i) => [`/registry/s3-test/${i}`, value] as const),
            { deadlineMs: 30_000 },
        );
        assert.deepEqual(put.unacknowledged, [], put.errors.join("; "));

        s3 = new S3rver({
            address: "127.0.0.1",
            port: 0,
            silent: true,
            directory: join(dir, "s3rver"),
            configureBuckets: [{ name: BUCKET }],
        });
        const a = await s3.run();
        s3Direct = `http://127.0.0.1:${a.port}`;
        proxy = sigV4Proxy({ host: "127.0.0.1", port: a.port }, { [ACCESS_KEY_ID]: SECRET }, checked);
        s3Endpoint = `http://127.0.0.1:${await listen(proxy)}`;
        imds = imdsStandIn(() => secret, imdsSeen);
        imdsUrl = `http://127.0.0.1:${await listen(imds)}`;

        // The script's PATH: the lab's etcdctl/etcdutl 3.6, and curl as a recording shim in front of the real one.
        bin = join(dir, "bin");
        mkdirSync(bin);
        for (const tool of ["etcdctl", "etcdutl"] as const) symlinkSync(labTool(tool), join(bin, tool));
        const realCurl = which("curl");
        assert.ok(realCurl, "curl is installed");
        argvLog = join(dir, "curl-argv.log");
        writeFileSync(
            join(bin, "curl"),
            `#!/bin/sh\nprintf '%s\\n' "curl $*" >>'${argvLog}'\nexec '${realCurl}' "$@"\n`,
            { mode: 0o755 },
        );
        script = join(dir, "etcd-backup.sh");
        writeFileSync(
            script,
            renderEtcdBackupScript(SPEC, NODE, {
                uploadTarget: `s3://${BUCKET}/k8s-dev/${NODE.name}`,
                region: REGION,
                etcdEndpoint: `https://${ip}:2379`,
                s3Endpoint,
                imdsUrl,
            }),
            { mode: 0o700 },
        );
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") failed = true;
    });

    after(async function () {
        await etcd?.stopAll("SIGKILL");
        imds?.close();
        proxy?.close();
        await s3?.close();
        if (!dir) return;
        if (failed)
            console.log(
                `      kept ${dir} (node root, etcd log, s3rver's files, curl's argv log) for the failure above`,
            );
        else rmSync(dir, { recursive: true, force: true });
    });

    it("curl here signs SigV4 (--aws-sigv4 needs curl >= 7.75; Ubuntu 24.04 ships 8.5)", async () => {
        const v = await run("curl", ["--version"]);
        const m = /^curl (\d+)\.(\d+)/.exec(v.stdout);
        assert.ok(m && (Number(m[1]) > 7 || (Number(m[1]) === 7 && Number(m[2]) >= 75)), v.stdout);
    });

    /** The test's own download: a signed GET through the checking proxy (an empty body's sha256). */
    const signedGet = [
        "--silent",
        "--show-error",
        "--fail",
        "--aws-sigv4",
        `aws:amz:${REGION}:s3`,
        "--user",
        `${ACCESS_KEY_ID}:${SECRET}`,
        "-H",
        "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ];
    let uploadedKey = "";
    let localSnapshot = "";

    it("the rendered script snapshots the real member and uploads it with real curl; the object in s3rver is the local snapshot, byte for byte, and etcdutl reads it", async () => {
        const r = await runScript(script, root, bin);
        assert.equal(r.code, 0, `backup failed:\n${r.out}`);
        const ok =
            /etcd backup ok: s3:\/\/\S+\/(k8s-dev-cp-0-\d{8}T\d{6}Z\.db) revision=(\d+) keys=(\d+) bytes=(\d+) db_bytes=\d+ sha256=([0-9a-f]{64})/.exec(
                r.out,
            );
        assert.ok(ok, r.out);
        uploadedKey = `k8s-dev/${NODE.name}/${ok[1]}`;
        localSnapshot = join(root, "var", "lib", "k8s-ha", "etcd-backups", ok[1]);
        assert.ok(existsSync(localSnapshot), "the local copy stays");
        // IMDSv2 only: a token first, then the role and its credentials, each with the token.
        assert.deepEqual(
            imdsSeen.map((q) => `${q.method} ${q.path} ${q.token === IMDS_TOKEN ? "token" : "-"}`),
            [
                "PUT /latest/api/token -",
                "GET /latest/meta-data/iam/security-credentials/ token",
                `GET /latest/meta-data/iam/security-credentials/${ROLE} token`,
            ],
        );
        // The PUTs as the checking proxy saw them: signature good, body matching both digests, the
        // session token and the digests among the signed headers.
        const puts = checked.filter((q) => q.method === "PUT");
        assert.deepEqual(
            puts.map((q) => `${q.path} ${q.outcome}`),
            [`/${BUCKET}/${uploadedKey} forwarded`, `/${BUCKET}/${uploadedKey}.sha256 forwarded`],
        );
        for (const q of puts) {
            assert.equal(q.headers["x-amz-security-token"], SESSION_TOKEN);
            for (const h of ["content-md5", "x-amz-content-sha256", "x-amz-security-token", "host", "x-amz-date"])
                assert.ok(q.signedHeaders.includes(h), `${h} is signed: ${q.signedHeaders.join(";")}`);
            assert.equal(
                q.headers["x-amz-server-side-encryption"],
                undefined,
                "no encryption header: the bucket's SSE-KMS default applies",
            );
        }
        assert.equal(
            puts[0].headers["x-amz-content-sha256"],
            ok[5],
            "the signed payload hash is the snapshot's sha256",
        );
        // Download with a signed GET (as an operator's curl would) and judge the bytes.
        const out = join(dir, "downloaded.db");
        const get = await run("curl", [...signedGet, "-o", out, `${s3Endpoint}/${BUCKET}/${uploadedKey}`]);
        assert.equal(get.code, 0, get.stderr);
        const bytes = readFileSync(out);
        assert.equal(bytes.length, Number(ok[4]));
        assert.equal(sha256(bytes), sha256(readFileSync(localSnapshot)));
        assert.equal(sha256(bytes), ok[5]);
        const status = await run(labTool("etcdutl"), ["snapshot", "status", out, "-w", "json"]);
        assert.equal(status.code, 0, status.stderr);
        const parsed = JSON.parse(status.stdout) as { totalKey: number; revision: number };
        assert.equal(parsed.revision, Number(ok[2]));
        assert.ok(parsed.totalKey >= KEYS, `the snapshot holds the ${KEYS} keys written (${parsed.totalKey})`);
        // The .sha256 beside it names the snapshot and its hash.
        const side = await run("curl", [...signedGet, `${s3Endpoint}/${BUCKET}/${uploadedKey}.sha256`]);
        assert.equal(side.code, 0, side.stderr);
        assert.equal(side.stdout, `${ok[5]}  ${ok[1]}\n`);
    });

    it("no curl argv carried the secret key or either token; the credentials files are gone after the run", () => {
        const argv = readFileSync(argvLog, "utf8");
        assert.match(
            argv,
            /--aws-sigv4 aws:amz:us-east-1:s3 -K \S+\/s3\.curl /,
            `the PUTs were signed with credentials from a config file:\n${argv}`,
        );
        assert.equal((argv.match(/--upload-file/g) ?? []).length, 2, "two PUTs: the snapshot and its .sha256");
        for (const s of [`${ACCESS_KEY_ID}:${SECRET}`, SESSION_TOKEN, IMDS_TOKEN])
            assert.ok(!argv.includes(s), `argv holds ${s}:\n${argv}`);
        assert.deepEqual(
            readdirSync(join(root, "run")),
            [],
            "the tmpfs workdir (with the 0600 config files) is removed on exit",
        );
    });

    it("the object is in s3rver itself (not only in the proxy's view)", async () => {
        const r = await run("curl", [
            "--silent",
            "--show-error",
            "--fail",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            `${s3Direct}/${BUCKET}/${uploadedKey}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(Number(r.stdout), readFileSync(localSnapshot).length);
    });

    it("a wrong secret from IMDS fails the upload: the signature is refused (403 SignatureDoesNotMatch) and the script says so", async () => {
        secret = "not-the-secret";
        try {
            const before = readdirSync(join(dir, "s3rver", BUCKET, "k8s-dev", NODE.name)).length;
            await new Promise((resolve) => setTimeout(resolve, 1100)); // a new timestamped name
            const r = await runScript(script, root, bin);
            assert.notEqual(r.code, 0, r.out);
            assert.match(r.out, /S3 answered HTTP 403 to PUT .*SignatureDoesNotMatch/);
            assert.match(r.out, /failed \(the local copy stays in /);
            assert.doesNotMatch(r.out, /etcd backup ok/);
            assert.equal(
                readdirSync(join(dir, "s3rver", BUCKET, "k8s-dev", NODE.name)).length,
                before,
                "nothing new in the bucket",
            );
        } finally {
            secret = SECRET;
        }
    });
});
