// The ONE table of replace rules the stand-in providers apply: for every resource type the stack
// uses, which input properties force a replacement (Terraform's ForceNew / RequiresReplace, which
// the bridged Pulumi providers turn into replacements) and which update in place. Every input the
// program sets must be in one of the two lists: an input the table does not know fails the diff
// loudly (tests/engine/replaceRules.spec.ts checks the table against the program's inputs).
//
// Sources (the providers' documentation of each argument; "Changing this forces a new resource"):
//   aws 7.x   https://www.pulumi.com/registry/packages/aws/api-docs/  (Terraform AWS provider v6:
//             https://registry.terraform.io/providers/hashicorp/aws/latest/docs). In v7 every
//             resource also takes `region`, which forces a new resource.
//   tls 5.x   https://www.pulumi.com/registry/packages/tls/api-docs/ (every argument RequiresReplace)
//   random 4.x https://www.pulumi.com/registry/packages/random/api-docs/ (every argument RequiresReplace)
//   command 1.x https://www.pulumi.com/registry/packages/command/api-docs/remote/command/
//             (`triggers` replaces; everything else is an update, which runs `update`, else `create`)
//   kubernetes 4.x https://www.pulumi.com/registry/packages/kubernetes/api-docs/helm/v3/release/
// A dotted path ("rootBlockDevice.encrypted") is a nested argument; its parent is then listed
// under `update` for the rest of its fields.
import { TYPES } from "../../../policies/lib/contract";

export interface ReplaceRule {
    /** Inputs (top-level or dotted nested paths) whose change replaces the resource. */
    readonly replace: readonly string[];
    /** Inputs that change in place. */
    readonly update: readonly string[];
}

const TAGS = ["tags", "tagsAll"];

