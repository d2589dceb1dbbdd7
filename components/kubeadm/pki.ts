// What kubeadm expects of the cluster's PKI, as data: the CAs, every leaf certificate's subject,
// usages and SANs, the service-account key pair, the file paths and modes under
// /etc/kubernetes/pki, and the discovery hash. The PKI component (@pulumi/tls) builds its
// certificates from this table so that SANs and subjects live in exactly one place, and kubeadm,
// finding the files already present, reuses them instead of generating its own.
//
// Facts (kubeadm >= 1.29, checked against kubeadm's certlist.go / pki_helpers.go and the PRs
// that changed them):
// - leaf certs: KeyUsage digitalSignature|keyEncipherment; CAs add certSign.
// - apiserver-kubelet-client: O=kubeadm:cluster-admins since 1.29 (kubernetes#121837; was
//   system:masters). Newer kubeadm additionally binds the user kube-apiserver-kubelet-client to
//   system:kubelet-api-admin ("kubeadm:apiserver-kubelet-client"); the group keeps working either way.
// - apiserver-etcd-client and etcd/healthcheck-client: no O since 1.29 (kubernetes#120521, #119859).
// - admin.conf: CN=kubernetes-admin, O=kubeadm:cluster-admins since 1.29 (super-admin.conf keeps
//   system:masters and is only ever written on the init node).
// - etcd server/peer: CN=<node name>, serverAuth+clientAuth, SANs node name, localhost, node IP,
//   127.0.0.1, ::1 (+ etcd.local.serverCertSANs / peerCertSANs).
// - apiserver: CN=kube-apiserver, serverAuth, SANs node name, kubernetes, kubernetes.default,
//   kubernetes.default.svc, kubernetes.default.svc.<dnsDomain>, first Service IP, advertise
//   address, controlPlaneEndpoint host, apiServer.certSANs.
// kubeadm's certs phase reuses an existing certificate only if it is signed by the CA on disk and
// carries every SAN kubeadm would have put there, hence the helpers below.
import { createHash, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { ENCRYPTION_CONFIG_PATH } from "./encryption";
import {
    DNS_DOMAIN,
    KubeadmInputError,
    NodeRole,
    PKI_DIR,
    dedupe,
    firstServiceIp,
    normalizeCluster,
    validateMachine,
    type ClusterSpec,
    type MachineSpec,
} from "./types";

/** @pulumi/tls `allowedUses` values (snake_case, as the provider takes them). */
export type TlsAllowedUse = "digital_signature" | "key_encipherment" | "cert_signing" | "server_auth" | "client_auth";

export type CaName = "ca" | "etcd-ca" | "front-proxy-ca";

export interface KubeadmCa {
    readonly name: CaName;
    readonly commonName: string;
    readonly certPath: string;
    readonly keyPath: string;
    readonly allowedUses: readonly TlsAllowedUse[];
}

/** kubeadm's three CAs. Each needs isCaCertificate, long validity and earlyRenewalHours 0. */
export const KUBEADM_CAS: readonly KubeadmCa[] = [
    {
        name: "ca",
        commonName: "kubernetes",
        certPath: `${PKI_DIR}/ca.crt`,
        keyPath: `${PKI_DIR}/ca.key`,
        allowedUses: ["cert_signing", "digital_signature", "key_encipherment"],
    },
    {
        name: "etcd-ca",
        commonName: "etcd-ca",
        certPath: `${PKI_DIR}/etcd/ca.crt`,
        keyPath: `${PKI_DIR}/etcd/ca.key`,
        allowedUses: ["cert_signing", "digital_signature", "key_encipherment"],
    },
    {
        name: "front-proxy-ca",
        commonName: "front-proxy-ca",
        certPath: `${PKI_DIR}/front-proxy-ca.crt`,
        keyPath: `${PKI_DIR}/front-proxy-ca.key`,
        allowedUses: ["cert_signing", "digital_signature", "key_encipherment"],
    },
];

export type LeafName =
    | "apiserver"
    | "apiserver-kubelet-client"
    | "apiserver-etcd-client"
    | "front-proxy-client"
    | "etcd-server"
    | "etcd-peer"
    | "etcd-healthcheck-client"
    | "admin";

/** Which SAN set a leaf carries. */
export type SanKind = "none" | "apiserver" | "etcd-server" | "etcd-peer";

export interface KubeadmLeafCert {
    /** kubeadm's name (as in `kubeadm certs check-expiration`; "admin" is admin.conf's client cert). */
    readonly name: LeafName;
    readonly ca: CaName;
    /** A fixed CN, or "node-name" for certs whose CN is the Node name (etcd server/peer). */
    readonly commonName: string | { readonly fromNode: "name" };
    readonly organizations: readonly string[];
    readonly allowedUses: readonly TlsAllowedUse[];
    readonly sans: SanKind;
    /** True when subject or SANs differ per node: one certificate per control-plane node. */
    readonly perNode: boolean;
    /** Where kubeadm expects it; absent for the admin cert, which lives in a kubeconfig. */
    readonly files?: { readonly cert: string; readonly key: string };
}

const LEAF_KEY_USES: readonly TlsAllowedUse[] = ["digital_signature", "key_encipherment"];
/** The group kubeadm binds to cluster-admin (ClusterRoleBinding kubeadm:cluster-admins), 1.29+. */
export const KUBEADM_CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins";

/** Every leaf certificate kubeadm makes for a stacked-etcd control plane, plus the admin client. */
export const KUBEADM_LEAF_CERTS: readonly KubeadmLeafCert[] = [
    {
        name: "apiserver",
        ca: "ca",
        commonName: "kube-apiserver",
        organizations: [],
        allowedUses: [...LEAF_KEY_USES, "server_auth"],
        sans: "apiserver",
        perNode: true,
        files: { cert: `${PKI_DIR}/apiserver.crt`, key: `${PKI_DIR}/apiserver.key` },
    },
    {
        name: "apiserver-kubelet-client",
        ca: "ca",
        commonName: "kube-apiserver-kubelet-client",
        organizations: [KUBEADM_CLUSTER_ADMINS_GROUP],
        allowedUses: [...LEAF_KEY_USES, "client_auth"],
        sans: "none",
        perNode: false,
        files: { cert: `${PKI_DIR}/apiserver-kubelet-client.crt`, key: `${PKI_DIR}/apiserver-kubelet-client.key` },
    },
    {
        name: "apiserver-etcd-client",
        ca: "etcd-ca",
        commonName: "kube-apiserver-etcd-client",
        organizations: [],
        allowedUses: [...LEAF_KEY_USES, "client_auth"],
        sans: "none",
        perNode: false,
        files: { cert: `${PKI_DIR}/apiserver-etcd-client.crt`, key: `${PKI_DIR}/apiserver-etcd-client.key` },
    },
    {
        name: "front-proxy-client",
        ca: "front-proxy-ca",
        commonName: "front-proxy-client",
        organizations: [],
        allowedUses: [...LEAF_KEY_USES, "client_auth"],
        sans: "none",
        perNode: false,
        files: { cert: `${PKI_DIR}/front-proxy-client.crt`, key: `${PKI_DIR}/front-proxy-client.key` },
    },
    {
        name: "etcd-server",
        ca: "etcd-ca",
        commonName: { fromNode: "name" },
        organizations: [],
        allowedUses: [...LEAF_KEY_USES, "server_auth", "client_auth"],
        sans: "etcd-server",
        perNode: true,
        files: { cert: `${PKI_DIR}/etcd/server.crt`, key: `${PKI_DIR}/etcd/server.key` },
    },
    {
        name: "etcd-peer",
        ca: "etcd-ca",
        commonName: { fromNode: "name" },
        organizations: [],
        allowedUses: [...LEAF_KEY_USES, "server_auth", "client_auth"],
        sans: "etcd-peer",
        perNode: true,
        files: { cert: `${PKI_DIR}/etcd/peer.crt`, key: `${PKI_DIR}/etcd/peer.key` },
    },
    {
        name: "etcd-healthcheck-client",
        ca: "etcd-ca",
        commonName: "kube-etcd-healthcheck-client",
        organizations: [],
        allowedUses: [...LEAF_KEY_USES, "client_auth"],
        sans: "none",
        perNode: false,
        files: { cert: `${PKI_DIR}/etcd/healthcheck-client.crt`, key: `${PKI_DIR}/etcd/healthcheck-client.key` },
    },
    {
        name: "admin",
        ca: "ca",
        commonName: "kubernetes-admin",
        organizations: [KUBEADM_CLUSTER_ADMINS_GROUP],
        allowedUses: [...LEAF_KEY_USES, "client_auth"],
        sans: "none",
        perNode: false,
    },
];

/** The service-account signing key pair (RSA >= 2048 or ECDSA P-256; never rotated casually: it signs every SA token). */
export const SERVICE_ACCOUNT_KEY = { keyPath: `${PKI_DIR}/sa.key`, pubPath: `${PKI_DIR}/sa.pub` } as const;

export function leafCert(name: LeafName): KubeadmLeafCert {
    const found = KUBEADM_LEAF_CERTS.find((l) => l.name === name);
    if (!found) throw new Error(`unknown kubeadm leaf certificate ${name}`);
    return found;
}

export function kubeadmCa(name: CaName): KubeadmCa {
    const found = KUBEADM_CAS.find((c) => c.name === name);
    if (!found) throw new Error(`unknown kubeadm CA ${name}`);
    return found;
}

/** Subject Alternative Names split the way tls.CertRequest takes them. */
export interface SubjectAltNames {
    readonly dnsNames: readonly string[];
    readonly ipAddresses: readonly string[];
}

function split(names: readonly string[]): SubjectAltNames {
    return {
        dnsNames: dedupe(names.filter((n) => isIP(n) === 0)),
        ipAddresses: dedupe(names.filter((n) => isIP(n) !== 0)),
    };
}

function requireControlPlane(node: MachineSpec, what: string): void {
    validateMachine(node);
    if (node.role !== "control-plane")
        throw new KubeadmInputError(
            `node ${node.name} role`,
            node.role,
            `"control-plane" (${what} exists only on control-plane nodes)`,
        );
}

/** The SANs kubeadm requires on `node`'s apiserver certificate (in kubeadm's order, deduplicated). */
export function apiServerSans(cluster: ClusterSpec, node: MachineSpec): SubjectAltNames {
    const c = normalizeCluster(cluster);
    requireControlPlane(node, "the apiserver certificate");
    return split([
        node.name,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        `kubernetes.default.svc.${DNS_DOMAIN}`,
        firstServiceIp(c.serviceCidr),
        node.privateIp,
        c.apiEndpointHost,
        ...c.extraSans,
    ]);
}

/** SANs of `node`'s etcd server certificate. */
export function etcdServerSans(cluster: ClusterSpec, node: MachineSpec): SubjectAltNames {
    const c = normalizeCluster(cluster);
    requireControlPlane(node, "etcd");
    return split([node.name, "localhost", node.privateIp, "127.0.0.1", "::1", ...(c.etcdExtraSans ?? [])]);
}

/** SANs of `node`'s etcd peer certificate (kubeadm uses the same defaults as for the server cert). */
export function etcdPeerSans(cluster: ClusterSpec, node: MachineSpec): SubjectAltNames {
    return etcdServerSans(cluster, node);
}

/** The concrete subject and SANs of one leaf for one node. */
export function leafCertRequest(
    leaf: KubeadmLeafCert,
    cluster: ClusterSpec,
    node?: MachineSpec,
): { commonName: string; organizations: readonly string[]; sans: SubjectAltNames } {
    if (leaf.perNode && !node)
        throw new KubeadmInputError(
            `${leaf.name} node`,
            undefined,
            "a control-plane node (this certificate differs per node)",
        );
    const commonName = typeof leaf.commonName === "string" ? leaf.commonName : node!.name;
    let sans: SubjectAltNames = { dnsNames: [], ipAddresses: [] };
    if (leaf.sans === "apiserver") sans = apiServerSans(cluster, node!);
    if (leaf.sans === "etcd-server") sans = etcdServerSans(cluster, node!);
    if (leaf.sans === "etcd-peer") sans = etcdPeerSans(cluster, node!);
    return { commonName, organizations: leaf.organizations, sans };
}

/** One file place-pki writes. `source` tells the PKI component which material goes there. */
export interface PkiFile {
    readonly path: string;
    readonly mode: 0o600 | 0o644;
    readonly source:
        | { readonly kind: "ca-cert" | "ca-key"; readonly ca: CaName }
        | { readonly kind: "leaf-cert" | "leaf-key"; readonly leaf: LeafName }
        | { readonly kind: "sa-key" | "sa-pub" }
        | { readonly kind: "encryption-config" };
}

/**
 * Files to place on a node BEFORE kubeadm init/join.
 * - control plane: all three CAs with their keys (kubeadm's "shared certificates" for a
 *   control-plane join, and ca.key is what kubeadm signs kubeconfigs with), sa.key/sa.pub, and
 *   every leaf under pki/ (per-node ones issued for that node), and the apiserver's
 *   EncryptionConfiguration (it holds the Secrets' keys: 0600, in pki/ because kubeadm mounts
 *   that directory into the apiserver's pod).
 * - worker: nothing. `kubeadm join` of a worker fails preflight if pki/ca.crt already exists; it
 *   writes ca.crt itself from token discovery, pinned by the CA hash.
 */
export function pkiFilesFor(role: NodeRole): PkiFile[] {
    if (role === "worker") return [];
    const files: PkiFile[] = [];
    for (const ca of KUBEADM_CAS) {
        files.push({ path: ca.certPath, mode: 0o644, source: { kind: "ca-cert", ca: ca.name } });
        files.push({ path: ca.keyPath, mode: 0o600, source: { kind: "ca-key", ca: ca.name } });
    }
    files.push({ path: SERVICE_ACCOUNT_KEY.keyPath, mode: 0o600, source: { kind: "sa-key" } });
    files.push({ path: SERVICE_ACCOUNT_KEY.pubPath, mode: 0o644, source: { kind: "sa-pub" } });
    for (const leaf of KUBEADM_LEAF_CERTS) {
        if (!leaf.files) continue;
        files.push({ path: leaf.files.cert, mode: 0o644, source: { kind: "leaf-cert", leaf: leaf.name } });
        files.push({ path: leaf.files.key, mode: 0o600, source: { kind: "leaf-key", leaf: leaf.name } });
    }
    files.push({ path: ENCRYPTION_CONFIG_PATH, mode: 0o600, source: { kind: "encryption-config" } });
    return files;
}

/**
 * kubeadm's discovery hash: "sha256:" + hex(sha256(DER SubjectPublicKeyInfo of the CA cert)),
 * the value of JoinConfiguration.discovery.bootstrapToken.caCertHashes.
 */
export function discoveryHash(caCertPem: string): string {
    const cert = new X509Certificate(caCertPem);
    const spki = cert.publicKey.export({ type: "spki", format: "der" });
    return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}
