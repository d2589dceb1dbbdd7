import { strict as assert } from "node:assert";
import { controlPlaneAlertRules } from "../../components/alerts";
import { CALICO_CHART } from "../../components/addons";
import { type ProgramRun, type RecordedResource } from "../../tools/harness/program";
import { sharedRun } from "../../tools/harness/sharedRun";
import { isSecretValue, isUnknownValue, plainStrings } from "../../tools/harness/values";
import { byUrn, ofType, one } from "../graph";
import { ancestors, cmd } from "./helpers";

const PROVIDER = "pulumi:providers:kubernetes";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";

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
            assert.ok(isSecretValue(provider.inputs.kubeconfig) || (preview && isUnknownValue(provider.inputs.kubeconfig)), "the kubeconfig input is secret");
            if (!preview) {
                const kubeconfig = (provider.inputs.kubeconfig as { value: string }).value;
                assert.equal(kubeconfig, run.outputs.kubeconfig.value, "it is the admin kubeconfig the stack exports");
                assert.ok(!plainStrings(provider.inputs).some((s) => s.includes("client-key-data")), "the key is never in plain text");
            }
            const lastJoin = cmd(run, "k8s-dev-cp-2-join");
            assert.ok(provider.dependencies.includes(lastJoin.urn), "the provider waits for the last control-plane join");
            // and so, transitively, for every control-plane step before it
            for (const step of ["k8s-dev-cp-0-init", "k8s-dev-cp-1-join"]) assert.ok(ancestors(run, provider).has(cmd(run, step).urn), step);
        });

        it(`installs Calico through the pinned tigera-operator chart (${CALICO_CHART.version}) on podCidr with VXLAN, through that provider`, () => {
            const release = one(run, RELEASE);
            assert.equal(providerOf(run, release).urn, one(run, PROVIDER).urn);
            const r = release.inputs as any;
            assert.deepEqual([r.chart, r.version, r.repositoryOpts.repo, r.namespace, r.createNamespace], ["tigera-operator", "v3.31.3", "https://docs.tigera.io/calico/charts", "tigera-operator", true]);
            const pools = r.values.installation.calicoNetwork.ipPools;
            assert.deepEqual(pools.map((p: any) => [p.cidr, p.encapsulation, p.natOutgoing]), [["10.200.0.0/16", "VXLAN", "Enabled"]]);
            assert.equal(r.values.installation.calicoNetwork.bgp, "Disabled");
            assert.ok(ancestors(run, release).has(cmd(run, "k8s-dev-cp-2-join").urn), "the chart is installed after the control plane is complete");
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
            const rules = r.spec.groups.flatMap((g: any) => g.rules) as { alert: string; expr: string; for: string; labels: { severity: string } }[];
            const byName = new Map(rules.map((x) => [x.alert, x]));
            assert.deepEqual([...byName.keys()].sort(), ["APIServerDown", "APIServerLatencyHigh", "ControllerManagerDown", "EtcdHighCommitDurations", "EtcdHighFsyncDurations", "EtcdInsufficientMembers", "EtcdNoLeader", "NodeNotReady", "SchedulerDown"]);
            const expect: Record<string, [string, string, string]> = {
                APIServerDown: ['up{job="apiserver"} == 0', "5m", "critical"],
                APIServerLatencyHigh: ['histogram_quantile(0.99, sum(rate(apiserver_request_duration_seconds_bucket{verb!~"WATCH|CONNECT"}[5m])) by (verb, le)) > 1', "10m", "warning"],
                EtcdNoLeader: ["etcd_server_has_leader == 0", "1m", "critical"],
                EtcdInsufficientMembers: ["count(etcd_server_has_leader) < 5", "5m", "critical"],
                EtcdHighFsyncDurations: ["histogram_quantile(0.99, rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m])) > 0.5", "5m", "warning"],
                EtcdHighCommitDurations: ["histogram_quantile(0.99, rate(etcd_disk_backend_commit_duration_seconds_bucket[5m])) > 0.25", "10m", "warning"],
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

describe("alert rules (pure)", () => {
    it("size the insufficient-members alert to the member count and reject a nonsense count", () => {
        for (const n of [3, 5, 7]) {
            const rule = controlPlaneAlertRules(n)[0].rules.find((r) => r.alert === "EtcdInsufficientMembers")!;
            assert.equal(rule.expr, `count(etcd_server_has_leader) < ${n}`);
        }
        assert.throws(() => controlPlaneAlertRules(0));
    });
});
