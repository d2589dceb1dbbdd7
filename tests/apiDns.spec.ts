// The API's DNS name (apiDnsZoneId, apiDnsName) under the mock runtime: the alias record, the
// apiserver certificates' SANs, kubeadm's controlPlaneEndpoint, every kubeconfig's server, the
// dependencies on the record and the guard, and the guard's refusal of any later change.
import "reflect-metadata";
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { parse, parseAllDocuments } from "yaml";
import { apiEndpointGuardProvider, endpointNames } from "../components/apiEndpoint";
import { renderNodes } from "../tools/plan/render";
import { type ProgramRun } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { T, ofType, one } from "./graph";
import { TYPES } from "../policies/lib/contract";
import { scratchDir } from "./scratch";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const NAME = "api.dev.example.com";
const DNS = { apiDnsZoneId: "Z0EXAMPLECOM", apiDnsName: NAME };
const RECORD = TYPES.route53Record;
const GUARD = TYPES.apiEndpointGuard;
const CPS = ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2"];

function dnsSans(run: ProgramRun, node: string): string[] {
    const r = run.resources.find((x) => x.name === `${node}-apiserver` && x.type === TYPES.locallySignedCert);
    assert.ok(r, `no apiserver certificate for ${node}`);
    const cert = new x509.X509Certificate(String(r.outputs.certPem));
    const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
    assert.ok(ext, "no SAN extension");
    return ext.names.items.filter((n) => n.type === "dns").map((n) => n.value);
}

const controlPlaneEndpoints = (file: string) =>
    parseAllDocuments(readFileSync(file, "utf8"))
        .map((d) => d.toJS())
        .filter((d) => d?.kind === "ClusterConfiguration")
        .map((d) => d.controlPlaneEndpoint);

