// etcd backup and restore, for real: the program runs under the mock runtime in update mode with
// real cryptography and its control planes on loopback addresses; its etcd PKI goes into one
// scratch filesystem root per node (kubeadm's paths under K8S_HA_FSROOT); a real 3-member etcd 3.4
// cluster with full mutual TLS runs on it (tests/system/etcd/cluster.ts), each member's data dir at
// <root>/var/lib/etcd. Then: write keys, run the project's rendered backup script on node 0 (its
// upload goes to a local directory standing in for S3, through the script's file:// target), write
// more keys, kill every member, wipe every data dir, run the project's rendered restore script on
// every node (stop, restore, start), start the members, and check every member holds exactly the
// snapshot's keys: all keys written before the backup with their values, none written after.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderEtcdBackupScript, renderEtcdRestoreScript, shellQuote, type ClusterSpec, type NodeSpec } from "../../../components/kubeadm";
import { ETCD_TUNING } from "../../../components/kubeadm/config";
import { runProgram, type ProgramRun } from "../../../tools/harness/program";
import { tlsEmulator } from "../../../tools/harness/tlsEmulator";
import { unwrapSecrets } from "../../../tools/harness/values";
import { EtcdCluster, freeLoopbackAddresses, requireBinaries, run, waitFor, type EtcdClusterOptions, type KeyPair } from "../etcd/cluster";

const CLUSTER = "k8s-dev";
const NODE_NAMES = [`${CLUSTER}-cp-0`, `${CLUSTER}-cp-1`, `${CLUSTER}-cp-2`];
const KEYS_BEFORE = 1200;
const KEYS_AFTER = 150;
const PREFIX = "/registry/k8s-ha-backup-test/";

/** A member's data dir where kubeadm keeps it: <node root>/var/lib/etcd. */
class NodeRootedEtcd extends EtcdCluster {
    constructor(options: EtcdClusterOptions, private readonly roots: Readonly<Record<string, string>>) {
        super(options);
    }
    override dataDir(name: string): string {
        return join(this.roots[this.member(name).name], "var", "lib", "etcd");
    }
}

function pemOf(r: ProgramRun, type: string, name: string, field: string): string {
    const found = r.resources.find((x) => x.type === type && x.name === name);
    assert.ok(found, `the program registered no ${type} named ${name}`);
    const pem = (unwrapSecrets(found.outputs) as Record<string, unknown>)[field];
    assert.ok(typeof pem === "string" && pem.includes("-----BEGIN"), `${name} has no PEM in ${field}`);
    return pem;
}

function write(file: string, content: string, mode: number): string {
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, content, { mode });
    chmodSync(file, mode);
    return file;
}

/** Runs a rendered script with bash, its host paths under `root` (K8S_HA_FSROOT), bounded in time. */
function runScript(script: string, args: readonly string[], root: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^ETCD(CTL)?_/.test(k))), K8S_HA_FSROOT: root };
        const child = spawn("bash", [script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", (b: Buffer) => out.push(b));
        child.stderr.on("data", (b: Buffer) => err.push(b));
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
        });
    });
}

const entries = (phase: string, n: number) => Array.from({ length: n }, (_, i) => [`${PREFIX}${phase}/${String(i).padStart(5, "0")}`, `${phase}-value-${i}`] as const);

