// Builders of the bootstrap scripts (prepare, place-pki, init, join, reset, rotate): typed data in,
// the parameters of each script out. The bash lives in components/kubeadm/scripts/ (its README
// holds the conventions every script follows and what each one reads on stdin); bash.ts composes.
//
// stdin framing (see also the *Stdin() encoders at the bottom):
//   place-pki : lines "<octal mode> <absolute path under /etc/kubernetes/> <base64 content>"
//   init, control-plane join: line 1 = bootstrap token, then the admin kubeconfig (rest of stdin)
//   worker join: line 1 = the worker's own bootstrap token, nothing else
//   control-plane reset: the admin kubeconfig (all of stdin); worker reset: nothing
//   prepare, rotate: nothing
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import {
    BOOTSTRAP_TOKEN_GROUP,
    BOOTSTRAP_TOKEN_PLACEHOLDER,
    KUBERNETES_VERSION_PLACEHOLDER,
    renderAuditPolicy,
    renderInitConfig,
    renderJoinConfig,
    renderPhaseConfig,
} from "./config";
import { etcdPeerUrl } from "./day2";
import { pkiFilesFor } from "./pki";
import { renderScript, requireRole, urlHost } from "./bash";
import { scriptParams, type ScriptOptions } from "./options";
import { shellQuote } from "./shell";
import {
    API_PORT,
    AUDIT_LOG_DIR,
    AUDIT_POLICY_PATH,
    CRI_SOCKET,
    KUBE_DIR,
    KubeadmInputError,
    STATIC_POD_STOP_TIMEOUT_SECONDS,
    controlPlaneEndpoint,
    normalizeCluster,
    validateBootstrapToken,
    validateCaCertHash,
    validateNode,
    type ClusterSpec,
    type NodeRole,
    type NodeSpec,
} from "./types";

export type { ScriptOptions };

/** What a bootstrap token looks like, as the scripts check it (lib/token.sh). */
export const TOKEN_RE = "^[a-z0-9]{6}\\.[a-z0-9]{16}$";

function controlPlaneRequiredFiles(): string[] {
    return [...pkiFilesFor("control-plane").map((f) => f.path), AUDIT_POLICY_PATH];
}

// ---------------------------------------------------------------------------------------------
// prepare (scripts/packages/prepare.sh)

/**
 * Node preparation: hostname, swap, kernel modules, sysctls, containerd (and the audit policy on
 * control planes). No Kubernetes version: the upgrade step installs kubelet/kubeadm/kubectl, so a
 * version bump leaves prepare's text alone.
 */
export function renderPrepareScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    normalizeCluster(cluster);
    validateNode(node);
    void scriptParams(o);
    const cp = node.role === "control-plane";
    const params: Record<string, string> = {
        NODE_NAME: node.name,
        NODE_ROLE: node.role,
        ...(cp ? { AUDIT_POLICY_PATH, AUDIT_LOG_DIR, AUDIT_POLICY: renderAuditPolicy() } : {}),
    };
    // The fingerprint covers everything the script does (the whole rendered text), so a changed
    // script is applied again once; an unchanged one leaves a prepared node alone.
    const render = (fingerprint: string) =>
        renderScript("packages/prepare.sh", {
            name: "prepare",
            title: `prepare ${node.name} (${node.role}) for Kubernetes`,
            role: node.role,
            params: { ...params, PREPARE_FINGERPRINT: fingerprint },
        });
    return render(createHash("sha256").update(render("")).digest("hex"));
}

// ---------------------------------------------------------------------------------------------
// place-pki (scripts/certificates/place-pki.sh)

/**
 * Writes PKI files read from stdin, atomically, only when their content changed; records the
 * changed paths in /var/lib/k8s-ha/pki-changed for rotate and prints them.
 */
export function renderPlacePkiScript(o?: ScriptOptions): string {
    const p = scriptParams(o);
    return renderScript("certificates/place-pki.sh", {
        name: "place-pki",
        title: "place PKI files under /etc/kubernetes from stdin",
        params: { STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS },
    });
}

