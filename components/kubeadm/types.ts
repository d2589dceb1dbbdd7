// Typed inputs of the kubeadm renderers, their validation, and kubeadm's fixed constants.
// Pure: no Pulumi resources, no I/O. Every renderer in this folder validates through here,
// so a bad value fails with a message naming the field before any text is produced.
import { isIP } from "node:net";
import { API_PORT } from "../../policies/lib/contract";

/** The cluster-wide facts every node's kubeadm configuration and certificates depend on. */
export interface ClusterSpec {
    /** ClusterConfiguration.clusterName; also the kubeconfig cluster name. DNS-1123 label. */
    readonly clusterName: string;
    /** "1.N.P" without a leading "v" (the config contract); N >= 31, where kubeadm.k8s.io/v1beta4 starts. */
    readonly kubernetesVersion: string;
    /**
     * The API's DNS name, the NLB's or apiDnsName (no port, no scheme). Used as controlPlaneEndpoint "<host>:6443", in the
     * apiserver certificate's SANs and as every kubeconfig's server. Normalised to lower case,
     * because kubeadm rejects a controlPlaneEndpoint that is not an RFC-1123 (lower-case) name.
     */
    readonly apiEndpointHost: string;
    /** networking.podSubnet, e.g. "10.244.0.0/16". */
    readonly podCidr: string;
    /** networking.serviceSubnet, e.g. "10.96.0.0/12"; its first address is the `kubernetes` Service IP. */
    readonly serviceCidr: string;
    /** More apiserver SANs (DNS names or IPs), e.g. a friendly DNS alias of the NLB. */
    readonly extraSans: readonly string[];
    /** More etcd server/peer SANs (rarely needed with stacked etcd). Defaults to none. */
    readonly etcdExtraSans?: readonly string[];
}

export type NodeRole = "control-plane" | "worker";

/** One machine as its certificates see it. `name` is the Kubernetes Node name (and the hostname prepare sets). */
export interface MachineSpec {
    readonly name: string;
    readonly privateIp: string;
    readonly role: NodeRole;
}

/** One machine as its kubelet sees it. */
export interface NodeSpec extends MachineSpec {
    /**
     * The kubelet's providerID, `aws:///<zone>/<instance-id>` (awsProviderId): with the external
     * cloud provider the AWS cloud-controller-manager finds the node's instance by it, so the Node
     * keeps its own name instead of the instance's private DNS name.
     */
    readonly providerId: string;
}

/** The providerID the AWS cloud-controller-manager reads: `aws:///<availability zone>/<instance id>`. */
export function awsProviderId(zone: string, instanceId: string): string {
    return `aws:///${zone}/${instanceId}`;
}

const PROVIDER_ID_RE = /^aws:\/\/\/[a-z0-9-]+\/[A-Za-z0-9._-]+$/;

/** Port of every kube-apiserver and of the NLB listener. */
export { API_PORT };
/** kubeadm's default Service DNS domain; fixed here (apiserver SANs depend on it). */
export const DNS_DOMAIN = "cluster.local";
/** containerd from Ubuntu's archive. */
export const CRI_SOCKET = "unix:///run/containerd/containerd.sock";
/**
 * How long rotate, the certificate renewal and the upgrade let a static pod's container stop
 * before it is killed: the apiserver's shutdown delay (config.ts, APISERVER_SHUTDOWN_DELAY) plus
 * time to finish in-flight requests.
 */
export const STATIC_POD_STOP_TIMEOUT_SECONDS = 45;
/** kubeadm's fixed directories on a node. */
export const KUBE_DIR = "/etc/kubernetes";
export const PKI_DIR = "/etc/kubernetes/pki";
/** Where prepare writes the audit policy and where the apiserver reads it (mounted by extraVolumes). */
export const AUDIT_POLICY_PATH = "/etc/kubernetes/audit-policy.yaml";
export const AUDIT_LOG_DIR = "/var/log/kubernetes/audit";
/** The first minor with kubeadm.k8s.io/v1beta4. */
export const MIN_KUBERNETES_MINOR = 31;

/** kubeadm's bootstrap token format: "[a-z0-9]{6}.[a-z0-9]{16}" (id.secret). */
export const BOOTSTRAP_TOKEN_RE = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
/** A discovery hash as kubeadm takes it. */
export const CA_CERT_HASH_RE = /^sha256:[0-9a-f]{64}$/;

