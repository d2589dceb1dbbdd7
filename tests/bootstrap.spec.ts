import { strict as assert } from "node:assert";
import { type ProgramRun, type RecordedResource } from "../tools/harness/program";
import { sharedRun } from "../tools/harness/sharedRun";
import { isSecretValue } from "../tools/harness/values";
import { T, byUrn } from "./graph";
import { TYPES } from "../policies/lib/contract";

const COMMAND = TYPES.remoteCommand;

describe("bootstrap order and secrecy (prod: 5 control planes, 3 workers)", () => {
    let run: ProgramRun;
    const cmd = (name: string): RecordedResource => {
        const r = run.resources.find((x) => x.type === COMMAND && x.name === name);
        assert.ok(r, `no command ${name}`);
        return r;
    };
    /** The commands a step directly waits for (dependsOn and property dependencies). */
    const waitsFor = (r: RecordedResource) =>
        [...new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()])]
            .map((u) => byUrn(run, u))
            .filter((d) => d.type === COMMAND)
            .map((d) => d.name)
            .sort();
    /** Every resource a step waits for, transitively. */
    const ancestors = (r: RecordedResource, seen = new Set<string>()): Set<string> => {
        for (const u of new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()])) {
            if (seen.has(u)) continue;
            seen.add(u);
            ancestors(byUrn(run, u), seen);
        }
        return seen;
    };
    const cps = ["k8s-prod-cp-0", "k8s-prod-cp-1", "k8s-prod-cp-2", "k8s-prod-cp-3", "k8s-prod-cp-4"];
    const workers = ["k8s-prod-worker-0", "k8s-prod-worker-1", "k8s-prod-worker-2"];

    before(async () => {
        run = await sharedRun({ stack: "prod", preview: true });
        assert.ifError(run.error);
    });

    it("prepares every node in parallel: each waits only for its own instance", () => {
        for (const node of [...cps, ...workers]) {
            const prepare = cmd(`${node}-prepare`);
            assert.deepEqual(waitsFor(prepare), [], `${node}-prepare waits for no other step`);
            assert.ok(
                prepare.dependencies.some((u) => byUrn(run, u).name === node && byUrn(run, u).type === T.instance),
            );
        }
    });

    it("defect: prepare (apt) waits for the node's way out: NAT gateways, private routes and their associations, the security-group rules", () => {
        const egress = run.resources.filter((r) =>
            (
                [
                    TYPES.natGateway,
                    TYPES.routeTable,
                    TYPES.routeTableAssociation,
                    TYPES.securityGroupEgressRule,
                    TYPES.securityGroupIngressRule,
                ] as string[]
            ).includes(r.type),
        );
        assert.ok(egress.length > 10);
        for (const node of [...cps, ...workers]) {
            const deps = new Set(cmd(`${node}-prepare`).dependencies);
            const missing = egress.filter((r) => !deps.has(r.urn)).map((r) => r.name);
            assert.deepEqual(missing, [], `${node}-prepare may run before these exist`);
        }
    });

    it("installs kubelet/kubeadm one node after another: control planes from node 0, then workers (each between its drain and uncordon), each after its prepare", () => {
        cps.forEach((node, i) =>
            assert.deepEqual(
                waitsFor(cmd(`${node}-upgrade`)),
                [`${node}-prepare`, ...(i ? [`${cps[i - 1]}-upgrade`] : [])].sort(),
                node,
            ),
        );
        workers.forEach((node, i) => {
            const previous = i ? `${workers[i - 1]}-upgrade-uncordon` : `${cps[cps.length - 1]}-upgrade`;
            assert.deepEqual(waitsFor(cmd(`${node}-upgrade-drain`)), [previous], `${node}-upgrade-drain`);
            assert.deepEqual(
                waitsFor(cmd(`${node}-upgrade`)),
                [`${node}-prepare`, `${node}-upgrade-drain`].sort(),
                node,
            );
            assert.deepEqual(
                waitsFor(cmd(`${node}-upgrade-uncordon`)),
                [`${node}-upgrade`],
                `${node}-upgrade-uncordon`,
            );
        });
    });

    it("runs kubeadm init on node 0 after its PKI is placed, its kubeadm installed and the API listener exists", () => {
        const init = cmd("k8s-prod-cp-0-init");
        assert.deepEqual(waitsFor(init), ["k8s-prod-cp-0-place-pki", "k8s-prod-cp-0-upgrade"]);
        assert.ok(
            init.dependencies.some((u) => byUrn(run, u).type === T.listener),
            "init waits for the listener",
        );
        assert.deepEqual(waitsFor(cmd("k8s-prod-cp-0-place-pki")), ["k8s-prod-cp-0-prepare"]);
        assert.equal(
            run.resources.filter((r) => r.type === COMMAND && r.name.endsWith("-init")).length,
            1,
            "exactly one init",
        );
    });

    it("joins control planes strictly one after another", () => {
        cps.slice(1).forEach((node, i) => {
            const previous = i === 0 ? "k8s-prod-cp-0-init" : `${cps[i]}-join`;
            assert.deepEqual(waitsFor(cmd(`${node}-join`)), [previous, `${node}-place-pki`, `${node}-upgrade`].sort());
        });
        // Strict: every join has every earlier membership step among its ancestors.
        const members = ["k8s-prod-cp-0-init", ...cps.slice(1).map((n) => `${n}-join`)];
        members.forEach((m, i) => {
            const before = ancestors(cmd(m));
            for (const earlier of members.slice(0, i))
                assert.ok(before.has(cmd(earlier).urn), `${m} runs after ${earlier}`);
        });
    });

    it("joins workers after the last control plane, in parallel with each other", () => {
        for (const w of workers)
            assert.deepEqual(waitsFor(cmd(`${w}-join`)), [`${w}-upgrade`, "k8s-prod-cp-4-join"].sort());
    });

    it("installs the weekly renewal of kubeadm's client certificates on every control plane once it has joined, on no worker", () => {
        cps.forEach((node, i) => {
            const renewal = cmd(`${node}-cert-renewal`);
            assert.ok(waitsFor(renewal).includes(i === 0 ? "k8s-prod-cp-0-init" : `${node}-join`), node);
        });
        for (const w of workers)
            assert.equal(
                run.resources.find((r) => r.name === `${w}-cert-renewal`),
                undefined,
            );
    });

    it("rotates certificates one node at a time, only on change", () => {
        cps.forEach((node, i) => {
            const rotate = cmd(`${node}-rotate`);
            assert.equal(rotate.inputs.create, "true", "nothing restarts at creation");
            assert.ok(rotate.inputs.update !== undefined, "the rotation runs on update");
            assert.equal(
                rotate.inputs.triggers,
                undefined,
                "no triggers: the SDK makes them replace, and a replacement runs only the no-op create",
            );
            if (i > 0)
                assert.ok(waitsFor(rotate).includes(`${cps[i - 1]}-rotate`), `${node} rotates after ${cps[i - 1]}`);
        });
    });

    it("resets a removed node through a delete hook; a teardown goes workers first, then control planes last to first", () => {
        for (const node of [...cps, ...workers]) {
            const reset = cmd(`${node}-reset`);
            assert.equal(reset.inputs.create, "true");
            assert.ok(reset.inputs.delete !== undefined);
        }
        cps.slice(1).forEach((node, i) => assert.ok(waitsFor(cmd(`${node}-reset`)).includes(`${cps[i]}-reset`)));
        // A worker: node 0 drains it, it resets itself, node 0 deletes its Node; all of it before
        // any control plane goes (a delete runs dependents first).
        for (const w of workers) {
            for (const cp of cps) assert.ok(waitsFor(cmd(`${w}-remove-node`)).includes(`${cp}-reset`));
            assert.deepEqual(waitsFor(cmd(`${w}-reset`)), [`${w}-remove-node`]);
            assert.deepEqual(waitsFor(cmd(`${w}-remove-drain`)), [`${w}-reset`]);
            for (const hook of ["remove-drain", "remove-node"]) {
                assert.equal(cmd(`${w}-${hook}`).inputs.create, "true");
                assert.ok(cmd(`${w}-${hook}`).inputs.delete !== undefined);
            }
        }
    });
});

