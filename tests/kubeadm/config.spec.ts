// kubeadm v1beta4 / kubelet / audit / kubeconfig rendering, parsed back with the yaml library.
import { strict as assert } from "node:assert";
import { parseAllDocuments, parse } from "yaml";
import {
    BOOTSTRAP_TOKEN_PLACEHOLDER,
    ETCD_TUNING,
    KubeadmInputError,
    LEADER_ELECTION,
    normalizeCluster,
    renderAdminKubeconfig,
    renderAuditPolicy,
    renderInitConfig,
    renderJoinConfig,
    renderPhaseConfig,
    type ClusterSpec,
} from "../../components/kubeadm";
import { ENCRYPTION_CONFIG_PATH } from "../../components/kubeadm/encryption";
import { pkiFilesFor } from "../../components/kubeadm/pki";
import { SAMPLE_CA_CERT_HASH, SAMPLE_CLUSTER, SAMPLE_NODES } from "../../tools/render-scripts";

const CP0 = SAMPLE_NODES[0];
const CP1 = SAMPLE_NODES[1];
const WORKER = SAMPLE_NODES[3];
const TOKEN = "abcdef.0123456789abcdef";
const NLB = SAMPLE_CLUSTER.apiEndpointHost;

type Obj = Record<string, any>;

function docs(text: string): Obj[] {
    const parsed = parseAllDocuments(text);
    assert.ok(Array.isArray(parsed), "a YAML stream");
    for (const d of parsed) assert.deepEqual(d.errors, [], `YAML errors: ${d.errors.join("; ")}`);
    return parsed.map((d) => d.toJS() as Obj);
}

function argMap(list: { name: string; value: string }[]): Record<string, string> {
    const names = list.map((a) => a.name);
    assert.equal(new Set(names).size, names.length, `duplicate extraArgs: ${names.join(",")}`);
    for (const a of list) {
        assert.deepEqual(Object.keys(a).sort(), ["name", "value"]);
        assert.equal(typeof a.value, "string", `${a.name} must be a string`);
    }
    return Object.fromEntries(list.map((a) => [a.name, a.value]));
}

