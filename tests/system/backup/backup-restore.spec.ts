// etcd backup and restore, for real: the program runs under the mock runtime in update mode with
// real cryptography and its control planes on loopback addresses; its etcd PKI goes into one
// scratch filesystem root per node (kubeadm's paths under K8S_HA_FSROOT); a real 3-member etcd
// cluster with full mutual TLS runs on it (tests/system/etcd/cluster.ts: the lab's etcd 3.6.16,
// the minor kubeadm 1.35 deploys), each member's data dir at <root>/var/lib/etcd. Then: write keys,
// run the project's rendered backup script on node 0 (with the lab's etcdctl and etcdutl 3.6 on its
// PATH; its upload goes to a local directory standing in for S3, through the script's file://
// target), write more keys.
//
// The defect the restore script had: Debian's etcdctl 3.4 `snapshot restore` of that snapshot on
// every member (what the old script fell back to without etcdutl) leaves the 3.6 cluster without
// a leader; the spec shows it and records etcd's own words for why.
//
// Then the project's restore: kill every member, wipe every data dir, run the rendered restore
// script on every node (stop, restore, start). On a node it runs etcdutl from an etcd image with
// containerd's `ctr`; here, with no containerd, tests/system/backup/ctr-shim.sh stands in for ctr
// (it runs the lab's etcdutl 3.6 and checks the image, the mounts and the paths). Start the
// members and check every member holds exactly the snapshot's keys: all keys written before the
// backup with their values, none written after; the revision is bumped past the old cluster's and
// the history before it is compacted.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import {
    chmodSync,
    copyFileSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    readdirSync,
    readFileSync,
    rmSync,
    statSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    renderEtcdBackupScript,
    renderEtcdRestoreScript,
    shellQuote,
    type ClusterSpec,
    type NodeSpec,
} from "../../../components/kubeadm";
import { ETCD_TUNING } from "../../../components/kubeadm/config";
import { runProgram, type ProgramRun } from "../../../tools/harness/program";
import { tlsEmulator } from "../../../tools/harness/tlsEmulator";
import { unwrapSecrets } from "../../../tools/harness/values";
import { labTool } from "../../lab/tools";
import {
    EtcdCluster,
    freeLoopbackAddresses,
    requireBinaries,
    requireEtcdTools,
    run,
    waitFor,
    type EtcdClusterOptions,
    type EndpointHealth,
    type KeyPair,
} from "../etcd/cluster";
import { TYPES } from "../../../policies/lib/contract";

const CLUSTER = "k8s-dev";
const NODE_NAMES = [`${CLUSTER}-cp-0`, `${CLUSTER}-cp-1`, `${CLUSTER}-cp-2`];
const KEYS_BEFORE = 1200;
const KEYS_AFTER = 150;
const PREFIX = "/registry/k8s-ha-backup-test/";
/** Debian's etcdctl 3.4 (apt package etcd-client): only the defect spec runs it, by this path. */
const DEBIAN_ETCDCTL = "/usr/bin/etcdctl";
/**
 * The image line of kubeadm 1.35's etcd static-pod manifest (its DefaultEtcdVersion, 3.6.6-0, in
 * cmd/kubeadm/app/constants). The restore script reads it from the manifest `stop` moved aside.
 */
const KUBEADM_ETCD_IMAGE = "registry.k8s.io/etcd:3.6.6-0";
/** The etcd project's own release image of the same etcd version, which ships etcdutl. */
const UPSTREAM_ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.6.6";
/**
 * What the stand-in containerd on each node holds, and what its "registry" serves: the tools in
 * each image. Kubernetes builds registry.k8s.io/etcd with etcd and etcdctl only (its
 * cluster/images/etcd Makefile installs no etcdutl; read from its build files, not from the image:
 * nothing here fetches images), and etcdctl 3.6 has no `snapshot restore`; so the restore has to
 * take etcdutl from etcd's own image of the same version. The bats suite covers a kubeadm image
 * that does hold etcdutl.
 */
