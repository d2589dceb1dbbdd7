// The policy pack as the Pulumi engine runs it: `pulumi preview --policy-pack policies`.
// Constructing a PolicyPack starts the analyzer's gRPC server, so this file does nothing else; the
// policies live in ./pack (importable without a server: tests and tools/plan.ts use them directly).

import { PolicyPack } from "@pulumi/policy";
import { packDescription, packEnforcementLevel, packName, policies } from "./pack";

new PolicyPack(packName, {
    policies,
    enforcementLevel: packEnforcementLevel,
    description: packDescription,
    provider: "aws",
    tags: ["kubernetes", "high-availability", "aws"],
});
