// Stand-in tls provider (pulumi-resource-tls) for the engine lane: the real provider is bridged
// from Terraform and cannot be built here. Keys, CSRs and certificates are real cryptography, from
// the harness's emulator (tools/harness/tlsEmulator.ts, shared, not duplicated); private keys are
// secret outputs as the real provider marks them. Nothing is kept outside Pulumi's state.
import { tlsEmulator } from "../../harness/tlsEmulator";
import { hex } from "../../harness/cloud";
import { nameOfUrn, serve } from "./serve";

const emulate = tlsEmulator();
const TYPES = Object.keys(emulate);

serve({
    name: "tls",
    types: TYPES,
    async create(type, urn, inputs) {
        const name = nameOfUrn(urn);
        const outs = await emulate[type]({ type, name, inputs, provider: "", id: "", custom: true } as any);
        return { id: hex(`${urn}/${Date.now()}/${Math.random()}`, 40), outs: { ...inputs, ...outs } };
    },
    async update() {
        throw new Error("tls resources never update in place: every argument forces a replacement (replaceRules.ts)");
    },
    async delete() {
        // Nothing outside the state.
    },
});
