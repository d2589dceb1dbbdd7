// Where etcd snapshots go: an S3 bucket only this cluster's control planes can write to, under
// the cluster's prefix. Daily backups kept seven days by default; the timer
// that takes them is installed on every control plane by the bootstrap (components/bootstrap.ts,
// components/kubeadm/day2.ts), and the restore script for the runbook sits next to it.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_SSE } from "./kubeadm/day2";
import { clusterTags } from "./tags";

export interface EtcdBackupArgs {
    /** Cluster name: the bucket's name prefix and the key prefix snapshots live under. */
    clusterName: string;
    /** Days before S3 expires a snapshot (current and noncurrent versions alike). */
    retentionDays: number;
    /** The control planes' IAM role: gets PutObject under <bucket>/<clusterName>/ and nothing else. */
    controlPlaneRole: aws.iam.Role;
    /** Protect the bucket, and refuse to delete it while it holds snapshots. */
    protect: boolean;
}

/** The S3 actions an upload needs (multipart uploads included); no read, list or delete. */
export const BACKUP_UPLOAD_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload"] as const;

/**
 * A private, encrypted, versioned bucket whose lifecycle expires snapshots after the retention
 * period, a TLS-only bucket policy, and the control planes' permission to add snapshots under the
 * cluster's prefix. Nodes cannot read, list or delete: a compromised node cannot destroy backups
 * (and versioning keeps an overwritten snapshot until the lifecycle expires it).
 */
export class EtcdBackup extends pulumi.ComponentResource {
    readonly bucket: aws.s3.Bucket;
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
        if (!Number.isInteger(args.retentionDays) || args.retentionDays < 1) throw new Error(`etcd backup retention must be a positive number of days, got ${args.retentionDays}`);

        this.prefix = c;
        this.bucket = new aws.s3.Bucket(n, {
            bucketPrefix: `${n}-`,
            // Unprotected (dev) stacks can be destroyed with their snapshots; protected ones cannot.
            forceDestroy: !args.protect,
            tags: clusterTags(c, n, { "k8s-ha/role": "etcd-backups" }),
        }, { ...parent, protect: args.protect });
        const bucket = this.bucket.id;
        this.bucketName = this.bucket.bucket;

        const ownership = new aws.s3.BucketOwnershipControls(n, {
            bucket,
            rule: { objectOwnership: "BucketOwnerEnforced" },
        }, parent);
        const publicAccess = new aws.s3.BucketPublicAccessBlock(n, {
            bucket,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        }, parent);
        const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(n, {
            bucket,
            rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: BACKUP_SSE } }],
        }, parent);
        const versioning = new aws.s3.BucketVersioning(n, {
            bucket,
            versioningConfiguration: { status: "Enabled" },
        }, parent);
        const lifecycle = new aws.s3.BucketLifecycleConfiguration(n, {
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
        }, { ...parent, dependsOn: [versioning] });
        const tlsOnly = new aws.s3.BucketPolicy(n, {
            bucket,
            policy: this.bucket.arn.apply((arn) => JSON.stringify({
                Version: "2012-10-17",
                Statement: [{
                    Sid: "DenyInsecureTransport",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "s3:*",
                    Resource: [arn, `${arn}/*`],
                    Condition: { Bool: { "aws:SecureTransport": "false" } },
                }],
            })),
        }, { ...parent, dependsOn: [publicAccess] });
        const upload = new aws.iam.RolePolicy(`${c}-etcd-backup-upload`, {
            role: args.controlPlaneRole.id,
            policy: this.bucket.arn.apply((arn) => JSON.stringify({
                Version: "2012-10-17",
                Statement: [{
                    Sid: "PutEtcdSnapshots",
                    Effect: "Allow",
                    Action: [...BACKUP_UPLOAD_ACTIONS],
                    Resource: `${arn}/${c}/*`,
                }],
            })),
        }, parent);

        this.ready = [ownership, publicAccess, encryption, versioning, lifecycle, tlsOnly, upload];
        this.registerOutputs({ bucketName: this.bucketName });
    }

    /** Where a node's snapshots go: s3://<bucket>/<clusterName>/<node>. */
    uploadTarget(node: string): pulumi.Output<string> {
        return pulumi.interpolate`s3://${this.bucketName}/${this.prefix}/${node}`;
    }
}
