// Stand-in AWS for the engine lane: a resource-provider plugin (pulumi-resource-aws) that keeps
// its "cloud" in a directory and answers with the same realistic ids, ARNs, addresses and DNS
// names as the mock harness (tools/harness/cloud.ts, one module for both). What it models of AWS
// itself, because the engine's outcome depends on it:
// - a replaced resource is a new cloud object: a new id, and for an instance a new private address;
// - deletes AWS refuses while something still uses the object (DependencyViolation: a subnet or
//   security group with instances in it, a VPC with subnets; a load balancer with deletion
//   protection on);
// - the provider's replace rules (replaceRules.ts) and its CustomizeDiff on NLB subnets.
// It runs nothing and reaches nothing; it is a stand-in for AWS, never for the engine.
import { awsModel, resourceId, type CloudInstance, type Ledger } from "../../harness/cloud";
import { publishedImages } from "../cloudImages";
import { JsonStore, cloudDir, cloudJournal, nameOfUrn, plain, serve, type Props } from "./serve";
import { TYPES } from "../../../policies/lib/contract";

interface CloudObject {
    type: string;
    urn: string;
    inputs: Props;
    outputs: Props;
}

interface CloudData {
    objects: Record<string, CloudObject>;
    generations: Record<string, number>;
    subnetCidrs: Record<string, string>;
    hosts: Record<string, number>;
}

/** Every create, update and delete, in order: <cloud dir>/aws-journal.jsonl. */
const journal = cloudJournal("aws-journal.jsonl");

const store = new JsonStore<CloudData>("aws.json", { objects: {}, generations: {}, subnetCidrs: {}, hosts: {} });
const data = store.data;
const ledger: Ledger = {
    subnetCidr: (id) => data.subnetCidrs[id],
    setSubnetCidr: (id, cidr) => void (data.subnetCidrs[id] = cidr),
    nextHost: (cidr) => (data.hosts[cidr] = (data.hosts[cidr] ?? 9) + 1),
};
let region = process.env.AWS_REGION ?? "";
/** The instances the lookups find: every instance this cloud holds runs (deleted ones are gone). */
function instances(): CloudInstance[] {
    return Object.entries(data.objects)
        .filter(([, o]) => o.type === TYPES.instance)
        .map(([id, o]) => {
            const i = plain(o.inputs) as Props;
            return {
                id,
                ami: String(i.ami),
                instanceType: String(i.instanceType),
                tags: (i.tags ?? {}) as Record<string, string>,
                state: "running",
            };
        });
}
const model = () => awsModel({ region, ledger, images: () => publishedImages(cloudDir()), instances });

/** Outputs keep the secret wrappers of the inputs they echo. */
function outputsOf(inputs: Props, computed: Props): Props {
    return { ...inputs, ...computed, region: inputs.region ?? region };
}

/** Who still uses an object, as AWS would report it. */
function usersOf(type: string, id: string): string[] {
    const users: string[] = [];
    for (const [otherId, o] of Object.entries(data.objects)) {
        const i = plain(o.inputs) as Props;
        const uses =
            (type === TYPES.subnet && (i.subnetId === id || (Array.isArray(i.subnets) && i.subnets.includes(id)))) ||
            (type === TYPES.securityGroup &&
                ((Array.isArray(i.vpcSecurityGroupIds) && i.vpcSecurityGroupIds.includes(id)) ||
                    (Array.isArray(i.securityGroups) && i.securityGroups.includes(id)))) ||
            (type === TYPES.vpc && i.vpcId === id && o.type !== TYPES.internetGateway);
        if (uses) users.push(`${otherId} (${nameOfUrn(o.urn)})`);
    }
    return users;
}

serve({
    name: "aws",
    types: [
        TYPES.vpc,
        TYPES.internetGateway,
        TYPES.subnet,
        TYPES.routeTable,
        TYPES.routeTableAssociation,
        TYPES.eip,
        TYPES.natGateway,
        TYPES.securityGroup,
        TYPES.securityGroupIngressRule,
        TYPES.securityGroupEgressRule,
        TYPES.keyPair,
        TYPES.instance,
        TYPES.loadBalancer,
        TYPES.targetGroup,
        TYPES.listener,
        TYPES.targetGroupAttachment,
        TYPES.role,
        TYPES.instanceProfile,
        TYPES.rolePolicy,
        TYPES.bucket,
        TYPES.bucketOwnershipControls,
        TYPES.bucketPublicAccessBlock,
        TYPES.bucketVersioning,
        TYPES.bucketServerSideEncryption,
        TYPES.bucketPolicy,
        TYPES.bucketLifecycle,
        TYPES.kmsKey,
        TYPES.kmsAlias,
        TYPES.route53Record,
    ],
    checkConfig(news) {
        const r = plain(news.region) ?? process.env.AWS_REGION;
        return typeof r === "string" && r !== ""
            ? []
            : [
                  {
                      property: "region",
                      reason: "The stand-in aws provider needs a region (aws:region), as the real one does",
                  },
              ];
    },
    configure(config) {
        region = String(plain(config.region) ?? region);
    },
    extraReplaces(type, olds, news) {
        // An NLB's subnets can be added, not removed (the provider's CustomizeDiff forces a new one).
        if (
            type === TYPES.loadBalancer &&
            Array.isArray(olds.subnets) &&
            Array.isArray(news.subnets) &&
            plain(news.loadBalancerType) === "network"
        ) {
            const after = plain(news.subnets) as unknown[];
            if ((plain(olds.subnets) as unknown[]).some((s) => !after.includes(s))) return ["subnets"];
        }
        return [];
    },
    async create(type, urn, inputs) {
        const generation = data.generations[urn] ?? 0;
        data.generations[urn] = generation + 1;
        const name = nameOfUrn(urn);
        const id = resourceId(type, name, generation);
        const computed = model().outputs(type, name, plain(inputs), id) ?? {};
        const outputs = outputsOf(inputs, computed);
        data.objects[id] = { type, urn, inputs, outputs };
        store.save();
        journal("create", type, urn, id);
        return { id, outs: outputs };
    },
    async read(type, id) {
        const o = data.objects[id];
        if (!o || o.type !== type) return { id: "" }; // gone: the engine drops it from the state
        return { id, props: o.outputs, inputs: o.inputs };
    },
    async update(type, id, urn, olds, news) {
        const o = data.objects[id];
        if (!o) throw new Error(`${type} ${id} (${nameOfUrn(urn)}) does not exist (InvalidID.NotFound)`);
        const outputs = { ...olds, ...news, region: news.region ?? olds.region ?? region };
        Object.assign(o, { inputs: news, outputs });
        store.save();
        journal("update", type, urn, id);
        return outputs;
    },
    async delete(type, id, urn) {
        const o = data.objects[id];
        if (!o) return; // already gone: AWS answers NotFound and the provider treats it as deleted
        if (type === TYPES.loadBalancer && plain(o.inputs.enableDeletionProtection) === true) {
            throw new Error(
                `deleting ${nameOfUrn(urn)}: OperationNotPermitted: Load balancer '${o.outputs.arn}' cannot be deleted because deletion protection is enabled`,
            );
        }
        const users = usersOf(type, id);
        if (users.length)
            throw new Error(
                `deleting ${type} ${id} (${nameOfUrn(urn)}): DependencyViolation: still in use by ${users.join(", ")}`,
            );
        delete data.objects[id];
        store.save();
        journal("delete", type, urn, id);
    },
    async invoke(token, args) {
        return model().invoke(token, plain(args));
    },
});
