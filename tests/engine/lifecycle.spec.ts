// A dev stack's life under the real engine, on the stand-ins: up, a first-time replacement
// trigger, a Kubernetes upgrade, destroy; what the command stand-in journals (what would have run
// over SSH, when, against which host) and what the aws stand-in journals (which cloud objects were
// created and deleted, when). The specs marked "defect" failed on the program before its fix.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { publishImage } from "../../tools/engine/cloudImages";
import { UBUNTU_IMAGES, randomBytes } from "../../tools/harness/cloud";
import { Lab, transcript, type AwsJournalEntry, type JournalEntry } from "./engine";
import { TYPES } from "../../policies/lib/contract";

const C = "k8s-dev";
const CPS = [0, 1, 2].map((i) => `${C}-cp-${i}`);
const WORKER = `${C}-worker-0`;
const INSTANCE = TYPES.instance;
const TRIGGER = { nodeReplaceTriggers: { [`${C}-cp-1`]: "2026-11-29" } };
/** The steps node 0 runs for a worker, with the admin kubeconfig that never goes to the worker. */
const FOR_WORKER = new Set(["join-token", "upgrade-drain", "upgrade-uncordon", "remove-drain", "remove-node"]);

const ran = (entries: JournalEntry[]) => entries.filter((e) => e.ran !== null);
const one = (entries: JournalEntry[], resource: string, op?: JournalEntry["op"]): JournalEntry => {
    const found = entries.filter((e) => e.resource === resource && (!op || e.op === op));
    assert.equal(found.length, 1, `${resource} ${op ?? ""}: ${JSON.stringify(found)}`);
    return found[0];
};
const t = (iso: string) => Date.parse(iso);
const describeEntries = (entries: (JournalEntry | AwsJournalEntry)[]) =>
    entries
        .map(
            (e) =>
                `${"start" in e ? e.start : e.time} ${e.op} ${e.resource}${"ran" in e ? ` ran=${e.ran} host=${e.host}` : ""}`,
        )
        .join("\n");

/** What the add-ons component creates through the kubernetes provider, by name. */
const ADDONS = [
    "aws-cloud-controller-manager",
    "aws-ebs-csi-driver",
    "calico",
    "default-storage-class",
    "ebs-csi-controller-host-network",
];

