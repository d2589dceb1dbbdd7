// kubeadm.k8s.io/v1beta4 configuration, the kubelet configuration, the audit policy and
// kubeconfigs, rendered from typed objects with the `yaml` library (never by concatenating YAML).
// Pure: typed data in, text out.
import { Document, Scalar } from "yaml";
import { ENCRYPTION_CONFIG_PATH } from "./encryption";
import type {
    Arg,
    ClusterConfiguration,
    InitConfiguration,
    JoinConfiguration,
    KubeletConfiguration,
    NodeRegistrationOptions,
} from "./v1beta4";
import {
    API_PORT,
    AUDIT_LOG_DIR,
    AUDIT_POLICY_PATH,
    CRI_SOCKET,
    DNS_DOMAIN,
    KubeadmInputError,
    PKI_DIR,
    controlPlaneEndpoint,
    kubeadmVersion,
    normalizeCluster,
    validateBootstrapToken,
    validateCaCertHash,
    validateNode,
    type ClusterSpec,
    type NodeSpec,
} from "./types";

export const KUBEADM_API_VERSION = "kubeadm.k8s.io/v1beta4" as const;
export const KUBELET_API_VERSION = "kubelet.config.k8s.io/v1beta1" as const;
export const AUDIT_API_VERSION = "audit.k8s.io/v1";

/**
 * Stands in for the bootstrap token in configs embedded in scripts; the script substitutes the
 * token it reads from stdin after checking its format. It is rendered as a double-quoted
 * scalar, so the substituted token stays a string even when it looks like a number.
 */
export const BOOTSTRAP_TOKEN_PLACEHOLDER = "k8s-ha-bootstrap-token-from-stdin";

/**
 * Stands in for ClusterConfiguration.kubernetesVersion in the configs init and rotate embed; the
 * script substitutes the installed kubeadm's version (`kubeadm version -o short`). So only the
 * upgrade step's text carries kubernetesVersion, and a version bump changes no other command
 * (a changed command text re-runs it on every node). kubeadm refuses the placeholder itself.
 */
export const KUBERNETES_VERSION_PLACEHOLDER = "k8s-ha-installed-kubeadm-version";

export type { Arg };

function args(record: Readonly<Record<string, string>>): Arg[] {
    return Object.entries(record).map(([name, value]) => ({ name, value }));
}

/**
 * etcd tuning for a small cluster (https://etcd.io/docs/v3.6/tuning/).
 *
 * Timing, snapshots and compaction are set for a small cluster: 3-7 stacked members in
 * one AWS region are a small cluster with ~1 ms RTT between AZs, so heartbeat 100 ms and election
 * timeout 1000 ms (10x heartbeat, etcd's own rule) detect a dead leader in about a second; the
 * 200/2000 ms often used for large or distant clusters would only double failover time.
 * snapshot-count 10000 (the default is 100000) keeps the in-memory raft log and a rejoining
 * member's catch-up small, and
 * auto-compaction-retention 1h bounds history between the apiserver's own 5-minute compactions.
 *
 * quota-backend-bytes is 8589934592 (8 GiB), etcd's suggested maximum
 * (https://etcd.io/docs/v3.6/dev-guide/limit/). Hitting the quota raises the
 * NOSPACE alarm and turns the whole cluster read-only, so the ceiling is set high rather than at
 * the 2 GiB default; it is a ceiling, not an allocation.
 *
 * max-request-bytes and max-txn-ops stay at etcd's defaults: Kubernetes objects are sized for the
 * default 1.5 MiB request limit, and the apiserver's transactions are a handful of operations.
 */
export const ETCD_TUNING: Readonly<Record<string, string>> = {
    "quota-backend-bytes": "8589934592",
    "heartbeat-interval": "100",
    "election-timeout": "1000",
    "snapshot-count": "10000",
    "auto-compaction-mode": "periodic",
    "auto-compaction-retention": "1h",
};

/**
 * Leader election for kube-controller-manager and kube-scheduler: lease 15s, renew deadline 10s,
 * retry 2s, the Kubernetes defaults
 * (https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/), set
 * explicitly so the failover budget is visible: a dead leader's lease lapses after <= 15 s and a
 * standby retries every 2 s.
 */