describe("kubeadm config rendering (v1beta4)", () => {
    const [init, cluster, kubelet] = docs(renderInitConfig(SAMPLE_CLUSTER, CP0, { token: TOKEN, ttl: "1h" }));

    it("renders exactly InitConfiguration, ClusterConfiguration and KubeletConfiguration", () => {
        const all = docs(renderInitConfig(SAMPLE_CLUSTER, CP0, { token: TOKEN }));
        assert.deepEqual(
            all.map((d) => [d.apiVersion, d.kind]),
            [
                ["kubeadm.k8s.io/v1beta4", "InitConfiguration"],
                ["kubeadm.k8s.io/v1beta4", "ClusterConfiguration"],
                ["kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"],
            ],
        );
    });

    it("InitConfiguration: the given token and ttl, node registration in list form, local endpoint", () => {
        assert.deepEqual(init, {
            apiVersion: "kubeadm.k8s.io/v1beta4",
            kind: "InitConfiguration",
            bootstrapTokens: [
                {
                    token: TOKEN,
                    ttl: "1h",
                    description: "k8s-ha: created by kubeadm init; joins re-create it with a short TTL",
                    usages: ["signing", "authentication"],
                    groups: ["system:bootstrappers:kubeadm:default-node-token"],
                },
            ],
            nodeRegistration: {
                name: CP0.name,
                criSocket: "unix:///run/containerd/containerd.sock",
                kubeletExtraArgs: [
                    { name: "cloud-provider", value: "external" },
                    { name: "node-ip", value: CP0.privateIp },
                    { name: "provider-id", value: CP0.providerId },
                ],
            },
            localAPIEndpoint: { advertiseAddress: CP0.privateIp, bindPort: 6443 },
            timeouts: {
                controlPlaneComponentHealthCheck: "8m0s",
                kubernetesAPICall: "10m0s",
                discovery: "10m0s",
                tlsBootstrap: "10m0s",
            },
        });
    });

    it("defect: the timeouts of kubeadm's calls through the NLB cover its target registration (the defaults were 1-5 minutes)", () => {
        const minutes = (d: string) => {
            const m = /^(\d+)m(\d+)s$/.exec(d);
            assert.ok(m, d);
            return Number(m[1]) + Number(m[2]) / 60;
        };
        const [j] = docs(renderJoinConfig(SAMPLE_CLUSTER, CP1, { token: TOKEN, caCertHash: SAMPLE_CA_CERT_HASH }));
        for (const [doc, keys] of [
            [init, ["kubernetesAPICall", "controlPlaneComponentHealthCheck"]],
            [j, ["kubernetesAPICall", "discovery", "tlsBootstrap", "controlPlaneComponentHealthCheck"]],
        ] as const) {
            for (const k of keys)
                assert.ok(
                    minutes(doc.timeouts?.[k] ?? "0m0s") >= 8,
                    `${doc.kind}.timeouts.${k} = ${doc.timeouts?.[k]}`,
                );
        }
    });

    it("defect: the apiserver keeps serving while the NLB drains it (20 s delay: 2 failed checks 10 s apart), below the static pod's 30 s grace", () => {
        const delay = argMap(cluster.apiServer.extraArgs)["shutdown-delay-duration"];
        assert.equal(delay, "20s");
        const seconds = Number(delay.replace(/s$/, ""));
        assert.ok(seconds >= 2 * 10 && seconds < 30);
    });

    it("apiServer: Secrets encrypted at rest with the configuration place-pki writes, inside the pki/ directory kubeadm mounts", () => {
        const path = argMap(cluster.apiServer.extraArgs)["encryption-provider-config"];
        assert.equal(path, ENCRYPTION_CONFIG_PATH);
        // kubeadm mounts certificatesDir into the apiserver's pod; no extra volume is needed or added.
        assert.ok(path.startsWith(`${cluster.certificatesDir}/`), path);
        assert.ok(!(cluster.apiServer.extraVolumes as Obj[]).some((v) => path.startsWith(v.hostPath)));
        const placed = pkiFilesFor("control-plane").find((f) => f.path === path);
        assert.ok(placed, "place-pki writes the file");
        assert.equal(placed.mode, 0o600);
        assert.equal(placed.source.kind, "encryption-config");
    });

    it("ClusterConfiguration: endpoint, version, networking and certSANs", () => {
        assert.equal(cluster.clusterName, "k8s-ha-dev");
        assert.equal(cluster.kubernetesVersion, "v1.35.2");
        assert.equal(cluster.controlPlaneEndpoint, `${NLB}:6443`);
        assert.deepEqual(cluster.networking, {
            podSubnet: "10.244.0.0/16",
            serviceSubnet: "10.96.0.0/12",
            dnsDomain: "cluster.local",
        });
        assert.deepEqual(cluster.apiServer.certSANs, [NLB, "api.k8s-ha-dev.example.com"]);
        assert.deepEqual(Object.keys(cluster).sort(), [
            "apiServer",
            "apiVersion",
            "certificatesDir",
            "clusterName",
            "controlPlaneEndpoint",
            "controllerManager",
            "etcd",
            "kind",
            "kubernetesVersion",
            "networking",
            "scheduler",
        ]);
    });

    it("apiServer: audit logging with the policy mounted, profiling off", () => {
        assert.deepEqual(argMap(cluster.apiServer.extraArgs), {
            "audit-log-path": "/var/log/kubernetes/audit/audit.log",
            "audit-policy-file": "/etc/kubernetes/audit-policy.yaml",
            "audit-log-maxage": "30",
            "audit-log-maxbackup": "10",
            "audit-log-maxsize": "100",
            profiling: "false",
            "shutdown-delay-duration": "20s",
            "encryption-provider-config": "/etc/kubernetes/pki/encryption-config.yaml",
        });
        const vols = Object.fromEntries((cluster.apiServer.extraVolumes as Obj[]).map((v) => [v.name, v]));
        assert.deepEqual(vols["audit-policy"], {
            name: "audit-policy",
            hostPath: "/etc/kubernetes/audit-policy.yaml",
            mountPath: "/etc/kubernetes/audit-policy.yaml",
            readOnly: true,
            pathType: "File",
        });
        assert.equal(vols["audit-log"].hostPath, "/var/log/kubernetes/audit");
        assert.equal(vols["audit-log"].readOnly, false);
        // the log path lives inside the mounted log directory
        assert.ok(argMap(cluster.apiServer.extraArgs)["audit-log-path"].startsWith(`${vols["audit-log"].mountPath}/`));
    });

    it("controller-manager and scheduler: leader election 15s/10s/2s, localhost only", () => {
        for (const component of [cluster.controllerManager, cluster.scheduler]) {
            assert.deepEqual(argMap(component.extraArgs), {
                "leader-elect": "true",
                "leader-elect-lease-duration": "15s",
                "leader-elect-renew-deadline": "10s",
                "leader-elect-retry-period": "2s",
                profiling: "false",
                "bind-address": "127.0.0.1",
            });
        }
        // the renew deadline must be shorter than the lease, the retry shorter than the deadline
        const secs = (s: string) => Number(s.replace(/s$/, ""));
        assert.ok(
            secs(LEADER_ELECTION["leader-elect-renew-deadline"]) < secs(LEADER_ELECTION["leader-elect-lease-duration"]),
        );
        assert.ok(
            secs(LEADER_ELECTION["leader-elect-retry-period"]) < secs(LEADER_ELECTION["leader-elect-renew-deadline"]),
        );
    });

    it("etcd: the tuning table's values, as strings", () => {
        assert.deepEqual(argMap(cluster.etcd.local.extraArgs), {
            "quota-backend-bytes": "8589934592",
            "heartbeat-interval": "100",
            "election-timeout": "1000",
            "snapshot-count": "10000",
            "auto-compaction-mode": "periodic",
            "auto-compaction-retention": "1h",
        });
        assert.deepEqual(argMap(cluster.etcd.local.extraArgs), { ...ETCD_TUNING });
        // etcd's rule of thumb: election timeout >= 10x heartbeat
        assert.ok(Number(ETCD_TUNING["election-timeout"]) >= 10 * Number(ETCD_TUNING["heartbeat-interval"]));
        assert.deepEqual(cluster.etcd.local.serverCertSANs, []);
        assert.deepEqual(cluster.etcd.local.peerCertSANs, []);
        assert.equal(cluster.etcd.local.dataDir, "/var/lib/etcd");
    });

    it("etcd extra SANs go to serverCertSANs and peerCertSANs", () => {
        const [, c] = docs(
            renderInitConfig({ ...SAMPLE_CLUSTER, etcdExtraSans: ["etcd.internal", "10.9.9.9"] }, CP0, {
                token: TOKEN,
            }),
        );
        assert.deepEqual(c.etcd.local.serverCertSANs, ["etcd.internal", "10.9.9.9"]);
        assert.deepEqual(c.etcd.local.peerCertSANs, ["etcd.internal", "10.9.9.9"]);
    });

    it("KubeletConfiguration: systemd cgroups, no serving-cert CSRs, client cert rotation", () => {
        assert.deepEqual(kubelet, {
            apiVersion: "kubelet.config.k8s.io/v1beta1",
            kind: "KubeletConfiguration",
            cgroupDriver: "systemd",
            serverTLSBootstrap: false,
            rotateCertificates: true,
        });
    });

    it("upper-case NLB names are normalised (kubeadm rejects them in controlPlaneEndpoint)", () => {
        const [, c] = docs(
            renderInitConfig({ ...SAMPLE_CLUSTER, apiEndpointHost: "K8s-API-123.ELB.us-east-1.amazonaws.com" }, CP0, {
                token: TOKEN,
            }),
        );
        assert.equal(c.controlPlaneEndpoint, "k8s-api-123.elb.us-east-1.amazonaws.com:6443");
    });

    it("the token stays a YAML string even when it looks like a number, and the placeholder is substitutable", () => {
        const numeric = "123456.1234567890123456";
        const [i] = docs(renderInitConfig(SAMPLE_CLUSTER, CP0, { token: numeric }));
        assert.equal(i.bootstrapTokens[0].token, numeric);
        const template = renderInitConfig(SAMPLE_CLUSTER, CP0, { token: BOOTSTRAP_TOKEN_PLACEHOLDER });
        assert.equal(template.split(BOOTSTRAP_TOKEN_PLACEHOLDER).length, 2, "exactly one placeholder");
        const [j] = docs(template.replace(BOOTSTRAP_TOKEN_PLACEHOLDER, numeric));
        assert.equal(typeof j.bootstrapTokens[0].token, "string");
        assert.equal(j.bootstrapTokens[0].token, numeric);
    });

    it("the phase config (rotate) has no bootstrap token", () => {
        const d = docs(renderPhaseConfig(SAMPLE_CLUSTER, CP0));
        assert.deepEqual(
            d.map((x) => x.kind),
            ["InitConfiguration", "ClusterConfiguration"],
        );
        assert.equal(d[0].bootstrapTokens, undefined);
        assert.equal(d[0].localAPIEndpoint.advertiseAddress, CP0.privateIp);
    });

    it("rejects invalid inputs with a message naming the field", () => {
        const bad: [Partial<ClusterSpec>, RegExp][] = [
            [{ kubernetesVersion: "1.30.4" }, /kubernetesVersion.*1\.31\.0 or newer/],
            [{ kubernetesVersion: "v1.35.2" }, /kubernetesVersion.*no leading "v"/],
            [{ podCidr: "10.244.0.0" }, /podCidr/],
            [{ serviceCidr: "10.96.0.0/33" }, /serviceCidr/],
            [{ apiEndpointHost: "https://nlb.example.com" }, /apiEndpointHost/],
            [{ clusterName: "Bad_Name" }, /clusterName/],
            [{ extraSans: ["not a name"] }, /extraSans/],
        ];
        for (const [patch, re] of bad) {
            assert.throws(
                () => renderInitConfig({ ...SAMPLE_CLUSTER, ...patch }, CP0, { token: TOKEN }),
                (e: Error) => e instanceof KubeadmInputError && re.test(e.message),
            );
        }
        assert.throws(() => renderInitConfig(SAMPLE_CLUSTER, WORKER, { token: TOKEN }), /control-plane/);
        assert.throws(
            () => renderInitConfig(SAMPLE_CLUSTER, CP0, { token: "short.token" }),
            (e: Error) => /bootstrap token/.test(e.message) && !e.message.includes("short.token"),
        );
        assert.throws(() => renderInitConfig(SAMPLE_CLUSTER, CP0, { token: TOKEN, ttl: "1 hour" }), /ttl/);
        assert.throws(
            () => renderInitConfig(SAMPLE_CLUSTER, { ...CP0, privateIp: "10.0.0.300" }, { token: TOKEN }),
            /privateIp/,
        );
        for (const providerId of [
            "",
            "i-0123456789abcdef0",
            "aws://us-east-1a/i-0123456789abcdef0",
            "aws:///us-east-1a/",
            "aws:///us-east-1a/i-1 --v=9",
        ]) {
            assert.throws(
                () => renderInitConfig(SAMPLE_CLUSTER, { ...CP0, providerId }, { token: TOKEN }),
                (e: Error) =>
                    e instanceof KubeadmInputError &&
                    /providerId/.test(e.message) &&
                    /aws:\/\/\/<availability zone>\/<instance id>/.test(e.message),
                providerId,
            );
        }
    });
});

