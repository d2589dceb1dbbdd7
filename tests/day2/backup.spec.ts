import { strict as assert } from "node:assert";
import { ConfigError, validateConfig } from "../../components/config";
import {
    renderEtcdBackupInstallScript,
    renderEtcdBackupScript,
    renderEtcdBackupUnits,
    renderEtcdRestoreScript,
    type ClusterSpec,
    type NodeSpec,
} from "../../components/kubeadm";
import { s3Url } from "../../components/kubeadm/day2";
import { type ProgramRun } from "../../tools/harness/program";
import { sharedRun } from "../../tools/harness/sharedRun";
import { isSecretValue } from "../../tools/harness/values";
import { byUrn, dependedOn, ofType, one, plain } from "../graph";
import { cmd, scriptVar, text, unwrapRemote, waitsFor } from "./helpers";
import { TYPES } from "../../policies/lib/contract";

const S3 = {
    bucket: TYPES.bucket,
    sse: TYPES.bucketServerSideEncryption,
    versioning: TYPES.bucketVersioning,
    publicAccess: TYPES.bucketPublicAccessBlock,
    lifecycle: TYPES.bucketLifecycle,
    policy: TYPES.bucketPolicy,
    ownership: TYPES.bucketOwnershipControls,
    rolePolicy: TYPES.rolePolicy,
    role: TYPES.role,
    key: TYPES.kmsKey,
    alias: TYPES.kmsAlias,
} as const;
const ROOT = "arn:aws:iam::123456789012:root";