export const LEADER_ELECTION: Readonly<Record<string, string>> = {
    "leader-elect": "true",
    "leader-elect-lease-duration": "15s",
    "leader-elect-renew-deadline": "10s",
    "leader-elect-retry-period": "2s",
};

/** Audit log location and rotation for kube-apiserver. */
export const AUDIT_LOG_PATH = `${AUDIT_LOG_DIR}/audit.log`;
const AUDIT_ARGS: Readonly<Record<string, string>> = {
    "audit-log-path": AUDIT_LOG_PATH,
    "audit-policy-file": AUDIT_POLICY_PATH,
    "audit-log-maxage": "30",
    "audit-log-maxbackup": "10",
    "audit-log-maxsize": "100",
};

/**
 * On SIGTERM the apiserver fails /readyz at once but keeps serving this long. The NLB's health
 * check (HTTPS /readyz, every 10 s, unhealthy after 2 failures) takes it out of rotation within
 * about 20-30 s. It must stay below the static pod's 30 s grace period (kubeadm sets none, so
 * the kubelet's default applies), or the kubelet would kill it before the delay ends.
 */
export const APISERVER_SHUTDOWN_DELAY = "20s";

/**
 * kubeadm's v1beta4 timeouts for init and join, raised where the call goes through the NLB:
 * - kubernetesAPICall (default 1m): init's uploads (kubeadm-config, kubelet-config, bootstrap
 *   token, cluster-info, add-ons) go through the NLB, which may not route to node 0 yet: AWS
 *   takes "a few minutes" to register a new target, then 2 healthy checks 10 s apart;
 * - discovery (default 5m) and tlsBootstrap (default 5m): a join reads cluster-info and the kubelet
 *   sends its CSR through the NLB, which may be draining or re-registering a node at that time;
 * - controlPlaneComponentHealthCheck (default 4m): a fresh node pulls every control-plane image
 *   through the NAT gateway before its components answer.
 * Each is an upper bound: kubeadm retries within it and returns as soon as the call succeeds.
 */
export const KUBEADM_TIMEOUTS = {
    controlPlaneComponentHealthCheck: "8m0s",
    kubernetesAPICall: "10m0s",
    discovery: "10m0s",
    tlsBootstrap: "10m0s",
} as const;

/** Bootstrap token groups/usages as kubeadm sets them by default (its RBAC binds this group). */
export const BOOTSTRAP_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token";

function toYaml(value: unknown, tweak?: (doc: Document) => void): string {
    const doc = new Document(value);
    tweak?.(doc);
    return doc.toString({ lineWidth: 0 });
}

/** Several documents as one multi-document YAML stream; each document rendered by the library. */
function stream(docs: readonly string[]): string {
    return docs.join("---\n");
}

function quoteDoubleAt(doc: Document, path: readonly (string | number)[]): void {
    const node = doc.getIn(path, true);
    if (!(node instanceof Scalar)) throw new Error(`internal: no scalar at ${path.join(".")}`);
    node.type = Scalar.QUOTE_DOUBLE;
}

/**
 * The kubelet runs with the external cloud provider: the AWS cloud-controller-manager (an add-on)
 * sets the node's addresses, zone and instance-type labels and removes the
 * node.cloudprovider.kubernetes.io/uninitialized taint. providerID names the instance, so the
 * Node keeps its `<cluster>-cp-N` name. kube-apiserver and kube-controller-manager take no
 * cloud-provider flag (https://kubernetes.io/docs/tasks/administer-cluster/running-cloud-controller/).
 */
export const KUBELET_CLOUD_PROVIDER = "external";

function nodeRegistration(node: NodeSpec): NodeRegistrationOptions {
    return {
        name: node.name,
        criSocket: CRI_SOCKET,
        kubeletExtraArgs: args({
            "cloud-provider": KUBELET_CLOUD_PROVIDER,
            "node-ip": node.privateIp,
            "provider-id": node.providerId,
        }),
    };
}

/**
 * nodeRegistration for the phases the rotate and renewal scripts run (certificates, kubeconfigs),
 * none of which writes the kubelet's flags: only the node's identity. Kept without the cloud
 * flags so their script text, an input of commands on live clusters, did not change with them.
 */
