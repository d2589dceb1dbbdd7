import { strict as assert } from "node:assert";
import { ConfigError, validateConfig } from "../../components/config";
import { renderEtcdBackupUnits } from "../../components/kubeadm";
import { type ProgramRun } from "../../tools/harness/program";
import { sharedRun } from "../../tools/harness/sharedRun";
import { isSecretValue } from "../../tools/harness/values";
import { byUrn, dependedOn, ofType, one, plain } from "../graph";
import { cmd, scriptVar, text, unwrapRemote, waitsFor } from "./helpers";

const S3 = {
    bucket: "aws:s3/bucket:Bucket",
    sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    policy: "aws:s3/bucketPolicy:BucketPolicy",
    ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    role: "aws:iam/role:Role",
} as const;

describe("etcd backups under the mock runtime", () => {
    describe("dev stack with etcdBackupRetentionDays=14 and etcdBackupSchedule='Mon..Fri 02:30' (update mode)", () => {
        let run: ProgramRun;
        let bucketName: string;
        before(async () => {
            run = await sharedRun({ stack: "dev", preview: false, config: { etcdBackupRetentionDays: 14, etcdBackupSchedule: "Mon..Fri 02:30" } });
            assert.ifError(run.error);
            bucketName = String(run.outputs.etcdBackupBucket.value);
        });

        it("makes one bucket, named after the cluster, exported as etcdBackupBucket", () => {
            const bucket = one(run, S3.bucket);
            assert.equal(plain(bucket).bucketPrefix, "k8s-dev-etcd-backups-");
            assert.equal(bucket.outputs.bucket, bucketName);
            assert.match(bucketName, /^k8s-dev-etcd-backups-[0-9a-f]{26}$/);
            assert.equal(plain(bucket).forceDestroy, true, "dev (protect off) can be destroyed with its snapshots");
            assert.equal(bucket.protect, false);
            assert.equal(run.outputs.etcdBackupPrefix.value, "k8s-dev");
        });

        it("encrypts every object (SSE AES256), versions them, blocks public access, enforces owner-only objects", () => {
            const onBucket = (type: string) => {
                const r = one(run, type);
                assert.equal(dependedOn(run, r, "bucket")[0]?.type, S3.bucket, `${type} configures the backup bucket`);
                return plain(r);
            };
            assert.deepEqual(onBucket(S3.sse).rules, [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }]);
            assert.deepEqual(onBucket(S3.versioning).versioningConfiguration, { status: "Enabled" });
            const pab = onBucket(S3.publicAccess);
            for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) assert.equal(pab[k], true, k);
            assert.deepEqual(onBucket(S3.ownership).rule, { objectOwnership: "BucketOwnerEnforced" });
        });

        it("expires snapshots under the cluster's prefix after etcdBackupRetentionDays, old versions and stale uploads too", () => {
            const lifecycle = one(run, S3.lifecycle);
            const rules = plain(lifecycle).rules as any[];
            const expire = rules.find((r) => r.id === "expire-etcd-snapshots");
            assert.ok(expire, "an expiry rule");
            assert.equal(expire.status, "Enabled");
            assert.deepEqual(expire.filter, { prefix: "k8s-dev/" });
            assert.deepEqual(expire.expiration, { days: 14 });
            assert.deepEqual(expire.noncurrentVersionExpiration, { noncurrentDays: 14 });
            assert.deepEqual(expire.abortIncompleteMultipartUpload, { daysAfterInitiation: 1 });
            assert.ok(rules.some((r) => r.expiration?.expiredObjectDeleteMarker === true && r.filter?.prefix === "k8s-dev/"), "expired delete markers are removed");
            assert.ok(lifecycle.dependencies.includes(one(run, S3.versioning).urn), "applied after versioning is on");
        });

        it("denies any request without TLS, for the bucket and every object", () => {
            const policy = JSON.parse(plain(one(run, S3.policy)).policy);
            assert.deepEqual(policy.Statement, [{
                Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*",
                Resource: [`arn:aws:s3:::${bucketName}`, `arn:aws:s3:::${bucketName}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            }]);
        });

        it("lets the control-plane role put objects under <bucket>/<cluster>/ and nothing else; workers get nothing", () => {
            const policies = ofType(run, S3.rolePolicy);
            assert.equal(policies.length, 1, "one inline policy in the whole stack");
            const p = policies[0];
            const role = dependedOn(run, p, "role")[0];
            assert.equal(role.type, S3.role);
            assert.equal(role.name, "k8s-dev-control-plane");
            const doc = JSON.parse(plain(p).policy);
            assert.deepEqual(doc.Statement, [{ Sid: "PutEtcdSnapshots", Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: `arn:aws:s3:::${bucketName}/k8s-dev/*` }]);
            // No other identity-based S3 permission anywhere.
            for (const r of run.resources.filter((x) => /^aws:iam\//.test(x.type) && x !== p)) {
                assert.ok(!JSON.stringify(plain(r)).includes("s3:"), `${r.name} grants nothing on S3`);
            }
        });

        it("installs the timer on every control plane after it joined and after the bucket is ready, with the configured schedule", () => {
            for (const [i, node] of ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"].entries()) {
                const step = cmd(run, `${node}-etcd-backup`);
                assert.ok(waitsFor(run, step).includes(i === 0 ? `${node}-init` : `${node}-join`), `${node}: after its own membership step`);
                const deps = step.dependencies.map((u) => byUrn(run, u).type);
                for (const t of [S3.rolePolicy, S3.sse, S3.lifecycle, S3.publicAccess]) assert.ok(deps.includes(t), `${node}: after ${t}`);
                const script = unwrapRemote(text(step, "create")!);
                const target = `s3://${bucketName}/k8s-dev/${node}`;
                assert.equal(scriptVar(script, "UPLOAD_TARGET"), target);
                assert.equal(scriptVar(script, "SCHEDULE"), "Mon..Fri 02:30");
                const timer = scriptVar(script, "TIMER_UNIT");
                assert.ok(timer.split("\n").includes("OnCalendar=Mon..Fri 02:30"), timer);
                assert.ok(timer.split("\n").includes("RandomizedDelaySec=30min"));
                assert.ok(timer.split("\n").includes("Persistent=true"));
                // the unit texts are the renderer's, for this node and target
                const units = renderEtcdBackupUnits({ name: node, privateIp: "10.0.0.1", role: "control-plane" }, "Mon..Fri 02:30", target);
                assert.equal(timer, units.timer.trimEnd());
                assert.equal(scriptVar(script, "SERVICE_UNIT"), units.service.trimEnd());
                // the backup script inside uploads there with SSE in the stack's region, from the local member
                const backup = scriptVar(script, "BACKUP_SCRIPT");
                assert.equal(scriptVar(backup, "UPLOAD_TARGET"), target);
                assert.equal(scriptVar(backup, "AWS_REGION"), "us-west-2");
                assert.equal(scriptVar(backup, "S3_SSE"), "AES256");
                assert.equal(scriptVar(backup, "ETCD_ENDPOINT"), "https://127.0.0.1:2379");
                assert.equal(scriptVar(backup, "ETCD_CERT"), "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
                // and the restore script for the runbook knows every member
                const restore = scriptVar(script, "RESTORE_SCRIPT");
                assert.match(scriptVar(restore, "INITIAL_CLUSTER"), /^k8s-dev-cp-0=https:\/\/10\.\d+\.\d+\.\d+:2380,k8s-dev-cp-1=https:\/\/[\d.]+:2380,k8s-dev-cp-2=https:\/\/[\d.]+:2380$/);
                assert.equal(step.inputs.stdin, undefined, "the backup step needs no secret");
                assert.ok(!isSecretValue(step.inputs.create));
            }
            assert.equal(run.resources.filter((r) => r.name.endsWith("-etcd-backup")).length, 3, "control planes only");
        });
    });

    it("the default schedule is daily at 03:00 (plus the random delay), retention 7 days", async () => {
        const run = await sharedRun({ stack: "dev", preview: false });
        assert.ifError(run.error);
        const timer = scriptVar(unwrapRemote(text(cmd(run, "k8s-dev-cp-0-etcd-backup"), "create")!), "TIMER_UNIT");
        assert.ok(timer.split("\n").includes("OnCalendar=*-*-* 03:00:00"), timer);
        const expire = (plain(one(run, S3.lifecycle)).rules as any[]).find((r) => r.id === "expire-etcd-snapshots");
        assert.deepEqual([expire.expiration.days, expire.noncurrentVersionExpiration.noncurrentDays], [7, 7]);
    });

    it("prod protects the bucket and keeps it from being destroyed while it holds snapshots", async () => {
        const run = await sharedRun({ stack: "prod", preview: true });
        assert.ifError(run.error);
        const bucket = one(run, S3.bucket);
        assert.equal(bucket.protect, true);
        assert.equal(plain(bucket).forceDestroy, false);
        assert.equal(run.resources.filter((r) => r.name.endsWith("-etcd-backup")).length, 5);
    });

    it("rejects a schedule systemd would not take, and a retention out of range, naming the key", () => {
        for (const [raw, key] of [[{ etcdBackupSchedule: "every day" }, "etcdBackupSchedule"], [{ etcdBackupSchedule: "*-*-* 03:00:00; rm -rf /" }, "etcdBackupSchedule"], [{ etcdBackupRetentionDays: "0" }, "etcdBackupRetentionDays"], [{ etcdBackupRetentionDays: "7.5" }, "etcdBackupRetentionDays"]] as const) {
            assert.throws(() => validateConfig({ ...raw, sshAllowedCidrs: '["203.0.113.0/24"]' } as Record<string, string>, "us-east-1"), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.key === key), JSON.stringify(raw));
        }
        assert.equal(validateConfig({ etcdBackupSchedule: "daily", sshAllowedCidrs: '["203.0.113.0/24"]' }, "us-east-1").etcdBackupSchedule, "daily");
    });
});
