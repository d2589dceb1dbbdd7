// Renders a stack as `npm run plan -- --render` does (update mode, real cryptography) into a
// fresh temporary directory, optionally with the nodes' private addresses fixed (the lab puts
// control planes on loopback addresses, so that their certificates carry the addresses the
// processes really listen on).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { plan } from "../../tools/plan";
import { renderNodes, type RenderedNode } from "../../tools/plan/render";
import type { MockOptions } from "../../tools/harness/mocks";
import { scratchDir } from "../scratch";

export interface Render {
    readonly dir: string;
    readonly nodes: RenderedNode[];
    readonly mandatoryViolations: string[];
    /** A node's directory. */
    node(name: string): string;
    /** The kubeadm configuration files a node received, by file name. */
    kubeadmConfigs(name: string): string[];
    /** The load balancer's DNS name (controlPlaneEndpoint's host). */
    readonly apiHost: string;
}

export async function renderStack(
    stack: string,
    config: Record<string, unknown> = {},
    privateIps?: Record<string, string>,
    /** The tls state to keep (default: this process's) and the types to issue anew, as `plan --render --state`. */
    tls?: MockOptions["tls"],
): Promise<Render> {
    const result = await plan(stack, config, {
        preview: false,
        mocks: privateIps || tls ? { privateIps, tls } : undefined,
    });
    if (result.run.error) throw result.run.error;
    const dir = scratchDir(`k8s-ha-render-${stack}-`);
    const { nodes } = renderNodes(result.run, dir);
    const node = (name: string) => join(dir, name);
    const cp0 = nodes.find((n) => n.role === "control-plane")!;
    const init = readFileSync(join(node(cp0.name), "kubeadm", "init.yaml"), "utf8");
    const apiHost = /^controlPlaneEndpoint: (.+):6443$/m.exec(init)?.[1];
    if (!apiHost) throw new Error("the init configuration has no controlPlaneEndpoint on port 6443");
    return {
        dir,
        nodes,
        mandatoryViolations: result.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy),
        node,
        kubeadmConfigs: (name) => readdirSync(join(node(name), "kubeadm")).map((f) => join(node(name), "kubeadm", f)),
        apiHost,
    };
}
