// test:nodes: every node-sandbox scenario but the upgrade (its own command, test:nodes:upgrade:
// it brings its cluster up at the previous minor), on one shared cluster (cluster.ts), in an
// order the scenarios need: the bring-up first (it asserts that its own init runs), then the
// scenarios that leave the cluster as they found it, by name, then the restore (it wipes etcd and
// restores it), CoreDNS (its own node 0 at the same address ends the shared cluster: earlier, the
// next scenario would bring up another) and last mid-init, which needs a cluster whose node 0 has
// not initialised. Files not named here run in the middle, by name.
const { readdirSync } = require("node:fs");

const OWN_COMMAND = ["upgrade.spec.ts"];
const FIRST = ["bringup.spec.ts"];
const LAST = ["backup-restore.spec.ts", "coredns.spec.ts", "mid-init.spec.ts"];

const files = readdirSync(__dirname).filter((f) => f.endsWith(".spec.ts") && !OWN_COMMAND.includes(f));
const named = [...FIRST, ...LAST, ...OWN_COMMAND];
const missing = named.filter((f) => !readdirSync(__dirname).includes(f));
if (missing.length > 0)
    throw new Error(`tests/nodes/.mocharc.cjs names files that are not specs: ${missing.join(", ")}`);
const middle = files.filter((f) => !FIRST.includes(f) && !LAST.includes(f)).sort();

module.exports = {
    require: ["ts-node/register/transpile-only"],
    extension: ["ts"],
    spec: [...FIRST, ...middle, ...LAST].map((f) => `tests/nodes/${f}`),
    timeout: 900000,
    reporter: "spec",
};
