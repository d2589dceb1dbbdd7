import * as assert from "assert";
import { protectCriticalInProd } from "../../policies/rules/protect";
import { expectClean, expectLevel, expectNotApplicable, layout, loadConfig, runStack } from "./helpers";

describe("policies: protect-critical-in-prod", () => {
    it("does not apply to dev stacks", async () => {
        expectNotApplicable(await runStack(protectCriticalInProd, layout({ stack: "dev" })));
    });
    it("passes a protected prod stack", async () => {
        expectClean(await runStack(protectCriticalInProd, layout({ stack: "prod", protect: true })));
    });
    it("advises on every unprotected critical resource of a prod stack", async () => {
        const s = layout({ stack: "prod", protect: false });
        const o = await runStack(protectCriticalInProd, s, { config: loadConfig("prod") });
        const msgs = expectLevel(o, "advisory", 7);
        const urns = o.at("advisory").map((d) => d.urn);
        for (const name of ["cp-0", "cp-1", "cp-2", "api", "cluster-ca", "cluster-ca-key"]) {
            assert.ok(urns.includes(s.get(name).urn), `expected an advisory on ${name}`);
        }
        assert.ok(!urns.includes(s.get("apiserver-key").urn), "leaf keys are not critical");
        assert.match(msgs[0], /cp-0 is a control-plane instance .* in production stack prod but is not protected/);
        assert.ok(
            msgs.some((m) => /API load balancer api in production stack prod has enableDeletionProtection off/.test(m)),
        );
    });
    it("matches productionStacks patterns", async () => {
        const config = { "protect-critical-in-prod": { productionStacks: ["prod-*"] } };
        expectLevel(await runStack(protectCriticalInProd, layout({ stack: "prod-eu" }), { config }), "advisory", 7);
        expectNotApplicable(await runStack(protectCriticalInProd, layout({ stack: "prod" }), { config }));
    });
});
