import * as pulumi from "@pulumi/pulumi";

/**
 * The guard's provider: it records the list of Secrets encryption key names, and a later run whose
 * list drops the one new Secrets were written with until then (the first) fails in its diff, so
 * `pulumi preview` refuses, and `pulumi up --skip-preview` stops before any key is deleted (the
 * engine deletes last) or any node receives the new list (it waits for the guard). Dropping that key in
 * one step (a typo fixed, ["key1"] → ["key2"]) would delete its random bytes and leave every Secret
 * it encrypted unreadable, Helm's release records among them. The rotation runbook never does: the
 * name it drops last was second by then. Serialized into the state by Pulumi's dynamic provider:
 * it must use nothing from outside its own functions.
 */
export const secretsKeyGuardProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { keys: string[] }) {
        return { id: "secrets-keys", outs: { keys: inputs.keys } };
    },
    async diff(_id: string, olds: { keys?: string[] }, news: { keys: string[] }) {
        const was = olds.keys ?? [];
        if (JSON.stringify(was) === JSON.stringify(news.keys)) return { changes: false };
        const writer = was[0];
        if (writer !== undefined && !news.keys.includes(writer)) {
            throw new Error(
                `secretsEncryptionKeys: ${JSON.stringify(news.keys)} is not allowed; expected a list that keeps ${JSON.stringify(writer)}, ` +
                    `the key new Secrets were written with until now (the list was ${JSON.stringify(was)}): dropping it would delete it, and ` +
                    "every Secret it encrypted could no longer be read. To retire it, follow the runbook " +
                    '"Rotate the Secrets encryption key": add the new name second, move it first, rewrite the Secrets, then drop the old name.',
            );
        }
        return { changes: true };
    },
    async update(_id: string, _olds: { keys: string[] }, news: { keys: string[] }) {
        return { outs: { keys: news.keys } };
    },
};

/** Holds the Secrets encryption key names and refuses dropping the current write key (secretsKeyGuardProvider). */
class SecretsKeyGuardResource extends pulumi.dynamic.Resource {
    constructor(name: string, keys: readonly string[], opts: pulumi.CustomResourceOptions) {
        super(secretsKeyGuardProvider, name, { keys: [...keys] }, opts, undefined, "SecretsKeyGuard");
    }
}

export interface SecretsKeyGuardArgs {
    /** Cluster name: prefixes the guard's name. */
    clusterName: string;
    /** secretsEncryptionKeys, in order: the first encrypts new writes. */
    keys: readonly string[];
}

/**
 * The guard in a component of its own: a dynamic resource registers only once its provider is
 * serialized, so among the PKI's other children its place would vary from run to run (and with
 * it the plan's text).
 */
export class SecretsKeyGuard extends pulumi.ComponentResource {
    /** What every key waits for: a refused list makes and deletes no key. */
    readonly guard: pulumi.Resource;

    constructor(name: string, args: SecretsKeyGuardArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:pki:SecretsKeyGuard", name, {}, opts);
        this.guard = new SecretsKeyGuardResource(`${args.clusterName}-secrets-keys`, args.keys, { parent: this });
        this.registerOutputs({});
    }
}
