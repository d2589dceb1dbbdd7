// Runs the bats suite (tests/bats: script control flow against PATH stubs) and requires it to pass.
// The suite runs the rendered sample scripts committed in tests/golden/scripts/sample/, so this spec
// first checks they are what the builders render now. A missing bats, or bats-support/bats-assert,
// fails the test.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { renderAllSampleScripts } from "../../../tools/render-scripts";

const REPO = join(__dirname, "..", "..", "..");

describe("bats: kubeadm script behaviour", function () {
    this.timeout(600000);

    it("bats and its assert/support libraries are installed", () => {
        const r = spawnSync("bats", ["--version"], { encoding: "utf8" });
        assert.equal(r.error, undefined, `bats is not installed: ${r.error?.message}`);
        assert.match(r.stdout, /Bats \d+\.\d+/);
    });

    it("the scripts it runs (tests/golden/scripts/sample) are what the builders render now", () => {
        const dir = join(REPO, "tests", "golden", "scripts", "sample");
        const rendered = renderAllSampleScripts();
        assert.deepEqual(readdirSync(dir).sort(), rendered.map((s) => s.fileName).sort());
        for (const s of rendered) {
            assert.ok(
                readFileSync(join(dir, s.fileName), "utf8") === s.text,
                `${s.fileName} is stale: run npm run golden:update`,
            );
        }
    });

    it("every test in tests/bats passes", () => {
        const r = spawnSync("bats", ["--tap", join(REPO, "tests", "bats")], {
            cwd: REPO,
            encoding: "utf8",
            maxBuffer: 64 * 1024 * 1024,
        });
        assert.equal(r.error, undefined, `bats could not run: ${r.error?.message}`);
        const tap = r.stdout;
        const plan = /^1\.\.(\d+)$/m.exec(tap);
        const oks = (tap.match(/^ok \d+/gm) ?? []).length;
        const notOks = (tap.match(/^not ok \d+/gm) ?? []).length;
        const skips = (tap.match(/^ok \d+ .*# skip/gm) ?? []).length;
        const report = `bats exit ${r.status}; ${oks} ok, ${notOks} not ok\n${tap}\n${r.stderr}`;
        assert.ok(plan && Number(plan[1]) > 0, `no bats plan line: ${report}`);
        assert.equal(notOks, 0, report);
        assert.equal(skips, 0, `skipped tests do not count as passing: ${report}`);
        assert.equal(oks, Number(plan![1]), report);
        assert.equal(r.status, 0, report);
    });
});