export const REPLACE_RULES: Readonly<Record<string, ReplaceRule>> = {
    // --- aws: network
    [TYPES.vpc]: {
        replace: ["region", "cidrBlock", "instanceTenancy", "ipv4IpamPoolId", "ipv4NetmaskLength"],
        update: ["enableDnsHostnames", "enableDnsSupport", "assignGeneratedIpv6CidrBlock", ...TAGS],
    },
    [TYPES.internetGateway]: { replace: ["region"], update: ["vpcId", ...TAGS] },
    [TYPES.subnet]: {
        replace: ["region", "vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId", "outpostArn", "ipv6Native"],
        update: ["mapPublicIpOnLaunch", "ipv6CidrBlock", ...TAGS],
    },
    [TYPES.routeTable]: { replace: ["region", "vpcId"], update: ["routes", "propagatingVgws", ...TAGS] },
    [TYPES.routeTableAssociation]: { replace: ["region", "subnetId", "gatewayId"], update: ["routeTableId"] },
    [TYPES.eip]: {
        replace: [
            "region",
            "domain",
            "address",
            "customerOwnedIpv4Pool",
            "networkBorderGroup",
            "publicIpv4Pool",
            "ipamPoolId",
        ],
        update: ["instance", "networkInterface", "associateWithPrivateIp", ...TAGS],
    },
    [TYPES.natGateway]: {
        replace: ["region", "allocationId", "subnetId", "connectivityType", "privateIp"],
        update: ["secondaryAllocationIds", "secondaryPrivateIpAddresses", "secondaryPrivateIpAddressCount", ...TAGS],
    },
    // --- aws: security
    [TYPES.securityGroup]: {
        replace: ["region", "name", "namePrefix", "vpcId", "description"],
        update: ["ingress", "egress", "revokeRulesOnDelete", ...TAGS],
    },
    // The VPC rule resources modify rules in place (ModifySecurityGroupRules); only the group replaces.
    [TYPES.securityGroupIngressRule]: {
        replace: ["region", "securityGroupId"],
        update: [
            "cidrIpv4",
            "cidrIpv6",
            "description",
            "fromPort",
            "toPort",
            "ipProtocol",
            "prefixListId",
            "referencedSecurityGroupId",
            ...TAGS,
        ],
    },
    [TYPES.securityGroupEgressRule]: {
        replace: ["region", "securityGroupId"],
        update: [
            "cidrIpv4",
            "cidrIpv6",
            "description",
            "fromPort",
            "toPort",
            "ipProtocol",
            "prefixListId",
            "referencedSecurityGroupId",
            ...TAGS,
        ],
    },
    // --- aws: compute
    [TYPES.keyPair]: { replace: ["region", "keyName", "keyNamePrefix", "publicKey"], update: [...TAGS] },
    [TYPES.instance]: {
        replace: [
            "region",
            "ami",
            "availabilityZone",
            "subnetId",
            "associatePublicIpAddress",
            "keyName",
            "privateIp",
            "tenancy",
            "placementGroup",
            "hostId",
            "cpuOptions",
            "hibernation",
            "launchTemplate",
            "networkInterfaces",
            "securityGroups",
            "ipv6AddressCount",
            "ipv6Addresses",
            "ebsBlockDevices",
            "ephemeralBlockDevices",
            "rootBlockDevice.encrypted",
            "rootBlockDevice.kmsKeyId",
            "userDataBase64",
        ],
        // userData changes in place (stop, modify, start) unless userDataReplaceOnChange is set.
        update: [
            "instanceType",
            "vpcSecurityGroupIds",
            "iamInstanceProfile",
            "metadataOptions",
            "rootBlockDevice",
            "userData",
            "userDataReplaceOnChange",
            "disableApiStop",
            "disableApiTermination",
            "monitoring",
            "sourceDestCheck",
            "volumeTags",
            "creditSpecification",
            ...TAGS,
        ],
    },
    // --- aws: load balancing
    // An NLB's subnets can be added to but not removed, and a load balancer created with security groups
    // keeps having some: both handled as replacements by the provider's CustomizeDiff (see aws.ts).
    [TYPES.loadBalancer]: {
        replace: [
            "region",
            "name",
            "namePrefix",
            "internal",
            "loadBalancerType",
            "customerOwnedIpv4Pool",
            "subnetMappings",
        ],
        update: [
            "subnets",
            "securityGroups",
            "enableCrossZoneLoadBalancing",
            "enableDeletionProtection",
            "ipAddressType",
            "accessLogs",
            "idleTimeout",
            ...TAGS,
        ],
    },
    [TYPES.targetGroup]: {
        replace: [
            "region",
            "name",
            "namePrefix",
            "port",
            "protocol",
            "targetType",
            "vpcId",
            "protocolVersion",
            "ipAddressType",
        ],
        update: [
            "healthCheck",
            "preserveClientIp",
            "deregistrationDelay",
            "connectionTermination",
            "proxyProtocolV2",
            "stickiness",
            ...TAGS,
        ],
    },
    [TYPES.listener]: {
        replace: ["region", "loadBalancerArn"],
        update: ["port", "protocol", "defaultActions", "certificateArn", "sslPolicy", "alpnPolicy", ...TAGS],
    },
    [TYPES.targetGroupAttachment]: {
        replace: ["region", "targetGroupArn", "targetId", "port", "availabilityZone"],
        update: [],
    },
    // --- aws: IAM
    [TYPES.role]: {
        replace: ["name", "namePrefix", "path"],
        update: [
            "assumeRolePolicy",
            "description",
            "maxSessionDuration",
            "permissionsBoundary",
            "forceDetachPolicies",
            "inlinePolicies",
            "managedPolicyArns",
            ...TAGS,
        ],
    },
    [TYPES.instanceProfile]: { replace: ["name", "namePrefix", "path"], update: ["role", ...TAGS] },
    [TYPES.rolePolicy]: { replace: ["name", "namePrefix", "role"], update: ["policy"] },
    // --- aws: S3
    [TYPES.bucket]: {
        replace: ["region", "bucket", "bucketPrefix", "objectLockEnabled"],
        update: ["forceDestroy", ...TAGS],
    },
    [TYPES.bucketOwnershipControls]: { replace: ["region", "bucket"], update: ["rule"] },
    [TYPES.bucketPublicAccessBlock]: {
        replace: ["region", "bucket"],
        update: ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets", "skipDestroy"],
    },
    [TYPES.bucketVersioning]: {
        replace: ["region", "bucket", "expectedBucketOwner"],
        update: ["versioningConfiguration", "mfa"],
    },
    [TYPES.bucketServerSideEncryption]: { replace: ["region", "bucket", "expectedBucketOwner"], update: ["rules"] },
    [TYPES.bucketPolicy]: { replace: ["region", "bucket"], update: ["policy"] },
    [TYPES.bucketLifecycle]: {
        replace: ["region", "bucket", "expectedBucketOwner"],
        update: ["rules", "transitionDefaultMinimumObjectSize", "timeouts"],
    },
    // --- aws: KMS (registry docs aws.kms.Key / aws.kms.Alias; Terraform's aws_kms_key / aws_kms_alias: ForceNew on
    // the key's spec, usage, multi-Region and custom key store, the alias's name; policy, rotation, description and
    // the deletion window, and the alias's target, change in place)
    [TYPES.kmsKey]: {
        replace: ["region", "customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"],
        update: [
            "bypassPolicyLockoutSafetyCheck",
            "deletionWindowInDays",
            "description",
            "enableKeyRotation",
            "isEnabled",
            "policy",
            "rotationPeriodInDays",
            ...TAGS,
        ],
    },
    [TYPES.kmsAlias]: { replace: ["region", "name", "namePrefix"], update: ["targetKeyId"] },
    // --- aws: Route 53 (https://www.pulumi.com/registry/packages/aws/api-docs/route53/record/; Terraform's
    // aws_route53_record: `name` and `zone_id` are ForceNew, the type, alias and records change in place by UPSERT;
    // a global service: no `region` argument)
    [TYPES.route53Record]: {
        replace: ["zoneId", "name"],
        update: ["type", "aliases", "records", "ttl", "allowOverwrite", "setIdentifier", "healthCheckId"],
    },
    // --- tls: every argument replaces
    [TYPES.privateKey]: { replace: ["algorithm", "rsaBits", "ecdsaCurve"], update: [] },
    [TYPES.selfSignedCert]: {
        replace: [
            "privateKeyPem",
            "subject",
            "isCaCertificate",
            "allowedUses",
            "validityPeriodHours",
            "earlyRenewalHours",
            "setSubjectKeyId",
            "setAuthorityKeyId",
            "dnsNames",
            "ipAddresses",
            "uris",
        ],
        update: [],
    },
    [TYPES.certRequest]: { replace: ["privateKeyPem", "subject", "dnsNames", "ipAddresses", "uris"], update: [] },
    [TYPES.locallySignedCert]: {
        replace: [
            "certRequestPem",
            "caPrivateKeyPem",
            "caCertPem",
            "allowedUses",
            "validityPeriodHours",
            "earlyRenewalHours",
            "isCaCertificate",
            "setSubjectKeyId",
        ],
        update: [],
    },
    // --- random: every argument replaces
    [TYPES.randomPassword]: {
        replace: [
            "length",
            "upper",
            "lower",
            "numeric",
            "special",
            "number",
            "minUpper",
            "minLower",
            "minNumeric",
            "minSpecial",
            "overrideSpecial",
            "keepers",
        ],
        update: [],
    },
    // https://www.pulumi.com/registry/packages/random/api-docs/randombytes/ (length and keepers force a new resource)
    [TYPES.randomBytes]: { replace: ["length", "keepers"], update: [] },
    // --- command
    [TYPES.remoteCommand]: {
        replace: ["triggers"],
        update: [
            "connection",
            "create",
            "update",
            "delete",
            "stdin",
            "environment",
            "logging",
            "addPreviousOutputInEnv",
        ],
    },
    // --- kubernetes
    [TYPES.helmRelease]: {
        replace: ["name", "namespace"],
        update: [
            "chart",
            "version",
            "repositoryOpts",
            "createNamespace",
            "values",
            "timeout",
            "maxHistory",
            "atomic",
            "cleanupOnFail",
            "skipAwait",
            "valueYamlFiles",
            "lint",
            "description",
            "compat",
        ],
    },
    [TYPES.prometheusRule]: {
        replace: ["apiVersion", "kind", "metadata.name", "metadata.namespace"],
        update: ["metadata", "spec"],
    },
    // StorageClass: the API refuses changes to parameters, provisioner, reclaimPolicy and
    // volumeBindingMode, so the provider replaces the object (https://kubernetes.io/docs/concepts/storage/storage-classes/).
    [TYPES.storageClass]: {
        replace: [
            "apiVersion",
            "kind",
            "metadata.name",
            "parameters",
            "provisioner",
            "reclaimPolicy",
            "volumeBindingMode",
        ],
        update: ["metadata", "allowVolumeExpansion", "mountOptions", "allowedTopologies"],
    },
    // A server-side-apply patch of an object it does not own (https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/).
    [TYPES.deploymentPatch]: {
        replace: ["apiVersion", "kind", "metadata.name", "metadata.namespace"],
        update: ["metadata", "spec"],
    },
};

/** The rule for a type, or a loud failure naming it. */
export function ruleFor(type: string): ReplaceRule {
    const rule = REPLACE_RULES[type];
    if (!rule)
        throw new Error(
            `stand-in provider: unknown resource type ${type}: it has no replace rules in tools/engine/providers/replaceRules.ts`,
        );
    return rule;
}
