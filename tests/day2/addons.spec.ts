import { strict as assert } from "node:assert";
import { controlPlaneAlertRules } from "../../components/alerts";
import { CALICO_CHART } from "../../components/addons";
import { CCM_CHART, CCM_IMAGE_TAGS, EBS_CSI_CHART, ccmImageTag } from "../../components/cloudAddons";
import { SUPPORTED_MINORS } from "../../components/config";
import { type ProgramRun, type RecordedResource } from "../../tools/harness/program";
import { sharedRun } from "../../tools/harness/sharedRun";
import { isSecretValue, isUnknownValue, plainStrings } from "../../tools/harness/values";
import { byUrn, ofType, one } from "../graph";
import { ancestors, cmd, named } from "./helpers";
import { TYPES } from "../../policies/lib/contract";

const PROVIDER = TYPES.kubernetesProvider;
const RELEASE = TYPES.helmRelease;
const RULE = TYPES.prometheusRule;
const STORAGE_CLASS = TYPES.storageClass;
const DEPLOYMENT_PATCH = TYPES.deploymentPatch;
const CONTROL_PLANE = "node-role.kubernetes.io/control-plane";

/** The provider a resource uses (its reference is "<urn>::<id>"). */
function providerOf(run: ProgramRun, r: RecordedResource): RecordedResource {
    assert.ok(r.provider, `${r.name} names a provider`);
    return byUrn(run, r.provider.split("::").slice(0, -1).join("::"));
}

