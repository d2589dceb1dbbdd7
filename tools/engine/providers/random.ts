// Stand-in random provider (pulumi-resource-random) for the engine lane: the real provider is
// bridged from Terraform and cannot be built here. Values come from the harness's generator
// (tools/harness/cloud.ts), deterministic per resource and creation; RandomPassword's result and
// RandomBytes' base64 and hex are secret outputs as in the real provider.
import { randomOutputs } from "../../harness/cloud";
import { JsonStore, nameOfUrn, plain, serve } from "./serve";
import { TYPES } from "../../../policies/lib/contract";

const store = new JsonStore<{ generations: Record<string, number> }>("random.json", { generations: {} });

serve({
    name: "random",
    types: [TYPES.randomPassword, TYPES.randomString, TYPES.randomBytes],
    async create(type, urn, inputs) {
        const generation = store.data.generations[urn] ?? 0;
        store.data.generations[urn] = generation + 1;
        store.save();
        const seed = `${nameOfUrn(urn)}${generation ? `#${generation}` : ""}`;
        const outs = randomOutputs(type, seed, plain(inputs))!;
        return { id: "none", outs: { ...inputs, ...outs } };
    },
    async update() {
        throw new Error(
            "random resources never update in place: every argument forces a replacement (replaceRules.ts)",
        );
    },
    async delete() {
        // Nothing outside the state.
    },
});