describe("etcd backups under the mock runtime", () => {
    describe("dev stack with etcdBackupRetentionDays=14 and etcdBackupSchedule='Mon..Fri 02:30' (update mode)", () => {
        let run: ProgramRun;
        let bucketName: string;
        before(async () => {
            run = await sharedRun({
                stack: "dev",
                preview: false,
                config: { etcdBackupRetentionDays: 14, etcdBackupSchedule: "Mon..Fri 02:30" },
            });
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

        it("encrypts every object with the bucket's own KMS key (SSE-KMS, S3 Bucket Keys), versions them, blocks public access, enforces owner-only objects", () => {
            const onBucket = (type: string) => {
                const r = one(run, type);
                assert.equal(dependedOn(run, r, "bucket")[0]?.type, S3.bucket, `${type} configures the backup bucket`);
                return plain(r);
            };
            const key = one(run, S3.key);
            assert.deepEqual(onBucket(S3.sse).rules, [
                {
                    applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.outputs.arn },
                    bucketKeyEnabled: true,
                },
            ]);
            assert.match(
                String(key.outputs.arn),
                /^arn:aws:kms:us-west-2:123456789012:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
            );
            assert.deepEqual(onBucket(S3.versioning).versioningConfiguration, { status: "Enabled" });
            const pab = onBucket(S3.publicAccess);
            for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"])
                assert.equal(pab[k], true, k);
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
            assert.ok(
                rules.some((r) => r.expiration?.expiredObjectDeleteMarker === true && r.filter?.prefix === "k8s-dev/"),
                "expired delete markers are removed",
            );
            assert.ok(lifecycle.dependencies.includes(one(run, S3.versioning).urn), "applied after versioning is on");
        });

        it("the key: rotation on, 30 days to cancel a deletion, an alias, tagged; the account root holds kms:* and nobody else is named by default", () => {
            const key = one(run, S3.key);
            const k = plain(key);
            assert.equal(k.enableKeyRotation, true);
            assert.equal(k.deletionWindowInDays, 30);
            assert.equal(k.description, "etcd snapshots of cluster k8s-dev (SSE-KMS of the backup bucket)");
            assert.equal((k.tags as Record<string, string>)["k8s-ha/role"], "etcd-backups");
            assert.equal(key.protect, false, "dev: not protected");
            assert.deepEqual(JSON.parse(k.policy).Statement, [
                {
                    Sid: "AccountAdministrators",
                    Effect: "Allow",
                    Principal: { AWS: ROOT },
                    Action: "kms:*",
                    Resource: "*",
                },
            ]);
            const alias = one(run, S3.alias);
            assert.equal(plain(alias).name, "alias/k8s-dev-etcd-backups");
            assert.equal(dependedOn(run, alias, "targetKeyId")[0], key);
        });

        it("denies any request without TLS, and any upload that asks for another encryption or another key", () => {
            const key = String(one(run, S3.key).outputs.arn);
            const policy = JSON.parse(plain(one(run, S3.policy)).policy);
            const puts = {
                Effect: "Deny",
                Principal: "*",
                Action: "s3:PutObject",
                Resource: `arn:aws:s3:::${bucketName}/*`,
            };
            assert.deepEqual(policy.Statement, [
                {
                    Sid: "DenyInsecureTransport",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "s3:*",
                    Resource: [`arn:aws:s3:::${bucketName}`, `arn:aws:s3:::${bucketName}/*`],
                    Condition: { Bool: { "aws:SecureTransport": "false" } },
                },
                {
                    Sid: "DenyOtherEncryption",
                    ...puts,
                    Condition: { StringNotEqualsIfExists: { "s3:x-amz-server-side-encryption": "aws:kms" } },
                },
                {
                    Sid: "DenyOtherKeys",
                    ...puts,
                    Condition: { StringNotEqualsIfExists: { "s3:x-amz-server-side-encryption-aws-kms-key-id": key } },
                },
                {
                    Sid: "DenyKmsWithoutKeyId",
                    ...puts,
                    Condition: {
                        Null: {
                            "s3:x-amz-server-side-encryption": "false",
                            "s3:x-amz-server-side-encryption-aws-kms-key-id": "true",
                        },
                    },
                },
            ]);
        });

        it("lets the control-plane role put objects under <bucket>/<cluster>/ and use the backup key through S3 for that, nothing else; workers get nothing", () => {
            const policies = ofType(run, S3.rolePolicy).filter((r) => r.name === "k8s-dev-etcd-backup-upload");
            assert.equal(policies.length, 1, "one backup upload policy in the whole stack");
            const p = policies[0];
            const role = dependedOn(run, p, "role")[0];
            assert.equal(role.type, S3.role);
            assert.equal(role.name, "k8s-dev-control-plane");
            // a document (its actions are known during preview), not JSON text
            const doc = plain(p).policy;
            assert.equal(typeof doc, "object");
            assert.deepEqual(doc.Statement, [
                {
                    Sid: "PutEtcdSnapshots",
                    Effect: "Allow",
                    Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
                    Resource: `arn:aws:s3:::${bucketName}/k8s-dev/*`,
                },
                // Multipart uploads decrypt the data key again for every part: Decrypt as well as GenerateDataKey.
                {
                    Sid: "EncryptEtcdSnapshots",
                    Effect: "Allow",
                    Action: ["kms:GenerateDataKey", "kms:Decrypt"],
                    Resource: one(run, S3.key).outputs.arn,
                    Condition: { StringEquals: { "kms:ViaService": "s3.us-west-2.amazonaws.com" } },
                },
            ]);
            // No other identity-based S3 or KMS permission anywhere (the CCM's upstream kms:DescribeKey reads key metadata, never data).
            for (const r of run.resources.filter((x) => /^aws:iam\//.test(x.type) && x !== p)) {
                assert.ok(
                    !/s3:|kms:(?!DescribeKey")/.test(JSON.stringify(plain(r))),
                    `${r.name} grants nothing on S3 or KMS`,
                );
            }
        });

        it("installs the timer on every control plane after it joined and after the bucket is ready, with the configured schedule", () => {
            for (const [i, node] of ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"].entries()) {
                const step = cmd(run, `${node}-etcd-backup`);
                assert.ok(
                    waitsFor(run, step).includes(i === 0 ? `${node}-init` : `${node}-join`),
                    `${node}: after its own membership step`,
                );
                const deps = step.dependencies.map((u) => byUrn(run, u).type);
                for (const t of [S3.rolePolicy, S3.sse, S3.lifecycle, S3.publicAccess])
                    assert.ok(deps.includes(t), `${node}: after ${t}`);
                const script = unwrapRemote(text(step, "create")!);
                const target = `s3://${bucketName}/k8s-dev/${node}`;
                assert.equal(scriptVar(script, "UPLOAD_TARGET"), target);
                assert.equal(scriptVar(script, "SCHEDULE"), "Mon..Fri 02:30");
                const timer = scriptVar(script, "TIMER_UNIT");
                assert.ok(timer.split("\n").includes("OnCalendar=Mon..Fri 02:30"), timer);
                assert.ok(timer.split("\n").includes("RandomizedDelaySec=30min"));
                assert.ok(timer.split("\n").includes("Persistent=true"));
                // the unit texts are the renderer's, for this node and target
                const units = renderEtcdBackupUnits(
                    {
                        name: node,
                        privateIp: "10.0.0.1",
                        role: "control-plane",
                        providerId: "aws:///us-east-1c/i-545ea538461003efd",
                    },
                    "Mon..Fri 02:30",
                    target,
                );
                assert.equal(timer, units.timer.trimEnd());
                assert.equal(scriptVar(script, "SERVICE_UNIT"), units.service.trimEnd());
                // the backup script inside uploads there in the stack's region, from the local member, and
                // asks for no encryption of its own (the bucket's SSE-KMS default applies; an SSE-S3 put is refused)
                const backup = scriptVar(script, "BACKUP_SCRIPT");
                assert.equal(scriptVar(backup, "UPLOAD_TARGET"), target);
                assert.equal(scriptVar(backup, "AWS_REGION"), "us-west-2");
                // virtual-hosted style on the region's endpoint; credentials from the real IMDS address
                assert.equal(
                    scriptVar(backup, "S3_URL"),
                    `https://${bucketName}.s3.us-west-2.amazonaws.com/k8s-dev/${node}`,
                );
                assert.equal(scriptVar(backup, "IMDS_URL"), "http://169.254.169.254");
                const put = backup.split("\n").filter((l) => l.includes("--aws-sigv4"));
                assert.equal(put.length, 1, backup);
                assert.ok(!backup.split("\n").some((l) => !/^\s*#/.test(l) && /aws s3|snap /.test(l)), "no AWS CLI");
                assert.ok(
                    !/x-amz-server-side-encryption|--sse|S3_SSE|AES256/.test(backup),
                    `no encryption header on upload: ${put[0]}`,
                );
                assert.equal(scriptVar(backup, "ETCD_ENDPOINT"), "https://127.0.0.1:2379");
                assert.equal(scriptVar(backup, "ETCD_CERT"), "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
                // and the restore script for the runbook knows every member
                const restore = scriptVar(script, "RESTORE_SCRIPT");
                assert.match(
                    scriptVar(restore, "INITIAL_CLUSTER"),
                    /^k8s-dev-cp-0=https:\/\/10\.\d+\.\d+\.\d+:2380,k8s-dev-cp-1=https:\/\/[\d.]+:2380,k8s-dev-cp-2=https:\/\/[\d.]+:2380$/,
                );
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

    it("restore roles named in etcdBackupRestoreRoleArns may decrypt with the key, and nothing more", async () => {
        const roles = ["arn:aws:iam::123456789012:role/etcd-restore", "arn:aws:iam::210987654321:role/dr/etcd-restore"];
        const run = await sharedRun({ stack: "dev", preview: false, config: { etcdBackupRestoreRoleArns: roles } });
        assert.ifError(run.error);
        assert.deepEqual(JSON.parse(plain(one(run, S3.key)).policy).Statement, [
            { Sid: "AccountAdministrators", Effect: "Allow", Principal: { AWS: ROOT }, Action: "kms:*", Resource: "*" },
            {
                Sid: "RestoreEtcdSnapshots",
                Effect: "Allow",
                Principal: { AWS: roles },
                Action: "kms:Decrypt",
                Resource: "*",
            },
        ]);
    });

    it("refuses restore roles that are not IAM role ARNs, or named twice, naming the key and the value", () => {
        const ok = { sshAllowedCidrs: '["203.0.113.0/24"]', apiAllowedCidrs: '["203.0.113.0/24"]' };
        for (const arn of [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::12345:role/x",
            "etcd-restore",
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam:us-east-1:123456789012:role/x",
        ]) {
            assert.throws(
                () => validateConfig({ ...ok, etcdBackupRestoreRoleArns: JSON.stringify([arn]) }, "us-east-1"),
                (e: unknown) =>
                    e instanceof ConfigError &&
                    e.problems.some(
                        (p) =>
                            p.key === "etcdBackupRestoreRoleArns" && p.value === arn && /IAM role ARNs/.test(p.allowed),
                    ),
                arn,
            );
        }
        const twice = JSON.stringify(["arn:aws:iam::123456789012:role/r", "arn:aws:iam::123456789012:role/r"]);
        assert.throws(
            () => validateConfig({ ...ok, etcdBackupRestoreRoleArns: twice }, "us-east-1"),
            /entries 0 and 1 are both/,
        );
        assert.deepEqual(
            validateConfig(
                { ...ok, etcdBackupRestoreRoleArns: '["arn:aws-us-gov:iam::123456789012:role/ops/restore"]' },
                "us-east-1",
            ).etcdBackupRestoreRoleArns,
            ["arn:aws-us-gov:iam::123456789012:role/ops/restore"],
        );
    });

    it("prod protects the bucket and its key, and keeps the bucket from being destroyed while it holds snapshots", async () => {
        const run = await sharedRun({ stack: "prod", preview: true });
        assert.ifError(run.error);
        const bucket = one(run, S3.bucket);
        assert.equal(bucket.protect, true);
        assert.equal(one(run, S3.key).protect, true);
        assert.equal(plain(bucket).forceDestroy, false);
        assert.equal(run.resources.filter((r) => r.name.endsWith("-etcd-backup")).length, 5);
    });

    it("rejects a schedule systemd would not take, and a retention out of range, naming the key", () => {
        for (const [raw, key] of [
            [{ etcdBackupSchedule: "every day" }, "etcdBackupSchedule"],
            [{ etcdBackupSchedule: "*-*-* 03:00:00; rm -rf /" }, "etcdBackupSchedule"],
            [{ etcdBackupRetentionDays: "0" }, "etcdBackupRetentionDays"],
            [{ etcdBackupRetentionDays: "7.5" }, "etcdBackupRetentionDays"],
        ] as const) {
            assert.throws(
                () =>
                    validateConfig(
                        {
                            ...raw,
                            sshAllowedCidrs: '["203.0.113.0/24"]',
                            apiAllowedCidrs: '["203.0.113.0/24"]',
                        } as Record<string, string>,
                        "us-east-1",
                    ),
                (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.key === key),
                JSON.stringify(raw),
            );
        }
        assert.equal(
            validateConfig(
                {
                    etcdBackupSchedule: "daily",
                    sshAllowedCidrs: '["203.0.113.0/24"]',
                    apiAllowedCidrs: '["203.0.113.0/24"]',
                },
                "us-east-1",
            ).etcdBackupSchedule,
            "daily",
        );
    });

    describe("the S3 upload without the AWS CLI (issue 12, defect 4: the snap's CLI dies under ProtectHome=true)", () => {
        const cluster: ClusterSpec = {
            clusterName: "k8s-dev",
            kubernetesVersion: "1.35.0",
            apiEndpointHost: "api.example.internal",
            podCidr: "10.244.0.0/16",
            serviceCidr: "10.96.0.0/12",
            extraSans: [],
        };
        const node: NodeSpec = {
            name: "k8s-dev-cp-0",
            privateIp: "10.0.1.10",
            role: "control-plane",
            providerId: "aws:///us-east-1b/i-7c0642f59e6a14b1b",
        };
        const target = "s3://k8s-dev-etcd-backups-0a1b2c3/k8s-dev/k8s-dev-cp-0";

        it("addresses AWS virtual-hosted style, a dotted bucket and a custom endpoint path style, and file:// not at all", () => {
            assert.equal(
                s3Url(target, "eu-west-1"),
                "https://k8s-dev-etcd-backups-0a1b2c3.s3.eu-west-1.amazonaws.com/k8s-dev/k8s-dev-cp-0",
            );
            assert.equal(
                s3Url("s3://my.dotted.bucket/p", "eu-west-1"),
                "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/p",
                "a dotted name would not match *.s3.<region>.amazonaws.com's certificate",
            );
            assert.equal(
                s3Url(target, "eu-west-1", "http://127.0.0.1:4568/"),
                "http://127.0.0.1:4568/k8s-dev-etcd-backups-0a1b2c3/k8s-dev/k8s-dev-cp-0",
            );
            assert.equal(s3Url("file:///var/backups/etcd", "eu-west-1"), "");
        });

        it("refuses an IMDS or S3 endpoint that is not a bare http(s) origin, naming the key and the value", () => {
            for (const [key, o] of [
                ["imdsUrl", { imdsUrl: "169.254.169.254" }],
                ["imdsUrl", { imdsUrl: "http://169.254.169.254/latest" }],
                ["s3Endpoint", { s3Endpoint: "http://x:1/$(id)" }],
            ] as const) {
                assert.throws(
                    () => renderEtcdBackupScript(cluster, node, { uploadTarget: target, region: "us-east-1", ...o }),
                    (e: Error) =>
                        e.message.includes(key) &&
                        e.message.includes(Object.values(o)[0]) &&
                        e.message.includes("http(s)://"),
                    key,
                );
            }
        });

        it("never puts a credential on a command line: the key pair and both tokens reach curl only through 0600 files (-K)", () => {
            const script = renderEtcdBackupScript(cluster, node, { uploadTarget: target, region: "us-east-1" });
            // Whole commands: continuation lines joined, comments dropped.
            const lines = script
                .replace(/\\\n\s*/g, " ")
                .split("\n")
                .filter((l) => !/^\s*#/.test(l));
            const curls = lines.filter((l) => /\bcurl |"\$\{get\[@\]\}"/.test(l));
            assert.ok(curls.length >= 4, `IMDS's three requests and the PUT: ${curls.join("\n")}`);
            for (const l of curls) {
                assert.ok(
                    !/\$\{?(token|secret|session|id|creds)\b/.test(l),
                    `a credential on curl's command line: ${l}`,
                );
                assert.ok(!/--user|\s-u\s|--oauth2-bearer/.test(l), `a credential flag on curl's command line: ${l}`);
            }
            assert.equal(
                lines.filter((l) => l.includes("(umask 077 && printf")).length,
                2,
                "two 0600 config files: IMDS's token, S3's credentials",
            );
            assert.ok(script.includes('-K "$work/s3.curl"') && script.includes('-K "$work/imds.curl"'));
        });

        it("the unit keeps its hardening and needs no snap; the installer installs curl, not the AWS CLI; the restore reads no S3", () => {
            const units = renderEtcdBackupUnits(node, "*-*-* 03:00:00", target);
            const service = units.service.split("\n");
            for (const d of ["ProtectHome=true", "PrivateTmp=true"]) assert.ok(service.includes(d), d);
            assert.ok(!units.service.includes("/snap/bin"), "no snap on the PATH");
            assert.ok(
                !/PrivateNetwork=|IPAddressDeny=/.test(units.service),
                "the script needs the network: IMDS and S3",
            );
            const restore = renderEtcdRestoreScript(cluster, [node], node);
            const install = renderEtcdBackupInstallScript(cluster, node, {
                backupScript: renderEtcdBackupScript(cluster, node, { uploadTarget: target, region: "us-east-1" }),
                restoreScript: restore,
                units,
                schedule: "*-*-* 03:00:00",
                uploadTarget: target,
            });
            const code = install
                .split("\n")
                .filter(
                    (l) =>
                        !/^\s*#/.test(l) &&
                        !l.startsWith("readonly BACKUP_SCRIPT=") &&
                        !l.startsWith("readonly RESTORE_SCRIPT="),
                );
            assert.ok(!code.some((l) => /snap install|aws-cli/.test(l)), "no snap");
            assert.ok(
                code.some((l) => /apt-get install -y -q curl/.test(l)),
                "curl from the archive when missing",
            );
            assert.ok(
                !/\baws s3\b|s3:\/\//.test(restore),
                "the restore reads a local file: the operator downloads the snapshot (README runbook)",
            );
        });
    });
});