const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const VERSION_RE = /^1\.(\d+)\.(\d+)$/;

/** Thrown for any invalid renderer input; the message names the field, the value and what is allowed. */
export class KubeadmInputError extends Error {
    constructor(field: string, value: unknown, allowed: string) {
        super(`kubeadm input ${field}: ${JSON.stringify(value)} is invalid; expected ${allowed}`);
        this.name = "KubeadmInputError";
    }
}

/** RFC-1123 subdomain, as kubeadm validates node names and the controlPlaneEndpoint host. */
export function isDnsSubdomain(s: string): boolean {
    return s.length > 0 && s.length <= 253 && s.split(".").every((label) => DNS_LABEL_RE.test(label));
}

/** A SAN kubeadm accepts: an IP, an RFC-1123 subdomain, or a wildcard "*.subdomain". */
export function isValidSan(s: string): boolean {
    if (isIP(s) !== 0) return true;
    if (s.startsWith("*.")) return isDnsSubdomain(s.slice(2));
    return isDnsSubdomain(s);
}

/** "1.N.P" split into numbers; throws for anything else or for N below 31. */
export function parseKubernetesVersion(version: string): { minor: number; patch: number } {
    const m = VERSION_RE.exec(version);
    if (!m) throw new KubeadmInputError("kubernetesVersion", version, 'the form "1.N.P" (no leading "v")');
    const minor = Number(m[1]);
    const patch = Number(m[2]);
    if (minor < MIN_KUBERNETES_MINOR) {
        throw new KubeadmInputError(
            "kubernetesVersion",
            version,
            `1.${MIN_KUBERNETES_MINOR}.0 or newer (kubeadm.k8s.io/v1beta4)`,
        );
    }
    return { minor, patch };
}

/** Validates and normalises a ClusterSpec (lower-cases the endpoint host, dedupes SAN lists). */
export function normalizeCluster(c: ClusterSpec): ClusterSpec {
    if (!DNS_LABEL_RE.test(c.clusterName)) {
        throw new KubeadmInputError("clusterName", c.clusterName, "a DNS-1123 label (lower-case letters, digits, '-')");
    }
    parseKubernetesVersion(c.kubernetesVersion);
    const host = String(c.apiEndpointHost ?? "").toLowerCase();
    if (!isDnsSubdomain(host) || isIP(host) !== 0) {
        throw new KubeadmInputError(
            "apiEndpointHost",
            c.apiEndpointHost,
            "the API's DNS name (the NLB's, or apiDnsName) without scheme or port",
        );
    }
    parseCidrAny("podCidr", c.podCidr);
    parseCidrAny("serviceCidr", c.serviceCidr);
    for (const [field, list] of [
        ["extraSans", c.extraSans],
        ["etcdExtraSans", c.etcdExtraSans ?? []],
    ] as const) {
        if (!Array.isArray(list)) throw new KubeadmInputError(field, list, "a list of DNS names or IPs");
        for (const san of list) {
            if (typeof san !== "string" || !isValidSan(san))
                throw new KubeadmInputError(`${field}[]`, san, "an IP address or an RFC-1123 DNS name");
        }
    }
    // Every field carries over; only those that need it are normalised, so a field added to
    // ClusterSpec is never dropped here.
    return {
        ...c,
        apiEndpointHost: host,
        extraSans: dedupe(c.extraSans.map((s) => s.toLowerCase())),
        etcdExtraSans: dedupe((c.etcdExtraSans ?? []).map((s) => s.toLowerCase())),
    };
}

/** Validates a NodeSpec. */
export function validateMachine<T extends MachineSpec>(n: T): T {
    if (!isDnsSubdomain(n.name))
        throw new KubeadmInputError("node.name", n.name, "an RFC-1123 DNS name in lower case (the Node name)");
    if (isIP(n.privateIp) === 0)
        throw new KubeadmInputError(`node ${n.name} privateIp`, n.privateIp, "an IPv4 or IPv6 address");
    if (n.role !== "control-plane" && n.role !== "worker") {
        throw new KubeadmInputError(`node ${n.name} role`, n.role, '"control-plane" or "worker"');
    }
    return n;
}

export function validateNode(n: NodeSpec): NodeSpec {
    validateMachine(n);
    if (typeof n.providerId !== "string" || !PROVIDER_ID_RE.test(n.providerId)) {
        throw new KubeadmInputError(
            `node ${n.name} providerId`,
            String(n.providerId),
            '"aws:///<availability zone>/<instance id>"',
        );
    }
    return n;
}