describe("engine: a dev stack's life (real CLI, stand-in providers)", function () {
    const lab = new Lab("dev");
    let commandsBefore = 0;
    let awsBefore = 0;
    const since = () => ({ commands: lab.commands().slice(commandsBefore), aws: lab.aws().slice(awsBefore) });
    const mark = () => {
        commandsBefore = lab.commands().length;
        awsBefore = lab.aws().length;
    };
    const ipOf = (node: string) =>
        lab.resources().find((r) => r.type === INSTANCE && r.urn.endsWith(`::${node}`))?.outputs?.privateIp as string;

    after(() => lab.dispose());

    it("up creates everything: prepare in parallel, then init, then one control-plane join at a time, workers last", async () => {
        await lab.ok("up", {}, ["--skip-preview"]);
        const j = lab.commands().filter((e) => e.op === "create");
        const prepares = [...CPS, WORKER].map((n) => one(j, `${n}-prepare`));
        const overlapping = prepares.some((a) =>
            prepares.some((b) => a !== b && t(a.start) < t(b.end) && t(b.start) < t(a.end)),
        );
        assert.ok(overlapping, `no two prepares ran at the same time:\n${describeEntries(prepares)}`);
        const init = one(j, `${C}-cp-0-init`);
        assert.ok(t(init.start) >= t(one(j, `${C}-cp-0-prepare`).end));
        assert.ok(t(init.start) >= t(one(j, `${C}-cp-0-place-pki`).end));
        let previous = init;
        for (const node of CPS.slice(1)) {
            const join = one(j, `${node}-join`);
            assert.ok(
                t(join.start) >= t(previous.end),
                `${node} joined before ${previous.resource} finished:\n${describeEntries(ran(j))}`,
            );
            previous = join;
        }
        const workerJoin = one(j, `${WORKER}-join`);
        assert.ok(t(workerJoin.start) >= t(previous.end), "the worker joined before the last control plane");
        // the worker's token is made on node 0 while the worker joins: neither waits for the other
        // (the engine may start either first), and both wait for the worker's install
        const token = one(j, `${WORKER}-join-token`);
        const stateOf = (name: string) => lab.resources().find((r) => r.urn.endsWith(`::${name}`))!;
        const [tokenState, joinState] = [stateOf(`${WORKER}-join-token`), stateOf(`${WORKER}-join`)];
        assert.ok(
            !(joinState.dependencies ?? []).includes(tokenState.urn) &&
                !(tokenState.dependencies ?? []).includes(joinState.urn),
            "the join-token step and the join wait for each other",
        );
        const install = one(j, `${WORKER}-upgrade`);
        for (const e of [token, workerJoin])
            assert.ok(t(e.start) >= t(install.end), `${e.resource} started before the worker's install ended`);
        for (const e of ran(j)) {
            const on = FOR_WORKER.has(e.step) ? `${C}-cp-0` : e.node;
            assert.equal(e.host, ipOf(on), `${e.resource} ran against ${e.host}, not ${on}'s address`);
        }
    });

    it("installs the add-ons (Calico, the AWS CCM, the EBS CSI driver, the default StorageClass) after the last control-plane join", () => {
        const created = lab.kubernetes().filter((e) => e.op === "create");
        assert.deepEqual(created.map((e) => e.resource).sort(), ADDONS);
        const lastJoin = one(
            lab.commands().filter((e) => e.op === "create"),
            `${CPS[CPS.length - 1]}-join`,
        );
        for (const e of created)
            assert.ok(
                t(e.time) >= t(lastJoin.end),
                `${e.resource} was created at ${e.time}, before ${lastJoin.resource} ended at ${lastJoin.end}`,
            );
        const at = (name: string) => t(created.find((e) => e.resource === name)!.time);
        assert.ok(at("aws-ebs-csi-driver") >= at("aws-cloud-controller-manager"), "the EBS CSI driver after the CCM");
        assert.ok(at("default-storage-class") >= at("aws-ebs-csi-driver"), "the StorageClass after the driver");
    });

    it("defect: no command that ran on the worker received an admin credential on stdin; node 0's steps for it did", () => {
        const j = lab.commands().filter((e) => e.op === "create" && e.ran !== null);
        const onWorker = j.filter((e) => e.host === ipOf(WORKER));
        // (its reset hook's create is the no-op `true`, with no stdin)
        assert.deepEqual(onWorker.map((e) => e.step).sort(), ["join", "prepare", "reset", "upgrade"]);
        for (const e of onWorker)
            assert.deepEqual(
                e.stdinHolds.filter((k) => k !== "bootstrap-token"),
                [],
                `${e.resource} received ${e.stdinHolds.join(", ")}`,
            );
        assert.deepEqual(one(j, `${WORKER}-join`).stdinHolds, ["bootstrap-token"]);
        assert.deepEqual(one(j, `${WORKER}-join-token`).stdinHolds, ["bootstrap-token", "client-key"]);
    });

    it("the state file holds no private key, token or kubeconfig in plain text", () => {
        const state = lab.stateFile();
        // (The scripts themselves mention "client-key-data" and "PRIVATE KEY": look for the material.)
        assert.doesNotMatch(state, /PRIVATE KEY-----(\\n|\s)*[A-Za-z0-9+/]{40}/, "a private key in plain text");
        assert.doesNotMatch(state, /client-(key|certificate)-data:\s*[A-Za-z0-9+/=]{20}/, "a kubeconfig in plain text");
        assert.doesNotMatch(state, /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/, "a bootstrap token in plain text");
        assert.match(state, /"ciphertext"/, "secrets are encrypted");
        // The key that encrypts Secrets at rest: a secret output of RandomBytes, as with the real provider.
        const key = lab
            .resources()
            .find((r) => r.type === TYPES.randomBytes && r.urn.endsWith(`::${C}-secrets-key-key1`));
        assert.ok(key, "the Secrets' key is in the state");
        for (const out of ["base64", "hex"])
            assert.ok(JSON.stringify(key.outputs?.[out]).includes("ciphertext"), `its ${out} is encrypted`);
        const bytes = randomBytes(`${C}-secrets-key-key1`, 32);
        assert.ok(
            !state.includes(bytes.toString("base64")) && !state.includes(bytes.toString("hex")),
            "the Secrets' key in plain text",
        );
    });

    it("defect: dropping the Secrets write key in one step (['key1'] → ['key2']) is refused, even without a preview, before any key is deleted or command runs", async () => {
        mark();
        const keyOf = (name: string) =>
            lab.resources().find((r) => r.type === TYPES.randomBytes && r.urn.endsWith(`::${C}-secrets-key-${name}`));
        // Its outputs are secrets, encrypted anew at every save, and the stand-in's bytes are the
        // same for a key made again: the state's creation time says it is the same resource.
        const created = () => (keyOf("key1") as { created?: string } | undefined)?.created;
        const key1 = created();
        assert.ok(key1, "key1 is in the state, with its creation time");
        const guardOf = () => lab.resources().find((r) => r.type === TYPES.secretsKeyGuard);
        assert.deepEqual(guardOf()?.outputs?.keys, ["key1"]);
        const r = await lab.run("up", { secretsEncryptionKeys: ["key2"] }, ["--skip-preview"]);
        assert.notEqual(r.code, 0, transcript(r));
        assert.match(
            r.stdout + r.stderr,
            /secretsEncryptionKeys: \["key2"\] is not allowed; expected a list that keeps "key1", the key new Secrets were written with/,
            transcript(r),
        );
        assert.equal(created(), key1, "key1 is kept as it was");
        assert.deepEqual(guardOf()?.outputs?.keys, ["key1"], "the guard still holds the old list");
        assert.deepEqual(since().commands, [], "a command ran");
        assert.deepEqual(since().aws, [], "a cloud object changed");
    });

    it("defect: nodeReplaceTriggers set for the first time replaces exactly that node, reset before delete, join after create", async () => {
        const oldIp = ipOf(`${C}-cp-1`);
        mark();
        await lab.ok("up", TRIGGER, ["--skip-preview"]);
        const { commands, aws } = since();
        const instances = aws.filter((e) => e.type === INSTANCE);
        assert.deepEqual(
            instances.map((e) => `${e.op} ${e.resource}`),
            [`delete ${C}-cp-1`, `create ${C}-cp-1`],
            `instances:\n${describeEntries(aws)}`,
        );
        const reset = one(commands, `${C}-cp-1-reset`, "delete");
        assert.equal(reset.ran, "delete");
        assert.equal(reset.host, oldIp, "the reset hook ran against the old instance");
        assert.ok(t(reset.end) <= t(instances[0].time), "the reset ran before the instance was deleted");
        const newIp = ipOf(`${C}-cp-1`);
        assert.notEqual(newIp, oldIp);
        const join = commands.find((e) => e.resource === `${C}-cp-1-join` && e.ran !== null)!;
        assert.ok(join, `cp-1 did not join again:\n${describeEntries(commands)}`);
        assert.equal(join.host, newIp);
        assert.ok(t(join.start) >= t(instances[1].time), "the join ran after the new instance existed");
        // No other node's command runs, except two that carry every control plane's address, and
        // cp-1's changed: the etcd backup installers (for the restore script) and node 0's init
        // (it probes the others before it would ever initialise); both are no-ops on a live node.
        const others = ran(commands).filter(
            (e) =>
                e.node !== `${C}-cp-1` &&
                !(e.step === "etcd-backup" && e.node.includes("-cp-")) &&
                e.resource !== `${C}-cp-0-init`,
        );
        assert.deepEqual(
            others.map((e) => e.resource),
            [],
            "another node's command ran",
        );
    });

    it("defect: a kubernetesVersion bump updates only the upgrade commands, one node at a time", async () => {
        mark();
        await lab.ok("up", { ...TRIGGER, kubernetesVersion: "1.35.5" }, ["--skip-preview"]);
        const { commands, aws } = since();
        assert.deepEqual(
            aws.map((e) => `${e.op} ${e.resource}`),
            [],
            "a cloud object changed",
        );
        const runs = ran(commands);
        // the worker's upgrade between its drain and uncordon, which node 0 runs
        const order = [
            ...CPS.map((n) => `${n}-upgrade`),
            `${WORKER}-upgrade-drain`,
            `${WORKER}-upgrade`,
            `${WORKER}-upgrade-uncordon`,
        ];
        assert.deepEqual(
            runs.map((e) => e.resource).sort(),
            [...order].sort(),
            `other commands ran:\n${describeEntries(runs)}`,
        );
        const byStart = [...runs].sort((a, b) => t(a.start) - t(b.start));
        assert.deepEqual(
            byStart.map((e) => e.resource),
            order,
            "not control planes from node 0, then the worker",
        );
        for (let i = 1; i < byStart.length; i++) {
            assert.ok(
                t(byStart[i].start) >= t(byStart[i - 1].end),
                `${byStart[i].resource} started before ${byStart[i - 1].resource} ended`,
            );
        }
        // an upgrade's update runs the create script again (the command provider's rule when no
        // update is set); the drain and uncordon run their update script (their create is a no-op)
        for (const e of runs)
            assert.deepEqual([e.op, e.ran], ["update", FOR_WORKER.has(e.step) ? "update" : "create"], e.resource);
    });

    it("defect: destroy runs every reset hook before any rule, route, NAT gateway, NLB attachment, listener or the bastion is deleted", async () => {
        mark();
        const mark0 = new Date().toISOString();
        await lab.ok("destroy", TRIGGER);
        const { commands, aws } = since();
        const resets = commands.filter((e) => e.step === "reset" && e.op === "delete");
        assert.equal(resets.length, 4, describeEntries(commands));
        for (const r of resets) assert.equal(r.ran, "delete");
        const lastReset = Math.max(...resets.map((r) => t(r.end)));
        const path = new Set<string>([
            TYPES.securityGroupIngressRule,
            TYPES.securityGroupEgressRule,
            TYPES.routeTable,
            TYPES.routeTableAssociation,
            TYPES.natGateway,
            TYPES.eip,
            TYPES.internetGateway,
            TYPES.targetGroupAttachment,
            TYPES.listener,
            TYPES.loadBalancer,
            TYPES.securityGroup,
        ]);
        // The add-ons go while the API still answers: before any control plane's reset hook runs
        // (the worker's hooks, which need the API too, may run alongside).
        const addonDeletes = lab.kubernetes().filter((e) => e.op === "delete" && t(e.time) >= t(mark0));
        assert.deepEqual(addonDeletes.map((e) => e.resource).sort(), ADDONS, describeEntries(lab.kubernetes()));
        const firstControlPlaneReset = Math.min(...resets.filter((r) => r.node !== WORKER).map((r) => t(r.start)));
        for (const e of addonDeletes)
            assert.ok(
                t(e.time) <= firstControlPlaneReset,
                `${e.resource} was deleted at ${e.time}, after a control plane's reset hook started`,
            );
        const early = aws.filter(
            (e) => e.op === "delete" && (path.has(e.type) || e.resource === `${C}-bastion`) && t(e.time) < lastReset,
        );
        assert.deepEqual(
            early.map((e) => `${e.time} ${e.resource}`),
            [],
            `deleted before the last reset hook ran:\n${describeEntries([...resets, ...aws])}`,
        );
        // the worker first (node 0 drains it, it resets itself, node 0 deletes its Node), then
        // control planes from the last to node 0
        const order = [...resets].sort((a, b) => t(a.start) - t(b.start)).map((r) => r.node);
        assert.deepEqual(order, [WORKER, ...[...CPS].reverse()]);
        const removal = [`${WORKER}-remove-drain`, `${WORKER}-reset`, `${WORKER}-remove-node`, `${CPS[2]}-reset`].map(
            (r) => one(commands, r, "delete"),
        );
        for (let i = 1; i < removal.length; i++)
            assert.ok(
                t(removal[i].start) >= t(removal[i - 1].end),
                `${removal[i].resource} ran before ${removal[i - 1].resource} ended`,
            );
        for (const e of removal) assert.equal(e.ran, "delete", e.resource);
        assert.deepEqual(
            lab.resources().filter((r) => r.type !== TYPES.stack),
            [],
            "destroy left resources",
        );
    });
});