describe("JoinConfiguration", () => {
    it("discovery carries the NLB endpoint, the token and the CA hash", () => {
        const [j] = docs(renderJoinConfig(SAMPLE_CLUSTER, WORKER, { token: TOKEN, caCertHash: SAMPLE_CA_CERT_HASH }));
        assert.deepEqual(j, {
            apiVersion: "kubeadm.k8s.io/v1beta4",
            kind: "JoinConfiguration",
            discovery: {
                bootstrapToken: { apiServerEndpoint: `${NLB}:6443`, token: TOKEN, caCertHashes: [SAMPLE_CA_CERT_HASH] },
            },
            nodeRegistration: {
                name: WORKER.name,
                criSocket: "unix:///run/containerd/containerd.sock",
                kubeletExtraArgs: [
                    { name: "cloud-provider", value: "external" },
                    { name: "node-ip", value: WORKER.privateIp },
                    { name: "provider-id", value: WORKER.providerId },
                ],
            },
            timeouts: {
                controlPlaneComponentHealthCheck: "8m0s",
                kubernetesAPICall: "10m0s",
                discovery: "10m0s",
                tlsBootstrap: "10m0s",
            },
        });
    });

    it("controlPlane.localAPIEndpoint only for control planes, and never a certificateKey", () => {
        const text = renderJoinConfig(SAMPLE_CLUSTER, CP1, { token: TOKEN, caCertHash: SAMPLE_CA_CERT_HASH });
        const [j] = docs(text);
        assert.deepEqual(j.controlPlane, { localAPIEndpoint: { advertiseAddress: CP1.privateIp, bindPort: 6443 } });
        assert.ok(!text.includes("certificateKey"));
        const [w] = docs(renderJoinConfig(SAMPLE_CLUSTER, WORKER, { token: TOKEN, caCertHash: SAMPLE_CA_CERT_HASH }));
        assert.equal(w.controlPlane, undefined);
    });

    it("rejects a malformed CA hash", () => {
        assert.throws(
            () => renderJoinConfig(SAMPLE_CLUSTER, WORKER, { token: TOKEN, caCertHash: "sha256:abc" }),
            /caCertHash/,
        );
        assert.throws(
            () =>
                renderJoinConfig(SAMPLE_CLUSTER, WORKER, {
                    token: TOKEN,
                    caCertHash: SAMPLE_CA_CERT_HASH.toUpperCase(),
                }),
            /caCertHash/,
        );
    });
});