export function validateBootstrapToken(token: string): string {
    if (typeof token !== "string" || !BOOTSTRAP_TOKEN_RE.test(token)) {
        // Never echo a token-shaped secret back in an error.
        throw new KubeadmInputError("bootstrap token", "<redacted>", "kubeadm's format [a-z0-9]{6}.[a-z0-9]{16}");
    }
    return token;
}

export function validateCaCertHash(hash: string): string {
    if (typeof hash !== "string" || !CA_CERT_HASH_RE.test(hash)) {
        throw new KubeadmInputError("caCertHash", hash, '"sha256:" followed by 64 lower-case hex digits');
    }
    return hash;
}

/** The "v1.N.P" form ClusterConfiguration.kubernetesVersion takes. */
export function kubeadmVersion(version: string): string {
    parseKubernetesVersion(version);
    return `v${version}`;
}

/** "v1.N": the pkgs.k8s.io repository path segment for a version. */
export function kubernetesMinorChannel(version: string): string {
    const { minor } = parseKubernetesVersion(version);
    return `v1.${minor}`;
}

export function controlPlaneEndpoint(c: ClusterSpec): string {
    return `${normalizeCluster(c).apiEndpointHost}:${API_PORT}`;
}

// ---------------------------------------------------------------------------------------------
// CIDR helpers (IPv4 and IPv6) for the first Service IP.

interface ParsedCidr {
    readonly family: 4 | 6;
    readonly network: bigint;
    readonly prefix: number;
}

function parseCidrAny(field: string, text: string): ParsedCidr {
    const bad = () => new KubeadmInputError(field, text, "an IPv4 or IPv6 CIDR such as 10.96.0.0/12");
    if (typeof text !== "string") throw bad();
    const slash = text.indexOf("/");
    if (slash < 0) throw bad();
    const addr = text.slice(0, slash);
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) throw bad();
    const prefix = Number(prefixText);
    const family = isIP(addr);
    if (family === 4) {
        if (prefix > 32) throw bad();
        const value = addr.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
        return { family: 4, network: maskBits(value, prefix, 32), prefix };
    }
    if (family === 6) {
        if (prefix > 128) throw bad();
        return { family: 6, network: maskBits(parseIpv6(addr), prefix, 128), prefix };
    }
    throw bad();
}

function maskBits(value: bigint, prefix: number, width: number): bigint {
    const hostBits = BigInt(width - prefix);
    return (value >> hostBits) << hostBits;
}

function parseIpv6(addr: string): bigint {
    let text = addr;
    // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
        const o = v4[1].split(".").map(Number);
        text =
            text.slice(0, -v4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
    }
    const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
    const headGroups = head ? head.split(":") : [];
    const tailGroups = tail === undefined ? [] : tail ? tail.split(":") : [];
    const missing = 8 - headGroups.length - tailGroups.length;
    const groups = tail === undefined ? headGroups : [...headGroups, ...Array(missing).fill("0"), ...tailGroups];
    return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function formatIpv6(value: bigint): string {
    const groups: number[] = [];
    for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
    // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on a tie.
    let bestStart = -1;
    let bestLen = 0;
    for (let i = 0; i < 8;) {
        if (groups[i] !== 0) {
            i++;
            continue;
        }
        let j = i;
        while (j < 8 && groups[j] === 0) j++;
        if (j - i > bestLen && j - i >= 2) {
            bestStart = i;
            bestLen = j - i;
        }
        i = j;
    }
    const hex = groups.map((g) => g.toString(16));
    if (bestStart < 0) return hex.join(":");
    return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * The first usable address of the Service CIDR: the ClusterIP of the `kubernetes` Service and an
 * apiserver SAN. Like kubeadm (net.ParseCIDR then index 1), host bits in the input are ignored.
 */
export function firstServiceIp(serviceCidr: string): string {
    const c = parseCidrAny("serviceCidr", serviceCidr);
    const width = c.family === 4 ? 32 : 128;
    if (c.prefix >= width - 1)
        throw new KubeadmInputError("serviceCidr", serviceCidr, "a range with room for at least two addresses");
    const first = c.network + 1n;
    if (c.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((first >> s) & 255n)).join(".");
    return formatIpv6(first);
}

export function dedupe<T>(items: readonly T[]): T[] {
    return [...new Set(items)];
}
