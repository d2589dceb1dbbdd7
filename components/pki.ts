import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { newBootstrapToken } from "./bootstrapToken";
import {
    KUBEADM_CAS,
    KUBEADM_LEAF_CERTS,
    discoveryHash,
    leafCertRequest,
    pkiFilesFor,
    type CaName,
    type KubeadmLeafCert,
    type LeafName,
    type PkiFile,
} from "./kubeadm/pki";
import { renderAdminKubeconfig } from "./kubeadm/config";
import { ENCRYPTION_KEY_BYTES, encryptionConfigHash, renderEncryptionConfig } from "./kubeadm/encryption";
import { resolveClusterSpec, type ClusterSpecInput } from "./apiEndpoint";
import { SecretsKeyGuard } from "./secretsKeyGuard";

/** kubeadm accepts RSA (2048+) and ECDSA P-256 keys; never P-224 (the provider's ECDSA default) or ED25519. */
export const PKI_ALGORITHMS = ["RSA", "ECDSA"] as const;
export type PkiAlgorithm = (typeof PKI_ALGORITHMS)[number];

/** CAs: ten years, never renewed early (a renewed CA invalidates every certificate it signed). */
export const CA_VALIDITY_HOURS = 10 * 365 * 24;
/** Leaves: one year like kubeadm's, re-issued by the first `pulumi up` in their last 30 days. */
export const LEAF_VALIDITY_HOURS = 365 * 24;
export const LEAF_EARLY_RENEWAL_HOURS = 30 * 24;

/** A control plane as the PKI sees it: its Node name and private address. */
export interface PkiNode {
    readonly name: string;
    readonly privateIp: pulumi.Input<string>;
}

export interface PkiArgs {
    /** Cluster facts the certificates depend on; `apiEndpointHost` is the API's name (components/apiEndpoint.ts). */
    cluster: ClusterSpecInput;
    /** Every control plane gets its own apiserver and etcd certificates. */
    controlPlanes: readonly PkiNode[];
    /** Key algorithm of every cluster key. */
    algorithm: PkiAlgorithm;
    /** Protect the CAs, the service-account key and the Secrets' keys: losing them means rebuilding the cluster. */
    protect: boolean;
    /**
     * Names of the keys that encrypt Secrets at rest, one generated 32-byte key each: the first
     * encrypts new writes, every one decrypts (a rotation lists two; README runbook).
     */
    encryptionKeys: readonly string[];
}

/** A file for place-pki: path, mode and (secret) content. */
export interface PkiFileContent {
    readonly path: string;
    readonly mode: number;
    readonly content: string;
}

interface Issued {
    readonly key: tls.PrivateKey;
    readonly cert: pulumi.Output<string>;
}

/**
 * The whole cluster PKI, owned by Pulumi: kubeadm finds every file in place and generates none,
 * nothing is copied between nodes, and renewal is a `pulumi up` that re-issues and redistributes.
 * Every private key, the bootstrap token and the admin kubeconfig are secrets.
 */
export class ClusterPki extends pulumi.ComponentResource {
    /** The cluster CA certificate (PEM). */
    readonly caCertPem: pulumi.Output<string>;
    /** kubeadm's discovery hash of the cluster CA: sha256:<hex of the DER SubjectPublicKeyInfo>. */
    readonly discoveryHash: pulumi.Output<string>;
    /** Bootstrap token id.secret, secret. */
    readonly bootstrapToken: pulumi.Output<string>;
    /** kubeconfig of kubernetes-admin (group kubeadm:cluster-admins) for https://<API name>:6443, secret. */
    readonly adminKubeconfig: pulumi.Output<string>;
    /** Per control plane, by node name: the files under /etc/kubernetes/pki, secret. */
    readonly controlPlaneFiles: Readonly<Record<string, pulumi.Output<PkiFileContent[]>>>;
    /**
     * Per control plane, by node name: a sha256 of the certificate PEMs and of the encryption
     * configuration's hash (not secret), to detect rotations.
     */
    readonly controlPlaneCertFingerprint: Readonly<Record<string, pulumi.Output<string>>>;

