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

export interface ReplaceRule {
    /** Inputs (top-level or dotted nested paths) whose change replaces the resource. */
    readonly replace: readonly string[];
    /** Inputs that change in place. */
    readonly update: readonly string[];
}

const TAGS = ["tags", "tagsAll"];

export const REPLACE_RULES: Readonly<Record<string, ReplaceRule>> = {
    // --- aws: network
    "aws:ec2/vpc:Vpc": { replace: ["region", "cidrBlock", "instanceTenancy", "ipv4IpamPoolId", "ipv4NetmaskLength"], update: ["enableDnsHostnames", "enableDnsSupport", "assignGeneratedIpv6CidrBlock", ...TAGS] },
    "aws:ec2/internetGateway:InternetGateway": { replace: ["region"], update: ["vpcId", ...TAGS] },
    "aws:ec2/subnet:Subnet": { replace: ["region", "vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId", "outpostArn", "ipv6Native"], update: ["mapPublicIpOnLaunch", "ipv6CidrBlock", ...TAGS] },
    "aws:ec2/routeTable:RouteTable": { replace: ["region", "vpcId"], update: ["routes", "propagatingVgws", ...TAGS] },
    "aws:ec2/routeTableAssociation:RouteTableAssociation": { replace: ["region", "subnetId", "gatewayId"], update: ["routeTableId"] },
    "aws:ec2/eip:Eip": { replace: ["region", "domain", "address", "customerOwnedIpv4Pool", "networkBorderGroup", "publicIpv4Pool", "ipamPoolId"], update: ["instance", "networkInterface", "associateWithPrivateIp", ...TAGS] },
    "aws:ec2/natGateway:NatGateway": { replace: ["region", "allocationId", "subnetId", "connectivityType", "privateIp"], update: ["secondaryAllocationIds", "secondaryPrivateIpAddresses", "secondaryPrivateIpAddressCount", ...TAGS] },
    // --- aws: security
    "aws:ec2/securityGroup:SecurityGroup": { replace: ["region", "name", "namePrefix", "vpcId", "description"], update: ["ingress", "egress", "revokeRulesOnDelete", ...TAGS] },
    // The VPC rule resources modify rules in place (ModifySecurityGroupRules); only the group replaces.
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": { replace: ["region", "securityGroupId"], update: ["cidrIpv4", "cidrIpv6", "description", "fromPort", "toPort", "ipProtocol", "prefixListId", "referencedSecurityGroupId", ...TAGS] },
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": { replace: ["region", "securityGroupId"], update: ["cidrIpv4", "cidrIpv6", "description", "fromPort", "toPort", "ipProtocol", "prefixListId", "referencedSecurityGroupId", ...TAGS] },
    // --- aws: compute
    "aws:ec2/keyPair:KeyPair": { replace: ["region", "keyName", "keyNamePrefix", "publicKey"], update: [...TAGS] },
    "aws:ec2/instance:Instance": {
        replace: ["region", "ami", "availabilityZone", "subnetId", "associatePublicIpAddress", "keyName", "privateIp", "tenancy", "placementGroup", "hostId",
            "cpuOptions", "hibernation", "launchTemplate", "networkInterfaces", "securityGroups", "ipv6AddressCount", "ipv6Addresses", "ebsBlockDevices",
            "ephemeralBlockDevices", "rootBlockDevice.encrypted", "rootBlockDevice.kmsKeyId", "userDataBase64"],
        // userData changes in place (stop, modify, start) unless userDataReplaceOnChange is set.
        update: ["instanceType", "vpcSecurityGroupIds", "iamInstanceProfile", "metadataOptions", "rootBlockDevice", "userData", "userDataReplaceOnChange",
            "disableApiStop", "disableApiTermination", "monitoring", "sourceDestCheck", "volumeTags", "creditSpecification", ...TAGS],
    },
    // --- aws: load balancing
    // An NLB's subnets can be added to but not removed, and a load balancer created with security groups
    // keeps having some: both handled as replacements by the provider's CustomizeDiff (see aws.ts).
    "aws:lb/loadBalancer:LoadBalancer": { replace: ["region", "name", "namePrefix", "internal", "loadBalancerType", "customerOwnedIpv4Pool", "subnetMappings"], update: ["subnets", "securityGroups", "enableCrossZoneLoadBalancing", "enableDeletionProtection", "ipAddressType", "accessLogs", "idleTimeout", ...TAGS] },
    "aws:lb/targetGroup:TargetGroup": { replace: ["region", "name", "namePrefix", "port", "protocol", "targetType", "vpcId", "protocolVersion", "ipAddressType"], update: ["healthCheck", "preserveClientIp", "deregistrationDelay", "connectionTermination", "proxyProtocolV2", "stickiness", ...TAGS] },
    "aws:lb/listener:Listener": { replace: ["region", "loadBalancerArn"], update: ["port", "protocol", "defaultActions", "certificateArn", "sslPolicy", "alpnPolicy", ...TAGS] },
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": { replace: ["region", "targetGroupArn", "targetId", "port", "availabilityZone"], update: [] },
    // --- aws: IAM
    "aws:iam/role:Role": { replace: ["name", "namePrefix", "path"], update: ["assumeRolePolicy", "description", "maxSessionDuration", "permissionsBoundary", "forceDetachPolicies", "inlinePolicies", "managedPolicyArns", ...TAGS] },
    "aws:iam/instanceProfile:InstanceProfile": { replace: ["name", "namePrefix", "path"], update: ["role", ...TAGS] },
    "aws:iam/rolePolicy:RolePolicy": { replace: ["name", "namePrefix", "role"], update: ["policy"] },
    // --- aws: S3
    "aws:s3/bucket:Bucket": { replace: ["region", "bucket", "bucketPrefix", "objectLockEnabled"], update: ["forceDestroy", ...TAGS] },
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": { replace: ["region", "bucket"], update: ["rule"] },
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": { replace: ["region", "bucket"], update: ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets", "skipDestroy"] },
    "aws:s3/bucketVersioning:BucketVersioning": { replace: ["region", "bucket", "expectedBucketOwner"], update: ["versioningConfiguration", "mfa"] },
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": { replace: ["region", "bucket", "expectedBucketOwner"], update: ["rules"] },
    "aws:s3/bucketPolicy:BucketPolicy": { replace: ["region", "bucket"], update: ["policy"] },
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": { replace: ["region", "bucket", "expectedBucketOwner"], update: ["rules", "transitionDefaultMinimumObjectSize", "timeouts"] },
    // --- aws: KMS (registry docs aws.kms.Key / aws.kms.Alias; Terraform's aws_kms_key / aws_kms_alias: ForceNew on
    // the key's spec, usage, multi-Region and custom key store, the alias's name; policy, rotation, description and
    // the deletion window, and the alias's target, change in place)
    "aws:kms/key:Key": { replace: ["region", "customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"], update: ["bypassPolicyLockoutSafetyCheck", "deletionWindowInDays", "description", "enableKeyRotation", "isEnabled", "policy", "rotationPeriodInDays", ...TAGS] },
    "aws:kms/alias:Alias": { replace: ["region", "name", "namePrefix"], update: ["targetKeyId"] },
    // --- aws: Route 53 (https://www.pulumi.com/registry/packages/aws/api-docs/route53/record/; Terraform's
    // aws_route53_record: `name` and `zone_id` are ForceNew, the type, alias and records change in place by UPSERT;
    // a global service: no `region` argument)
    "aws:route53/record:Record": { replace: ["zoneId", "name"], update: ["type", "aliases", "records", "ttl", "allowOverwrite", "setIdentifier", "healthCheckId"] },
    // --- tls: every argument replaces
    "tls:index/privateKey:PrivateKey": { replace: ["algorithm", "rsaBits", "ecdsaCurve"], update: [] },
    "tls:index/selfSignedCert:SelfSignedCert": { replace: ["privateKeyPem", "subject", "isCaCertificate", "allowedUses", "validityPeriodHours", "earlyRenewalHours", "setSubjectKeyId", "setAuthorityKeyId", "dnsNames", "ipAddresses", "uris"], update: [] },
    "tls:index/certRequest:CertRequest": { replace: ["privateKeyPem", "subject", "dnsNames", "ipAddresses", "uris"], update: [] },
    "tls:index/locallySignedCert:LocallySignedCert": { replace: ["certRequestPem", "caPrivateKeyPem", "caCertPem", "allowedUses", "validityPeriodHours", "earlyRenewalHours", "isCaCertificate", "setSubjectKeyId"], update: [] },
    // --- random: every argument replaces
    "random:index/randomPassword:RandomPassword": { replace: ["length", "upper", "lower", "numeric", "special", "number", "minUpper", "minLower", "minNumeric", "minSpecial", "overrideSpecial", "keepers"], update: [] },
    // https://www.pulumi.com/registry/packages/random/api-docs/randombytes/ (length and keepers force a new resource)
    "random:index/randomBytes:RandomBytes": { replace: ["length", "keepers"], update: [] },
    // --- command
    "command:remote:Command": { replace: ["triggers"], update: ["connection", "create", "update", "delete", "stdin", "environment", "logging", "addPreviousOutputInEnv"] },
    // --- kubernetes
    "kubernetes:helm.sh/v3:Release": { replace: ["name", "namespace"], update: ["chart", "version", "repositoryOpts", "createNamespace", "values", "timeout", "maxHistory", "atomic", "cleanupOnFail", "skipAwait", "valueYamlFiles", "lint", "description", "compat"] },
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": { replace: ["apiVersion", "kind", "metadata.name", "metadata.namespace"], update: ["metadata", "spec"] },
    // StorageClass: the API refuses changes to parameters, provisioner, reclaimPolicy and
    // volumeBindingMode, so the provider replaces the object (https://kubernetes.io/docs/concepts/storage/storage-classes/).
    "kubernetes:storage.k8s.io/v1:StorageClass": { replace: ["apiVersion", "kind", "metadata.name", "parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"], update: ["metadata", "allowVolumeExpansion", "mountOptions", "allowedTopologies"] },
    // A server-side-apply patch of an object it does not own (https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/).
    "kubernetes:apps/v1:DeploymentPatch": { replace: ["apiVersion", "kind", "metadata.name", "metadata.namespace"], update: ["metadata", "spec"] },
};

/** The rule for a type, or a loud failure naming it. */
export function ruleFor(type: string): ReplaceRule {
    const rule = REPLACE_RULES[type];
    if (!rule) throw new Error(`stand-in provider: unknown resource type ${type}: it has no replace rules in tools/engine/providers/replaceRules.ts`);
    return rule;
}