function phaseNodeRegistration(node: NodeSpec): NodeRegistrationOptions {
    return { name: node.name, criSocket: CRI_SOCKET, kubeletExtraArgs: args({ "node-ip": node.privateIp }) };
}

/**
 * The ClusterConfiguration object (shared by every node; uploaded by init to kubeadm-config).
 * `kubernetesVersion` defaults to the cluster's; scripts pass KUBERNETES_VERSION_PLACEHOLDER.
 */
export function clusterConfiguration(cluster: ClusterSpec, kubernetesVersion?: string): ClusterConfiguration {
    const c = normalizeCluster(cluster);
    return {
        apiVersion: KUBEADM_API_VERSION,
        kind: "ClusterConfiguration",
        clusterName: c.clusterName,
        kubernetesVersion: kubernetesVersion ?? kubeadmVersion(c.kubernetesVersion),
        controlPlaneEndpoint: controlPlaneEndpoint(c),
        certificatesDir: PKI_DIR,
        networking: {
            podSubnet: c.podCidr,
            serviceSubnet: c.serviceCidr,
            dnsDomain: DNS_DOMAIN,
        },
        apiServer: {
            certSANs: [c.apiEndpointHost, ...c.extraSans.filter((s) => s !== c.apiEndpointHost)],
            // Secrets encrypted at rest (encryption.ts); the file sits in pki/, which kubeadm
            // already mounts into the apiserver's pod, so it needs no extra volume.
            extraArgs: args({
                ...AUDIT_ARGS,
                profiling: "false",
                "shutdown-delay-duration": APISERVER_SHUTDOWN_DELAY,
                "encryption-provider-config": ENCRYPTION_CONFIG_PATH,
            }),
            extraVolumes: [
                {
                    name: "audit-policy",
                    hostPath: AUDIT_POLICY_PATH,
                    mountPath: AUDIT_POLICY_PATH,
                    readOnly: true,
                    pathType: "File",
                },
                {
                    name: "audit-log",
                    hostPath: AUDIT_LOG_DIR,
                    mountPath: AUDIT_LOG_DIR,
                    readOnly: false,
                    pathType: "DirectoryOrCreate",
                },
            ],
        },
        controllerManager: {
            extraArgs: args({ ...LEADER_ELECTION, profiling: "false", "bind-address": "127.0.0.1" }),
        },
        scheduler: {
            extraArgs: args({ ...LEADER_ELECTION, profiling: "false", "bind-address": "127.0.0.1" }),
        },
        etcd: {
            local: {
                dataDir: "/var/lib/etcd",
                extraArgs: args(ETCD_TUNING),
                // kubeadm always adds node name, localhost, node IP, 127.0.0.1 and ::1 per node;
                // these lists carry only the cluster-wide extras (see etcdServerSans()).
                serverCertSANs: [...(c.etcdExtraSans ?? [])],
                peerCertSANs: [...(c.etcdExtraSans ?? [])],
            },
        },
    };
}

/**
 * KubeletConfiguration (uploaded by init to the kubelet-config ConfigMap; joiners download it).
 * - cgroupDriver systemd: matches containerd's SystemdCgroup=true on a systemd host.
 * - serverTLSBootstrap false: with true, kubelet serving certs are requested as
 *   kubernetes.io/kubelet-serving CSRs, which nothing in this stack approves (kube-controller-manager
 *   never auto-approves them), so `kubectl logs/exec` would break until an approver is installed.
 *   The kubelet's self-signed serving cert is what kubeadm clusters use by default.
 * - rotateCertificates true: the kubelet renews its client certificate itself (kubeadm's RBAC
 *   auto-approves selfnodeclient CSRs).
 */
export function kubeletConfiguration(): KubeletConfiguration {
    return {
        apiVersion: KUBELET_API_VERSION,
        kind: "KubeletConfiguration",
        cgroupDriver: "systemd",
        serverTLSBootstrap: false,
        rotateCertificates: true,
    };
}

