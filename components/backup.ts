// Where etcd snapshots go: an S3 bucket only this cluster's control planes can write to, under
// the cluster's prefix, encrypted with a KMS key of its own (SSE-KMS): a principal of the account
// with a broad s3:GetObject still cannot read a snapshot (every Secret of the cluster) without
// kms:Decrypt on that key. Daily backups kept seven days by default; the timer
// that takes them is installed on every control plane by the bootstrap (components/bootstrap.ts,
// components/kubeadm/day2.ts), and the restore script for the runbook sits next to it.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_SSE } from "./kubeadm/day2";
import { ROLE_TAG, clusterTags } from "./tags";

export interface EtcdBackupArgs {
    /** Cluster name: the bucket's name prefix and the key prefix snapshots live under. */
    clusterName: string;
    /** Days before S3 expires a snapshot (current and noncurrent versions alike). */
    retentionDays: number;
    /** The control planes' IAM role: gets PutObject under <bucket>/<clusterName>/ and the key's upload actions, nothing else. */
    controlPlaneRole: aws.iam.Role;
    /** Protect the bucket and its key, and refuse to delete the bucket while it holds snapshots. */
    protect: boolean;
    /** The stack's region: the control planes may use the key only through S3 in this region (kms:ViaService). */
    region: string;
    /** IAM role ARNs that may decrypt snapshots besides the account's administrators (etcdBackupRestoreRoleArns). */
    restoreRoleArns: readonly string[];
}

/** The S3 actions an upload needs (multipart uploads included); no read, list or delete. */
export const BACKUP_UPLOAD_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload"] as const;
/**
 * The KMS actions an SSE-KMS upload needs: a data key for each object, and Decrypt because a
 * multipart upload decrypts the data key again for every part after the first.
 */
export const BACKUP_KMS_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;
/** Days a deleted backup key waits before KMS destroys it (the maximum: time to cancel a mistake). */
export const BACKUP_KEY_DELETION_WINDOW_DAYS = 30;

/**
 * The control planes' upload grant: objects under the prefix, and the backup key only through S3.
 * A document, not JSON text: its actions stay known during preview while the ARNs are computed, so
 * the pack's IAM rule can judge it before anything is created.
 */
export function uploadPolicy(
    bucketArn: pulumi.Input<string>,
    prefix: string,
    keyArn: pulumi.Input<string>,
    s3Endpoint: pulumi.Input<string>,
): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "PutEtcdSnapshots",
                Effect: "Allow",
                Action: [...BACKUP_UPLOAD_ACTIONS],
                Resource: pulumi.interpolate`${bucketArn}/${prefix}/*`,
            },
            {
                Sid: "EncryptEtcdSnapshots",
                Effect: "Allow",
                Action: [...BACKUP_KMS_ACTIONS],
                Resource: keyArn,
                Condition: { StringEquals: { "kms:ViaService": s3Endpoint } },
            },
        ],
    };
}

/**
 * The backup key's policy. The account root principal holds kms:* so that the account's IAM
 * policies apply to the key at all (KMS's lockout check refuses a policy that would leave the key
 * unmanageable): the account's administrators restore through IAM, and the control planes' upload
 * grant is an IAM policy. Restore roles named in config may decrypt without an IAM grant on the key.
 */
