import * as assert from "assert";
import {
    controlPlaneInstanceSize,
    encryptedRootVolume,
    findSecrets,
    imdsHopLimitOne,
    imdsv2Required,
    noPublicIpControlPlane,
    noSecretsInUserData,
} from "../../policies/rules/instances";
import { instanceTypes } from "../../policies/lib/instanceTypes";
import {
    checkResource,
    CP_TAGS,
    expectClean,
    expectLevel,
    expectNotApplicable,
    loadConfig,
    secret,
    TYPES,
    UNKNOWN,
} from "./helpers";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("policies: instances and launch templates", () => {
    describe("imds-hop-limit-one", () => {
        it("passes a hop limit of 1 on instances and launch templates, and a disabled endpoint", async () => {
            expectClean(
                await checkResource(imdsHopLimitOne, TYPES.instance, {
                    metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 },
                }),
            );
            expectClean(
                await checkResource(imdsHopLimitOne, TYPES.launchTemplate, {
                    metadataOptions: { httpPutResponseHopLimit: 1 },
                }),
            );
            expectClean(
                await checkResource(imdsHopLimitOne, TYPES.instance, { metadataOptions: { httpEndpoint: "disabled" } }),
            );
        });
        it("fails a limit of 2 (pods reach the node role) and an unset one (an IMDSv2 AMI defaults to 2)", async () => {
            const [two] = expectLevel(
                await checkResource(
                    imdsHopLimitOne,
                    TYPES.instance,
                    { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } },
                    { name: "cp-0" },
                ),
                "mandatory",
                1,
            );
            assert.match(
                two,
                /instance cp-0 has metadataOptions.httpPutResponseHopLimit 2: .*any pod can fetch the node role's credentials/,
            );
            const [unset] = expectLevel(
                await checkResource(
                    imdsHopLimitOne,
                    TYPES.launchTemplate,
                    { metadataOptions: { httpTokens: "required" } },
                    { name: "workers" },
                ),
                "mandatory",
                1,
            );
            assert.match(unset, /launch template workers has metadataOptions.httpPutResponseHopLimit unset/);
        });
        it("advises rather than fails when metadataOptions are unknown", async () => {
            const o = await checkResource(imdsHopLimitOne, TYPES.instance, { metadataOptions: UNKNOWN });
            expectLevel(o, "mandatory", 0);
            expectLevel(o, "advisory", 1);
        });
    });

    describe("imdsv2-required", () => {
        it("passes httpTokens required on instances and launch templates, and a disabled endpoint", async () => {
            expectClean(
                await checkResource(imdsv2Required, TYPES.instance, { metadataOptions: { httpTokens: "required" } }),
            );
            expectClean(
                await checkResource(imdsv2Required, TYPES.launchTemplate, {
                    metadataOptions: { httpTokens: "required" },
                }),
            );
            expectClean(
                await checkResource(imdsv2Required, TYPES.instance, { metadataOptions: { httpEndpoint: "disabled" } }),
            );
        });
        it("fails unset and optional tokens", async () => {
            const [msg] = expectLevel(
                await checkResource(imdsv2Required, TYPES.instance, {}, { name: "cp-0" }),
                "mandatory",
                1,
            );
            assert.match(msg, /instance cp-0 has metadataOptions.httpTokens unset \(IMDSv1 allowed\)/);
            assert.match(msg, /httpTokens: "required"/);
            const [lt] = expectLevel(
                await checkResource(
                    imdsv2Required,
                    TYPES.launchTemplate,
                    { metadataOptions: { httpTokens: "optional" } },
                    { name: "workers" },
                ),
                "mandatory",
                1,
            );
            assert.match(lt, /launch template workers has metadataOptions.httpTokens "optional"/);
        });
        it("advises rather than fails when metadataOptions are unknown", async () => {
            const o = await checkResource(imdsv2Required, TYPES.instance, { metadataOptions: UNKNOWN });
            expectLevel(o, "mandatory", 0);
            expectLevel(o, "advisory", 1);
        });
    });

    describe("encrypted-root-volume", () => {
        it("passes encrypted root and extra volumes, and encrypted launch-template mappings", async () => {
            expectClean(
                await checkResource(encryptedRootVolume, TYPES.instance, {
                    rootBlockDevice: { encrypted: true },
                    ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: true }],
                }),
            );
            expectClean(
                await checkResource(encryptedRootVolume, TYPES.launchTemplate, {
                    blockDeviceMappings: [
                        { deviceName: "/dev/xvda", ebs: { encrypted: "true", volumeSize: 50 } },
                        { deviceName: "/dev/sdb", virtualName: "ephemeral0" },
                    ],
                }),
            );
        });
        it("fails an unencrypted root volume and an unencrypted extra volume", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    encryptedRootVolume,
                    TYPES.instance,
                    {
                        rootBlockDevice: { volumeSize: 50 },
                        ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: false }],
                    },
                    { name: "cp-1" },
                ),
                "mandatory",
                1,
            );
            assert.match(
                msg,
                /instance cp-1: rootBlockDevice.encrypted is unset; ebsBlockDevices\[0\] \(\/dev\/sdf\) is not encrypted/,
            );
            expectLevel(await checkResource(encryptedRootVolume, TYPES.instance, {}), "mandatory", 1);
            expectLevel(
                await checkResource(encryptedRootVolume, TYPES.launchTemplate, {
                    blockDeviceMappings: [{ ebs: { encrypted: "false" } }],
                }),
                "mandatory",
                1,
            );
        });
    });

    describe("no-public-ip-control-plane", () => {
        it("passes control planes without a public IP and ignores other instances", async () => {
            expectClean(await checkResource(noPublicIpControlPlane, TYPES.instance, { tags: CP_TAGS }));
            expectClean(
                await checkResource(noPublicIpControlPlane, TYPES.instance, {
                    tags: CP_TAGS,
                    associatePublicIpAddress: false,
                }),
            );
            expectNotApplicable(
                await checkResource(noPublicIpControlPlane, TYPES.instance, {
                    tags: { "k8s-ha/role": "bastion" },
                    associatePublicIpAddress: true,
                }),
            );
        });
        it("fails a control plane with associatePublicIpAddress true", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    noPublicIpControlPlane,
                    TYPES.instance,
                    { tags: CP_TAGS, associatePublicIpAddress: true },
                    { name: "cp-2" },
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /control-plane instance cp-2 sets associatePublicIpAddress: true/);
        });
    });

    describe("no-secrets-in-user-data", () => {
        const token = "abcdef.0123456789abcdef";
        it("passes ordinary user data", async () => {
            expectClean(
                await checkResource(noSecretsInUserData, TYPES.instance, {
                    userData:
                        "#!/bin/bash\nkubeadm join --discovery-token-ca-cert-hash sha256:abc api.example.com:6443\nexample.com\n",
                }),
            );
            expectClean(
                await checkResource(noSecretsInUserData, TYPES.launchTemplate, {
                    userData: b64("#!/bin/bash\necho ok\n"),
                }),
            );
        });
        it("finds a PEM private key, a bootstrap token and an AWS key, with line numbers and without echoing them", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    noSecretsInUserData,
                    TYPES.instance,
                    {
                        userData: `#!/bin/bash\nkubeadm join --token ${token}\ncat > k <<EOF\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nEOF\nexport AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n`,
                    },
                    { name: "cp-0" },
                ),
                "mandatory",
                1,
            );
            assert.match(
                msg,
                /instance cp-0: userData contains a PEM private key \(line 4\), a kubeadm bootstrap token \(line 2\), an AWS access key id \(line 7\)/,
            );
            assert.ok(
                !msg.includes(token) && !msg.includes("AKIAABCDEFGHIJKLMNOP"),
                "the message must not leak the secret",
            );
        });
        it("decodes base64 user data (instance userDataBase64, launch template userData)", async () => {
            expectLevel(
                await checkResource(noSecretsInUserData, TYPES.instance, {
                    userDataBase64: b64(`-----BEGIN PRIVATE KEY-----\n`),
                }),
                "mandatory",
                1,
            );
            const [msg] = expectLevel(
                await checkResource(
                    noSecretsInUserData,
                    TYPES.launchTemplate,
                    { userData: b64(`TOKEN=${token}\n`) },
                    { name: "workers" },
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /launch template workers: userData contains a kubeadm bootstrap token \(line 1\)/);
        });
        it("sees through secrets (policies get plain values) and advises on unknown user data", async () => {
            expectLevel(
                await checkResource(noSecretsInUserData, TYPES.instance, { userData: secret(`TOKEN=${token}`) }),
                "mandatory",
                1,
            );
            const o = await checkResource(noSecretsInUserData, TYPES.instance, { userData: UNKNOWN });
            expectLevel(o, "mandatory", 0);
            expectLevel(o, "advisory", 1);
        });
        it("applies extraPatterns from the config", async () => {
            const config = { "no-secrets-in-user-data": { extraPatterns: ["password=\\S+"] } };
            expectLevel(
                await checkResource(
                    noSecretsInUserData,
                    TYPES.instance,
                    { userData: "db password=hunter2" },
                    { config },
                ),
                "mandatory",
                1,
            );
        });
        it("findSecrets does not flag look-alikes", () => {
            assert.deepStrictEqual(
                findSecrets("BEGIN CERTIFICATE\nabcdefg.0123456789abcdef\nabcdef.0123456789abcdefX\nAKIA123\n"),
                [],
            );
        });
    });

    describe("control-plane-instance-size", () => {
        it("knows common types", () => {
            assert.deepStrictEqual(instanceTypes.get("t3.medium"), { vcpus: 2, memoryGiB: 4 });
            assert.deepStrictEqual(instanceTypes.get("m6i.xlarge"), { vcpus: 4, memoryGiB: 16 });
            assert.deepStrictEqual(instanceTypes.get("c5.large"), { vcpus: 2, memoryGiB: 4 });
            assert.deepStrictEqual(instanceTypes.get("r6i.4xlarge"), { vcpus: 16, memoryGiB: 128 });
        });
        it("passes t3.medium by default and m6i.large under the prod config", async () => {
            expectClean(
                await checkResource(controlPlaneInstanceSize, TYPES.instance, {
                    tags: CP_TAGS,
                    instanceType: "t3.medium",
                }),
            );
            expectClean(
                await checkResource(
                    controlPlaneInstanceSize,
                    TYPES.instance,
                    { tags: CP_TAGS, instanceType: "m6i.large" },
                    { config: loadConfig("prod") },
                ),
            );
        });
        it("fails a too-small control plane, and t3.medium under the prod config", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    controlPlaneInstanceSize,
                    TYPES.instance,
                    { tags: CP_TAGS, instanceType: "t3.small" },
                    { name: "cp-0" },
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /cp-0 uses t3.small \(2 vCPU, 2 GiB\); control planes need at least 2 vCPU and 4 GiB/);
            expectLevel(
                await checkResource(
                    controlPlaneInstanceSize,
                    TYPES.instance,
                    { tags: CP_TAGS, instanceType: "t3.medium" },
                    { config: loadConfig("prod") },
                ),
                "mandatory",
                1,
            );
        });
        it("ignores workers and unknown types unless rejectUnknownTypes", async () => {
            expectNotApplicable(
                await checkResource(controlPlaneInstanceSize, TYPES.instance, {
                    tags: { "k8s-ha/role": "worker" },
                    instanceType: "t3.nano",
                }),
            );
            expectClean(
                await checkResource(controlPlaneInstanceSize, TYPES.instance, {
                    tags: CP_TAGS,
                    instanceType: "x9.large",
                }),
            );
            const config = { "control-plane-instance-size": { rejectUnknownTypes: true } };
            expectLevel(
                await checkResource(
                    controlPlaneInstanceSize,
                    TYPES.instance,
                    { tags: CP_TAGS, instanceType: "x9.large" },
                    { config },
                ),
                "mandatory",
                1,
            );
            const extra = {
                "control-plane-instance-size": {
                    rejectUnknownTypes: true,
                    extraInstanceTypes: { "x9.large": { vcpus: 2, memoryGiB: 8 } },
                },
            };
            expectClean(
                await checkResource(
                    controlPlaneInstanceSize,
                    TYPES.instance,
                    { tags: CP_TAGS, instanceType: "x9.large" },
                    { config: extra },
                ),
            );
        });
    });
});
