// Stand-in kubernetes provider (pulumi-resource-kubernetes) for the engine lane: there is no API
// server to talk to here and chart repositories are unreachable. It installs nothing; it records
// the objects it was asked for in <cloud dir>/kubernetes.json and answers with what the real
// provider returns for them (a deployed Helm release's status), and journals every create, update
// and delete in <cloud dir>/kubernetes-journal.jsonl. Provider configuration follows
// the real provider: a change of the kubeconfig's active cluster replaces the provider (and
// with it every object it manages); other changes update it.
import { parse } from "yaml";
import { hex } from "../../harness/cloud";
import { JsonStore, cloudJournal, containsUnknown, nameOfUrn, plain, serve, type Props } from "./serve";
import { TYPES } from "../../../policies/lib/contract";

const journal = cloudJournal("kubernetes-journal.jsonl");

/** Objects without a namespace: their id is their name. */
const CLUSTER_SCOPED = new Set<string>([TYPES.storageClass]);

const store = new JsonStore<{ objects: Record<string, { type: string; urn: string; inputs: Props }> }>(
    "kubernetes.json",
    { objects: {} },
);

function activeCluster(kubeconfig: unknown): unknown {
    if (typeof kubeconfig !== "string" || kubeconfig === "") return undefined;
    try {
        const k = parse(kubeconfig) as {
            "current-context"?: string;
            contexts?: { name: string; context: { cluster: string } }[];
            clusters?: { name: string; cluster: unknown }[];
        };
        const ctx = k.contexts?.find((c) => c.name === k["current-context"]) ?? k.contexts?.[0];
        return k.clusters?.find((c) => c.name === ctx?.context.cluster)?.cluster;
    } catch {
        return kubeconfig;
    }
}

function status(type: string, urn: string, inputs: Props): Props {
    const i = plain(inputs) as Props;
    if (type === TYPES.helmRelease) {
        return {
            status: {
                name: i.name ?? nameOfUrn(urn),
                namespace: i.namespace ?? "default",
                chart: i.chart,
                version: i.version,
                status: "deployed",
                revision: 1,
                appVersion: i.version,
            },
        };
    }
    return {};
}

serve({
    name: "kubernetes",
    types: [TYPES.helmRelease, TYPES.prometheusRule, TYPES.storageClass, TYPES.deploymentPatch],
    configReplaces(olds, news) {
        if (containsUnknown(news.kubeconfig)) return [];
        const before = activeCluster(plain(olds.kubeconfig));
        const after = activeCluster(plain(news.kubeconfig));
        return before !== undefined && JSON.stringify(before) !== JSON.stringify(after) ? ["kubeconfig"] : [];
    },
    async create(type, urn, inputs) {
        const name = plain(inputs.metadata)?.name ?? `${nameOfUrn(urn)}-${hex(urn, 8)}`;
        const id =
            type === TYPES.helmRelease
                ? `${plain(inputs.namespace) ?? "default"}/${plain(inputs.name) ?? nameOfUrn(urn)}`
                : CLUSTER_SCOPED.has(type)
                  ? name
                  : `${plain(inputs.metadata)?.namespace ?? "default"}/${name}`;
        store.data.objects[id] = { type, urn, inputs };
        store.save();
        journal("create", type, urn, id);
        return { id, outs: { ...inputs, ...status(type, urn, inputs) } };
    },
    async update(type, id, urn, _olds, news) {
        store.data.objects[id] = { type, urn, inputs: news };
        store.save();
        journal("update", type, urn, id);
        return { ...news, ...status(type, urn, news) };
    },
    async delete(type, id, urn) {
        delete store.data.objects[id];
        store.save();
        journal("delete", type, urn, id);
    },
});
