// Which image a node's instance gets (components/nodePool.ts): a newer Ubuntu image reaches new and
// replaced nodes only (and nodes moved to another architecture); a node that stays keeps its own,
// stated by the program instead of an ignoreChanges on `ami`. The engine's side of it runs on the
// real CLI in tests/engine/lifecycle.spec.ts.
import { strict as assert } from "node:assert";
import { nodeImage, type CurrentInstance } from "../../components/nodePool";
import { REPLACE_TRIGGER_TAG, UNSET_REPLACE_TRIGGER } from "../../components/rollout";
import { UBUNTU_IMAGES, type CloudInstance } from "../../tools/harness/cloud";
import { runProgram, type ProgramRun } from "../../tools/harness/program";
import { plain } from "../graph";
import { INSTANCE, named } from "./helpers";

const OLD = "ami-0123456789abcdef0";
const LATEST = "ami-0fedcba9876543210";
const NODES = ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2", "k8s-dev-worker-0"];
const NEWER = {
    id: "ami-0b1c2d3e4f5061728",
    name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261201",
};

const at = (trigger: string | undefined, over: Partial<CurrentInstance> = {}): CurrentInstance => ({
    id: "i-0aaaaaaaaaaaaaaaa",
    ami: OLD,
    instanceType: "t3.medium",
    trigger,
    ...over,
});

describe("a node's image: nodeImage", () => {
    it("a new node (no live instance) gets the latest image", () => {
        assert.equal(nodeImage("n", LATEST, UNSET_REPLACE_TRIGGER, "t3.medium", []), LATEST);
    });

    it("a node that stays keeps the image its instance runs", () => {
        assert.equal(nodeImage("n", LATEST, UNSET_REPLACE_TRIGGER, "t3.medium", [at(UNSET_REPLACE_TRIGGER)]), OLD);
        assert.equal(
            nodeImage("n", LATEST, "2026-11-29", "m6i.large", [at("2026-11-29")]),
            OLD,
            "an instance type change within the architecture keeps it",
        );
    });

    it("a node replaced by its trigger gets the latest image", () => {
        assert.equal(nodeImage("n", LATEST, "2026-11-29", "t3.medium", [at(UNSET_REPLACE_TRIGGER)]), LATEST);
        assert.equal(nodeImage("n", LATEST, "2026-12-01", "t3.medium", [at("2026-11-29")]), LATEST);
    });

    it("an instance without the trigger tag (a stack from before it) keeps its image, whatever the trigger", () => {
        assert.equal(nodeImage("n", LATEST, "2026-11-29", "t3.medium", [at(undefined)]), OLD);
    });

    it("a move to another architecture gets the latest image (of the new architecture)", () => {
        assert.equal(nodeImage("n", LATEST, UNSET_REPLACE_TRIGGER, "m7g.large", [at(UNSET_REPLACE_TRIGGER)]), LATEST);
    });

    it("two live instances: the same image is kept; different images are refused, naming the node and both", () => {
        assert.equal(nodeImage("n", LATEST, "t", "t3.medium", [at("t"), at("t", { id: "i-0bbbbbbbbbbbbbbbb" })]), OLD);
        assert.equal(
            nodeImage("n", LATEST, "t", "t3.medium", [at("t"), at("old", { id: "i-0bbbbbbbbbbbbbbbb", ami: LATEST })]),
            OLD,
            "the one being replaced does not count",
        );
        assert.throws(
            () =>
                nodeImage("k8s-dev-cp-1", LATEST, "t", "t3.medium", [
                    at("t"),
                    at("t", { id: "i-0bbbbbbbbbbbbbbbb", ami: LATEST }),
                ]),
            /node k8s-dev-cp-1: 2 live instances .*i-0aaaaaaaaaaaaaaaa runs ami-0123456789abcdef0, i-0bbbbbbbbbbbbbbbb runs ami-0fedcba9876543210.*terminate/,
        );
    });
});

describe("a node's image in the program (dev, mocks: a live stack, a newer Ubuntu image published)", () => {
    const live = (tags: (node: string) => Record<string, string>): CloudInstance[] =>
        NODES.map((n, i) => ({
            id: `i-0${String(i).repeat(16)}`,
            ami: UBUNTU_IMAGES.x86_64.id,
            instanceType: "t3.medium",
            state: "running",
            tags: { Name: n, "kubernetes.io/cluster/k8s-dev": "owned", ...tags(n) },
        }));
    const amis = (run: ProgramRun) => Object.fromEntries(NODES.map((n) => [n, plain(named(run, INSTANCE, n)).ami]));

    for (const preview of [true, false]) {
        it(`${preview ? "preview" : "up"}: every node keeps its image, only the node whose trigger changed gets the newer one`, async () => {
            const instances = live(() => ({ [REPLACE_TRIGGER_TAG]: UNSET_REPLACE_TRIGGER }));
            const same = await runProgram({ stack: "dev", preview, mocks: { images: { x86_64: NEWER }, instances } });
            assert.equal(same.error, undefined);
            assert.deepEqual(amis(same), Object.fromEntries(NODES.map((n) => [n, UBUNTU_IMAGES.x86_64.id])));
            const replaced = await runProgram({
                stack: "dev",
                preview,
                config: { nodeReplaceTriggers: { "k8s-dev-cp-1": "2026-11-29" } },
                mocks: { images: { x86_64: NEWER }, instances },
            });
            assert.deepEqual(amis(replaced), {
                ...Object.fromEntries(NODES.map((n) => [n, UBUNTU_IMAGES.x86_64.id])),
                "k8s-dev-cp-1": NEWER.id,
            });
            assert.equal(
                plain(named(replaced, INSTANCE, "k8s-dev-cp-1")).tags[REPLACE_TRIGGER_TAG],
                "2026-11-29",
                "the new instance records its trigger",
            );
        });
    }

    it("a first up builds every node on the newest image; the nodes record their trigger; only the bastion ignores `ami`", async () => {
        const run = await runProgram({
            stack: "dev",
            preview: false,
            config: { nodeReplaceTriggers: { "k8s-dev-worker-0": "x" } },
            mocks: { images: { x86_64: NEWER } },
        });
        assert.deepEqual(amis(run), Object.fromEntries(NODES.map((n) => [n, NEWER.id])));
        for (const n of NODES) {
            assert.equal(
                plain(named(run, INSTANCE, n)).tags[REPLACE_TRIGGER_TAG],
                n === "k8s-dev-worker-0" ? "x" : UNSET_REPLACE_TRIGGER,
                n,
            );
            assert.deepEqual(named(run, INSTANCE, n).ignoreChanges, ["userData"], n);
        }
        assert.deepEqual(named(run, INSTANCE, "k8s-dev-bastion").ignoreChanges.sort(), ["ami", "userData"]);
    });

    it("migration: instances from before the trigger tag keep their image even where a trigger is set, and get the tag in place", async () => {
        const run = await runProgram({
            stack: "dev",
            preview: false,
            config: { nodeReplaceTriggers: { "k8s-dev-cp-1": "2026-11-22" } },
            mocks: { images: { x86_64: NEWER }, instances: live(() => ({})) },
        });
        assert.deepEqual(amis(run), Object.fromEntries(NODES.map((n) => [n, UBUNTU_IMAGES.x86_64.id])));
        assert.equal(plain(named(run, INSTANCE, "k8s-dev-cp-1")).tags[REPLACE_TRIGGER_TAG], "2026-11-22");
    });
});
