// Pulumi mocks that answer like the real providers: in preview only inputs are known (computed
// outputs stay unknown, as in a real `pulumi preview`); in update mode every resource gets
// realistic ids, ARNs, DNS names and private addresses inside its subnet (tools/harness/cloud.ts,
// shared with the engine lane's stand-in aws provider).
import * as pulumi from "@pulumi/pulumi";
import { awsModel, memoryLedger, randomOutputs, resourceId, type CloudInstance, type PublishedImages } from "./cloud";
import type { TlsEmulatorOptions } from "./tlsEmulator";
import { unwrapSecrets } from "./values";
import { TYPES } from "../../policies/lib/contract";

type State = Record<string, unknown>;

export interface MockOptions {
    /** Preview: computed outputs stay unknown. */
    preview: boolean;
    region: string;
    /** Fixed private addresses by resource name (the system tests put control planes on loopback). */
    privateIps?: Record<string, string>;
    /** Replaces the emulation of a resource type (e.g. real cryptography for tls resources). */
    overrides?: Record<string, (args: pulumi.runtime.MockResourceArgs) => Promise<State> | State>;
    /** Images Canonical published since UBUNTU_IMAGES (tools/harness/cloud.ts). */
    images?: PublishedImages;
    /** Instances that already exist, as in a live stack (the instance lookups find them). */
    instances?: readonly CloudInstance[];
    /** Update mode: the tls resources' kept state and the types replaced in this run (tlsEmulator). */
    tls?: Pick<TlsEmulatorOptions, "state" | "replaceTypes">;
}

/** Builds the mocks; keeps what it handed out (subnet blocks, addresses) so later answers agree. */
export function realisticMocks(options: MockOptions): pulumi.runtime.Mocks {
    const cloud = awsModel({
        region: options.region,
        ledger: memoryLedger(),
        privateIps: options.privateIps,
        images: () => options.images ?? {},
        instances: () => options.instances ?? [],
    });
    // Only update mode computes certificates; preview (the offline plan) never loads the crypto.
    const defaultTls: NonNullable<MockOptions["overrides"]> = options.preview
        ? {}
        : (require("./tlsEmulator") as typeof import("./tlsEmulator")).tlsEmulator({
              keepIssued: true,
              ...options.tls,
          });

    return {
        async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string | undefined; state: State }> {
            if (!args.custom) return { id: undefined, state: args.inputs };
            // A real preview knows only the inputs; every computed output is unknown.
            if (options.preview) return { id: undefined, state: args.inputs };
            const id = resourceId(args.type, args.name);
            // tls resources get real keys and certificates: the program parses them (discovery hash).
            const override = options.overrides?.[args.type] ?? defaultTls[args.type];
            let extra: State | undefined;
            if (override) extra = await override(args);
            else {
                const inputs = unwrapSecrets(args.inputs) as State;
                extra =
                    cloud.outputs(args.type, args.name, inputs, id) ??
                    randomOutputs(args.type, args.name, inputs) ??
                    (args.type === TYPES.remoteCommand ? { stdout: "", stderr: "" } : {});
            }
            return { id, state: { ...args.inputs, ...extra } };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            return cloud.invoke(args.token, args.inputs as State);
        },
    };
}