describe("engine: destroy with protect on (real CLI, stand-in providers)", function () {
    const lab = new Lab("dev");
    after(() => lab.dispose());

    it("a destroy that previews first deletes nothing: the preview already refuses the protected deletes", async () => {
        await lab.ok("up", { protect: true }, ["--skip-preview"]);
        const [commands, aws] = [lab.commands().length, lab.aws().length];
        const r = await lab.run("destroy", { protect: true });
        assert.notEqual(r.code, 0, transcript(r));
        assert.match(
            r.stdout + r.stderr,
            /Preview failed: resource "[^"]+" cannot be deleted\s+because it is protected/,
            transcript(r),
        );
        assert.deepEqual([lab.commands().length, lab.aws().length], [commands, aws], "something ran or was deleted");
    });

    it("defect: with --skip-preview (as automation runs it) a protected control plane keeps its reset hook and its network path", async () => {
        const before = lab.commands().length;
        const r = await lab.run("destroy", { protect: true }, ["--skip-preview"]);
        assert.notEqual(r.code, 0, `destroy of protected resources succeeded:\n${transcript(r)}`);
        assert.match(r.stdout + r.stderr, /cannot be deleted\s+because it is protected/, transcript(r));
        const left = new Set(lab.resources().map((r) => r.urn.split("::")[3]));
        const resetsRun = lab
            .commands()
            .slice(before)
            .filter((e) => e.step === "reset" && e.op === "delete" && e.node.includes("-cp-"));
        assert.deepEqual(
            resetsRun.map((e) => e.resource),
            [],
            "a protected control plane's reset hook ran (the node left the cluster)",
        );
        for (const node of CPS) {
            assert.ok(left.has(node), `${node} was deleted`);
            assert.ok(left.has(`${node}-reset`), `${node}-reset was deleted`);
            assert.ok(left.has(`${node}-api`), `${node}'s load balancer attachment was deleted`);
        }
        for (const name of [
            `${C}-bastion`,
            `${C}-cp-in-ssh`,
            `${C}-bastion-in-ssh-0`,
            `${C}-bastion-out-ssh`,
            `${C}-cp-in-api-lb`,
            `${C}-api-lb-out-control-plane`,
            `${C}-api`,
            `${C}-private-us-west-2a`,
            `${C}-nat-us-west-2a`,
        ]) {
            assert.ok(left.has(name), `${name} (the protected nodes' network path) was deleted`);
        }
    });
});

