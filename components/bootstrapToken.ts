import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/**
 * A kubeadm bootstrap token ("[a-z0-9]{6}.[a-z0-9]{16}"), kept as a secret: both halves come from
 * RandomPassword resources named `<name>-token-id` and `<name>-token-secret`, whose result is a
 * secret (a RandomString's is not, and would leak into state). The token is only a value here: the
 * steps that use it create it in the cluster with a short lifetime.
 */
export function newBootstrapToken(name: string, parent: pulumi.Resource): pulumi.Output<string> {
    const part = (which: string, length: number) =>
        new random.RandomPassword(
            `${name}-token-${which}`,
            { length, upper: false, special: false, lower: true, numeric: true },
            { parent },
        ).result;
    return pulumi.secret(pulumi.interpolate`${part("id", 6)}.${part("secret", 16)}`);
}