// ---------------------------------------------------------------------------------------------
// init (scripts/membership/init.sh)

/** `kubeadm init` on the first control-plane node, then a wait for the API through the NLB. */
export function renderInitScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "kubeadm init runs on a control-plane node");
    const p = scriptParams(o);
    return renderScript("membership/init.sh", {
        name: "init",
        title: `kubeadm init on ${node.name}`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            API_ENDPOINT: controlPlaneEndpoint(c),
            API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
            CLUSTER_INFO_URL: `https://${controlPlaneEndpoint(c)}/api/v1/namespaces/kube-public/configmaps/cluster-info`,
            TOKEN_RE,
            TOKEN_PLACEHOLDER: BOOTSTRAP_TOKEN_PLACEHOLDER,
            VERSION_PLACEHOLDER: KUBERNETES_VERSION_PLACEHOLDER,
            KUBEADM_CONFIG_TEMPLATE: renderInitConfig(c, node, {
                token: BOOTSTRAP_TOKEN_PLACEHOLDER,
                ttl: "1h",
                kubernetesVersion: KUBERNETES_VERSION_PLACEHOLDER,
            }),
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
        arrays: { REQUIRED_FILES: controlPlaneRequiredFiles() },
    });
}

// ---------------------------------------------------------------------------------------------
// first control plane: init, or join when the cluster already exists (scripts/membership/first-control-plane.sh)

/**
 * What node 0 runs: `kubeadm init` on a new cluster, `kubeadm join --control-plane` on an
 * existing one (node 0 was replaced). The cluster exists when anything answers on the other
 * control planes' apiserver or etcd ports, or through the NLB; init runs only when every other
 * control plane refuses the connection. stdin is the join's (token, then the admin kubeconfig).
 */
export function renderFirstControlPlaneScript(
    cluster: ClusterSpec,
    node: NodeSpec,
    caCertHash: string,
    otherControlPlanes: readonly string[],
    o?: ScriptOptions,
): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "the first control plane");
    for (const ip of otherControlPlanes) {
        if (isIP(ip) === 0) throw new KubeadmInputError("other control plane address", ip, "an IPv4 or IPv6 address");
    }
    const p = scriptParams(o);
    return renderScript("membership/first-control-plane.sh", {
        name: "first-control-plane",
        title: `kubeadm init on ${node.name}, or join when the cluster already exists`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
            // A few minutes of rounds: long enough for a security group or route to settle.
            PROBE_ATTEMPTS: 24,
            PROBE_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            INIT_SCRIPT: renderInitScript(c, node, o),
            JOIN_SCRIPT: renderJoinScript(c, node, caCertHash, o),
        },
        arrays: { OTHER_CONTROL_PLANES: [...otherControlPlanes] },
    });
}

// ---------------------------------------------------------------------------------------------
// join (scripts/membership/join.sh)

/** The public cluster-info ConfigMap through the NLB: kubeadm's discovery reads it anonymously. */
function clusterInfoUrl(c: ClusterSpec): string {
    return `https://${controlPlaneEndpoint(c)}/api/v1/namespaces/kube-public/configmaps/cluster-info`;
}

/**
 * `kubeadm join` of a control-plane or worker node. A control plane gets the admin kubeconfig on
 * stdin and (re)creates the shared bootstrap token with a short TTL right before joining; a worker
 * gets only its own token, which its join-token step makes on a control plane meanwhile
 * (renderWorkerJoinTokenScript).
 */
