// The floor under the offline plan's time (npm run plan:speed): the SDKs the plan loads, then as
// many registrations as the plan makes, through the SDK's own mock runtime, with none of this
// project's code: as many components as the program has, as many dynamic resources (the SDK
// serializes each one's provider, as it does the API endpoint guard's), and security groups for
// the other resources, each depending on the first (a fan-out, as the program's resources hang
// off its VPC; a chain of 245 measured the same).
//   node tools/sdkFloor.js SDKS_JSON CUSTOM COMPONENTS DYNAMIC
"use strict";
const sdks = JSON.parse(process.argv[2] ?? "null");
const [custom, components, dynamic] = process.argv.slice(3, 6).map(Number);
if (!Array.isArray(sdks) || ![custom, components, dynamic].every((n) => Number.isInteger(n) && n >= 0)) {
    throw new Error("usage: node tools/sdkFloor.js SDKS_JSON CUSTOM COMPONENTS DYNAMIC (counts: integers >= 0)");
}
for (const m of sdks) require(m);
const pulumi = require("@pulumi/pulumi");
// As the harness does: TypeScript, which the SDK loads to serialize a dynamic provider, raises the
// limit when it loads, so it loads first.
require("@pulumi/pulumi/typescript-shim");
Error.stackTraceLimit = 0;
const { SecurityGroup } = require("@pulumi/aws/ec2");

pulumi.runtime.setMocks(
    { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs },
    "floor",
    "floor",
    true,
);
const provider = {
    async create(inputs) {
        return { id: "floor", outs: inputs };
    },
    async diff() {
        return { changes: false };
    },
};
class Floor extends pulumi.dynamic.Resource {
    constructor(name) {
        super(provider, name, { value: name }, {});
    }
}

const ids = [];
for (let i = 0; i < components; i++) {
    const group = new pulumi.ComponentResource("floor:index:Group", `group-${i}`, {}, {});
    group.registerOutputs({});
    ids.push(group.urn);
}
let first;
for (let i = 0; i < custom; i++) {
    const vpcId = first ? first.id : "vpc-0";
    const group = new SecurityGroup(`sg-${i}`, { vpcId, description: "floor", tags: { Name: `sg-${i}` } });
    first ??= group;
    ids.push(group.id);
}
for (let i = 0; i < dynamic; i++) ids.push(new Floor(`dynamic-${i}`).id);
pulumi
    .all(ids)
    .apply((all) =>
        process.stdout.write(`${all.length} registrations resolved, stack traces ${Error.stackTraceLimit} deep\n`),
    );