    constructor(name: string, args: PkiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:pki:ClusterPki", name, {}, opts);
        const c = args.cluster.clusterName;
        const keyArgs: tls.PrivateKeyArgs =
            args.algorithm === "RSA" ? { algorithm: "RSA", rsaBits: 2048 } : { algorithm: "ECDSA", ecdsaCurve: "P256" };
        const protectedOpts = { parent: this, protect: args.protect };

        const cas = {} as Record<CaName, Issued>;
        for (const ca of KUBEADM_CAS) {
            const key = new tls.PrivateKey(`${c}-${ca.name}`, keyArgs, protectedOpts);
            const cert = new tls.SelfSignedCert(
                `${c}-${ca.name}`,
                {
                    privateKeyPem: key.privateKeyPem,
                    subject: { commonName: ca.commonName },
                    isCaCertificate: true,
                    allowedUses: [...ca.allowedUses],
                    validityPeriodHours: CA_VALIDITY_HOURS,
                    earlyRenewalHours: 0,
                    setSubjectKeyId: true,
                },
                protectedOpts,
            );
            cas[ca.name] = { key, cert: cert.certPem };
        }
        const saKey = new tls.PrivateKey(`${c}-sa`, keyArgs, protectedOpts);

        const spec = resolveClusterSpec(args.cluster);
        const issue = (resourceName: string, leaf: KubeadmLeafCert, node?: PkiNode): Issued => {
            const request = pulumi
                .all([spec, node?.privateIp ?? "127.0.0.1"])
                .apply(([cluster, ip]) =>
                    leafCertRequest(leaf, cluster, node && { name: node.name, privateIp: ip, role: "control-plane" }),
                );
            const key = new tls.PrivateKey(resourceName, keyArgs, { parent: this });
            const csr = new tls.CertRequest(
                resourceName,
                {
                    privateKeyPem: key.privateKeyPem,
                    subject: {
                        commonName: request.commonName,
                        // kubeadm's subjects carry at most one organization (a Kubernetes group).
                        organization: request.organizations.apply((o) => o[0]),
                    },
                    dnsNames: request.sans.dnsNames.apply((d) => [...d]),
                    ipAddresses: request.sans.ipAddresses.apply((i) => [...i]),
                },
                { parent: this },
            );
            const ca = cas[leaf.ca];
            const cert = new tls.LocallySignedCert(
                resourceName,
                {
                    certRequestPem: csr.certRequestPem,
                    caPrivateKeyPem: ca.key.privateKeyPem,
                    caCertPem: ca.cert,
                    allowedUses: [...leaf.allowedUses],
                    validityPeriodHours: LEAF_VALIDITY_HOURS,
                    earlyRenewalHours: LEAF_EARLY_RENEWAL_HOURS,
                },
                { parent: this },
            );
            return { key, cert: cert.certPem };
        };

        const shared = {} as Partial<Record<LeafName, Issued>>;
        for (const leaf of KUBEADM_LEAF_CERTS.filter((l) => !l.perNode))
            shared[leaf.name] = issue(`${c}-${leaf.name}`, leaf);
        const perNode = Object.fromEntries(
            args.controlPlanes.map((node) => [
                node.name,
                Object.fromEntries(
                    KUBEADM_LEAF_CERTS.filter((l) => l.perNode).map((leaf) => [
                        leaf.name,
                        issue(`${node.name}-${leaf.name}`, leaf, node),
                    ]),
                ),
            ]),
        ) as Record<string, Partial<Record<LeafName, Issued>>>;

        // The control planes' bootstrap token (each worker gets its own: components/bootstrap.ts).
        this.bootstrapToken = newBootstrapToken(c, this);

        // Secrets' keys: 32 random bytes each, from RandomBytes, whose base64 is a secret output.
        // One resource per key name, so reordering the names (a rotation) keeps every key. The
        // guard refuses a list without the key new Secrets were written with; the encryption
        // configuration carries it as a dependency, so nothing that places it runs before the
        // guard has agreed (a key is deleted only at the end of a successful update).
        const { guard } = new SecretsKeyGuard(
            "secrets-keys",
            { clusterName: c, keys: args.encryptionKeys },
            { parent: this },
        );
        const encryptionKeys = args.encryptionKeys.map((name) => ({
            name,
            secret: new random.RandomBytes(`${c}-secrets-key-${name}`, { length: ENCRYPTION_KEY_BYTES }, protectedOpts)
                .base64,
        }));
        const encryptionConfig = pulumi.secret(
            pulumi
                .all([guard.urn, ...encryptionKeys.map((k) => k.secret)])
                .apply(([, ...secrets]) =>
                    renderEncryptionConfig(encryptionKeys.map((k, i) => ({ name: k.name, secret: secrets[i] }))),
                ),
        );
        // Its hash may be public: the file's secrets are 256-bit random keys (encryptionConfigHash).
        const encryptionHash = pulumi.unsecret(encryptionConfig.apply(encryptionConfigHash));

        this.caCertPem = cas.ca.cert;
        this.discoveryHash = cas.ca.cert.apply(discoveryHash);
        const admin = shared.admin!;
        this.adminKubeconfig = pulumi.secret(
            pulumi
                .all([spec, cas.ca.cert, admin.cert, admin.key.privateKeyPem])
                .apply(([cluster, caCertPem, clientCertPem, clientKeyPem]) =>
                    renderAdminKubeconfig(cluster, { caCertPem, clientCertPem, clientKeyPem }),
                ),
        );

        const material = (file: PkiFile, node: string): pulumi.Output<string> => {
            const s = file.source;
            const leafOf = (leaf: LeafName) => perNode[node][leaf] ?? shared[leaf]!;
            switch (s.kind) {
                case "ca-cert":
                    return cas[s.ca].cert;
                case "ca-key":
                    return cas[s.ca].key.privateKeyPem;
                case "sa-key":
                    return saKey.privateKeyPem;
                case "sa-pub":
                    return saKey.publicKeyPem;
                case "leaf-cert":
                    return leafOf(s.leaf).cert;
                case "leaf-key":
                    return leafOf(s.leaf).key.privateKeyPem;
                case "encryption-config":
                    return encryptionConfig;
            }
        };
        const files = pkiFilesFor("control-plane");
        this.controlPlaneFiles = Object.fromEntries(
            args.controlPlanes.map((node) => [
                node.name,
                pulumi.secret(
                    pulumi
                        .all(files.map((f) => material(f, node.name)))
                        .apply((contents) =>
                            files.map((f, i) => ({ path: f.path, mode: f.mode, content: contents[i] })),
                        ),
                ),
            ]),
        );
        this.controlPlaneCertFingerprint = Object.fromEntries(
            args.controlPlanes.map((node) => [
                node.name,
                // A changed encryption configuration restarts the apiservers one node at a time, as
                // a re-issued certificate does: its hash is part of the fingerprint.
                pulumi
                    .all([
                        ...files
                            .filter((f) => f.source.kind === "leaf-cert" || f.source.kind === "ca-cert")
                            .map((f) => material(f, node.name)),
                        encryptionHash,
                    ])
                    .apply((parts) => createHash("sha256").update(parts.join("")).digest("hex")),
            ]),
        );
        this.registerOutputs({ caCertPem: this.caCertPem, discoveryHash: this.discoveryHash });
    }
}