export function renderJoinScript(cluster: ClusterSpec, node: NodeSpec, caCertHash: string, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    validateCaCertHash(caCertHash);
    const p = scriptParams(o);
    const cp = node.role === "control-plane";
    return renderScript("membership/join.sh", {
        name: `join-${node.role}`,
        title: `kubeadm join of ${node.name} as ${cp ? "a control-plane node" : "a worker"}`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            NODE_ROLE: node.role,
            API_ENDPOINT: controlPlaneEndpoint(c),
            API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
            ...(cp
                ? {
                      LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz`,
                      ETCD_PEER_URL: etcdPeerUrl(node),
                  }
                : {}),
            ...(cp ? {} : { CLUSTER_INFO_URL: clusterInfoUrl(c) }),
            TOKEN_RE,
            TOKEN_PLACEHOLDER: BOOTSTRAP_TOKEN_PLACEHOLDER,
            ...(cp ? { TOKEN_GROUP: BOOTSTRAP_TOKEN_GROUP, TOKEN_TTL_MINUTES: p.TOKEN_TTL_MINUTES } : {}),
            JOIN_CONFIG_TEMPLATE: renderJoinConfig(c, node, { token: BOOTSTRAP_TOKEN_PLACEHOLDER, caCertHash }),
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
        arrays: cp ? { REQUIRED_FILES: controlPlaneRequiredFiles() } : {},
    });
}

// ---------------------------------------------------------------------------------------------
// reset (scripts/membership/reset.sh)

/**
 * Clean removal of a node, run on the node itself when its resource is deleted. A control plane:
 * quorum check, drain, `kubeadm reset -f`, network leftovers, delete the Node (the quorum rule is
 * written out in the script's comment block). A worker: `kubeadm reset -f` and the leftovers only;
 * a control plane drains it before and deletes its Node after (renderWorkerRemoveDrainScript,
 * renderWorkerRemoveNodeScript).
 */
export function renderResetScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    const p = scriptParams(o);
    return renderScript("membership/reset.sh", {
        name: `reset-${node.role}`,
        title: `remove ${node.name} (${node.role}) from the cluster`,
        role: node.role,
        // A worker's reset is local only (kubeadm reset, leftovers): it needs no parameter but the
        // header's paths; its drain and Node deletion run on a control plane.
        params:
            node.role === "control-plane"
                ? {
                      NODE_NAME: node.name,
                      API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
                      DRAIN_TIMEOUT: p.DRAIN_TIMEOUT,
                      STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
                      ETCD_PEER_URL: etcdPeerUrl(node),
                      WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
                      WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
                  }
                : { NODE_NAME: node.name },
    });
}

// ---------------------------------------------------------------------------------------------
// rotate (scripts/certificates/rotate.sh)

/** Kubeconfigs kubeadm writes on control planes, with the `kubeadm init phase kubeconfig` phase for each. */
export const KUBECONFIG_PHASES: ReadonlyArray<readonly [file: string, phase: string]> = [
    ["admin.conf", "admin"],
    ["super-admin.conf", "super-admin"],
    ["controller-manager.conf", "controller-manager"],
    ["scheduler.conf", "scheduler"],
    ["kubelet.conf", "kubelet"],
];

/**
 * Kubeconfigs whose client certificate kubeadm signs itself at init and join, valid for a year:
 * rotate renews them (`kubeadm certs renew`) with every rotation, and the weekly renewal timer
 * renews those near expiry. (The kubelet renews its own.)
 */
export const RENEWED_KUBECONFIGS = [
    "admin.conf",
    "super-admin.conf",
    "controller-manager.conf",
    "scheduler.conf",
] as const;

/**
 * After place-pki changed a control-plane node's certificates: regenerate kubeconfigs that embed
 * an old cluster CA, restart the static pods one at a time (etcd only when its files changed),
 * waiting for each to be healthy, then clear the change record.
 */
export function renderRotateScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "certificates are placed and rotated on control-plane nodes only");
    const p = scriptParams(o);
    return renderScript("certificates/rotate.sh", {
        name: "rotate",
        title: `apply changed certificates on ${node.name}`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            CRI_SOCKET,
            LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz`,
            VERSION_PLACEHOLDER: KUBERNETES_VERSION_PLACEHOLDER,
            KUBEADM_PHASE_CONFIG: renderPhaseConfig(c, node, { kubernetesVersion: KUBERNETES_VERSION_PLACEHOLDER }),
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
            STOP_TIMEOUT_SECONDS: STATIC_POD_STOP_TIMEOUT_SECONDS,
        },
        arrays: {
            KUBECONFIG_PHASES: KUBECONFIG_PHASES.map(([f, ph]) => `${f}:${ph}`),
            RENEWED_KUBECONFIGS: [...RENEWED_KUBECONFIGS],
        },
    });
}

// ---------------------------------------------------------------------------------------------
// weekly renewal of kubeadm's client certificates (scripts/certificates/renew-*.sh)

export const CERT_RENEWAL_UNIT = "k8s-ha-kubeconfig-renewal";
export const CERT_RENEWAL_SCRIPT_PATH = "/usr/local/sbin/k8s-ha-renew-kubeconfigs";
/** Renew a client certificate with fewer days left than this (a weekly timer: at 90 to 83 days). */
export const CERT_RENEW_BEFORE_DAYS = 90;

/** The timer's script: renews each of RENEWED_KUBECONFIGS with under CERT_RENEW_BEFORE_DAYS left. */
export function renderRenewKubeconfigsScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "kubeadm signs these kubeconfigs on control planes only");
    const p = scriptParams(o);
    return renderScript("certificates/renew-kubeconfigs.sh", {
        name: "renew-kubeconfigs",
        title: `renew kubeadm's client certificates on ${node.name} before they expire`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            CRI_SOCKET,
            VERSION_PLACEHOLDER: KUBERNETES_VERSION_PLACEHOLDER,
            KUBEADM_PHASE_CONFIG: renderPhaseConfig(c, node, { kubernetesVersion: KUBERNETES_VERSION_PLACEHOLDER }),
            RENEW_BEFORE_DAYS: CERT_RENEW_BEFORE_DAYS,
            STOP_TIMEOUT_SECONDS: STATIC_POD_STOP_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
        arrays: { RENEWED_KUBECONFIGS: [...RENEWED_KUBECONFIGS] },
    });
}

