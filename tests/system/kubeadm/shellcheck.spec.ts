// shellcheck on every rendered script for every node role. A missing shellcheck fails the test.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { renderNodeScripts, renderScriptSet, type RenderedScript } from "../../../components/kubeadm";
import { SAMPLE_CA_CERT_HASH, SAMPLE_CLUSTER, SAMPLE_NODES, SAMPLE_SCRIPT_SET } from "../../../tools/render-scripts";
import { shellcheck } from "../shellcheck";

function scripts(): RenderedScript[] {
    const perNode = SAMPLE_NODES.flatMap((n, i) =>
        renderNodeScripts(SAMPLE_CLUSTER, n, { isInitNode: i === 0, caCertHash: SAMPLE_CA_CERT_HASH }).map((s) => ({ ...s, fileName: `${n.name}/${s.fileName}` })),
    );
    // also with an IPv6 node address and hostile-looking but valid extra SANs
    const v6 = { name: "cp-v6", privateIp: "fd00:10::a", role: "control-plane" } as const;
    const exotic = renderNodeScripts({ ...SAMPLE_CLUSTER, extraSans: ["*.api.example.com", "203.0.113.9"] }, v6, { isInitNode: false, caCertHash: SAMPLE_CA_CERT_HASH }).map((s) => ({
        ...s,
        fileName: `cp-v6/${s.fileName}`,
    }));
    return [...renderScriptSet(SAMPLE_SCRIPT_SET), ...perNode, ...exotic];
}

describe("shellcheck on rendered kubeadm scripts", () => {
    it("shellcheck is installed (a missing binary fails, never skips)", () => {
        const r = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
        assert.equal(r.error, undefined, `shellcheck is not installed: ${r.error?.message}`);
        assert.equal(r.status, 0);
        assert.match(r.stdout, /version: \d+\.\d+/);
    });

    it("catches a real problem (the harness is not vacuous)", () => {
        const findings = shellcheck("#!/usr/bin/env bash\nrm -rf $dir/*\n");
        assert.ok(findings.some((f) => f.code === 2086 || f.code === 2115), JSON.stringify(findings));
    });

    const all = scripts();
    it(`covers every script of every role (${all.length} scripts)`, () => {
        const kinds = new Set(all.map((s) => `${s.kind}:${s.role ?? "any"}`));
        for (const k of ["prepare:control-plane", "prepare:worker", "place-pki:any", "init:control-plane", "join:control-plane", "join:worker", "reset:control-plane", "reset:worker", "rotate:control-plane"]) {
            assert.ok(kinds.has(k), k);
        }
    });

    for (const s of all) {
        it(`${s.fileName} is clean`, () => {
            const findings = shellcheck(s.text);
            const lines = s.text.split("\n");
            assert.deepEqual(
                findings.map((f) => `${s.fileName}:${f.line}:${f.column} SC${f.code} (${f.level}) ${f.message}\n    ${lines[f.line - 1]}`),
                [],
            );
        });
    }
});
