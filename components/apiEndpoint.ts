import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterSpec } from "./kubeadm";

/**
 * The guard's provider: creating it records the endpoint's DNS name ("" for none); a later run
 * with another value fails in its diff, so `pulumi preview` and `pulumi up` refuse before any
 * step runs. Serialized into the state by Pulumi's dynamic provider: it must use nothing from
 * outside its own functions.
 */
export const apiEndpointGuardProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { apiDnsName: string }) {
        return { id: "api-endpoint", outs: { apiDnsName: inputs.apiDnsName } };
    },
    async diff(_id: string, olds: { apiDnsName?: string }, news: { apiDnsName: string }) {
        const was = olds.apiDnsName ?? "";
        if (was === news.apiDnsName) return { changes: false };
        const shown = (v: string) => (v === "" ? '"" (none: the load balancer\'s own name)' : JSON.stringify(v));
        throw new Error(
            `apiDnsName: ${shown(news.apiDnsName)} is not allowed; expected ${shown(was)}, the value this cluster was created with. ` +
                "The API's name is set when the cluster is created and never changes: it is kubeadm's controlPlaneEndpoint, which also " +
                "lives in the kubeadm-config and cluster-info ConfigMaps and in every node's kubeconfigs, so changing, adding or removing it " +
                "would leave the cluster half on each name. Set apiDnsName and apiDnsZoneId back; for one more name on the certificate, use " +
                'apiExtraSans and a record of your own (README, "A DNS name for the API").',
        );
    },
};

/** Holds the API's DNS name from the cluster's creation on and refuses any change (apiEndpointGuardProvider). */
class ApiEndpointGuard extends pulumi.dynamic.Resource {
    constructor(name: string, apiDnsName: string, opts: pulumi.CustomResourceOptions) {
        super(apiEndpointGuardProvider, name, { apiDnsName }, opts, undefined, "ApiEndpointGuard");
    }
}

export interface ApiEndpointArgs {
    /** Cluster name: prefixes the resources' names. */
    clusterName: string;
    /** Route 53 hosted zone of `dnsName`; "" with `dnsName` "": no record. */
    dnsZoneId: string;
    /** The API's DNS name, or "" for the load balancer's own name. */
    dnsName: string;
    /** The API load balancer: the record's alias target. */
    loadBalancer: { readonly dnsName: pulumi.Output<string>; readonly zoneId: pulumi.Output<string> };
    /** Pulumi protection of the record: without it the cluster's endpoint does not resolve. */
    protect: boolean;
}

/** ClusterSpec as the PKI and the bootstrap take it: the endpoint's names are known only once the cloud answers. */
export type ClusterSpecInput = Omit<ClusterSpec, "apiEndpointHost" | "extraSans"> & {
    /** controlPlaneEndpoint's host (ApiEndpoint.host). */
    apiEndpointHost: pulumi.Input<string>;
    /** The apiserver certificate's extra SANs (apiExtraSans and ApiEndpoint.extraSans). */
    extraSans: pulumi.Input<readonly string[]>;
};

/** The plain ClusterSpec, once the endpoint's names are known (carrying their dependencies). */
export function resolveClusterSpec(c: ClusterSpecInput): pulumi.Output<ClusterSpec> {
    return pulumi
        .all([c.apiEndpointHost, c.extraSans])
        .apply(([host, sans]): ClusterSpec => ({ ...c, apiEndpointHost: host, extraSans: [...sans] }));
}

/** The endpoint host and the extra SANs that follow from the configuration (pure). */
export function endpointNames(dnsName: string, loadBalancerDnsName: string): { host: string; extraSans: string[] } {
    // With a DNS name the load balancer's own name stays on the certificate: an operator can still
    // reach the API through it while the record is broken.
    return dnsName === ""
        ? { host: loadBalancerDnsName, extraSans: [] }
        : { host: dnsName, extraSans: [loadBalancerDnsName] };
}

/**
 * The API's name: the load balancer's, or a Route 53 alias record to it (`apiDnsZoneId`,
 * `apiDnsName`), guarded so that it never changes after the cluster's creation. `host` carries the
 * guard and the record as dependencies: every resource rendered from it (certificates, kubeconfigs,
 * every bootstrap command) waits for both, so nothing dials the name before it resolves and nothing
 * changes when the guard refuses.
 */
export class ApiEndpoint extends pulumi.ComponentResource {
    /** controlPlaneEndpoint's host and every kubeconfig's server host. */
    readonly host: pulumi.Output<string>;
    /** Names the apiserver certificate carries besides the host (the load balancer's, with a DNS name). */
    readonly extraSans: pulumi.Output<string[]>;
    /** The alias record, with a DNS name. */
    readonly record?: aws.route53.Record;

    constructor(name: string, args: ApiEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:loadbalancer:ApiEndpoint", name, {}, opts);
        const c = args.clusterName;
        const guard = new ApiEndpointGuard(`${c}-api-endpoint`, args.dnsName, { parent: this });
        if (args.dnsName !== "") {
            this.record = new aws.route53.Record(
                `${c}-api`,
                {
                    zoneId: args.dnsZoneId,
                    name: args.dnsName,
                    type: "A",
                    // Health-aware: Route 53 answers with the load balancer's healthy nodes' addresses only.
                    aliases: [
                        {
                            name: args.loadBalancer.dnsName,
                            zoneId: args.loadBalancer.zoneId,
                            evaluateTargetHealth: true,
                        },
                    ],
                },
                { parent: this, dependsOn: [guard], protect: args.protect },
            );
        }
        const names = pulumi
            .all([args.loadBalancer.dnsName, guard.id, this.record?.id ?? ""])
            .apply(([lb]) => endpointNames(args.dnsName, lb));
        this.host = names.apply((n) => n.host);
        this.extraSans = names.apply((n) => n.extraSans);
        this.registerOutputs({ host: this.host });
    }
}