/** systemd units of the weekly renewal. */
export function renderCertRenewalUnits(node: NodeSpec): { service: string; timer: string } {
    validateNode(node);
    const service = [
        "# Rendered by k8s-ha; installed by its certificate renewal step.",
        "[Unit]",
        `Description=k8s-ha: renew kubeadm's client certificates on ${node.name} before they expire`,
        "ConditionPathExists=/etc/kubernetes/manifests/kube-apiserver.yaml",
        "",
        "[Service]",
        "Type=oneshot",
        `ExecStart=${CERT_RENEWAL_SCRIPT_PATH}`,
        "TimeoutStartSec=30min",
        "PrivateTmp=true",
        "",
    ].join("\n");
    const timer = [
        "# Rendered by k8s-ha; installed by its certificate renewal step.",
        "[Unit]",
        `Description=k8s-ha: weekly check of kubeadm's client certificates on ${node.name}`,
        "",
        "[Timer]",
        "OnCalendar=weekly",
        "RandomizedDelaySec=6h",
        "Persistent=true",
        `Unit=${CERT_RENEWAL_UNIT}.service`,
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ].join("\n");
    return { service, timer };
}

/** Installs the renewal script, its service and its weekly timer on a control plane. */
export function renderCertRenewalInstallScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    normalizeCluster(cluster);
    requireRole(node, "control-plane", "kubeadm signs these kubeconfigs on control planes only");
    const units = renderCertRenewalUnits(node);
    return renderScript("certificates/renew-install.sh", {
        name: "cert-renewal-install",
        title: `install the weekly renewal of kubeadm's client certificates on ${node.name}`,
        role: node.role,
        params: {
            NODE_NAME: node.name,
            UNIT: CERT_RENEWAL_UNIT,
            SCRIPT_PATH: CERT_RENEWAL_SCRIPT_PATH,
            SERVICE_PATH: `/etc/systemd/system/${CERT_RENEWAL_UNIT}.service`,
            TIMER_PATH: `/etc/systemd/system/${CERT_RENEWAL_UNIT}.timer`,
            // put_file compares with $(<file), which drops trailing newlines: compare like with like.
            RENEW_SCRIPT: renderRenewKubeconfigsScript(cluster, node, o).trimEnd(),
            SERVICE_UNIT: units.service.trimEnd(),
            TIMER_UNIT: units.timer.trimEnd(),
        },
    });
}

// ---------------------------------------------------------------------------------------------
// The whole set, for tools/render-scripts.ts and the tests.