const NODE_IMAGES = `${KUBEADM_ETCD_IMAGE} etcd,etcdctl\n`;
const REGISTRY_IMAGES = `${KUBEADM_ETCD_IMAGE} etcd,etcdctl\n${UPSTREAM_ETCD_IMAGE} etcd,etcdctl,etcdutl\n`;
/** The restore's --bump-revision (see the restore script). */
const BUMP_REVISION = 1_000_000_000;

/** A member's data dir where kubeadm keeps it: <node root>/var/lib/etcd. */
class NodeRootedEtcd extends EtcdCluster {
    constructor(
        options: EtcdClusterOptions,
        private readonly roots: Readonly<Record<string, string>>,
    ) {
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

/**
 * Runs a rendered script with bash, its host paths under `root` (K8S_HA_FSROOT), bounded in time;
 * `binDir` goes first on its PATH, `env` is added to its environment.
 */
function runScript(
    script: string,
    args: readonly string[],
    root: string,
    o: { binDir: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const timeoutMs = o.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
        const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^ETCD(CTL)?_/.test(k)));
        const env = { ...inherited, ...o.env, PATH: `${o.binDir}:${process.env.PATH ?? ""}`, K8S_HA_FSROOT: root };
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

const entries = (phase: string, n: number) =>
    Array.from(
        { length: n },
        (_, i) => [`${PREFIX}${phase}/${String(i).padStart(5, "0")}`, `${phase}-value-${i}`] as const,
    );

/** A static-pod manifest as kubeadm writes it, as far as the restore script reads it (the image line). */
function staticPodManifest(name: string, image: string): string {
    return [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        `  name: ${name}`,
        "  namespace: kube-system",
        "spec:",
        "  containers:",
        "  - command:",
        `    - ${name}`,
        `    image: ${image}`,
        "    imagePullPolicy: IfNotPresent",
        `    name: ${name}`,
        "  hostNetwork: true",
        "",
    ].join("\n");
}

describe("etcd backup and restore on real etcd 3.6 (the lab's) with the project's PKI and rendered scripts (upload: file:// target, a local directory standing in for S3; ctr: a stand-in)", function () {
    this.timeout(300_000);
    let dir: string;
    let s3: string;
    let roots: Record<string, string>;
    let nodes: NodeSpec[];
    let spec: ClusterSpec;
    let program: ProgramRun;
    let cluster: NodeRootedEtcd;
    let snapshotFile: string;
    let snapshotRevision = 0;
    /** The member ids (hex, as etcd logs them) of the cluster the backup was taken from. */
    let originalMemberIds: string[] = [];
    /** The lab's etcdctl and etcdutl, first on the backup script's PATH. */
    let labBin: string;
    /** ctr-shim.sh as `ctr`, first on the restore script's PATH (nothing else: no etcdutl, Debian's etcdctl 3.4 stays on PATH). */
    let shimBin: string;
    let failed = false;
    const started = Date.now();
    const times: Record<string, number> = {};
    const beforeBackup = new Map(entries("before-backup", KEYS_BEFORE));
    const afterBackup = new Map(entries("after-backup", KEYS_AFTER));

    before(async function () {
        requireEtcdTools();
        requireBinaries(["flock", "sha256sum", "timeout", "realpath"]);
        dir = mkdtempSync(join(tmpdir(), "etcd-backup-system-"));
        s3 = join(dir, "s3-standin");
        labBin = join(dir, "lab-bin");
        mkdirSync(labBin);
        for (const tool of ["etcdctl", "etcdutl"] as const) symlinkSync(labTool(tool), join(labBin, tool));
        shimBin = join(dir, "ctr-shim-bin");
        mkdirSync(shimBin);
        copyFileSync(join(__dirname, "ctr-shim.sh"), join(shimBin, "ctr"));
        chmodSync(join(shimBin, "ctr"), 0o755);
        const ips = await freeLoopbackAddresses(NODE_NAMES.length);
        nodes = NODE_NAMES.map((name, i) => ({
            name,
            privateIp: ips[i],
            role: "control-plane" as const,
            providerId: `aws:///us-east-1a/i-0000000000000000${i}`,
        }));
        roots = Object.fromEntries(nodes.map((n) => [n.name, join(dir, "nodes", n.name)]));

        let t = Date.now();
        program = await runProgram({
            stack: "dev",
            preview: false,
            mocks: {
                privateIps: Object.fromEntries(nodes.map((n) => [n.name, n.privateIp])),
                overrides: tlsEmulator({ keepIssued: false }),
            },
        });
        assert.ifError(program.error);
        assert.deepEqual(
            program.outputs.controlPlanePrivateIps?.value,
            ips,
            "the control planes sit on the loopback addresses the test chose",
        );
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
        const SELF = TYPES.selfSignedCert;
        const LEAF = TYPES.locallySignedCert;
        const KEY = TYPES.privateKey;
        const members = nodes.map((n) => {
            const pki = join(roots[n.name], "etc", "kubernetes", "pki", "etcd");
            write(join(pki, "ca.crt"), pemOf(program, SELF, `${CLUSTER}-etcd-ca`, "certPem"), 0o644);
            const pair = (leaf: string, file: string): KeyPair => ({
                cert: write(join(pki, `${file}.crt`), pemOf(program, LEAF, leaf, "certPem"), 0o644),
                key: write(join(pki, `${file}.key`), pemOf(program, KEY, leaf, "privateKeyPem"), 0o600),
            });
            pair(`${CLUSTER}-etcd-healthcheck-client`, "healthcheck-client");
            return {
                name: n.name,
                ip: n.privateIp,
                server: pair(`${n.name}-etcd-server`, "server"),
                peer: pair(`${n.name}-etcd-peer`, "peer"),
            };
        });
        const clientDir = join(dir, "apiserver");
        const client: KeyPair = {
            cert: write(
                join(clientDir, "apiserver-etcd-client.crt"),
                pemOf(program, LEAF, `${CLUSTER}-apiserver-etcd-client`, "certPem"),
                0o644,
            ),
            key: write(
                join(clientDir, "apiserver-etcd-client.key"),
                pemOf(program, KEY, `${CLUSTER}-apiserver-etcd-client`, "privateKeyPem"),
                0o600,
            ),
        };
        cluster = new NodeRootedEtcd(
            {
                dir: join(dir, "etcd"),
                caFile: join(roots[nodes[0].name], "etc", "kubernetes", "pki", "etcd", "ca.crt"),
                client,
                members,
                flags: { ...ETCD_TUNING, "pre-vote": "true" },
            },
            roots,
        );
        t = Date.now();
        await cluster.startAll();
        await cluster.waitHealthy({ timeoutMs: 30_000 });
        times.firstStart = Date.now() - t;
        const list = await cluster.etcdctl(["member", "list", "-w", "json", "--dial-timeout=3s"]);
        assert.equal(list.code, 0, list.stderr);
        originalMemberIds = (
            JSON.parse(list.stdout.replace(/"(ID|member_id|cluster_id)":(\d+)/g, '"$1":"$2"')) as {
                members: { ID: string }[];
            }
        ).members
            .map((m) => BigInt(m.ID).toString(16))
            .sort();
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") failed = true;
    });

    after(async function () {
        this.timeout(60_000);
        await cluster?.stopAll("SIGKILL");
        console.log(`      wall times (ms): ${JSON.stringify({ ...times, total: Date.now() - started })}`);
        if (!dir) return;
        if (failed)
            console.log(
                `      kept ${dir} (PKI, node roots, member logs, the S3 stand-in, the ctr stand-in's call logs) for the failure above`,
            );
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
        const installer = program.resources.find(
            (r) => r.type === TYPES.remoteCommand && r.name === `${nodes[0].name}-etcd-backup`,
        );
        assert.ok(installer, "the program has an etcd backup step on node 0");
        const create = String(unwrapSecrets(installer.inputs.create));
        const bucket = String(program.outputs.etcdBackupBucket.value);
        const asInstalled = renderEtcdBackupScript(spec, nodes[0], {
            uploadTarget: `s3://${bucket}/${CLUSTER}/${nodes[0].name}`,
            region: program.config["aws:region"],
        });
        // Embedded as a readonly variable, and the whole installer quoted once more for `sudo bash -c`.
        const embedded = `readonly BACKUP_SCRIPT=${shellQuote(asInstalled.trimEnd())}`.replace(/'/g, `'\\''`);
        assert.ok(create.includes(embedded), "the installer carries renderEtcdBackupScript's output for node 0");
    });

    it("the rendered backup script snapshots node 0's member with its health-check client certificate, checks it and uploads it with a sha256 (to the local S3 stand-in)", async () => {
        const target = `file://${s3}/${CLUSTER}/${nodes[0].name}`;
        const script = write(
            join(dir, "etcd-backup.sh"),
            renderEtcdBackupScript(spec, nodes[0], {
                uploadTarget: target,
                region: program.config["aws:region"],
                etcdEndpoint: `https://${nodes[0].privateIp}:2379`,
            }),
            0o700,
        );
        const t = Date.now();
        const r = await runScript(script, [], roots[nodes[0].name], { binDir: labBin });
        times.backup = Date.now() - t;
        assert.equal(r.code, 0, `backup failed:\n${r.stdout}${r.stderr}`);
        const ok =
            /etcd backup ok: (\S+) revision=(\d+) keys=(\d+) bytes=(\d+) db_bytes=\d+ sha256=([0-9a-f]{64})/.exec(
                r.stdout,
            );
        assert.ok(ok, `the backup logs its result:\n${r.stdout}`);
        assert.ok(
            Number(ok[3]) >= KEYS_BEFORE,
            `the snapshot holds at least the ${KEYS_BEFORE} keys (etcd counts ${ok[3]})`,
        );
        snapshotRevision = Number(ok[2]);
        const uploaded = readdirSync(join(s3, CLUSTER, nodes[0].name));
        const db = uploaded.find((f) => /^k8s-dev-cp-0-\d{8}T\d{6}Z\.db$/.test(f));
        assert.ok(db, `a timestamped snapshot was uploaded: ${uploaded.join(", ")}`);
        assert.ok(uploaded.includes(`${db}.sha256`), "its sha256 was uploaded beside it");
        assert.equal(ok[1], `${target}/${db}`);
        snapshotFile = join(s3, CLUSTER, nodes[0].name, db);
        assert.equal(statSync(snapshotFile).size, Number(ok[4]));
        // An independent look at the uploaded file (etcdctl 3.6 has no `snapshot status`; etcdutl does).
        const status = await run(labTool("etcdutl"), ["snapshot", "status", snapshotFile, "-w", "json"]);
        assert.equal(status.code, 0, status.stderr);
        const parsed = JSON.parse(status.stdout) as { totalKey: number; revision: number };
        assert.equal(parsed.totalKey, Number(ok[3]));
        assert.equal(parsed.revision, snapshotRevision);
        assert.equal(readFileSync(`${snapshotFile}.sha256`, "utf8").split(/\s+/)[0], ok[5]);
    });

    it(`after the backup, ${KEYS_AFTER} more keys are written (a restore must roll them back)`, async () => {
        const put = await cluster.putWithRetry([...afterBackup], { deadlineMs: 30_000 });
        assert.deepEqual(put.unacknowledged, [], put.errors.join("; "));
        assert.equal(await cluster.countKeys(PREFIX, cluster.clientUrl(nodes[1].name)), KEYS_BEFORE + KEYS_AFTER);
    });

    it("the defect: Debian's etcdctl 3.4 `snapshot restore` of this 3.6 snapshot on all three members leaves the 3.6 cluster without a leader, and etcd logs why", async () => {
        assert.ok(snapshotFile, "the backup ran");
        const version = await run(DEBIAN_ETCDCTL, ["version"], { env: { ETCDCTL_API: "3" } }).catch((e: Error) => {
            throw new Error(
                `${e.message} (the defect spec needs Debian's etcdctl 3.4: apt-get install -y etcd-client)`,
            );
        });
        assert.match(
            version.stdout,
            /^etcdctl version: 3\.4\./m,
            `${DEBIAN_ETCDCTL} is etcd 3.4's etcdctl: ${version.stdout}${version.stderr}`,
        );
        await cluster.stopAll("SIGKILL");
        let t = Date.now();
        for (const n of nodes) {
            rmSync(cluster.dataDir(n.name), { recursive: true, force: true });
            // The very arguments the old restore script gave its etcdctl 3.4 fallback.
            const r = await run(
                DEBIAN_ETCDCTL,
                [
                    "snapshot",
                    "restore",
                    snapshotFile,
                    "--name",
                    n.name,
                    "--initial-cluster",
                    cluster.initialCluster,
                    "--initial-cluster-token",
                    `${CLUSTER}-restore-defect`,
                    "--initial-advertise-peer-urls",
                    cluster.peerUrl(n.name),
                    "--data-dir",
                    cluster.dataDir(n.name),
                ],
                { env: { ETCDCTL_API: "3" } },
            );
            assert.equal(r.code, 0, `etcdctl 3.4 reports its restore as a success on ${n.name}: ${r.stderr}`);
        }
        times.defectRestore34 = Date.now() - t;
        const offsets = new Map(nodes.map((n) => [n.name, cluster.logOffset(n.name)]));
        t = Date.now();
        await cluster.startAll();
        // Bounded, and long enough to mean something. With --feature-gates=InitialCorruptCheck=true
        // a restarted member first asks its peers for their hashes, before it serves peer traffic;
        // when all restart at once that check waits out its timeouts, and even a good restore then
        // takes up to ~15 s to be healthy (measured: the check waits 7 s for each peer that accepts
        // the connection but does not serve yet); here the 3.4-restored members ask the old members'
        // URLs and serve after 20-26 s. So: probe until every member serves peer traffic (at most
        // 60 s), then 10 s more (10 election timeouts, --election-timeout=1000), where a good
        // restore is healthy within about 1 s of serving.
        const SERVING = '"msg":"now serving peer/client/metrics"';
        const servingDeadline = t + 60_000;
        let settledAt: number | undefined;
        // Each probe asks every member at once for its leader (endpoint status) and its health.
        const seen: { at: number; leaders: string[]; healthy: string[] }[] = [];
        let health: { endpoints: EndpointHealth[]; code: number | null } = { endpoints: [], code: null };
        while (settledAt === undefined ? Date.now() < servingDeadline : Date.now() < settledAt + 10_000) {
            const [h, statuses] = await Promise.all([
                cluster.health({
                    endpoints: nodes.map((n) => cluster.clientUrl(n.name)),
                    dialTimeout: "1s",
                    commandTimeout: "1s",
                }),
                cluster.statuses(),
            ]);
            health = { endpoints: h.endpoints, code: h.result.code };
            seen.push({
                at: Date.now() - t,
                leaders: statuses.filter((s) => s.leader).map((s) => `${s.name} sees ${s.leader}`),
                healthy: h.endpoints.filter((e) => e.health).map((e) => e.endpoint),
            });
            if (
                settledAt === undefined &&
                nodes.every(
                    (n) =>
                        !cluster.isRunning(n.name) || cluster.logSince(n.name, offsets.get(n.name)!).includes(SERVING),
                )
            )
                settledAt = Date.now();
            await new Promise((r) => setTimeout(r, 500));
        }
        times.defectServing = settledAt === undefined ? -1 : settledAt - t;
        times.defectWindow = Date.now() - t;
        const report = `${seen.map((s) => `${s.at} ms: leaders [${s.leaders.join(", ")}], healthy [${s.healthy.join(", ")}]`).join("\n")}\n${cluster.describe()}`;
        assert.ok(settledAt !== undefined, `every member serves peer traffic (or has exited) within 60 s:\n${report}`);
        assert.deepEqual(
            seen.filter((s) => s.leaders.length > 0 || s.healthy.length > 0),
            [],
            `no member may report a leader or be healthy, for ${times.defectWindow} ms:\n${report}`,
        );
        assert.ok(
            seen.filter((s) => s.at >= times.defectServing).length >= 4,
            `the cluster was probed throughout the 10 s after it served (${seen.length} probes):\n${report}`,
        );
        assert.notEqual(health.code, 0, "endpoint health fails on every member");
        // Why, in etcd's words. 3.4's restore wrote the new members (ids from the new token) into the
        // WAL and the v2 store only; the backend still holds the members of the cluster the snapshot
        // came from, and 3.6 takes membership from the backend. Every restored member says so at
        // start, naming the old members, and then rejects raft traffic from its restored peers
        // (no votes: no leader) or, if a leader slips through, panics applying its first entry.
        const logs = new Map(nodes.map((n) => [n.name, cluster.logSince(n.name, offsets.get(n.name)!)]));
        const localIds = nodes.map((n) => /"local-member-id":"([0-9a-f]+)"/.exec(logs.get(n.name)!)?.[1]);
        assert.ok(localIds.every(Boolean), `every restored member logs its id:\n${report}`);
        const V3_ONLY =
            /"msg":"Detected member only in v3store but missing in v2store","member":"\{ID:([0-9a-f]+) .*?Name:(\S+) /g;
        let v3OnlyLine = "";
        for (const n of nodes) {
            const found = [...logs.get(n.name)!.matchAll(V3_ONLY)];
            v3OnlyLine ||= found[0]?.[0] ?? "";
            assert.deepEqual(
                found.map((m) => m[1]).sort(),
                originalMemberIds,
                `${n.name}'s backend holds exactly the old cluster's members (${originalMemberIds.join(", ")}):\n${report}`,
            );
            assert.deepEqual(
                found.map((m) => m[2]).sort(),
                nodes.map((x) => x.name).sort(),
                `${n.name}: under the old members' names`,
            );
            for (const id of localIds)
                assert.ok(!originalMemberIds.includes(id!), `the restored member ${id} is not among them`);
        }
        const CONSEQUENCE = /"msg":"(failed to find remote peer in cluster|failed to update; member unknown)"/;
        const consequence = await waitFor(
            "a restored member to reject its restored peers or panic",
            15_000,
            async () =>
                nodes
                    .map((n) => ({
                        name: n.name,
                        line: cluster
                            .logSince(n.name, offsets.get(n.name)!)
                            .split("\n")
                            .find((l) => CONSEQUENCE.test(l)),
                    }))
                    .find((c) => c.line),
            () => report,
        );
        const panicked = nodes
            .filter((n) =>
                cluster.logSince(n.name, offsets.get(n.name)!).includes('"msg":"failed to update; member unknown"'),
            )
            .map((n) => n.name);
        const exited = nodes.filter((n) => !cluster.isRunning(n.name)).map((n) => n.name);
        console.log(
            `      etcdctl 3.4 restore on 3 members: ${times.defectRestore34} ms; after start: all serving peers (or exited) at ${times.defectServing} ms, no leader and not healthy for ${times.defectWindow} ms (${seen.length} probes); ` +
                `panicked: [${panicked.join(", ")}], exited: [${exited.join(", ")}]\n      ${v3OnlyLine.slice(0, 230)}\n      ${consequence.name}: ${consequence.line!.slice(0, 260)}`,
        );
        await cluster.stopAll("SIGKILL");
    });

    it("every member's data dir wiped, the rendered restore script (stop, restore, start) brings every member back with every key of the snapshot: zero lost, revision bumped, history compacted", async () => {
        assert.ok(snapshotFile, "the backup ran");
        let t = Date.now();
        await cluster.stopAll("SIGKILL");
        for (const n of nodes) {
            rmSync(cluster.dataDir(n.name), { recursive: true, force: true });
            assert.ok(!existsSync(cluster.dataDir(n.name)), `${n.name}'s data dir is gone`);
        }
        times.killAndWipe = Date.now() - t;

        const shimState = (n: NodeSpec) => join(dir, "ctr-shim", n.name);
        t = Date.now();
        for (const n of nodes) {
            // The node's control-plane static pods, as kubeadm left them; `stop` moves them aside.
            const manifests = join(roots[n.name], "etc", "kubernetes", "manifests");
            write(join(manifests, "etcd.yaml"), staticPodManifest("etcd", KUBEADM_ETCD_IMAGE), 0o600);
            for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
                write(
                    join(manifests, `${c}.yaml`),
                    staticPodManifest(c, `registry.k8s.io/${c}:v${spec.kubernetesVersion}`),
                    0o600,
                );
            // The node's containerd holds kubeadm's etcd image (the kubelet pulled it).
            write(join(shimState(n), "images"), NODE_IMAGES, 0o644);
            write(join(shimState(n), "registry"), REGISTRY_IMAGES, 0o644);
            // What the runbook does: fetch the snapshot (and its sha256) from the bucket to the node.
            const local = join(roots[n.name], "root", "restore.db");
            mkdirSync(join(local, ".."), { recursive: true });
            copyFileSync(snapshotFile, local);
            copyFileSync(`${snapshotFile}.sha256`, `${local}.sha256`);
            const script = write(
                join(dir, `etcd-restore-${n.name}.sh`),
                renderEtcdRestoreScript(spec, nodes, n, { waitIntervalSeconds: 1, waitTimeoutSeconds: 20 }),
                0o700,
            );
            for (const phase of [["stop"], ["restore", local], ["start"]]) {
                const r = await runScript(script, phase, roots[n.name], {
                    binDir: shimBin,
                    env: { CTR_SHIM_STATE: shimState(n), CTR_SHIM_ETCDUTL: labTool("etcdutl") },
                });
                assert.equal(r.code, 0, `${n.name}: etcd-restore ${phase[0]} failed:\n${r.stdout}${r.stderr}`);
                if (phase[0] === "restore")
                    assert.match(
                        r.stdout,
                        new RegExp(
                            `restored etcd member ${n.name} \\(https://${n.privateIp.replace(/\./g, "\\.")}:2380\\)`,
                        ),
                    );
            }
            assert.ok(
                existsSync(join(cluster.dataDir(n.name), "member", "snap", "db")),
                `${n.name} has a restored data dir`,
            );
            assert.equal(statSync(cluster.dataDir(n.name)).mode & 0o777, 0o700, `${n.name}'s data dir is private`);
            for (const m of ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"])
                assert.ok(existsSync(join(manifests, m)), `${n.name}: ${m} is back in place`);
        }
        times.restore = Date.now() - t;

        t = Date.now();
        await cluster.startAll();
        // Up to ~15 s measured: every member restarts at once and runs the initial corruption check.
        await cluster.waitHealthy({ timeoutMs: 45_000 });
        times.restartHealthy = Date.now() - t;

        // How each node's restore got its etcdutl: kubeadm's image from the manifest first (it has
        // none), then etcd's own image of the same version, pulled; status and restore ran there,
        // with the snapshot and the data dir's parent mounted and the new flags.
        for (const n of nodes) {
            const calls = readFileSync(join(shimState(n), "calls"), "utf8")
                .trimEnd()
                .split("\n");
            const local = join(roots[n.name], "root", "restore.db");
            const parent = join(roots[n.name], "var", "lib");
            const where = `${n.name}'s ctr calls:\n${calls.join("\n")}`;
            assert.ok(
                calls.some(
                    (c) =>
                        c.startsWith("--namespace k8s.io run --rm ") &&
                        c.includes(` ${KUBEADM_ETCD_IMAGE} `) &&
                        c.endsWith(" /usr/local/bin/etcdutl version"),
                ),
                `the restore looked for etcdutl in the manifest's image ${KUBEADM_ETCD_IMAGE}; ${where}`,
            );
            assert.ok(
                calls.includes(`--namespace k8s.io images pull ${UPSTREAM_ETCD_IMAGE}`),
                `it pulled ${UPSTREAM_ETCD_IMAGE}; ${where}`,
            );
            const restore = calls.filter((c) => / \/usr\/local\/bin\/etcdutl snapshot restore /.test(c));
            assert.equal(restore.length, 1, `one snapshot restore; ${where}`);
            const r = restore[0];
            for (const part of [
                `--namespace k8s.io run --rm --mount type=bind,src=${local},dst=${local},options=rbind:ro --mount type=bind,src=${parent},dst=${parent},options=rbind:rw ${UPSTREAM_ETCD_IMAGE} `,
                ` /usr/local/bin/etcdutl snapshot restore ${local} --name ${n.name} --initial-cluster ${cluster.initialCluster} `,
                ` --initial-advertise-peer-urls https://${n.privateIp}:2380 `,
                ` --data-dir ${cluster.dataDir(n.name)}.restore-`,
                ` --bump-revision ${BUMP_REVISION} --mark-compacted`,
            ])
                assert.ok(r.includes(part), `the restore call has '${part}': ${r}`);
            assert.ok(
                calls.some(
                    (c) =>
                        c.includes(` ${UPSTREAM_ETCD_IMAGE} `) &&
                        c.includes(`/usr/local/bin/etcdutl snapshot status ${local} -w json`),
                ),
                `the snapshot was checked with etcdutl first; ${where}`,
            );
        }

        // The restored cluster is one cluster of the three members, with their names and peer URLs.
        const list = await cluster.etcdctl(["member", "list", "-w", "json", "--dial-timeout=3s"]);
        assert.equal(list.code, 0, list.stderr);
        const members = (
            JSON.parse(list.stdout.replace(/"(ID|member_id|cluster_id|raft_term|revision)":(\d+)/g, '"$1":"$2"')) as {
                members: { name: string; peerURLs: string[] }[];
            }
        ).members;
        assert.deepEqual(
            members.map((m) => `${m.name} ${m.peerURLs.join()}`).sort(),
            nodes.map((n) => `${n.name} https://${n.privateIp}:2380`).sort(),
        );

        t = Date.now();
        for (const n of nodes) {
            const kv = await cluster.getPrefix(PREFIX, cluster.clientUrl(n.name), { serializable: true });
            const lost = [...beforeBackup].filter(([k, v]) => kv.get(k) !== v);
            assert.deepEqual(
                lost.slice(0, 5),
                [],
                `${n.name} lost ${lost.length} of the ${KEYS_BEFORE} keys written before the backup`,
            );
            const kept = [...afterBackup.keys()].filter((k) => kv.has(k));
            assert.deepEqual(
                kept.slice(0, 5),
                [],
                `${n.name} still has ${kept.length} keys written after the backup: it was not restored`,
            );
            assert.equal(kv.size, KEYS_BEFORE, `${n.name} holds exactly the snapshot's keys under ${PREFIX}`);
        }
        times.verify = Date.now() - t;

        // --bump-revision: every member's revision is past the snapshot's by the bump, so no revision
        // the old cluster handed out after the snapshot is handed out again; --mark-compacted: a
        // read at an old revision is refused as compacted (a watch from there must re-list).
        const status = await cluster.etcdctl(["endpoint", "status", "-w", "json", "--dial-timeout=3s"]);
        assert.equal(status.code, 0, status.stderr);
        const revisions = (
            JSON.parse(status.stdout) as { Endpoint: string; Status: { header: { revision: number } } }[]
        ).map((s) => s.Status.header.revision);
        assert.equal(revisions.length, 3);
        for (const rev of revisions)
            assert.ok(
                rev >= snapshotRevision + BUMP_REVISION,
                `revision ${rev} >= snapshot revision ${snapshotRevision} + ${BUMP_REVISION}`,
            );
        const old = await cluster.etcdctl([
            "get",
            `${PREFIX}before-backup/00000`,
            `--rev=${snapshotRevision}`,
            "--command-timeout=5s",
        ]);
        assert.notEqual(
            old.code,
            0,
            `a read at the snapshot's revision ${snapshotRevision} must be refused: ${old.stdout}`,
        );
        assert.match(old.stderr, /required revision has been compacted/);

        // And the restored cluster takes writes.
        const put = await cluster.putWithRetry([[`${PREFIX}after-restore`, "ok"]], { deadlineMs: 15_000 });
        assert.deepEqual(put.unacknowledged, [], put.errors.join("; "));
        console.log(
            `      restore (3 nodes, stop+restore+start): ${times.restore} ms; healthy ${times.restartHealthy} ms after start; revisions ${revisions.join(", ")} (snapshot ${snapshotRevision})`,
        );
    });
});