describe("API DNS name (mock runtime)", function () {
    this.timeout(180_000);
    let withDns: ProgramRun;
    let without: ProgramRun;
    let dir: string;
    let lbDnsName: string;
    before(async () => {
        withDns = await sharedRun({ stack: "dev", preview: false, config: DNS });
        assert.ifError(withDns.error);
        without = await sharedRun({ stack: "dev", preview: false });
        assert.ifError(without.error);
        lbDnsName = String(one(withDns, T.lb).outputs.dnsName);
        dir = join(scratchDir("k8s-ha-dns-"), "render");
        renderNodes(withDns, dir);
    });

    it("creates an alias A record to the load balancer with evaluateTargetHealth on", () => {
        const records = ofType(withDns, RECORD);
        assert.equal(records.length, 1);
        const lb = one(withDns, T.lb);
        assert.deepEqual(records[0].inputs, {
            zoneId: "Z0EXAMPLECOM",
            name: NAME,
            type: "A",
            aliases: [{ name: lb.outputs.dnsName, zoneId: lb.outputs.zoneId, evaluateTargetHealth: true }],
        });
        assert.deepEqual(ofType(without, RECORD), [], "no record without apiDnsName");
        assert.equal(records[0].protect, false, "protected only with protect: true");
    });

    it("protects the record with protect: true (without it the endpoint does not resolve)", async () => {
        const run = await sharedRun({ stack: "dev", preview: true, config: { ...DNS, protect: true } });
        assert.ifError(run.error);
        assert.equal(one(run, RECORD).protect, true);
    });

    it("puts the name and the load balancer's name on every apiserver certificate (parsed with @peculiar/x509)", () => {
        for (const node of CPS) {
            const sans = dnsSans(withDns, node);
            assert.ok(sans.includes(NAME), `${node}: ${sans}`);
            assert.ok(sans.includes(lbDnsName), `${node}: ${sans}`);
            assert.ok(!dnsSans(without, node).includes(NAME));
        }
    });

    it("makes the name kubeadm's controlPlaneEndpoint and every join's apiServerEndpoint", () => {
        assert.deepEqual(controlPlaneEndpoints(join(dir, "k8s-dev-cp-0", "kubeadm", "init.yaml")), [`${NAME}:6443`]);
        for (const node of CPS.slice(1)) {
            const join_ = parse(readFileSync(join(dir, node, "kubeadm", "join-control-plane.yaml"), "utf8"));
            assert.equal(join_.discovery.bootstrapToken.apiServerEndpoint, `${NAME}:6443`, node);
        }
        const worker = parse(readFileSync(join(dir, "k8s-dev-worker-0", "kubeadm", "join-worker.yaml"), "utf8"));
        assert.equal(worker.discovery.bootstrapToken.apiServerEndpoint, `${NAME}:6443`);
        const certSans = parseAllDocuments(readFileSync(join(dir, "k8s-dev-cp-0", "kubeadm", "init.yaml"), "utf8"))
            .map((d) => d.toJS())
            .find((d) => d?.kind === "ClusterConfiguration").apiServer.certSANs;
        assert.deepEqual(certSans, [NAME, lbDnsName]);
    });

    it("serves the admin kubeconfig and the apiEndpoint output at the name", () => {
        const kubeconfig = parse(String(withDns.outputs.kubeconfig.value));
        assert.deepEqual(
            kubeconfig.clusters.map((c: { cluster: { server: string } }) => c.cluster.server),
            [`https://${NAME}:6443`],
        );
        assert.equal(withDns.outputs.apiEndpoint.value, `https://${NAME}:6443`);
        assert.equal(
            parse(String(without.outputs.kubeconfig.value)).clusters[0].cluster.server,
            `https://${String(one(without, T.lb).outputs.dnsName)}:6443`,
        );
    });

    it("every command and certificate request waits for the record and the guard", () => {
        const record = one(withDns, RECORD);
        const guard = one(withDns, GUARD);
        const consumers = [
            ...ofType(withDns, TYPES.remoteCommand),
            ...ofType(withDns, TYPES.certRequest).filter((r) => r.name.endsWith("-apiserver")),
        ];
        assert.ok(consumers.length > 30);
        // Only place-pki (whose files come from certificates that wait for it) and the rollout
        // gates (node facts only) render nothing from the name.
        for (const r of consumers.filter((c) => !/-(rollout-gate|place-pki)$/.test(c.name))) {
            assert.ok(r.dependencies.includes(record.urn), `${r.name} does not wait for the record`);
            assert.ok(r.dependencies.includes(guard.urn), `${r.name} does not wait for the guard`);
        }
        assert.ok(record.dependencies.includes(guard.urn), "the record waits for the guard");
        assert.equal(one(without, GUARD).inputs.apiDnsName, "", 'a cluster without the name holds ""');
    });

    it("without apiDnsName the load balancer's name stays the only endpoint name", () => {
        assert.deepEqual(endpointNames("", "lb.elb.amazonaws.com"), { host: "lb.elb.amazonaws.com", extraSans: [] });
        assert.deepEqual(endpointNames(NAME, "lb.elb.amazonaws.com"), {
            host: NAME,
            extraSans: ["lb.elb.amazonaws.com"],
        });
        assert.deepEqual(
            dnsSans(without, CPS[0]).filter((s) => !s.startsWith("kubernetes") && s !== CPS[0]),
            [String(one(without, T.lb).outputs.dnsName)],
        );
    });
});

describe("API DNS name guard (the dynamic provider's diff)", () => {
    const diff = (olds: string, news: string) =>
        apiEndpointGuardProvider.diff!("api-endpoint", { apiDnsName: olds }, { apiDnsName: news });

    it("accepts the value the cluster was created with", async () => {
        assert.deepEqual(await diff(NAME, NAME), { changes: false });
        assert.deepEqual(await diff("", ""), { changes: false });
    });

    for (const [title, olds, news, text] of [
        [
            "another name",
            NAME,
            "k8s.dev.example.com",
            `apiDnsName: "k8s.dev.example.com" is not allowed; expected "${NAME}", the value this cluster was created with`,
        ],
        [
            "removing it",
            NAME,
            "",
            `apiDnsName: "" (none: the load balancer's own name) is not allowed; expected "${NAME}"`,
        ],
        [
            "adding it",
            "",
            NAME,
            `apiDnsName: "${NAME}" is not allowed; expected "" (none: the load balancer's own name)`,
        ],
    ] as const) {
        it(`refuses ${title}, naming the key, both values and why`, async () => {
            await assert.rejects(diff(olds, news), (err: Error) => {
                assert.ok(err.message.includes(text), err.message);
                assert.match(
                    err.message,
                    /controlPlaneEndpoint, which also lives in the kubeadm-config and cluster-info ConfigMaps and in every node's kubeconfigs/,
                );
                return true;
            });
        });
    }
});