describe("engine: a newer Ubuntu image reaches replaced nodes only (real CLI, stand-in providers)", function () {
    const lab = new Lab("dev");
    const NEWER = {
        id: "ami-0b1c2d3e4f5061728",
        name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261201",
    };
    const amiOf = (node: string) =>
        lab.resources().find((r) => r.type === INSTANCE && r.urn.endsWith(`::${node}`))?.outputs?.ami;
    let original: unknown;
    after(() => lab.dispose());

    it("with a newer image published, an ordinary up changes no instance", async () => {
        await lab.ok("up", {}, ["--skip-preview"]);
        original = amiOf(`${C}-cp-0`);
        assert.ok(typeof original === "string" && original !== NEWER.id, `cp-0 runs ${String(original)}`);
        publishImage(join(lab.state, "cloud"), "x86_64", NEWER);
        const before = lab.aws().length;
        await lab.ok("up", {}, ["--skip-preview"]);
        const changed = lab
            .aws()
            .slice(before)
            .filter((e) => e.type === INSTANCE);
        assert.deepEqual(
            changed.map((e) => `${e.op} ${e.resource}`),
            [],
            "an instance changed",
        );
        for (const node of [...CPS, WORKER]) assert.equal(amiOf(node), original, node);
    });

    it("a node replaced by its trigger comes back on the newer image; the others keep theirs (already so before: the CLI re-checks raw inputs on replace)", async () => {
        const before = lab.aws().length;
        await lab.ok("up", TRIGGER, ["--skip-preview"]);
        const changed = lab
            .aws()
            .slice(before)
            .filter((e) => e.type === INSTANCE);
        assert.deepEqual(
            changed.map((e) => `${e.op} ${e.resource}`),
            [`delete ${C}-cp-1`, `create ${C}-cp-1`],
            describeEntries(changed),
        );
        assert.equal(amiOf(`${C}-cp-1`), NEWER.id, "the replaced node's image");
        for (const node of [`${C}-cp-0`, `${C}-cp-2`, WORKER]) assert.equal(amiOf(node), original, node);
    });

    it("defect: moving the control planes to a Graviton type replaces them, one at a time, onto the arm64 image; the worker stays", async () => {
        const before = lab.aws().length;
        await lab.ok("up", { ...TRIGGER, controlPlaneInstanceType: "t4g.medium" }, ["--skip-preview"]);
        const changed = lab
            .aws()
            .slice(before)
            .filter((e) => e.type === INSTANCE);
        assert.deepEqual(
            changed.map((e) => `${e.op} ${e.resource}`),
            CPS.flatMap((n) => [`delete ${n}`, `create ${n}`]),
            describeEntries(changed),
        );
        for (const node of CPS)
            assert.equal(amiOf(node), UBUNTU_IMAGES.arm64.id, `${node} runs an x86_64 image on an arm64 type`);
        assert.equal(amiOf(WORKER), original, WORKER);
    });
});
