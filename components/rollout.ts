// Safe node replacement and one-at-a-time instance changes, as resource options on the node
// instances. NodePool builds the instances; this module adds, through a transformation on the
// pool, what makes changing them safe:
//
// 1. Every node instance is replaced delete-before-create. A node's name is its identity in the
//    cluster (Node object, etcd member name, certificate CN), and kubeadm refuses to join a node
//    while a Ready Node of the same name exists ("a Node with name ... already exists"), so a true
//    create-before-delete is impossible with stable names: the old node must leave first. Its
//    `<node>-reset` hook (components/bootstrap.ts) is replaced together with the instance
//    (`replaceWith`), so Pulumi runs the reset script against the OLD instance before deleting it:
//    quorum check (refuses when removing the member would break etcd quorum), drain, `kubeadm
//    reset` (removes the etcd member), delete the Node. Then the new instance is created, prepared
//    and joins under the same name.
// 2. `nodeReplaceTriggers[<node>]` becomes the instance's `replacementTrigger`: setting or changing
//    the value replaces exactly that node. A node without an entry carries UNSET_REPLACE_TRIGGER,
//    never no trigger: the engine compares triggers only when both the old and the new one are set
//    (a missing old trigger means "no trigger"), so without it the FIRST value set for a node would
//    replace nothing (proved by tests/engine/lifecycle.spec.ts against the real CLI). Removing an
//    entry later is a change too, and replaces the node: leave old entries in place.
// 3. Control plane i+1's instance depends on control plane i's rollout gate, a command that (only
//    when node i's instance changed: type changed in place, or replaced) waits until node i is
//    joined, its etcd member healthy and its apiserver ready. So when several control-plane
//    instances change in one `pulumi up` (controlPlaneInstanceType, or several triggers), they
//    change one after another, each only after the previous one is back. At creation the gates do
//    nothing (no create command), so instances still come up almost in parallel.
//
// What `pulumi up` does when node cp-1's trigger changes (3 control planes, all healthy):
//   delete cp-1-reset   -> reset script on the old cp-1: 3/3 healthy, 2/2 after: allowed; drain,
//                          kubeadm reset (etcd member removed), Node deleted
//   delete old cp-1 target attachment, delete old cp-1 instance
//   create new cp-1 instance (new private IP), new cp-1 etcd/apiserver certificates
//   update cp-1-prepare, -place-pki, -join on the new instance (join as the third member)
//   create cp-1-reset (nothing runs), update cp-1-rollout-gate (waits until cp-1 is back)
//   only then may cp-2's instance change.
// Prerequisites: unprotect the instance first when `protect` is on (Pulumi never deletes a
// protected resource); a Pulumi CLI that supports `replaceWith` (Dec 2025 or newer).
import * as pulumi from "@pulumi/pulumi";
import { TYPES } from "../policies/lib/contract";

const INSTANCE = TYPES.instance;

/** The replacement trigger of a node that has no nodeReplaceTriggers entry. */
export const UNSET_REPLACE_TRIGGER = "(unset)";

/**
 * The instance tag that records the trigger an instance was created (or last updated) under, so that
 * the program can tell a node being replaced from one that stays (components/nodePool.ts, its image).
 */
export const REPLACE_TRIGGER_TAG = "k8s-ha/replace-trigger";

/** A node's replacement trigger: its nodeReplaceTriggers entry, or UNSET_REPLACE_TRIGGER. */
export function replaceTriggerOf(triggers: Readonly<Record<string, string>>, node: string): string {
    return triggers[node] ?? UNSET_REPLACE_TRIGGER;
}

interface Deferred<T> {
    readonly promise: Promise<T>;
    resolve(value: T): void;
    reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
    });
    // A rejection is reported through the resource that waits on it; never as an unhandled one.
    promise.catch(() => undefined);
    return { promise, resolve, reject };
}

export interface RolloutArgs {
    /** Control-plane node names in order (node i's instance waits for node i-1's gate). */
    controlPlanes: readonly string[];
    /** Node name -> replace trigger (any node, control plane or worker). */
    replaceTriggers: Readonly<Record<string, string>>;
}

/** The options above, as a transformation for the node pools, and the gates to bind later. */
export class Rollout {
    private readonly gates: Deferred<pulumi.Resource>[];
    private bound = false;

    constructor(private readonly args: RolloutArgs) {
        this.gates = args.controlPlanes.map(() => deferred<pulumi.Resource>());
    }

    /** For `transformations` of a NodePool: options of every node instance (see the file header). */
    readonly transformation: pulumi.ResourceTransformation = (t) => {
        if (t.type !== INSTANCE) return undefined;
        const extra: pulumi.CustomResourceOptions = { deleteBeforeReplace: true };
        extra.replacementTrigger = replaceTriggerOf(this.args.replaceTriggers, t.name);
        const i = this.args.controlPlanes.indexOf(t.name);
        const opts: pulumi.CustomResourceOptions = { ...(t.opts as pulumi.CustomResourceOptions), ...extra };
        if (i > 0) opts.dependsOn = [...existingDependsOn(t.opts.dependsOn), this.gates[i - 1].promise];
        return { props: t.props, opts };
    };

    /** The gate of each control plane, in order; called once the bootstrap has made them. */
    bind(gates: readonly pulumi.Resource[]): void {
        if (this.bound) throw new Error("rollout gates are already bound");
        if (gates.length !== this.gates.length)
            throw new Error(`expected ${this.gates.length} rollout gates, got ${gates.length}`);
        this.bound = true;
        gates.forEach((g, i) => this.gates[i].resolve(g));
    }

    /** Fails every instance waiting for a gate (the program failed before binding them). */
    abandon(err: unknown): void {
        if (this.bound) return;
        this.bound = true;
        this.gates.forEach((g) => g.reject(err));
    }
}

function existingDependsOn(d: pulumi.ResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
    if (d === undefined) return [];
    if (Array.isArray(d)) return d;
    if (pulumi.Resource.isInstance(d)) return [d];
    throw new Error("rollout: an instance's dependsOn must be a list of resources to add the rollout gate to it");
}