export type ScriptKind = "prepare" | "place-pki" | "init" | "join" | "reset" | "rotate" | "cert-renewal";

export interface RenderedScript {
    /** e.g. "join-control-plane.sh". */
    readonly fileName: string;
    readonly kind: ScriptKind;
    readonly role?: NodeRole;
    readonly node?: string;
    readonly text: string;
}

export interface ScriptSetInput {
    readonly cluster: ClusterSpec;
    /** The node kubeadm init runs on. */
    readonly initNode: NodeSpec;
    /** A control-plane node that joins. */
    readonly joinControlPlane: NodeSpec;
    /** A worker. */
    readonly worker: NodeSpec;
    readonly caCertHash: string;
    readonly options?: ScriptOptions;
}

/** Every script for every role, one sample node per role. */
export function renderScriptSet(s: ScriptSetInput): RenderedScript[] {
    const o = s.options;
    return [
        {
            fileName: "prepare-control-plane.sh",
            kind: "prepare",
            role: "control-plane",
            node: s.initNode.name,
            text: renderPrepareScript(s.cluster, s.initNode, o),
        },
        {
            fileName: "prepare-worker.sh",
            kind: "prepare",
            role: "worker",
            node: s.worker.name,
            text: renderPrepareScript(s.cluster, s.worker, o),
        },
        { fileName: "place-pki.sh", kind: "place-pki", text: renderPlacePkiScript(o) },
        {
            fileName: "init.sh",
            kind: "init",
            role: "control-plane",
            node: s.initNode.name,
            text: renderInitScript(s.cluster, s.initNode, o),
        },
        {
            fileName: "first-control-plane.sh",
            kind: "init",
            role: "control-plane",
            node: s.initNode.name,
            text: renderFirstControlPlaneScript(s.cluster, s.initNode, s.caCertHash, [s.joinControlPlane.privateIp], o),
        },
        {
            fileName: "join-control-plane.sh",
            kind: "join",
            role: "control-plane",
            node: s.joinControlPlane.name,
            text: renderJoinScript(s.cluster, s.joinControlPlane, s.caCertHash, o),
        },
        {
            fileName: "join-worker.sh",
            kind: "join",
            role: "worker",
            node: s.worker.name,
            text: renderJoinScript(s.cluster, s.worker, s.caCertHash, o),
        },
        {
            fileName: "reset-control-plane.sh",
            kind: "reset",
            role: "control-plane",
            node: s.joinControlPlane.name,
            text: renderResetScript(s.cluster, s.joinControlPlane, o),
        },
        {
            fileName: "reset-worker.sh",
            kind: "reset",
            role: "worker",
            node: s.worker.name,
            text: renderResetScript(s.cluster, s.worker, o),
        },
        {
            fileName: "rotate.sh",
            kind: "rotate",
            role: "control-plane",
            node: s.initNode.name,
            text: renderRotateScript(s.cluster, s.initNode, o),
        },
        {
            fileName: "renew-kubeconfigs.sh",
            kind: "cert-renewal",
            role: "control-plane",
            node: s.initNode.name,
            text: renderRenewKubeconfigsScript(s.cluster, s.initNode, o),
        },
        {
            fileName: "cert-renewal-install.sh",
            kind: "cert-renewal",
            role: "control-plane",
            node: s.initNode.name,
            text: renderCertRenewalInstallScript(s.cluster, s.initNode, o),
        },
    ];
}

