// The API's DNS name under the real engine, on the stand-ins: created with the cluster, the alias
// record exists before the first command that dials the name, and any later change of the name
// (another name, none, or one added to a cluster created without) is refused by the guard
// (components/apiEndpoint.ts) before any cloud object or command is touched.
import { strict as assert } from "node:assert";
import { Lab, transcript } from "./engine";
import { TYPES } from "../../policies/lib/contract";

const C = "k8s-dev";
const ZONE = "Z0EXAMPLECOM"; // the stand-in's public hosted zone example.com (tools/harness/cloud.ts)
const NAME = "api.dev.example.com";
const WITH_DNS = { apiDnsZoneId: ZONE, apiDnsName: NAME };
const RECORD = TYPES.route53Record;
const GUARD = TYPES.apiEndpointGuard;

/** Runs `up` and asserts it was refused by the guard, naming the key, with nothing done. */
async function refused(lab: Lab, config: Record<string, unknown>, extra: string[], wanted: RegExp): Promise<void> {
    const [aws, commands, state] = [lab.aws().length, lab.commands().length, lab.stateFile()];
    const r = await lab.run("up", config, extra);
    assert.notEqual(r.code, 0, transcript(r));
    const out = r.stdout + r.stderr;
    assert.match(out, wanted, transcript(r));
    assert.match(
        out,
        /controlPlaneEndpoint, which also lives in the kubeadm-config and cluster-info ConfigMaps and in every node's kubeconfigs/,
        transcript(r),
    );
    assert.equal(lab.aws().length, aws, "a cloud object was created, updated or deleted");
    assert.equal(lab.commands().length, commands, "a command ran");
    const guard = (s: string) =>
        JSON.stringify(
            JSON.parse(s).checkpoint.latest.resources.find((x: { type: string }) => x.type === GUARD)?.outputs,
        );
    assert.equal(guard(lab.stateFile()), guard(state), "the guard's state changed");
}

describe("engine: the API's DNS name is set at creation only (real CLI, stand-in providers)", function () {
    describe("a cluster created with apiDnsName", () => {
        const lab = new Lab("dev");
        after(() => lab.dispose());

        it("up creates the alias record before the first command that dials the name; every consumer depends on it", async () => {
            const r = await lab.ok("up", WITH_DNS, ["--skip-preview"]);
            const records = lab.resources().filter((x) => x.type === RECORD);
            assert.equal(records.length, 1);
            const record = records[0];
            assert.equal(record.outputs?.fqdn, NAME);
            const lb = lab.resources().find((x) => x.type === TYPES.loadBalancer)!;
            assert.deepEqual(record.outputs?.aliases, [
                { name: lb.outputs?.dnsName, zoneId: lb.outputs?.zoneId, evaluateTargetHealth: true },
            ]);
            const created = lab.aws().find((e) => e.type === RECORD && e.op === "create")!;
            const init = lab.commands().find((e) => e.resource === `${C}-cp-0-init` && e.op === "create")!;
            assert.ok(
                Date.parse(init.start) >= Date.parse(created.time),
                `init started ${init.start}, before the record existed (${created.time})`,
            );
            const guard = lab.resources().find((x) => x.type === GUARD)!;
            assert.equal(guard.outputs?.apiDnsName, NAME);
            const COMMAND = TYPES.remoteCommand;
            const consumers: [string, string][] = [
                [COMMAND, `${C}-cp-0-prepare`],
                [COMMAND, `${C}-cp-0-init`],
                [COMMAND, `${C}-cp-1-join`],
                [COMMAND, `${C}-worker-0-join`],
                [TYPES.certRequest, `${C}-cp-0-apiserver`],
            ];
            for (const [type, name] of consumers) {
                const deps =
                    lab.resources().find((x) => x.type === type && x.urn.endsWith(`::${name}`))?.dependencies ?? [];
                assert.ok(deps.includes(record.urn), `${name} does not wait for the record`);
                assert.ok(deps.includes(guard.urn), `${name} does not wait for the guard`);
            }
            assert.match(
                r.stdout,
                new RegExp(`apiEndpoint\\s*:\\s*"https://${NAME.replace(/\./g, "\\.")}:6443"`),
                transcript(r),
            );
        });

        it("the same configuration again changes nothing (the guard is stable)", async () => {
            await lab.ok("preview", WITH_DNS, ["--expect-no-changes"]);
        });

        it("another name is refused (in the preview), naming the key, the new and the created value", async () => {
            await refused(
                lab,
                { ...WITH_DNS, apiDnsName: "k8s.dev.example.com" },
                [],
                /apiDnsName: "k8s\.dev\.example\.com" is not allowed; expected "api\.dev\.example\.com", the value this cluster was created with/,
            );
        });

        it("removing the name is refused, also without a preview (the engine's own diff)", async () => {
            await refused(
                lab,
                {},
                ["--skip-preview"],
                /apiDnsName: "" \(none: the load balancer's own name\) is not allowed; expected "api\.dev\.example\.com"/,
            );
        });
    });

    describe("a cluster created without apiDnsName", () => {
        const lab = new Lab("dev");
        after(() => lab.dispose());

        it("adding a name later is refused", async () => {
            await lab.ok("up", {}, ["--skip-preview"]);
            assert.equal(lab.resources().filter((x) => x.type === RECORD).length, 0);
            await refused(
                lab,
                WITH_DNS,
                ["--skip-preview"],
                /apiDnsName: "api\.dev\.example\.com" is not allowed; expected "" \(none: the load balancer's own name\), the value this cluster was created with/,
            );
        });
    });
});