/** InitConfiguration for the first control-plane node. `token` may be the placeholder. */
export function initConfiguration(
    cluster: ClusterSpec,
    node: NodeSpec,
    token: { token: string; ttl: string } | null,
): InitConfiguration {
    normalizeCluster(cluster);
    validateNode(node);
    if (node.role !== "control-plane")
        throw new KubeadmInputError(
            `node ${node.name} role`,
            node.role,
            '"control-plane" (kubeadm init runs on a control plane)',
        );
    return {
        apiVersion: KUBEADM_API_VERSION,
        kind: "InitConfiguration",
        ...(token
            ? {
                  bootstrapTokens: [
                      {
                          token: token.token,
                          ttl: token.ttl,
                          description: "k8s-ha: created by kubeadm init; joins re-create it with a short TTL",
                          usages: ["signing", "authentication"],
                          groups: [BOOTSTRAP_TOKEN_GROUP],
                      },
                  ],
              }
            : {}),
        nodeRegistration: nodeRegistration(node),
        localAPIEndpoint: { advertiseAddress: node.privateIp, bindPort: API_PORT },
        timeouts: { ...KUBEADM_TIMEOUTS },
    };
}

const TTL_RE = /^(\d+h)?(\d+m)?(\d+s)?$/;

export interface InitConfigOptions {
    /** The bootstrap token, or BOOTSTRAP_TOKEN_PLACEHOLDER for the copy embedded in init.sh. */
    readonly token: string;
    /** Go duration, e.g. "1h" (joins re-create the token anyway). Default "1h". */
    readonly ttl?: string;
    /** KUBERNETES_VERSION_PLACEHOLDER for the copy embedded in init.sh; default the cluster's version. */
    readonly kubernetesVersion?: typeof KUBERNETES_VERSION_PLACEHOLDER;
}

/**
 * The whole config `kubeadm init --config` takes: InitConfiguration, ClusterConfiguration,
 * KubeletConfiguration. No KubeProxyConfiguration: kube-proxy's defaults are what we want.
 */
export function renderInitConfig(cluster: ClusterSpec, node: NodeSpec, opts: InitConfigOptions): string {
    const ttl = opts.ttl ?? "1h";
    if (!TTL_RE.test(ttl) || ttl === "")
        throw new KubeadmInputError("bootstrap token ttl", ttl, 'a Go duration such as "1h" or "30m"');
    if (opts.token !== BOOTSTRAP_TOKEN_PLACEHOLDER) validateBootstrapToken(opts.token);
    const init = toYaml(initConfiguration(cluster, node, { token: opts.token, ttl }), (d) =>
        quoteDoubleAt(d, ["bootstrapTokens", 0, "token"]),
    );
    return stream([
        init,
        toYaml(clusterConfiguration(cluster, opts.kubernetesVersion)),
        toYaml(kubeletConfiguration()),
    ]);
}

/**
 * InitConfiguration (without a bootstrap token) + ClusterConfiguration for `kubeadm init phase ...`
 * commands run later on any control plane (the rotate script regenerates kubeconfigs with it).
 */
export function renderPhaseConfig(
    cluster: ClusterSpec,
    node: NodeSpec,
    opts: { kubernetesVersion?: typeof KUBERNETES_VERSION_PLACEHOLDER } = {},
): string {
    const init = { ...initConfiguration(cluster, node, null), nodeRegistration: phaseNodeRegistration(node) };
    return stream([toYaml(init), toYaml(clusterConfiguration(cluster, opts.kubernetesVersion))]);
}

export interface JoinConfigOptions {
    /** The bootstrap token, or BOOTSTRAP_TOKEN_PLACEHOLDER for the copy embedded in join scripts. */
    readonly token: string;
    /** discoveryHash() of the cluster CA. */
    readonly caCertHash: string;
}

/** The JoinConfiguration object for a control-plane or worker node. */
export function joinConfiguration(cluster: ClusterSpec, node: NodeSpec, opts: JoinConfigOptions): JoinConfiguration {
    normalizeCluster(cluster);
    validateNode(node);
    if (opts.token !== BOOTSTRAP_TOKEN_PLACEHOLDER) validateBootstrapToken(opts.token);
    validateCaCertHash(opts.caCertHash);
    return {
        apiVersion: KUBEADM_API_VERSION,
        kind: "JoinConfiguration",
        discovery: {
            bootstrapToken: {
                apiServerEndpoint: controlPlaneEndpoint(cluster),
                token: opts.token,
                caCertHashes: [opts.caCertHash],
            },
        },
        nodeRegistration: nodeRegistration(node),
        // No certificateKey: Pulumi places every certificate itself (place-pki) before the join.
        ...(node.role === "control-plane"
            ? { controlPlane: { localAPIEndpoint: { advertiseAddress: node.privateIp, bindPort: API_PORT } } }
            : {}),
        timeouts: { ...KUBEADM_TIMEOUTS },
    };
}