describe("audit policy", () => {
    const policy = parse(renderAuditPolicy());

    it("is an audit.k8s.io/v1 Policy ending in a Metadata catch-all", () => {
        assert.equal(policy.apiVersion, "audit.k8s.io/v1");
        assert.equal(policy.kind, "Policy");
        assert.deepEqual(policy.omitStages, ["RequestReceived"]);
        assert.deepEqual(policy.rules.at(-1), { level: "Metadata" });
    });

    it("never logs request or response bodies of Secrets or ConfigMaps", () => {
        // first match wins: the first rule that names secrets must be Metadata (or None)
        const first = (policy.rules as Obj[]).find((r) =>
            (r.resources ?? []).some((g: Obj) => g.group === "" && (g.resources ?? []).includes("secrets")),
        );
        assert.ok(first, "a rule for secrets");
        assert.equal(first.level, "Metadata");
        const earlier = (policy.rules as Obj[]).slice(0, (policy.rules as Obj[]).indexOf(first));
        for (const r of earlier) assert.equal(r.level, "None", "no earlier rule may log more than metadata");
    });

    it("drops the lease renewals leader election makes every 2 s", () => {
        const rule = (policy.rules as Obj[]).find((r) =>
            (r.resources ?? []).some((g: Obj) => g.group === "coordination.k8s.io"),
        );
        assert.equal(rule?.level, "None");
    });
});