/** Every script a given node runs (prepare, join or init, reset, and for control planes rotate). */
export function renderNodeScripts(
    cluster: ClusterSpec,
    node: NodeSpec,
    how: { isInitNode: boolean; caCertHash: string; options?: ScriptOptions },
): RenderedScript[] {
    const o = how.options;
    const role = node.role;
    const out: RenderedScript[] = [
        {
            fileName: `prepare-${role}.sh`,
            kind: "prepare",
            role,
            node: node.name,
            text: renderPrepareScript(cluster, node, o),
        },
    ];
    if (role === "control-plane")
        out.push({ fileName: "place-pki.sh", kind: "place-pki", text: renderPlacePkiScript(o) });
    if (how.isInitNode) {
        out.push({
            fileName: "init.sh",
            kind: "init",
            role,
            node: node.name,
            text: renderInitScript(cluster, node, o),
        });
    } else {
        out.push({
            fileName: `join-${role}.sh`,
            kind: "join",
            role,
            node: node.name,
            text: renderJoinScript(cluster, node, how.caCertHash, o),
        });
    }
    out.push({
        fileName: `reset-${role}.sh`,
        kind: "reset",
        role,
        node: node.name,
        text: renderResetScript(cluster, node, o),
    });
    if (role === "control-plane")
        out.push({
            fileName: "rotate.sh",
            kind: "rotate",
            role,
            node: node.name,
            text: renderRotateScript(cluster, node, o),
        });
    return out;
}

// ---------------------------------------------------------------------------------------------
// stdin encoders: what the bootstrap component passes as remote.Command `stdin` (SECRET text).

/** A worker's join: line 1 = its own bootstrap token, and nothing else. */
export function tokenStdin(token: string): string {
    return `${validateBootstrapToken(token)}\n`;
}

/** init, a control plane's join, a worker's join-token step: line 1 = a bootstrap token, then the admin kubeconfig. */
export function joinStdin(token: string, adminKubeconfig: string): string {
    validateBootstrapToken(token);
    if (!adminKubeconfig.trim())
        throw new KubeadmInputError("admin kubeconfig", "<empty>", "a kubeconfig with client credentials");
    return `${token}\n${adminKubeconfig.endsWith("\n") ? adminKubeconfig : `${adminKubeconfig}\n`}`;
}

/** A control plane's reset and upgrade, the worker steps run on a control plane: the admin kubeconfig. */
export function adminStdin(adminKubeconfig: string): string {
    if (!adminKubeconfig.trim())
        throw new KubeadmInputError("admin kubeconfig", "<empty>", "a kubeconfig with client credentials");
    return adminKubeconfig.endsWith("\n") ? adminKubeconfig : `${adminKubeconfig}\n`;
}

export interface PlacedFile {
    /** Absolute path under /etc/kubernetes/ (e.g. a PkiFile.path). */
    readonly path: string;
    readonly mode: number;
    /** The file's content (PEM text). */
    readonly content: string;
}

/** place-pki: one "<octal mode> <path> <base64>" line per file. Checks the same rules the script enforces. */
export function placePkiStdin(files: readonly PlacedFile[]): string {
    if (files.length === 0) throw new KubeadmInputError("place-pki files", [], "at least one file");
    const seen = new Set<string>();
    return files
        .map((f) => {
            if (
                !/^\/etc\/kubernetes\/[A-Za-z0-9._/-]+$/.test(f.path) ||
                /\/\.{1,2}(\/|$)/.test(f.path) ||
                f.path.includes("//") ||
                f.path.endsWith("/")
            ) {
                throw new KubeadmInputError("place-pki path", f.path, `a plain absolute path under ${KUBE_DIR}/`);
            }
            if (seen.has(f.path)) throw new KubeadmInputError("place-pki path", f.path, "each path once");
            seen.add(f.path);
            if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o777 || (f.mode & 0o022) !== 0) {
                throw new KubeadmInputError(
                    `place-pki mode of ${f.path}`,
                    f.mode.toString(8),
                    "an octal mode without group/world write, e.g. 0600 or 0644",
                );
            }
            if (f.path.endsWith(".key") && f.mode !== 0o600)
                throw new KubeadmInputError(
                    `place-pki mode of ${f.path}`,
                    f.mode.toString(8),
                    "0600 for a private key",
                );
            if (!f.content)
                throw new KubeadmInputError(`place-pki content of ${f.path}`, "<empty>", "non-empty content");
            return `0${f.mode.toString(8).padStart(3, "0")} ${f.path} ${Buffer.from(f.content, "utf8").toString("base64")}`;
        })
        .join("\n")
        .concat("\n");
}

/** Exposed for tests: the quoted form of a value as the scripts embed it. */
export { shellQuote };
