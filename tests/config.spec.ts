import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_SCHEMA, ConfigError, PROJECT, validateConfig } from "../components/config";
import { renderEtcdBackupUnits } from "../components/kubeadm";
import { runProgram } from "../tools/harness/program";
import { readProject } from "../tools/harness/stackConfig";

describe("config", () => {
    it("declares every key in Pulumi.yaml with a description, the same default and a matching type", () => {
        const project = readProject();
        assert.equal(project.name, PROJECT);
        assert.deepEqual(Object.keys(project.config).sort(), Object.keys(CONFIG_SCHEMA).sort());
        const yamlType = { string: "string", integer: "integer", boolean: "boolean", "string[]": "array", object: "object" };
        for (const [key, spec] of Object.entries(CONFIG_SCHEMA)) {
            const declared = project.config[key];
            assert.ok(declared.description && declared.description.length > 10, `${key} needs a description`);
            assert.equal(declared.type, yamlType[spec.kind], `${key} type`);
            assert.deepEqual(declared.default, spec.default, `${key} default differs between Pulumi.yaml and components/config.ts`);
        }
    });

    it("documents every key in the README's configuration table", () => {
        const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
        const missing = Object.keys(CONFIG_SCHEMA).filter((key) => !new RegExp(`^\\|[^\\n]*\`${key}\``, "m").test(readme));
        assert.deepEqual(missing, []);
    });

    it("applies the defaults when nothing is set", () => {
        // sshAllowedCidrs has no usable default (see its case below): every other key does
        const cfg = validateConfig({ sshAllowedCidrs: '["203.0.113.0/24"]' }, "us-east-1");
        for (const [key, spec] of Object.entries(CONFIG_SCHEMA)) {
            if (key !== "existingVpc" && key !== "sshAllowedCidrs") assert.deepEqual((cfg as any)[key], spec.default, key);
        }
        assert.equal(cfg.existingVpc, undefined);
    });

    it("reports every bad key at once", () => {
        try {
            validateConfig({ controlPlaneCount: "9", workerCount: "-1", natGateways: "many", sshAllowedCidrs: '["203.0.113.0/24"]' }, "us-east-1");
            assert.fail("expected a ConfigError");
        } catch (err) {
            assert.ok(err instanceof ConfigError);
            assert.deepEqual(err.problems.map((p) => p.key).sort(), ["controlPlaneCount", "natGateways", "workerCount"]);
        }
    });

    it("defect: an empty aws:region is named as such, not blamed on availabilityZones", () => {
        assert.throws(() => validateConfig({ sshAllowedCidrs: '["203.0.113.0/24"]' }, ""), (e: unknown) => {
            assert.ok(e instanceof ConfigError);
            assert.deepEqual(e.problems.map((p) => p.key), ["aws:region"]);
            assert.match(e.message, /aws:region: "" is not allowed; expected an AWS region such as us-east-1/);
            return true;
        });
    });

    it("defect: accepts a backup schedule with a time zone (systemd does), and renders it into the timer", () => {
        const cfg = validateConfig({ etcdBackupSchedule: "*-*-* 03:00:00 America/New_York", sshAllowedCidrs: '["203.0.113.0/24"]' }, "us-east-1");
        assert.equal(cfg.etcdBackupSchedule, "*-*-* 03:00:00 America/New_York");
        const units = renderEtcdBackupUnits({ name: "k8s-cp-0", privateIp: "10.0.0.10", role: "control-plane" }, cfg.etcdBackupSchedule, "s3://k8s-ha-backups-0a1b2c3/k8s/k8s-cp-0");
        assert.match(units.timer, /^OnCalendar=\*-\*-\* 03:00:00 America\/New_York$/m);
    });

    it("accepts an even count and a single zone: high availability is the policy pack's call", () => {
        assert.equal(validateConfig({ controlPlaneCount: "4", availabilityZones: '["us-east-1a"]', sshAllowedCidrs: '["203.0.113.0/24"]' }, "us-east-1").controlPlaneCount, 4);
    });

    it("accepts an existing VPC that covers every zone", () => {
        const existingVpc = { vpcId: "vpc-0abc", publicSubnets: { "us-east-1a": "subnet-01" }, privateSubnets: { "us-east-1a": "subnet-02" } };
        const cfg = validateConfig({ availabilityZones: '["us-east-1a"]', existingVpc: JSON.stringify(existingVpc), sshAllowedCidrs: '["203.0.113.0/24"]' }, "us-east-1");
        assert.deepEqual(cfg.existingVpc, existingVpc);
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
        ["duplicate zone", { availabilityZones: ["us-west-2a", "us-west-2a", "us-west-2b"] }, "availabilityZones", "(duplicate)"],
        ["zone of another region", { availabilityZones: ["us-west-2a", "eu-west-1b", "us-west-2c"] }, "availabilityZones", "zone names of region us-west-2"],
        ["zones not a list", { availabilityZones: "us-west-2a" }, "availabilityZones", "a list of strings"],
        ["seven zones", { availabilityZones: ["a", "b", "c", "d", "e", "f", "g"].map((z) => `us-west-2${z}`) }, "availabilityZones", "1 to 6"],
        ["version without patch", { kubernetesVersion: "1.35" }, "kubernetesVersion", "1.N.P"],
        ["version with v", { kubernetesVersion: "v1.35.2" }, "kubernetesVersion", "1.N.P"],
        ["minor too old", { kubernetesVersion: "1.28.4" }, "kubernetesVersion", "N from 31 to 35"],
        ["minor too new", { kubernetesVersion: "1.40.0" }, "kubernetesVersion", "N from 31 to 35"],
        ["defect: a minor that needs containerd 2.x (the nodes run Ubuntu's 1.7)", { kubernetesVersion: "1.36.0" }, "kubernetesVersion", "containerd 1.7 ends at 1.35"],
        ["malformed VPC CIDR", { vpcCidr: "10.0.0.0" }, "vpcCidr", "an IPv4 network CIDR from /16 to /20"],
        ["VPC CIDR with host bits", { vpcCidr: "10.0.0.1/16" }, "vpcCidr", "host bits are set"],
        ["VPC too small", { vpcCidr: "10.0.0.0/24" }, "vpcCidr", "/16 to /20"],
        ["octet above 255", { podCidr: "10.300.0.0/16" }, "podCidr", "an octet is above 255"],
        ["pods overlap VPC", { podCidr: "10.0.0.0/16" }, "podCidr", "does not overlap vpcCidr"],
        ["services overlap pods", { serviceCidr: "10.244.0.0/16" }, "serviceCidr", "does not overlap podCidr"],
        ["services overlap VPC", { serviceCidr: "10.0.128.0/20" }, "serviceCidr", "does not overlap vpcCidr"],
        ["service CIDR too big", { serviceCidr: "172.16.0.0/8" }, "serviceCidr", "from /12 to /24"],
        ["bad API CIDR", { apiAllowedCidrs: ["203.0.113.0/24", "everyone"] }, "apiAllowedCidrs", "a list of IPv4 network CIDRs"],
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
        ["existing VPC missing a zone", { existingVpc: { vpcId: "vpc-0abc", publicSubnets: { "us-west-2a": "subnet-01" }, privateSubnets: { "us-west-2a": "subnet-02" } } }, "existingVpc", "no subnets for us-west-2b, us-west-2c"],
        ["existing VPC bad id", { existingVpc: { vpcId: "my-vpc", publicSubnets: {}, privateSubnets: {} } }, "existingVpc", "vpcId: 'vpc-"],
        ["P-224 style algorithm", { pkiAlgorithm: "ED25519" }, "pkiAlgorithm", "'RSA' or 'ECDSA'"],
        ["bad extra SAN", { apiExtraSans: ["not a name!"] }, "apiExtraSans", "a list of DNS names or IP addresses"],
        ["unknown key (typo)", { controlPlaneCont: 3 }, "controlPlaneCont", "no such key; known keys are clusterName"],
        ["VPC CIDR with a leading zero", { vpcCidr: "010.0.0.0/16" }, "vpcCidr", "an octet has a leading zero"],
        ["VPC CIDR with a /016 prefix", { vpcCidr: "10.0.0.0/016" }, "vpcCidr", "the prefix has a leading zero"],
        ["SSH CIDR with a leading zero", { sshAllowedCidrs: ["010.0.0.0/8"] }, "sshAllowedCidrs", "an octet has a leading zero"],
        ["SSH CIDR /00", { sshAllowedCidrs: ["0.0.0.0/00"] }, "sshAllowedCidrs", "the prefix has a leading zero (write /0)"],
        ["SSH CIDR with a space", { sshAllowedCidrs: [" 203.0.113.0/24"] }, "sshAllowedCidrs", "canonical form"],
        ["SSH CIDR with host bits", { sshAllowedCidrs: ["203.0.113.7/24"] }, "sshAllowedCidrs", "host bits are set (the network address is 203.0.113.0/24)"],
        ["SSH CIDR prefix 33", { sshAllowedCidrs: ["203.0.113.7/33"] }, "sshAllowedCidrs", "the prefix is above /32"],
        ["duplicate SSH CIDR", { sshAllowedCidrs: ["203.0.113.0/24", "198.51.100.0/24", "203.0.113.0/24"] }, "sshAllowedCidrs", "entries 0 and 2 are both 203.0.113.0/24"],
        ["duplicate API CIDR", { apiAllowedCidrs: ["198.51.100.0/24", "198.51.100.0/24"] }, "apiAllowedCidrs", "entries 0 and 1 are both 198.51.100.0/24"],
        ["API CIDR repeats the VPC rule", { apiAllowedCidrs: ["10.0.0.0/16"] }, "apiAllowedCidrs", "the stack always admits the VPC to the API (rule api-lb-in-vpc)"],
        ["defect: no SSH source (the default): the bastion would admit nobody", { sshAllowedCidrs: [] }, "sshAllowedCidrs", "at least one CIDR: pulumi up reaches every node over SSH through the bastion"],
        ["version with a leading zero", { kubernetesVersion: "1.035.2" }, "kubernetesVersion", "a version 1.N.P"],
        ["patch with a leading zero", { kubernetesVersion: "1.35.02" }, "kubernetesVersion", "a version 1.N.P"],
        ["Graviton control plane with the amd64 image", { controlPlaneInstanceType: "m7g.large" }, "controlPlaneInstanceType", "an x86_64 instance type"],
        ["Graviton workers with the amd64 image", { workerInstanceType: "c7gn.xlarge" }, "workerInstanceType", "which a Graviton (arm64) type cannot boot"],
        ["Graviton bastion with the amd64 image", { bastionInstanceType: "t4g.micro" }, "bastionInstanceType", "an x86_64 instance type"],
        ["backup at hour 25", { etcdBackupSchedule: "*-*-* 25:00:00" }, "etcdBackupSchedule", "a systemd OnCalendar expression"],
        ["backup in month 13", { etcdBackupSchedule: "*-13-01 03:00" }, "etcdBackupSchedule", "a systemd OnCalendar expression"],
        ["backup on day 32", { etcdBackupSchedule: "*-*-32 03:00" }, "etcdBackupSchedule", "a systemd OnCalendar expression"],
        ["backup at minute 61", { etcdBackupSchedule: "*-*-* 03:61" }, "etcdBackupSchedule", "a systemd OnCalendar expression"],
        ["backup in an unknown time zone", { etcdBackupSchedule: "*-*-* 03:00 Mars/Olympus" }, "etcdBackupSchedule", "a systemd OnCalendar expression"],
        ["existing VPC: one subnet both public and private", { existingVpc: { vpcId: "vpc-0abc", publicSubnets: { "us-west-2a": "subnet-01", "us-west-2b": "subnet-03", "us-west-2c": "subnet-05" }, privateSubnets: { "us-west-2a": "subnet-01", "us-west-2b": "subnet-04", "us-west-2c": "subnet-06" } } }, "existingVpc", "subnet-01 is also publicSubnets.us-west-2a (privateSubnets.us-west-2a)"],
        ["existing VPC: two zones share a private subnet", { existingVpc: { vpcId: "vpc-0abc", publicSubnets: { "us-west-2a": "subnet-01", "us-west-2b": "subnet-03", "us-west-2c": "subnet-05" }, privateSubnets: { "us-west-2a": "subnet-02", "us-west-2b": "subnet-02", "us-west-2c": "subnet-06" } } }, "existingVpc", "each subnet once"],
    ];

    describe(`rejects bad values before any resource is registered (${cases.length} cases)`, () => {
        for (const [title, override, key, allowed] of cases) {
            it(title, async () => {
                const run = await runProgram({ stack: "dev", config: override });
                assert.ok(run.error instanceof ConfigError, `expected a ConfigError, got ${run.error}`);
                assert.match(run.error.message, new RegExp(`- ${key}: `), "the message names the key");
                assert.ok(run.error.message.includes(allowed), `the message says what is allowed:\n${run.error.message}`);
                assert.equal(run.resources.length, 0, "no resource may be registered");
            });
        }
    });
});
