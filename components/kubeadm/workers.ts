// Builders of the steps a control plane runs on behalf of a worker (scripts/workers/): everything
// about a worker that needs a cluster credential. The admin kubeconfig goes to control planes
// only; a worker gets its own bootstrap token and nothing else, and uses its kubelet's credential
// once it has joined.
//   join-token        : the worker's token, made while its join runs, deleted once its Node exists
//   upgrade-drain     : drain before the worker's upgrade (carries the version)
//   upgrade-uncordon  : uncordon after it (carries the version)
//   remove-drain      : drain before the worker's reset, when it goes away
//   remove-node       : delete its Node after that reset
// stdin: join-token: line 1 = the worker's token, then the admin kubeconfig (joinStdin);
//        the others: the admin kubeconfig (adminStdin).
import { renderScript } from "./bash";
import { DRAINED_ANNOTATION } from "./day2";
import { BOOTSTRAP_TOKEN_GROUP } from "./config";
import { TOKEN_RE } from "./scripts";
import { duration, scriptParams, waitParams, type ScriptOptions, type UpgradeOptions } from "./options";
import {
    KubeadmInputError,
    controlPlaneEndpoint,
    normalizeCluster,
    parseKubernetesVersion,
    validateNode,
    type ClusterSpec,
    type NodeSpec,
} from "./types";

/** The steps a control plane runs for a worker, by the suffix of their resource names. */
export type WorkerAdminStep = "join-token" | "upgrade-drain" | "upgrade-uncordon" | "remove-drain" | "remove-node";

function requireWorker(node: NodeSpec, step: WorkerAdminStep): void {
    validateNode(node);
    if (node.role !== "worker")
        throw new KubeadmInputError(
            `node ${node.name} role`,
            node.role,
            `"worker" (${step} runs on a control plane for a worker)`,
        );
}

function apiReadyz(c: ClusterSpec): string {
    return `https://${controlPlaneEndpoint(c)}/readyz`;
}

/**
 * The worker's bootstrap token for as long as its join takes: made right before, waited on until
 * the worker's Node registers (at most the token's lifetime), deleted after. A failed join fails
 * this step too, so a later `pulumi up` retries both and the join gets a fresh token.
 */
export function renderWorkerJoinTokenScript(cluster: ClusterSpec, worker: NodeSpec, o: ScriptOptions = {}): string {
    const c = normalizeCluster(cluster);
    requireWorker(worker, "join-token");
    const p = scriptParams(o);
    return renderScript("workers/join-token.sh", {
        name: "worker-join-token",
        title: `the bootstrap token of ${worker.name}, for as long as its join takes`,
        params: {
            NODE_NAME: worker.name,
            API_ENDPOINT: controlPlaneEndpoint(c),
            API_READYZ_URL: apiReadyz(c),
            TOKEN_RE,
            TOKEN_GROUP: BOOTSTRAP_TOKEN_GROUP,
            TOKEN_TTL_MINUTES: p.TOKEN_TTL_MINUTES,
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            // The wait for the Node lasts as long as the token does.
            WAIT_ATTEMPTS: Math.max(1, Math.ceil((p.TOKEN_TTL_MINUTES * 60) / p.WAIT_INTERVAL_SECONDS)),
        },
    });
}

function upgradeParams(cluster: ClusterSpec, worker: NodeSpec, step: WorkerAdminStep, o: UpgradeOptions) {
    const c = normalizeCluster(cluster);
    requireWorker(worker, step);
    parseKubernetesVersion(c.kubernetesVersion);
    return { c, w: waitParams(o, 600) };
}

/** Drain a worker before its upgrade to the cluster's version (nothing when it has not joined or runs it). */
export function renderWorkerUpgradeDrainScript(cluster: ClusterSpec, worker: NodeSpec, o: UpgradeOptions = {}): string {
    const { c, w } = upgradeParams(cluster, worker, "upgrade-drain", o);
    return renderScript("workers/upgrade-drain.sh", {
        name: "worker-upgrade-drain",
        title: `drain ${worker.name} before its upgrade to Kubernetes ${c.kubernetesVersion}`,
        params: {
            NODE_NAME: worker.name,
            K8S_VERSION: c.kubernetesVersion,
            API_READYZ_URL: apiReadyz(c),
            DRAIN_TIMEOUT: duration("script option drainTimeout", o.drainTimeout ?? "300s"),
            DRAINED_ANNOTATION,
            ...w,
        },
    });
}

/** Uncordon a worker once it reports the cluster's version and is Ready, if its upgrade-drain cordoned it. */
export function renderWorkerUpgradeUncordonScript(
    cluster: ClusterSpec,
    worker: NodeSpec,
    o: UpgradeOptions = {},
): string {
    const { c, w } = upgradeParams(cluster, worker, "upgrade-uncordon", o);
    return renderScript("workers/upgrade-uncordon.sh", {
        name: "worker-upgrade-uncordon",
        title: `uncordon ${worker.name} after its upgrade to Kubernetes ${c.kubernetesVersion}`,
        params: {
            NODE_NAME: worker.name,
            K8S_VERSION: c.kubernetesVersion,
            API_READYZ_URL: apiReadyz(c),
            DRAINED_ANNOTATION,
            ...w,
        },
    });
}

/** Drain a worker that goes away, before its own reset. */
export function renderWorkerRemoveDrainScript(cluster: ClusterSpec, worker: NodeSpec, o: ScriptOptions = {}): string {
    const c = normalizeCluster(cluster);
    requireWorker(worker, "remove-drain");
    const p = scriptParams(o);
    return renderScript("workers/remove-drain.sh", {
        name: "worker-remove-drain",
        title: `drain ${worker.name} before it is removed`,
        params: {
            NODE_NAME: worker.name,
            API_READYZ_URL: apiReadyz(c),
            DRAIN_TIMEOUT: p.DRAIN_TIMEOUT,
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
    });
}

/** Delete a removed worker's Node, after its own reset stopped its kubelet. */
export function renderWorkerRemoveNodeScript(cluster: ClusterSpec, worker: NodeSpec, o: ScriptOptions = {}): string {
    const c = normalizeCluster(cluster);
    requireWorker(worker, "remove-node");
    const p = scriptParams(o);
    return renderScript("workers/remove-node.sh", {
        name: "worker-remove-node",
        title: `delete the Node of ${worker.name} after its reset`,
        params: {
            NODE_NAME: worker.name,
            API_READYZ_URL: apiReadyz(c),
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
    });
}

/** Every worker-admin script for one worker, for the golden corpus and the bats suite. */
export function renderWorkerAdminScripts(
    cluster: ClusterSpec,
    worker: NodeSpec,
    o: ScriptOptions = {},
): { fileName: string; step: WorkerAdminStep; text: string }[] {
    return [
        { fileName: "worker-join-token.sh", step: "join-token", text: renderWorkerJoinTokenScript(cluster, worker, o) },
        {
            fileName: "worker-upgrade-drain.sh",
            step: "upgrade-drain",
            text: renderWorkerUpgradeDrainScript(cluster, worker, o),
        },
        {
            fileName: "worker-upgrade-uncordon.sh",
            step: "upgrade-uncordon",
            text: renderWorkerUpgradeUncordonScript(cluster, worker, o),
        },
        {
            fileName: "worker-remove-drain.sh",
            step: "remove-drain",
            text: renderWorkerRemoveDrainScript(cluster, worker, o),
        },
        {
            fileName: "worker-remove-node.sh",
            step: "remove-node",
            text: renderWorkerRemoveNodeScript(cluster, worker, o),
        },
    ];
}