describe("admin kubeconfig", () => {
    it("points at the NLB and carries the PEMs base64-encoded", () => {
        const pem = {
            caCertPem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
            clientCertPem: "CERT\n",
            clientKeyPem: "KEY\n",
        };
        const k = parse(renderAdminKubeconfig(SAMPLE_CLUSTER, pem));
        assert.equal(k.kind, "Config");
        assert.equal(k.clusters[0].cluster.server, `https://${NLB}:6443`);
        assert.equal(
            Buffer.from(k.clusters[0].cluster["certificate-authority-data"], "base64").toString(),
            pem.caCertPem,
        );
        assert.equal(Buffer.from(k.users[0].user["client-key-data"], "base64").toString(), pem.clientKeyPem);
        assert.equal(k.users[0].name, "kubernetes-admin");
        assert.equal(k["current-context"], `kubernetes-admin@${SAMPLE_CLUSTER.clusterName}`);
    });
});

describe("normalizeCluster", () => {
    it("defect: carries every field over, so a field added to ClusterSpec is never dropped (it listed them by hand)", () => {
        const withNew = { ...SAMPLE_CLUSTER, someFutureField: { a: 1 } } as ClusterSpec & { someFutureField: unknown };
        const n = normalizeCluster(withNew) as typeof withNew;
        assert.deepEqual(n.someFutureField, { a: 1 });
        for (const k of Object.keys(SAMPLE_CLUSTER) as (keyof ClusterSpec)[]) assert.ok(k in n, k);
    });

    it("normalises what kubeadm needs normalised: the endpoint host lower-cased, SANs deduplicated", () => {
        const n = normalizeCluster({
            ...SAMPLE_CLUSTER,
            apiEndpointHost: "API.Example.COM",
            extraSans: ["a.example.com", "a.example.com"],
            etcdExtraSans: ["e.x", "e.x"],
        });
        assert.equal(n.apiEndpointHost, "api.example.com");
        assert.deepEqual(n.extraSans, ["a.example.com"]);
        assert.deepEqual(n.etcdExtraSans, ["e.x"]);
    });
});
