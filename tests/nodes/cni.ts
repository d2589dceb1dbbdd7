// The lab's CNI (lab overlay, not the product: Calico stays the product's CNI and is applied by
// the add-ons, which need AWS): Debian's containernetworking-plugins, a bridge with host-local
// addresses from the pod CIDR the controller-manager gave the Node, so that the kubelet finds a
// network and reports the node Ready, and a route on every node to every other node's pod CIDR
// through that node (they share one L2 segment, lab0), so that pods reach each other.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as ipaddr from "ipaddr.js";
import { parse, stringify } from "yaml";
import { run, waitFor } from "../system/etcd/cluster";
import type { Cluster } from "./cluster";

/** The bridge plugin's conflist for a node's pod CIDR (Debian 12's plugins speak CNI 1.0.0). */
export function labCniConfig(podCidr: string): string {
    return `${JSON.stringify(
        {
            cniVersion: "1.0.0",
            name: "k8s-ha-lab",
            plugins: [
                {
                    type: "bridge",
                    bridge: "cni0",
                    isGateway: true,
                    ipMasq: true,
                    hairpinMode: true,
                    ipam: { type: "host-local", ranges: [[{ subnet: podCidr }]], routes: [{ dst: "0.0.0.0/0" }] },
                },
                { type: "portmap", capabilities: { portMappings: true } },
            ],
        },
        null,
        2,
    )}\n`;
}

/**
 * Writes the conflist for `podCidr` into a node's own /etc/cni/net.d (its directory under the
 * node's root, so it may come before the node's namespaces run anything).
 */
export function writeLabCni(nodeDir: string, podCidr: string): void {
    const netd = join(nodeDir, "root", "etc", "cni", "net.d");
    mkdirSync(netd, { recursive: true });
    writeFileSync(join(netd, "10-k8s-ha-lab.conflist"), labCniConfig(podCidr));
}

/**
 * The /24 of the pod subnet for the node at `index` (0, 1, ...), for a node that needs its network
 * before it registers, so before the controller-manager gives its Node a pod CIDR: the upgrade
 * scenario's control planes, which kubeadm upgrade apply requires Ready.
 */
export function labPodCidrAt(podSubnet: string, index: number): string {
    const [net] = ipaddr.IPv4.parseCIDR(podSubnet);
    const octets = (net as ipaddr.IPv4).octets.slice();
    octets[2] += index;
    return `${octets.join(".")}/24`;
}

/** Each Node's pod CIDR, once the controller-manager has given every node one. */
async function podCidrs(cluster: Cluster, nodes: readonly string[]): Promise<Map<string, string>> {
    return waitFor(
        "every Node's pod CIDR",
        120_000,
        async () => {
            const r = await cluster.kubectl([
                "get",
                "nodes",
                "-o",
                'jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR}{"\\n"}{end}',
            ]);
            const m = new Map(
                r.stdout
                    .split("\n")
                    .filter((l) => l.includes(" "))
                    .map((l) => l.split(" ") as [string, string]),
            );
            return nodes.every((n) => m.get(n)) ? m : undefined;
        },
        () => "",
        2_000,
    );
}

/** Writes the conflist into every node's /etc/cni/net.d and routes the pod CIDRs between nodes. */
export async function installLabCni(cluster: Cluster, nodes: readonly string[] = cluster.nodes): Promise<void> {
    const cidrs = await podCidrs(cluster, nodes);
    for (const n of nodes) {
        writeLabCni(cluster.lab.node(n).dir, cidrs.get(n)!);
        for (const other of nodes) {
            if (other === n) continue;
            const r = await run("ip", [
                "-n",
                cluster.lab.node(n).netns,
                "route",
                "replace",
                cidrs.get(other)!,
                "via",
                cluster.lab.node(other).ip,
            ]);
            if (r.code !== 0) throw new Error(`route to ${other}'s pods on ${n}: ${r.stderr}`);
        }
    }
}

/**
 * kube-proxy's conntrack sizing off (`conntrack.maxPerCore: 0`, as kind does), in the
 * kube-proxy ConfigMap kubeadm wrote: kube-proxy sets nf_conntrack_max, which only the host's
 * first network namespace may write, and a sandbox is another one ("open
 * /proc/sys/net/netfilter/nf_conntrack_max: permission denied", then it exits). An EC2 instance
 * runs it in the first namespace. The running pods are replaced to read it.
 */
export async function labKubeProxyConfig(cluster: Cluster): Promise<void> {
    const got = await cluster.kubectl(["-n", "kube-system", "get", "configmap", "kube-proxy", "-o", "json"]);
    if (got.code !== 0) throw new Error(`kubectl get configmap kube-proxy: ${got.stderr}`);
    const cm = JSON.parse(got.stdout) as { data: Record<string, string> };
    const config = parse(cm.data["config.conf"]) as { conntrack?: Record<string, unknown> };
    config.conntrack = { ...config.conntrack, maxPerCore: 0 };
    cm.data["config.conf"] = stringify(config);
    const put = await cluster.kubectl(["replace", "-f", "-"], 30_000, JSON.stringify(cm));
    if (put.code !== 0) throw new Error(`kubectl replace configmap kube-proxy: ${put.stderr}`);
    const restarted = await cluster.kubectl([
        "-n",
        "kube-system",
        "delete",
        "pods",
        "-l",
        "k8s-app=kube-proxy",
        "--wait=false",
    ]);
    if (restarted.code !== 0) throw new Error(`kubectl delete pods -l k8s-app=kube-proxy: ${restarted.stderr}`);
}