for (const preview of [true, false]) {
    describe(`add-ons under the mock runtime (${preview ? "preview" : "update"})`, () => {
        let run: ProgramRun;
        let alerting: ProgramRun;
        before(async () => {
            run = await sharedRun({ stack: "dev", preview, config: { podCidr: "10.200.0.0/16" } });
            assert.ifError(run.error);
            alerting = await sharedRun({ stack: "prod", preview, config: { alerts: true } });
            assert.ifError(alerting.error);
        });

        it("builds one kubernetes provider from the admin kubeconfig, kept secret, created only once the control plane is complete", () => {
            const provider = one(run, PROVIDER);
            // In preview the kubeconfig (it names the load balancer) is not known yet; once known it is secret.
            assert.ok(
                isSecretValue(provider.inputs.kubeconfig) || (preview && isUnknownValue(provider.inputs.kubeconfig)),
                "the kubeconfig input is secret",
            );
            if (!preview) {
                const kubeconfig = (provider.inputs.kubeconfig as { value: string }).value;
                assert.equal(kubeconfig, run.outputs.kubeconfig.value, "it is the admin kubeconfig the stack exports");
                assert.ok(
                    !plainStrings(provider.inputs).some((s) => s.includes("client-key-data")),
                    "the key is never in plain text",
                );
            }
            const lastJoin = cmd(run, "k8s-dev-cp-2-join");
            assert.ok(
                provider.dependencies.includes(lastJoin.urn),
                "the provider waits for the last control-plane join",
            );
            // and so, transitively, for every control-plane step before it
            for (const step of ["k8s-dev-cp-0-init", "k8s-dev-cp-1-join"])
                assert.ok(ancestors(run, provider).has(cmd(run, step).urn), step);
            // ... and for every control plane's reset hook: a destroy deletes dependents first, so the
            // add-ons go while the API still answers, before any control plane leaves.
            for (const i of [0, 1, 2])
                assert.ok(
                    provider.dependencies.includes(cmd(run, `k8s-dev-cp-${i}-reset`).urn),
                    `the provider depends on k8s-dev-cp-${i}-reset`,
                );
        });

        it(`installs Calico through the pinned tigera-operator chart (${CALICO_CHART.version}) on podCidr with VXLAN, through that provider`, () => {
            const release = named(run, RELEASE, "calico");
            assert.equal(providerOf(run, release).urn, one(run, PROVIDER).urn);
            const r = release.inputs as any;
            assert.deepEqual(
                [r.chart, r.version, r.repositoryOpts.repo, r.namespace, r.createNamespace],
                ["tigera-operator", "v3.31.3", "https://docs.tigera.io/calico/charts", "tigera-operator", true],
            );
            const pools = r.values.installation.calicoNetwork.ipPools;
            assert.deepEqual(
                pools.map((p: any) => [p.cidr, p.encapsulation, p.natOutgoing]),
                [["10.200.0.0/16", "VXLAN", "Enabled"]],
            );
            assert.equal(r.values.installation.calicoNetwork.bgp, "Disabled");
            assert.ok(
                ancestors(run, release).has(cmd(run, "k8s-dev-cp-2-join").urn),
                "the chart is installed after the control plane is complete",
            );
        });

        it(`installs the AWS cloud-controller-manager (chart ${CCM_CHART.version}, the image of the cluster's minor) on the control planes, host network, leader-elected, after the last join`, () => {
            const ccm = named(run, RELEASE, "aws-cloud-controller-manager");
            assert.equal(providerOf(run, ccm).urn, one(run, PROVIDER).urn);
            const r = ccm.inputs as any;
            assert.deepEqual(
                [r.chart, r.version, r.repositoryOpts.repo, r.namespace],
                [
                    "aws-cloud-controller-manager",
                    CCM_CHART.version,
                    "https://kubernetes.github.io/cloud-provider-aws",
                    "kube-system",
                ],
            );
            assert.equal(r.values.image.tag, CCM_IMAGE_TAGS[35], "dev runs 1.35: the 1.35 CCM image");
            assert.equal(
                r.values.hostNetworking,
                true,
                "IMDS hop limit 1: only the host network reaches the instance role",
            );
            assert.deepEqual(r.values.nodeSelector, { [CONTROL_PLANE]: "" });
            assert.ok(r.values.args.includes("--cloud-provider=aws") && r.values.args.includes("--leader-elect=true"));
            assert.ok(r.values.args.includes("--cluster-name=k8s-dev"));
            assert.ok(r.values.args.includes("--configure-cloud-routes=false"), "VXLAN pods: no VPC routes");
            const tolerated = r.values.tolerations.map((t: any) => t.key);
            for (const key of [
                "node.cloudprovider.kubernetes.io/uninitialized",
                CONTROL_PLANE,
                "node.kubernetes.io/not-ready",
            ])
                assert.ok(tolerated.includes(key), key);
            assert.ok(
                ancestors(run, ccm).has(cmd(run, "k8s-dev-cp-2-join").urn),
                "installed after the last control-plane join",
            );
            // A minor bump changes its image: only after every control plane runs the new version.
            for (const i of [0, 1, 2])
                assert.ok(
                    ccm.dependencies.includes(cmd(run, `k8s-dev-cp-${i}-upgrade`).urn),
                    `waits for k8s-dev-cp-${i}-upgrade`,
                );
            // Nothing in the bootstrap waits on the add-ons: a node keeps the uninitialized taint until the CCM runs.
            const prodCcm = named(alerting, RELEASE, "aws-cloud-controller-manager");
            const workerJoins = alerting.resources.filter((x) => /-worker-\d+-join(-token)?$/.test(x.name));
            assert.ok(workerJoins.length >= 3, "prod has worker joins");
            for (const j of workerJoins)
                assert.ok(!ancestors(alerting, j).has(prodCcm.urn), `${j.name} does not wait for the CCM`);
            assert.ok(
                !alerting.resources.some(
                    (x) => x.type === TYPES.remoteCommand && ancestors(alerting, x).has(prodCcm.urn),
                ),
                "no node command waits for the CCM",
            );
        });

        it(`installs the EBS CSI driver (chart ${EBS_CSI_CHART.version}) after the CCM, its controller on the control planes and moved onto the host network`, () => {
            const ebs = named(run, RELEASE, "aws-ebs-csi-driver");
            const r = ebs.inputs as any;
            assert.deepEqual(
                [r.chart, r.version, r.repositoryOpts.repo, r.namespace],
                [
                    "aws-ebs-csi-driver",
                    EBS_CSI_CHART.version,
                    "https://kubernetes-sigs.github.io/aws-ebs-csi-driver",
                    "kube-system",
                ],
            );
            assert.deepEqual(r.values.controller.nodeSelector, { [CONTROL_PLANE]: "" });
            assert.equal(r.values.controller.region, "us-west-2", "the stack's aws:region");
            assert.equal(r.values.controller.k8sTagClusterId, "k8s-dev");
            assert.equal(r.values.node.hostNetwork, false, "the node plugin reads the Node object, not IMDS");
            assert.deepEqual(r.values.storageClasses, [], "no StorageClass from the chart");
            assert.ok(ebs.dependencies.includes(named(run, RELEASE, "aws-cloud-controller-manager").urn));
            const patch = one(run, DEPLOYMENT_PATCH);
            const p = patch.inputs as any;
            assert.deepEqual([p.metadata.name, p.metadata.namespace], ["ebs-csi-controller", "kube-system"]);
            assert.equal(p.spec.template.spec.hostNetwork, true);
            assert.ok(patch.dependencies.includes(ebs.urn), "the patch waits for the chart's Deployment");
            assert.equal(providerOf(run, patch).urn, one(run, PROVIDER).urn);
        });

        it("makes the default StorageClass: gp3, encrypted, WaitForFirstConsumer, on the EBS CSI driver", () => {
            const sc = one(run, STORAGE_CLASS);
            const r = sc.inputs as any;
            assert.equal(r.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "true");
            assert.deepEqual(
                [r.provisioner, r.parameters.type, r.parameters.encrypted, r.volumeBindingMode],
                ["ebs.csi.aws.com", "gp3", "true", "WaitForFirstConsumer"],
            );
            assert.ok(sc.dependencies.includes(named(run, RELEASE, "aws-ebs-csi-driver").urn));
        });

        it("installs no PrometheusRule unless alerts is on (the CRD may not exist)", () => {
            assert.equal(ofType(run, RULE).length, 0);
        });

        it("with alerts on, a PrometheusRule with the control-plane alerts, sized to the etcd members, through the same provider", () => {
            const rule = one(alerting, RULE);
            assert.equal(providerOf(alerting, rule).type, PROVIDER);
            assert.ok(ancestors(alerting, rule).has(cmd(alerting, "k8s-prod-cp-4-join").urn));
            const r = rule.inputs as any;
            assert.equal(r.apiVersion, "monitoring.coreos.com/v1");
            assert.equal(r.kind, "PrometheusRule");
            assert.equal(r.metadata.namespace, "kube-system");
            const rules = r.spec.groups.flatMap((g: any) => g.rules) as {
                alert: string;
                expr: string;
                for: string;
                labels: { severity: string };
            }[];
            const byName = new Map(rules.map((x) => [x.alert, x]));
            assert.deepEqual([...byName.keys()].sort(), [
                "APIServerDown",
                "APIServerLatencyHigh",
                "ControllerManagerDown",
                "EtcdHighCommitDurations",
                "EtcdHighFsyncDurations",
                "EtcdInsufficientMembers",
                "EtcdNoLeader",
                "NodeNotReady",
                "SchedulerDown",
            ]);
            const expect: Record<string, [string, string, string]> = {
                APIServerDown: ['up{job="apiserver"} == 0', "5m", "critical"],
                APIServerLatencyHigh: [
                    'histogram_quantile(0.99, sum(rate(apiserver_request_duration_seconds_bucket{verb!~"WATCH|CONNECT"}[5m])) by (verb, le)) > 1',
                    "10m",
                    "warning",
                ],
                EtcdNoLeader: ["etcd_server_has_leader == 0", "1m", "critical"],
                EtcdInsufficientMembers: ["count(etcd_server_has_leader) < 5", "5m", "critical"],
                EtcdHighFsyncDurations: [
                    "histogram_quantile(0.99, rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m])) > 0.5",
                    "5m",
                    "warning",
                ],
                EtcdHighCommitDurations: [
                    "histogram_quantile(0.99, rate(etcd_disk_backend_commit_duration_seconds_bucket[5m])) > 0.25",
                    "10m",
                    "warning",
                ],
                ControllerManagerDown: ['absent(up{job="kube-controller-manager"} == 1)', "5m", "critical"],
                SchedulerDown: ['absent(up{job="kube-scheduler"} == 1)', "5m", "critical"],
                NodeNotReady: ['kube_node_status_condition{condition="Ready",status="false"} == 1', "10m", "warning"],
            };
            for (const [name, [expr, forDuration, severity]] of Object.entries(expect)) {
                const x = byName.get(name)!;
                assert.deepEqual([x.expr, x.for, x.labels.severity], [expr, forDuration, severity], name);
            }
        });
    });
}

describe("cloud-controller-manager image (pure)", () => {
    it("has an image for every Kubernetes minor the configuration accepts, and refuses one it has none for", () => {
        for (let minor = SUPPORTED_MINORS.min; minor <= SUPPORTED_MINORS.max; minor++) {
            assert.match(ccmImageTag(`1.${minor}.0`), new RegExp(`^v1\\.${minor}\\.\\d+$`), `1.${minor}`);
        }
        assert.throws(() => ccmImageTag("1.36.0"), /kubernetesVersion.*1\.36\.0.*cloud-controller-manager/);
    });
});

describe("alert rules (pure)", () => {
    it("size the insufficient-members alert to the member count and reject a nonsense count", () => {
        for (const n of [3, 5, 7]) {
            const rule = controlPlaneAlertRules(n)[0].rules.find((r) => r.alert === "EtcdInsufficientMembers")!;
            assert.equal(rule.expr, `count(etcd_server_has_leader) < ${n}`);
        }
        assert.throws(() => controlPlaneAlertRules(0));
    });
});
