// What the program and the policy pack agree on, written once: the Pulumi type tokens of the
// resources and invokes the stack uses, the tag that marks a resource's role, and the API port.
// It lives in the pack because the pack ships alone (`pulumi policy publish policies/`); the
// program, the offline plan, the engine stand-ins and the tests import it from here. It imports
// nothing, so loading it costs the program nothing.
//
// A spec holds every token to the type the installed SDK class registers, and no other file
// spells a token out.

/** kube-apiserver's port: the NLB listener, its target group, every node's bind port. */
export const API_PORT = 6443;

/** The tag whose value says what a resource is to the cluster. */
export const ROLE_TAG = "k8s-ha/role";

/** Role tag values the pack reads. */
export const ROLES = {
    controlPlane: "control-plane",
    apiLoadBalancer: "api-lb",
} as const;

/** Resource type tokens (`<package>:<module>:<type>`). */
export const TYPES = {
    // EC2 and VPC
    vpc: "aws:ec2/vpc:Vpc",
    subnet: "aws:ec2/subnet:Subnet",
    internetGateway: "aws:ec2/internetGateway:InternetGateway",
    eip: "aws:ec2/eip:Eip",
    natGateway: "aws:ec2/natGateway:NatGateway",
    routeTable: "aws:ec2/routeTable:RouteTable",
    routeTableAssociation: "aws:ec2/routeTableAssociation:RouteTableAssociation",
    securityGroup: "aws:ec2/securityGroup:SecurityGroup",
    securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    securityGroupIngressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    securityGroupEgressRule: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    keyPair: "aws:ec2/keyPair:KeyPair",
    instance: "aws:ec2/instance:Instance",
    launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
    // Load balancing (aws:alb/* are the provider's aliases of the same resources)
    loadBalancer: "aws:lb/loadBalancer:LoadBalancer",
    listener: "aws:lb/listener:Listener",
    targetGroup: "aws:lb/targetGroup:TargetGroup",
    targetGroupAttachment: "aws:lb/targetGroupAttachment:TargetGroupAttachment",
    albLoadBalancer: "aws:alb/loadBalancer:LoadBalancer",
    albListener: "aws:alb/listener:Listener",
    albTargetGroup: "aws:alb/targetGroup:TargetGroup",
    albTargetGroupAttachment: "aws:alb/targetGroupAttachment:TargetGroupAttachment",
    // DNS
    route53Record: "aws:route53/record:Record",
    // IAM
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    instanceProfile: "aws:iam/instanceProfile:InstanceProfile",
    policy: "aws:iam/policy:Policy",
    rolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    policyAttachment: "aws:iam/policyAttachment:PolicyAttachment",
    // KMS and S3 (etcd backups)
    kmsKey: "aws:kms/key:Key",
    kmsAlias: "aws:kms/alias:Alias",
    bucket: "aws:s3/bucket:Bucket",
    bucketV2: "aws:s3/bucketV2:BucketV2",
    bucketVersioning: "aws:s3/bucketVersioning:BucketVersioning",
    bucketServerSideEncryption:
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    bucketPublicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    bucketOwnershipControls: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    bucketLifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    // Cluster PKI and generated secrets
    privateKey: "tls:index/privateKey:PrivateKey",
    selfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
    certRequest: "tls:index/certRequest:CertRequest",
    locallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
    randomBytes: "random:index/randomBytes:RandomBytes",
    randomPassword: "random:index/randomPassword:RandomPassword",
    randomString: "random:index/randomString:RandomString",
    // Node commands and in-cluster objects
    remoteCommand: "command:remote:Command",
    helmRelease: "kubernetes:helm.sh/v3:Release",
    storageClass: "kubernetes:storage.k8s.io/v1:StorageClass",
    deploymentPatch: "kubernetes:apps/v1:DeploymentPatch",
    prometheusRule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    // The engine's own
    stack: "pulumi:pulumi:Stack",
    kubernetesProvider: "pulumi:providers:kubernetes",
    /** The dynamic resource that refuses a later change of the API's DNS name (components/apiEndpoint.ts). */
    apiEndpointGuard: "pulumi-nodejs:dynamic:ApiEndpointGuard",
    /** The dynamic resource that refuses dropping the Secrets key in use (components/secretsKeyGuard.ts). */
    secretsKeyGuard: "pulumi-nodejs:dynamic:SecretsKeyGuard",
} as const;

/** Invoke (data source) tokens. */
export const INVOKES = {
    getAmi: "aws:ec2/getAmi:getAmi",
    getInstance: "aws:ec2/getInstance:getInstance",
    getInstances: "aws:ec2/getInstances:getInstances",
    getVpc: "aws:ec2/getVpc:getVpc",
    getNatGateway: "aws:ec2/getNatGateway:getNatGateway",
    getNatGateways: "aws:ec2/getNatGateways:getNatGateways",
    getZone: "aws:route53/getZone:getZone",
    getCallerIdentity: "aws:index/getCallerIdentity:getCallerIdentity",
    getPartition: "aws:index/getPartition:getPartition",
    getRegion: "aws:index/getRegion:getRegion",
} as const;

export type TypeToken = (typeof TYPES)[keyof typeof TYPES];
