// What a policy receives is what a protobuf Struct carries: the analyzer emulator copies the wire
// form once (normalizeWire) instead of building the Struct, so the copy must be a Struct's fixed
// point, key order included, and refuse what a Struct cannot carry.
import { strict as assert } from "node:assert";
import { TYPES } from "../../policies/lib/contract";
import { normalizeWire, toPolicyProps, WIRE, wireSecret } from "../../tools/harness/analyzer";

const structPb = require("google-protobuf/google/protobuf/struct_pb") as {
    Struct: { fromJavaScript(v: Record<string, unknown>): { toJavaScript(): Record<string, unknown> } };
};
const throughStruct = (v: Record<string, unknown>) => structPb.Struct.fromJavaScript(v).toJavaScript();

const WIRE_SAMPLE: Record<string, unknown> = {
    zeta: "last",
    tags: { Name: "cp-0", "kubernetes.io/cluster/ha": "owned", Cluster: "ha" },
    ports: [6443, -0, 2.5, null, undefined, [true, { b: 1, a: 2 }]],
    dropped: undefined,
    password: wireSecret({ y: "s3cret", x: [1] }),
    emptySecret: wireSecret(undefined),
    vpc: { [WIRE.sigKey]: WIRE.resourceSig, urn: `urn:pulumi:dev::p::${TYPES.vpc}::vpc`, id: "vpc-1" },
    component: { [WIRE.sigKey]: WIRE.resourceSig, urn: "urn:pulumi:dev::p::k8s-ha:index:Cluster::c", id: "" },
    known: { [WIRE.sigKey]: WIRE.outputValueSig, value: { d: 4, c: 3 } },
    unknown: { [WIRE.sigKey]: WIRE.outputValueSig },
    secretOutput: { [WIRE.sigKey]: WIRE.outputValueSig, value: "k", secret: true },
    "10": "numeric keys",
    "9": "come first",
    alpha: WIRE.unknown,
};

describe("policy properties as the wire carries them (normalizeWire)", () => {
    it("is what a protobuf Struct gives back for it, to the key order", () => {
        const carried = normalizeWire(WIRE_SAMPLE) as Record<string, unknown>;
        const struct = throughStruct(carried);
        assert.deepStrictEqual(carried, struct);
        assert.equal(JSON.stringify(carried), JSON.stringify(struct));
        assert.deepEqual(Object.keys(carried), [
            "9",
            "10",
            "alpha",
            "component",
            "emptySecret",
            "known",
            "password",
            "ports",
            "secretOutput",
            "tags",
            "unknown",
            "vpc",
            "zeta",
        ]);
    });

    it("turns references, output values and secrets into what the engine sends an analyzer", () => {
        const carried = normalizeWire(WIRE_SAMPLE) as Record<string, unknown>;
        assert.equal(carried.vpc, "vpc-1");
        assert.equal(carried.component, "urn:pulumi:dev::p::k8s-ha:index:Cluster::c");
        assert.deepEqual(carried.known, { c: 3, d: 4 });
        assert.equal(carried.unknown, WIRE.unknown);
        assert.deepEqual(carried.secretOutput, wireSecret("k"));
        assert.deepEqual(carried.emptySecret, wireSecret(null));
        assert.deepEqual(carried.ports, [6443, -0, 2.5, null, null, [true, { a: 2, b: 1 }]]);
        assert.ok(!("dropped" in carried));
    });

    it("a policy sees the secrets unwrapped, in the same order", () => {
        const props = toPolicyProps(WIRE_SAMPLE);
        assert.deepEqual(props.password, { x: [1], y: "s3cret" });
        assert.equal(props.secretOutput, "k");
        assert.equal(
            JSON.stringify(Object.keys(props.tags)),
            JSON.stringify(["Cluster", "Name", "kubernetes.io/cluster/ha"]),
        );
    });

    it("refuses what a Struct cannot carry, as the Struct did", () => {
        for (const bad of [() => 1, 1n, Symbol("s")]) {
            assert.throws(() => throughStruct({ bad }), /Unexpected struct type/);
            assert.throws(() => normalizeWire({ nested: { bad } }), /Unexpected struct type/);
        }
        assert.throws(() => normalizeWire({ ref: { [WIRE.sigKey]: WIRE.resourceSig } }), /Unexpected struct type/);
    });
});
