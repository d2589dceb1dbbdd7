import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { clusterTags } from "./tags";

export interface NodeIdentityArgs {
    /** Cluster name: prefixes the role and fills the kubernetes.io/cluster tag. */
    clusterName: string;
    /** Which nodes assume the role, e.g. "control-plane" or "worker". */
    role: string;
}

/** An IAM role and instance profile for one kind of node; day-2 features attach their policies to `role`. */
export class NodeIdentity extends pulumi.ComponentResource {
    readonly role: aws.iam.Role;
    readonly instanceProfileName: pulumi.Output<string>;

    constructor(name: string, args: NodeIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-ha:iam:NodeIdentity", name, {}, opts);
        const n = `${args.clusterName}-${args.role}`;
        this.role = new aws.iam.Role(
            n,
            {
                description: `${args.role} nodes of cluster ${args.clusterName}`,
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
                    ],
                }),
                tags: clusterTags(args.clusterName, n),
            },
            { parent: this },
        );
        const profile = new aws.iam.InstanceProfile(
            n,
            { role: this.role.name, tags: clusterTags(args.clusterName, n) },
            { parent: this },
        );
        this.instanceProfileName = profile.name;
        this.registerOutputs({ roleArn: this.role.arn, instanceProfileName: this.instanceProfileName });
    }
}