describe("etcd backup and restore on real etcd 3.4 with the project's PKI and rendered scripts (upload: file:// target, a local directory standing in for S3)", function () {
    this.timeout(300_000);
    let dir: string;
    let s3: string;
    let roots: Record<string, string>;
    let nodes: NodeSpec[];
    let spec: ClusterSpec;
    let program: ProgramRun;
    let cluster: NodeRootedEtcd;
    let snapshotFile: string;
    let failed = false;
    const started = Date.now();
    const times: Record<string, number> = {};
    const beforeBackup = new Map(entries("before-backup", KEYS_BEFORE));
    const afterBackup = new Map(entries("after-backup", KEYS_AFTER));

    before(async function () {
        requireBinaries(["etcd", "etcdctl", "openssl", "flock", "sha256sum", "timeout"]);
        dir = mkdtempSync(join(tmpdir(), "etcd-backup-system-"));
        s3 = join(dir, "s3-standin");
        const ips = await freeLoopbackAddresses(NODE_NAMES.length);
        nodes = NODE_NAMES.map((name, i) => ({ name, privateIp: ips[i], role: "control-plane" as const }));
        roots = Object.fromEntries(nodes.map((n) => [n.name, join(dir, "nodes", n.name)]));

        let t = Date.now();
        program = await runProgram({
            stack: "dev",
            preview: false,
            mocks: { privateIps: Object.fromEntries(nodes.map((n) => [n.name, n.privateIp])), overrides: tlsEmulator({ keepIssued: false }) },
        });
        assert.ifError(program.error);
        assert.deepEqual(program.outputs.controlPlanePrivateIps?.value, ips, "the control planes sit on the loopback addresses the test chose");
        times.program = Date.now() - t;
        spec = {
            clusterName: CLUSTER,
            kubernetesVersion: program.config["k8s-ha-control-plane:kubernetesVersion"],
            apiEndpointHost: new URL(String(program.outputs.apiEndpoint.value)).hostname,
            podCidr: program.config["k8s-ha-control-plane:podCidr"],
            serviceCidr: program.config["k8s-ha-control-plane:serviceCidr"],
            extraSans: [],
        };

        // kubeadm's file layout on every node: the etcd CA, the member's server and peer pairs, the
        // health-check client the backup uses. Keys 0600.
        const SELF = "tls:index/selfSignedCert:SelfSignedCert";
        const LEAF = "tls:index/locallySignedCert:LocallySignedCert";
        const KEY = "tls:index/privateKey:PrivateKey";
        const members = nodes.map((n) => {
            const pki = join(roots[n.name], "etc", "kubernetes", "pki", "etcd");
            write(join(pki, "ca.crt"), pemOf(program, SELF, `${CLUSTER}-etcd-ca`, "certPem"), 0o644);
            const pair = (leaf: string, file: string): KeyPair => ({
                cert: write(join(pki, `${file}.crt`), pemOf(program, LEAF, leaf, "certPem"), 0o644),
                key: write(join(pki, `${file}.key`), pemOf(program, KEY, leaf, "privateKeyPem"), 0o600),
            });
            pair(`${CLUSTER}-etcd-healthcheck-client`, "healthcheck-client");
            return { name: n.name, ip: n.privateIp, server: pair(`${n.name}-etcd-server`, "server"), peer: pair(`${n.name}-etcd-peer`, "peer") };
        });
        const clientDir = join(dir, "apiserver");
        const client: KeyPair = {
            cert: write(join(clientDir, "apiserver-etcd-client.crt"), pemOf(program, LEAF, `${CLUSTER}-apiserver-etcd-client`, "certPem"), 0o644),
            key: write(join(clientDir, "apiserver-etcd-client.key"), pemOf(program, KEY, `${CLUSTER}-apiserver-etcd-client`, "privateKeyPem"), 0o600),
        };
        cluster = new NodeRootedEtcd({
            dir: join(dir, "etcd"),
            caFile: join(roots[nodes[0].name], "etc", "kubernetes", "pki", "etcd", "ca.crt"),
            client,
            members,
            flags: { ...ETCD_TUNING, "pre-vote": "true" },
        }, roots);
        t = Date.now();
        await cluster.startAll();
        await cluster.waitHealthy({ timeoutMs: 30_000 });
        times.firstStart = Date.now() - t;
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") failed = true;
    });

    after(async function () {
        this.timeout(60_000);
        await cluster?.stopAll("SIGKILL");
        console.log(`      wall times (ms): ${JSON.stringify({ ...times, total: Date.now() - started })}`);
        if (!dir) return;
        if (failed) console.log(`      kept ${dir} (PKI, node roots, member logs, the S3 stand-in) for the failure above`);
        else rmSync(dir, { recursive: true, force: true });
    });

    it(`writes ${KEYS_BEFORE} keys in batched transactions, acknowledged and on every member`, async () => {
        const t = Date.now();
        const put = await cluster.putWithRetry([...beforeBackup], { deadlineMs: 30_000 });
        assert.deepEqual(put.unacknowledged, [], `every txn acknowledged; errors: ${put.errors.join("; ")}`);
        for (const n of nodes) {
            const count = await waitFor(`${n.name} to hold ${KEYS_BEFORE} keys`, 10_000, async () => {
                const c = await cluster.countKeys(PREFIX, cluster.clientUrl(n.name), { serializable: true });
                return c === KEYS_BEFORE ? c : undefined;
            });
            assert.equal(count, KEYS_BEFORE);
        }
        times.write = Date.now() - t;
    });

    it("the program installs the very backup script the test runs (only the upload target and endpoint differ)", () => {
        const installer = program.resources.find((r) => r.type === "command:remote:Command" && r.name === `${nodes[0].name}-etcd-backup`);
        assert.ok(installer, "the program has an etcd backup step on node 0");
        const create = String(unwrapSecrets(installer.inputs.create));
        const bucket = String(program.outputs.etcdBackupBucket.value);
        const asInstalled = renderEtcdBackupScript(spec, nodes[0], { uploadTarget: `s3://${bucket}/${CLUSTER}/${nodes[0].name}`, region: program.config["aws:region"] });
        // Embedded as a readonly variable, and the whole installer quoted once more for `sudo bash -c`.
        const embedded = `readonly BACKUP_SCRIPT=${shellQuote(asInstalled.trimEnd())}`.replace(/'/g, `'\\''`);
        assert.ok(create.includes(embedded), "the installer carries renderEtcdBackupScript's output for node 0");
    });

    it("the rendered backup script snapshots node 0's member with its health-check client certificate, checks it and uploads it with a sha256 (to the local S3 stand-in)", async () => {
        const target = `file://${s3}/${CLUSTER}/${nodes[0].name}`;
        const script = write(join(dir, "etcd-backup.sh"), renderEtcdBackupScript(spec, nodes[0], { uploadTarget: target, region: program.config["aws:region"], etcdEndpoint: `https://${nodes[0].privateIp}:2379` }), 0o700);
        const t = Date.now();
        const r = await runScript(script, [], roots[nodes[0].name]);
        times.backup = Date.now() - t;
        assert.equal(r.code, 0, `backup failed:\n${r.stdout}${r.stderr}`);
        const ok = /etcd backup ok: (\S+) revision=(\d+) keys=(\d+) bytes=(\d+) db_bytes=\d+ sha256=([0-9a-f]{64})/.exec(r.stdout);
        assert.ok(ok, `the backup logs its result:\n${r.stdout}`);
        assert.ok(Number(ok[3]) >= KEYS_BEFORE, `the snapshot holds at least the ${KEYS_BEFORE} keys (etcd counts ${ok[3]})`);
        const uploaded = readdirSync(join(s3, CLUSTER, nodes[0].name));
        const db = uploaded.find((f) => /^k8s-dev-cp-0-\d{8}T\d{6}Z\.db$/.test(f));
        assert.ok(db, `a timestamped snapshot was uploaded: ${uploaded.join(", ")}`);
        assert.ok(uploaded.includes(`${db}.sha256`), "its sha256 was uploaded beside it");
        assert.equal(ok[1], `${target}/${db}`);
        snapshotFile = join(s3, CLUSTER, nodes[0].name, db);
        assert.equal(statSync(snapshotFile).size, Number(ok[4]));
        // An independent look at the uploaded file.
        const status = await run("etcdctl", ["snapshot", "status", snapshotFile, "-w", "json"]);
        assert.equal(status.code, 0, status.stderr);
        assert.equal((JSON.parse(status.stdout) as { totalKey: number }).totalKey, Number(ok[3]));
        assert.equal(readFileSync(`${snapshotFile}.sha256`, "utf8").split(/\s+/)[0], ok[5]);
    });

    it(`after the backup, ${KEYS_AFTER} more keys are written (a restore must roll them back)`, async () => {
        const put = await cluster.putWithRetry([...afterBackup], { deadlineMs: 30_000 });
        assert.deepEqual(put.unacknowledged, [], put.errors.join("; "));
        assert.equal(await cluster.countKeys(PREFIX, cluster.clientUrl(nodes[1].name)), KEYS_BEFORE + KEYS_AFTER);
    });

    it("every member's data dir wiped, the rendered restore script (stop, restore, start) brings every member back with every key of the snapshot: zero lost", async () => {
        assert.ok(snapshotFile, "the backup ran");
        let t = Date.now();
        await cluster.stopAll("SIGKILL");
        for (const n of nodes) {
            rmSync(cluster.dataDir(n.name), { recursive: true, force: true });
            assert.ok(!existsSync(cluster.dataDir(n.name)), `${n.name}'s data dir is gone`);
        }
        times.killAndWipe = Date.now() - t;

        t = Date.now();
        for (const n of nodes) {
            // What the runbook does: fetch the snapshot (and its sha256) from the bucket to the node.
            const local = join(roots[n.name], "root", "restore.db");
            mkdirSync(join(local, ".."), { recursive: true });
            copyFileSync(snapshotFile, local);
            copyFileSync(`${snapshotFile}.sha256`, `${local}.sha256`);
            const script = write(join(dir, `etcd-restore-${n.name}.sh`), renderEtcdRestoreScript(spec, nodes, n, { waitIntervalSeconds: 1, waitTimeoutSeconds: 20 }), 0o700);
            for (const phase of [["stop"], ["restore", local], ["start"]]) {
                const r = await runScript(script, phase, roots[n.name]);
                assert.equal(r.code, 0, `${n.name}: etcd-restore ${phase[0]} failed:\n${r.stdout}${r.stderr}`);
                if (phase[0] === "restore") assert.match(r.stdout, new RegExp(`restored etcd member ${n.name} \\(https://${n.privateIp.replace(/\./g, "\\.")}:2380\\)`));
            }
            assert.ok(existsSync(join(cluster.dataDir(n.name), "member", "snap", "db")), `${n.name} has a restored data dir`);
            assert.equal(statSync(cluster.dataDir(n.name)).mode & 0o777, 0o700, `${n.name}'s data dir is private`);
        }
        times.restore = Date.now() - t;

        t = Date.now();
        await cluster.startAll();
        await cluster.waitHealthy({ timeoutMs: 30_000 });
        times.restartHealthy = Date.now() - t;

        // The restored cluster is one cluster of the three members, with their names and peer URLs.
        const list = await cluster.etcdctl(["member", "list", "-w", "json", "--dial-timeout=3s"]);
        assert.equal(list.code, 0, list.stderr);
        const members = (JSON.parse(list.stdout.replace(/"(ID|member_id|cluster_id|raft_term|revision)":(\d+)/g, '"$1":"$2"')) as { members: { name: string; peerURLs: string[] }[] }).members;
        assert.deepEqual(members.map((m) => `${m.name} ${m.peerURLs.join()}`).sort(), nodes.map((n) => `${n.name} https://${n.privateIp}:2380`).sort());

        t = Date.now();
        for (const n of nodes) {
            const kv = await cluster.getPrefix(PREFIX, cluster.clientUrl(n.name), { serializable: true });
            const lost = [...beforeBackup].filter(([k, v]) => kv.get(k) !== v);
            assert.deepEqual(lost.slice(0, 5), [], `${n.name} lost ${lost.length} of the ${KEYS_BEFORE} keys written before the backup`);
            const kept = [...afterBackup.keys()].filter((k) => kv.has(k));
            assert.deepEqual(kept.slice(0, 5), [], `${n.name} still has ${kept.length} keys written after the backup: it was not restored`);
            assert.equal(kv.size, KEYS_BEFORE, `${n.name} holds exactly the snapshot's keys under ${PREFIX}`);
        }
        times.verify = Date.now() - t;

        // And the restored cluster takes writes.
        const put = await cluster.putWithRetry([[`${PREFIX}after-restore`, "ok"]], { deadlineMs: 15_000 });
        assert.deepEqual(put.unacknowledged, [], put.errors.join("; "));
    });
});
