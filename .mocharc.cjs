// The default specs (npm test): every tests/**/*.spec.ts but the lanes that need root, real
// binaries or the engine, run by two workers. A worker takes the next file in this order when
// it is free, so the files that cost most (whole-program runs: measured CPU-seconds, 2026-11-30)
// go first and the short ones fill the tail; files not listed follow in name order.
const { readdirSync } = require("node:fs");
const { join, relative } = require("node:path");

const IGNORE = ["tests/system/", "tests/lab/", "tests/engine/", "tests/nodes/"];
const HEAVY_FIRST = [
    "tests/plan.spec.ts",
    "tests/config.spec.ts",
    "tests/day2/upgrade.spec.ts",
    "tests/cloudIntegrationIam.spec.ts",
    "tests/day2/addons.spec.ts",
    "tests/stack.spec.ts",
    "tests/cloudTags.spec.ts",
    "tests/day2/nodeImage.spec.ts",
    "tests/bootstrap.spec.ts",
    "tests/day2/backup.spec.ts",
    "tests/graph.spec.ts",
    "tests/planRender.spec.ts",
    "tests/planRenderState.spec.ts",
    "tests/pki.spec.ts",
    "tests/day2/replacement.spec.ts",
    "tests/policies/iam.spec.ts",
    "tests/policies/analyzer.grpc.spec.ts",
    "tests/apiDns.spec.ts",
    "tests/bootstrapOrder.spec.ts",
];

const specs = readdirSync(join(__dirname, "tests"), { recursive: true })
    .map((f) =>
        relative(__dirname, join(__dirname, "tests", String(f)))
            .split("\\")
            .join("/"),
    )
    .filter((f) => f.endsWith(".spec.ts") && !IGNORE.some((d) => f.startsWith(d)))
    .sort();
// A renamed or removed file must leave the list too, or the order silently rots.
const stale = HEAVY_FIRST.filter((f) => !specs.includes(f));
if (stale.length > 0) throw new Error(`.mocharc.cjs HEAVY_FIRST names files that are not specs: ${stale.join(", ")}`);
// The TLS emulator keeps the private keys it generates here across workers and runs
// (tools/harness/tlsEmulator.ts): RSA generation was a tenth of the suite's CPU, paid per worker.
process.env.K8S_HA_TLS_KEY_STORE ??= join(__dirname, "node_modules", ".cache", "k8s-ha", "tls-keys");
const rank = (f) => (HEAVY_FIRST.includes(f) ? HEAVY_FIRST.indexOf(f) : HEAVY_FIRST.length);

module.exports = {
    // A whole-program run keeps tens of megabytes alive for its third of a second: V8's default
    // young generation (16 MB halves) copied it out and promoted it, a sixth of the suite's CPU in
    // scavenges. With 128 MB, most of it dies young (the suite: 49-52 s → 40-45 s on 2 cores).
    // Mocha starts itself anew with the option, and its workers inherit it.
    "node-option": ["max-semi-space-size=128"],
    require: [join(__dirname, "tools", "ts-register.js")],
    extension: ["ts"],
    spec: specs.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)),
    parallel: true,
    jobs: 2,
    timeout: 60000,
    reporter: "spec",
};
