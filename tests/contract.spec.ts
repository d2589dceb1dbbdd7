// The program and the pack share one module of facts (policies/lib/contract.ts). These specs hold
// it to the installed SDKs and keep it the only place a type token is spelled out.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { INVOKES, TYPES } from "../policies/lib/contract";

const ROOT = join(__dirname, "..");

/**
 * The SDK file that defines each token's class (read, not loaded: loading the AWS SDK's modules
 * costs seconds); the tokens without one are the engine's own types.
 */
const SDK_FILES: Partial<Record<keyof typeof TYPES, string>> = {
    vpc: "aws/ec2/vpc.js",
    subnet: "aws/ec2/subnet.js",
    internetGateway: "aws/ec2/internetGateway.js",
    eip: "aws/ec2/eip.js",
    natGateway: "aws/ec2/natGateway.js",
    routeTable: "aws/ec2/routeTable.js",
    routeTableAssociation: "aws/ec2/routeTableAssociation.js",
    securityGroup: "aws/ec2/securityGroup.js",
    securityGroupRule: "aws/ec2/securityGroupRule.js",
    securityGroupIngressRule: "aws/vpc/securityGroupIngressRule.js",
    securityGroupEgressRule: "aws/vpc/securityGroupEgressRule.js",
    keyPair: "aws/ec2/keyPair.js",
    instance: "aws/ec2/instance.js",
    launchTemplate: "aws/ec2/launchTemplate.js",
    loadBalancer: "aws/lb/loadBalancer.js",
    listener: "aws/lb/listener.js",
    targetGroup: "aws/lb/targetGroup.js",
    targetGroupAttachment: "aws/lb/targetGroupAttachment.js",
    albLoadBalancer: "aws/alb/loadBalancer.js",
    albListener: "aws/alb/listener.js",
    albTargetGroup: "aws/alb/targetGroup.js",
    albTargetGroupAttachment: "aws/alb/targetGroupAttachment.js",
    route53Record: "aws/route53/record.js",
    role: "aws/iam/role.js",
    rolePolicy: "aws/iam/rolePolicy.js",
    instanceProfile: "aws/iam/instanceProfile.js",
    policy: "aws/iam/policy.js",
    rolePolicyAttachment: "aws/iam/rolePolicyAttachment.js",
    policyAttachment: "aws/iam/policyAttachment.js",
    kmsKey: "aws/kms/key.js",
    kmsAlias: "aws/kms/alias.js",
    bucket: "aws/s3/bucket.js",
    bucketV2: "aws/s3/bucketV2.js",
    bucketVersioning: "aws/s3/bucketVersioning.js",
    bucketServerSideEncryption: "aws/s3/bucketServerSideEncryptionConfiguration.js",
    bucketPublicAccessBlock: "aws/s3/bucketPublicAccessBlock.js",
    bucketOwnershipControls: "aws/s3/bucketOwnershipControls.js",
    bucketLifecycle: "aws/s3/bucketLifecycleConfiguration.js",
    bucketPolicy: "aws/s3/bucketPolicy.js",
    privateKey: "tls/privateKey.js",
    selfSignedCert: "tls/selfSignedCert.js",
    certRequest: "tls/certRequest.js",
    locallySignedCert: "tls/locallySignedCert.js",
    randomBytes: "random/randomBytes.js",
    randomPassword: "random/randomPassword.js",
    randomString: "random/randomString.js",
    remoteCommand: "command/remote/command.js",
    helmRelease: "kubernetes/helm/v3/release.js",
    storageClass: "kubernetes/storage/v1/storageClass.js",
    deploymentPatch: "kubernetes/apps/v1/deploymentPatch.js",
};

/** The text of a file of an installed @pulumi package ("aws/ec2/vpc.js"). */
function sdkFile(path: string): string {
    const [pkg, ...rest] = path.split("/");
    return readFileSync(join(require.resolve(`@pulumi/${pkg}/package.json`), "..", ...rest), "utf8");
}

describe("contract: the facts the program and the pack share", () => {
    it("every resource token is the type its SDK class registers", () => {
        for (const [key, file] of Object.entries(SDK_FILES)) {
            const registered = /__pulumiType = '([^']+)'/.exec(sdkFile(file))?.[1];
            assert.equal(TYPES[key as keyof typeof TYPES], registered, `TYPES.${key} (${file})`);
        }
    });

    it("every token without an SDK class is one the program registers (the dev stack's resource graph)", () => {
        const graph = readFileSync(join(ROOT, "tests/golden/graph/dev.json"), "utf8");
        const rest = Object.entries(TYPES).filter(([key]) => !SDK_FILES[key as keyof typeof TYPES]);
        // The mock runtime registers no Stack (the engine lane's specs find it by this token), and
        // the alert rule, a CustomResource, is off in dev (tests/day2/addons.spec.ts finds it by
        // this token with alerts on).
        assert.deepEqual(rest.map(([key]) => key).sort(), [
            "apiEndpointGuard",
            "kubernetesProvider",
            "prometheusRule",
            "secretsKeyGuard",
            "stack",
        ]);
        const registered = ["apiEndpointGuard", "kubernetesProvider", "secretsKeyGuard"];
        for (const [key, token] of rest.filter(([key]) => registered.includes(key))) {
            assert.ok(graph.includes(`"${token}::`), `TYPES.${key} (${token}) is not in the dev graph`);
        }
    });

    it("every invoke token is the one its SDK function calls", () => {
        const file: Record<keyof typeof INVOKES, string> = {
            getAmi: "aws/ec2/getAmi.js",
            getInstance: "aws/ec2/getInstance.js",
            getInstances: "aws/ec2/getInstances.js",
            getVpc: "aws/ec2/getVpc.js",
            getNatGateway: "aws/ec2/getNatGateway.js",
            getNatGateways: "aws/ec2/getNatGateways.js",
            getZone: "aws/route53/getZone.js",
            getCallerIdentity: "aws/getCallerIdentity.js",
            getPartition: "aws/getPartition.js",
            getRegion: "aws/getRegion.js",
        };
        for (const [key, token] of Object.entries(INVOKES)) {
            const f = file[key as keyof typeof INVOKES];
            assert.ok(sdkFile(f).includes(`invoke("${token}"`), `INVOKES.${key}: ${f} does not invoke ${token}`);
        }
    });

    it("no other source file spells out a token", () => {
        const tokens = [...Object.values(TYPES), ...Object.values(INVOKES)];
        const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "*.ts", "*.mjs", "*.js"], {
            cwd: ROOT,
            encoding: "utf8",
        })
            .split("\n")
            .filter((f) => f && f !== "policies/lib/contract.ts" && !f.startsWith("tests/golden/"));
        const offenders: string[] = [];
        for (const f of files) {
            const text = readFileSync(join(ROOT, f), "utf8");
            for (const t of tokens) if (text.includes(t)) offenders.push(`${f}: ${t}`);
        }
        assert.deepEqual(offenders, []);
    });
});