export function keyPolicy(partition: string, accountId: string, restoreRoleArns: readonly string[]): string {
    const statements: object[] = [
        {
            Sid: "AccountAdministrators",
            Effect: "Allow",
            Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
            Action: "kms:*",
            Resource: "*",
        },
    ];
    if (restoreRoleArns.length > 0) {
        statements.push({
            Sid: "RestoreEtcdSnapshots",
            Effect: "Allow",
            Principal: { AWS: [...restoreRoleArns] },
            Action: "kms:Decrypt",
            Resource: "*",
        });
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/**
 * The bucket policy: TLS only, and no object stored under another encryption than the backup key.
 * A put that names no encryption gets the bucket's default (this key); one that names SSE-S3, or
 * aws:kms without a key id (S3 would use the account's aws/s3 key), or another key, is refused.
 */
export function bucketPolicy(bucketArn: string, keyArn: string): string {
    const puts = { Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: `${bucketArn}/*` };
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [bucketArn, `${bucketArn}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            {
                Sid: "DenyOtherEncryption",
                ...puts,
                Condition: { StringNotEqualsIfExists: { "s3:x-amz-server-side-encryption": BACKUP_SSE } },
            },
            {
                Sid: "DenyOtherKeys",
                ...puts,
                Condition: { StringNotEqualsIfExists: { "s3:x-amz-server-side-encryption-aws-kms-key-id": keyArn } },
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
        ],
    });
}

/**
 * A private, versioned bucket encrypted with its own KMS key, whose lifecycle expires snapshots
 * after the retention period, a bucket policy (TLS only, nothing stored under another key), and
 * the control planes' permission to add snapshots under the cluster's prefix. Nodes cannot read, list or delete: a compromised node cannot destroy backups
 * (and versioning keeps an overwritten snapshot until the lifecycle expires it).
 */
export class EtcdBackup extends pulumi.ComponentResource {
    readonly bucket: aws.s3.Bucket;
    /** The key every snapshot is encrypted with (SSE-KMS, S3 Bucket Keys on). */
    readonly key: aws.kms.Key;
    /** `alias/<clusterName>-etcd-backups`: the key's name in the console and the CLI. */
    readonly keyAlias: aws.kms.Alias;
    /** The bucket's name. */
    readonly bucketName: pulumi.Output<string>;
    /** Key prefix of every snapshot: `<clusterName>`. */
    readonly prefix: string;
    /** What an upload needs in place before the first snapshot runs. */
    readonly ready: pulumi.Resource[];

    constructor(name: string, args: EtcdBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:backup:EtcdBackup", name, {}, opts);
        const c = args.clusterName;
        const n = `${c}-etcd-backups`;
        const parent = { parent: this };
        if (!Number.isInteger(args.retentionDays) || args.retentionDays < 1)
            throw new Error(`etcd backup retention must be a positive number of days, got ${args.retentionDays}`);

        this.prefix = c;
        this.bucket = new aws.s3.Bucket(
            n,
            {
                bucketPrefix: `${n}-`,
                // Unprotected (dev) stacks can be destroyed with their snapshots; protected ones cannot.
                forceDestroy: !args.protect,
                tags: clusterTags(c, n, { [ROLE_TAG]: "etcd-backups" }),
            },
            { ...parent, protect: args.protect },
        );
        const bucket = this.bucket.id;
        this.bucketName = this.bucket.bucket;

        // The key outlives a mistake: rotation yearly, 30 days to cancel a deletion, protected with the bucket.
        const identity = aws.getCallerIdentityOutput({}, parent);
        const partition = aws.getPartitionOutput({}, parent);
        this.key = new aws.kms.Key(
            n,
            {
                description: `etcd snapshots of cluster ${c} (SSE-KMS of the backup bucket)`,
                enableKeyRotation: true,
                deletionWindowInDays: BACKUP_KEY_DELETION_WINDOW_DAYS,
                policy: pulumi
                    .all([partition.partition, identity.accountId])
                    .apply(([p, account]) => keyPolicy(p, account, args.restoreRoleArns)),
                tags: clusterTags(c, n, { [ROLE_TAG]: "etcd-backups" }),
            },
            { ...parent, protect: args.protect },
        );
        this.keyAlias = new aws.kms.Alias(n, { name: `alias/${n}`, targetKeyId: this.key.keyId }, parent);

        const ownership = new aws.s3.BucketOwnershipControls(
            n,
            {
                bucket,
                rule: { objectOwnership: "BucketOwnerEnforced" },
            },
            parent,
        );
        const publicAccess = new aws.s3.BucketPublicAccessBlock(
            n,
            {
                bucket,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            parent,
        );
        const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
            n,
            {
                bucket,
                rules: [
                    {
                        applyServerSideEncryptionByDefault: { sseAlgorithm: BACKUP_SSE, kmsMasterKeyId: this.key.arn },
                        bucketKeyEnabled: true,
                    },
                ],
            },
            parent,
        );
        const versioning = new aws.s3.BucketVersioning(
            n,
            {
                bucket,
                versioningConfiguration: { status: "Enabled" },
            },
            parent,
        );
        const lifecycle = new aws.s3.BucketLifecycleConfiguration(
            n,
            {
                bucket,
                rules: [
                    {
                        id: "expire-etcd-snapshots",
                        status: "Enabled",
                        filter: { prefix: `${c}/` },
                        expiration: { days: args.retentionDays },
                        noncurrentVersionExpiration: { noncurrentDays: args.retentionDays },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
                    },
                    {
                        // Expiring a current version of a versioned object leaves a delete marker.
                        id: "remove-expired-delete-markers",
                        status: "Enabled",
                        filter: { prefix: `${c}/` },
                        expiration: { expiredObjectDeleteMarker: true },
                    },
                ],
            },
            { ...parent, dependsOn: [versioning] },
        );
        const onlyTlsAndTheKey = new aws.s3.BucketPolicy(
            n,
            {
                bucket,
                policy: pulumi.all([this.bucket.arn, this.key.arn]).apply(([arn, key]) => bucketPolicy(arn, key)),
            },
            { ...parent, dependsOn: [publicAccess] },
        );
        const upload = new aws.iam.RolePolicy(
            `${c}-etcd-backup-upload`,
            {
                role: args.controlPlaneRole.id,
                policy: uploadPolicy(
                    this.bucket.arn,
                    c,
                    this.key.arn,
                    pulumi.interpolate`s3.${args.region}.${partition.dnsSuffix}`,
                ),
            },
            parent,
        );

        this.ready = [ownership, publicAccess, encryption, versioning, lifecycle, onlyTlsAndTheKey, upload];
        this.registerOutputs({ bucketName: this.bucketName, keyArn: this.key.arn });
    }

    /** Where a node's snapshots go: s3://<bucket>/<clusterName>/<node>. */
    uploadTarget(node: string): pulumi.Output<string> {
        return pulumi.interpolate`s3://${this.bucketName}/${this.prefix}/${node}`;
    }
}