export function renderJoinConfig(cluster: ClusterSpec, node: NodeSpec, opts: JoinConfigOptions): string {
    return toYaml(joinConfiguration(cluster, node, opts), (d) =>
        quoteDoubleAt(d, ["discovery", "bootstrapToken", "token"]),
    );
}

/**
 * The apiserver audit policy. Rules are first-match:
 * 1. no events for health/version/metrics probes (NLB health checks hit /readyz every few seconds);
 * 2. no events for Lease get/update: leader election renews every 2 s per component, and kubelets
 *    renew node leases every 10 s;
 * 3. no events for Events;
 * 4. Metadata only (never bodies) for Secrets, ConfigMaps, TokenReviews and token requests, so no
 *    secret value ever lands in the audit log;
 * 5. Request bodies for RBAC changes (who granted what);
 * 6. Metadata for everything else.
 */
export function auditPolicy() {
    return {
        apiVersion: AUDIT_API_VERSION,
        kind: "Policy",
        omitStages: ["RequestReceived"],
        rules: [
            { level: "None", nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics"] },
            {
                level: "None",
                verbs: ["get", "update"],
                resources: [{ group: "coordination.k8s.io", resources: ["leases"] }],
            },
            {
                level: "None",
                resources: [
                    { group: "", resources: ["events"] },
                    { group: "events.k8s.io", resources: ["events"] },
                ],
            },
            {
                level: "Metadata",
                resources: [
                    { group: "", resources: ["secrets", "configmaps", "serviceaccounts/token"] },
                    { group: "authentication.k8s.io", resources: ["tokenreviews"] },
                ],
            },
            {
                level: "Request",
                verbs: ["create", "update", "patch", "delete", "deletecollection"],
                resources: [{ group: "rbac.authorization.k8s.io" }],
            },
            { level: "Metadata" },
        ],
    };
}

export function renderAuditPolicy(): string {
    return toYaml(auditPolicy());
}

export interface KubeconfigInput {
    readonly clusterName: string;
    /** "https://host:port". */
    readonly server: string;
    readonly caCertPem: string;
    readonly userName: string;
    readonly clientCertPem: string;
    readonly clientKeyPem: string;
}

/** A client-certificate kubeconfig (one cluster, one user, one current context). SECRET text. */
export function renderKubeconfig(k: KubeconfigInput): string {
    for (const [field, value] of Object.entries(k)) {
        if (typeof value !== "string" || value.length === 0)
            throw new KubeadmInputError(
                `kubeconfig ${field}`,
                field.endsWith("Pem") ? "<pem>" : value,
                "a non-empty string",
            );
    }
    if (!/^https:\/\/[^/\s]+$/.test(k.server))
        throw new KubeadmInputError("kubeconfig server", k.server, '"https://host:port"');
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
    const context = `${k.userName}@${k.clusterName}`;
    return toYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
            { name: k.clusterName, cluster: { server: k.server, "certificate-authority-data": b64(k.caCertPem) } },
        ],
        users: [
            {
                name: k.userName,
                user: { "client-certificate-data": b64(k.clientCertPem), "client-key-data": b64(k.clientKeyPem) },
            },
        ],
        contexts: [{ name: context, context: { cluster: k.clusterName, user: k.userName } }],
        "current-context": context,
    });
}

/** The admin kubeconfig the join/reset scripts read on stdin, pointing at the NLB. SECRET text. */
export function renderAdminKubeconfig(
    cluster: ClusterSpec,
    pem: { caCertPem: string; clientCertPem: string; clientKeyPem: string },
): string {
    const c = normalizeCluster(cluster);
    return renderKubeconfig({
        clusterName: c.clusterName,
        server: `https://${controlPlaneEndpoint(c)}`,
        userName: "kubernetes-admin",
        ...pem,
    });
}