describe("bootstrap secrecy (update mode, real PKI)", () => {
    let run: ProgramRun;
    before(async () => {
        run = await sharedRun({ stack: "prod", preview: false });
        assert.ifError(run.error);
    });

    it("connects through the bastion with the secret SSH key", () => {
        for (const r of run.resources.filter((x) => x.type === COMMAND)) {
            const conn = r.inputs.connection as Record<string, unknown>;
            assert.ok(isSecretValue(conn), `${r.name}: the connection carries the key, so it is secret as a whole`);
            const c = (conn as { value: Record<string, any> }).value;
            assert.equal(c.user, "ubuntu");
            assert.equal(c.proxy.user, "ubuntu");
        }
    });

    it("defect: dials the bastion's Elastic IP, which survives a stop/start (a changed address re-ran every command)", () => {
        const eips = run.resources.filter((x) => x.type === TYPES.eip && x.name === "k8s-prod-bastion");
        assert.equal(eips.length, 1, "the bastion has an Elastic IP");
        const bastion = run.resources.find((x) => x.type === T.instance && x.name === "k8s-prod-bastion")!;
        assert.deepEqual(eips[0].propertyDependencies.instance, [bastion.urn], "associated with the bastion");
        for (const r of run.resources.filter((x) => x.type === COMMAND)) {
            const c = (r.inputs.connection as { value: Record<string, any> }).value;
            assert.equal(c.proxy.host, eips[0].outputs.publicIp, `${r.name} dials the Elastic IP`);
        }
        assert.equal(
            (run.outputs.bastionAddress as { value?: unknown })?.value ?? run.outputs.bastionAddress,
            eips[0].outputs.publicIp,
        );
    });

    it("defect: retries SSH dials for at least the five minutes the README promises, under the command provider's retry schedule", () => {
        // pulumi-command dials with the Pulumi SDK's retry.Until defaults: a 100 ms delay, times 1.5
        // after each failed dial, at most 5 s; dialErrorLimit failed dials end it. A refused dial
        // (sshd not up yet) fails at once, so the budget is the sum of the delays.
        const waited = (limit: number) =>
            Array.from({ length: limit }, (_, k) => Math.min(0.1 * 1.5 ** k, 5)).reduce((a, b) => a + b, 0);
        for (const r of run.resources.filter((x) => x.type === COMMAND)) {
            const c = (r.inputs.connection as { value: Record<string, any> }).value;
            for (const [what, conn] of [
                ["node", c],
                ["bastion", c.proxy],
            ] as const) {
                assert.ok(
                    waited(conn.dialErrorLimit) >= 300,
                    `${r.name} ${what}: ${conn.dialErrorLimit} dials wait ${waited(conn.dialErrorLimit).toFixed(0)} s`,
                );
                assert.equal(conn.perDialTimeout, 10, `${r.name} ${what}`);
            }
        }
    });

    it("passes secrets on stdin only, and commands that read them log nothing", () => {
        const withStdin = run.resources.filter((x) => x.type === COMMAND && x.inputs.stdin !== undefined);
        assert.deepEqual(
            withStdin
                .map((r) => r.name.replace(/^k8s-prod-(cp|worker)-\d-/, ""))
                .sort()
                .filter((v, i, a) => a.indexOf(v) === i),
            [
                "init",
                "join",
                "join-token",
                "place-pki",
                "remove-drain",
                "remove-node",
                "reset",
                "upgrade",
                "upgrade-drain",
                "upgrade-uncordon",
            ],
        );
        for (const r of withStdin) {
            assert.ok(isSecretValue(r.inputs.stdin), `${r.name} stdin is secret`);
            assert.equal(r.inputs.logging, "none", `${r.name} logs nothing`);
            for (const out of ["stdout", "stderr"])
                assert.ok(r.additionalSecretOutputs.includes(out), `${r.name} ${out} is secret`);
        }
    });

    it("every node's kubelet registers with the external cloud provider and the providerID of the instance the stack created (aws:///<zone>/<id>)", () => {
        const instances = run.resources.filter((r) => r.type === TYPES.instance && /-(cp|worker)-\d+$/.test(r.name));
        assert.equal(instances.length, 8);
        // The mock cloud's ARNs end in the resource id (as EC2's do).
        const idOf = (r: RecordedResource) => String(r.outputs.arn).split("/").pop()!;
        const subnets = new Map(
            run.resources.filter((r) => r.type === T.subnet).map((r) => [idOf(r), String(r.inputs.availabilityZone)]),
        );
        const seen = new Set<string>();
        for (const instance of instances) {
            const zone = subnets.get(String(instance.inputs.subnetId));
            assert.ok(zone, `${instance.name}'s subnet has a zone`);
            const step = run.resources.find(
                (r) => r.type === COMMAND && (r.name === `${instance.name}-init` || r.name === `${instance.name}-join`),
            )!;
            const text = String(isSecretValue(step.inputs.create) ? step.inputs.create.value : step.inputs.create);
            const providerIds = [...text.matchAll(/name: provider-id\n\s*value: (\S+)/g)].map((m) => m[1]);
            assert.ok(providerIds.length > 0, `${step.name} sets the kubelet's provider-id`);
            assert.match(idOf(instance), /^i-[0-9a-f]+$/);
            for (const id of providerIds) assert.equal(id, `aws:///${zone}/${idOf(instance)}`, step.name);
            assert.match(text, /name: cloud-provider\n\s*value: external/, `${step.name}: external cloud provider`);
            seen.add(providerIds[0]);
        }
        assert.equal(seen.size, 8, "each node names its own instance");
    });

    it("re-runs a node's rotation when its certificates change: their fingerprint is in the update command", () => {
        for (const node of ["k8s-prod-cp-0", "k8s-prod-cp-4"]) {
            const rotate = run.resources.find((r) => r.type === COMMAND && r.name === `${node}-rotate`)!;
            const update = isSecretValue(rotate.inputs.update)
                ? String(rotate.inputs.update.value)
                : String(rotate.inputs.update);
            assert.match(update, /^sudo bash -c '.*' # certificates [0-9a-f]{64}$/s);
            assert.ok(update.includes("k8s-ha rotate"), "runs the rotate script");
        }
        const fingerprints = ["k8s-prod-cp-0", "k8s-prod-cp-1"].map((node) => {
            const rotate = run.resources.find((r) => r.type === COMMAND && r.name === `${node}-rotate`)!;
            return String(
                isSecretValue(rotate.inputs.update) ? rotate.inputs.update.value : rotate.inputs.update,
            ).slice(-64);
        });
        assert.notEqual(fingerprints[0], fingerprints[1], "each node has its own certificates");
    });

    it("defect: no command that runs on a worker can hold an admin credential: its stdin is its own token at most", () => {
        const instances = run.resources.filter((r) => r.type === TYPES.instance);
        const workerIps = new Set(
            instances.filter((r) => /-worker-\d+$/.test(r.name)).map((r) => String(r.outputs.privateIp)),
        );
        const controlPlaneIps = new Set(
            instances.filter((r) => /-cp-\d+$/.test(r.name)).map((r) => String(r.outputs.privateIp)),
        );
        assert.equal(workerIps.size, 3);
        const host = (r: (typeof run.resources)[number]) => {
            const c = r.inputs.connection;
            return String(((isSecretValue(c) ? c.value : c) as { host: string }).host);
        };
        const onWorkers = run.resources.filter((r) => r.type === COMMAND && workerIps.has(host(r)));
        assert.deepEqual(
            onWorkers
                .map((r) => r.name.replace(/^k8s-prod-worker-\d-/, ""))
                .sort()
                .filter((v, i, a) => a.indexOf(v) === i),
            ["join", "prepare", "reset", "upgrade"],
        );
        const adminKey = String(run.outputs.kubeconfig.value).match(/client-key-data: (\S+)/)![1];
        const keys = run.resources
            .filter((r) => r.type === T.privateKey)
            .map((r) => (r.outputs.privateKeyPem as { value: string }).value.split("\n")[1]);
        for (const r of onWorkers) {
            assert.equal(r.inputs.environment, undefined, `${r.name}: no environment`);
            for (const field of ["create", "update", "delete", "stdin"]) {
                const raw = r.inputs[field];
                const value = isSecretValue(raw) ? String(raw.value) : String(raw ?? "");
                assert.ok(
                    !value.includes("client-key-data") && !value.includes(adminKey) && !value.includes("PRIVATE KEY"),
                    `${r.name}.${field} holds an admin credential`,
                );
                for (const k of keys) assert.ok(!value.includes(k), `${r.name}.${field} holds a private key`);
            }
            const stdin = r.inputs.stdin;
            if (stdin !== undefined)
                assert.match(
                    String(isSecretValue(stdin) ? stdin.value : stdin),
                    /^[a-z0-9]{6}\.[a-z0-9]{16}\n$/,
                    `${r.name}: stdin is one bootstrap token`,
                );
        }
        // Each worker's token is its own, and the control planes' token is none of them.
        const joinTokens = onWorkers
            .filter((r) => r.name.endsWith("-join"))
            .map((r) => String((r.inputs.stdin as { value: string }).value));
        assert.equal(new Set(joinTokens).size, 3);
        const cpJoin = run.resources.find((r) => r.type === COMMAND && r.name === "k8s-prod-cp-1-join")!;
        const cpToken = String((cpJoin.inputs.stdin as { value: string }).value).split("\n")[0];
        assert.ok(!joinTokens.includes(`${cpToken}\n`));
        // Whatever needs the admin kubeconfig about a worker runs on a control plane.
        for (const r of run.resources.filter(
            (x) =>
                x.type === COMMAND &&
                /-worker-\d+-(join-token|upgrade-drain|upgrade-uncordon|remove-drain|remove-node)$/.test(x.name),
        )) {
            assert.ok(controlPlaneIps.has(host(r)), `${r.name} runs on a control plane`);
        }
    });

    it("never embeds the token, a private key or the kubeconfig in a command line", async () => {
        const token = run.resources
            .filter((r) => r.type === TYPES.randomPassword)
            .map((r) => (r.outputs.result as { value: string }).value);
        // two halves of the control planes' token, and of each worker's own
        assert.equal(
            token.length,
            2 * (1 + run.resources.filter((r) => r.type === COMMAND && r.name.endsWith("-join-token")).length),
        );
        const keys = run.resources
            .filter((r) => r.type === T.privateKey)
            .map((r) => (r.outputs.privateKeyPem as { value: string }).value.split("\n")[1]);
        const kubeconfigKey = String(run.outputs.kubeconfig.value).match(/client-key-data: (\S{40})/)![1];
        for (const r of run.resources.filter((x) => x.type === COMMAND)) {
            for (const field of ["create", "update", "delete"]) {
                const raw = r.inputs[field];
                const text = isSecretValue(raw) ? String(raw.value) : String(raw ?? "");
                for (const s of [...token, ...keys, kubeconfigKey])
                    assert.ok(!text.includes(s), `${r.name}.${field} embeds a secret`);
            }
        }
    });
});
