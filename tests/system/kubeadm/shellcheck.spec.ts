// shellcheck on the bash sources of the node scripts (components/kubeadm/scripts, directly, following
// their lib/ includes) and on every rendered script for every node role. Any finding, at any level,
// fails; a missing shellcheck fails too.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { renderNodeScripts, renderScriptSet, type RenderedScript } from "../../../components/kubeadm";
import { SCRIPTS_DIR } from "../../../components/kubeadm/bash";
import { SAMPLE_CA_CERT_HASH, SAMPLE_CLUSTER, SAMPLE_NODES, SAMPLE_SCRIPT_SET } from "../../../tools/render-scripts";
import { shellcheck, shellcheckFiles } from "../shellcheck";

function shFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((e) => {
        const p = join(dir, e);
        return statSync(p).isDirectory() ? shFiles(p) : p.endsWith(".sh") ? [p] : [];
    });
}

function report(
    findings: { file: string; line: number; column: number; code: number; level: string; message: string }[],
): string[] {
    return findings.map(
        (f) => `${relative(SCRIPTS_DIR, f.file)}:${f.line}:${f.column} SC${f.code} (${f.level}) ${f.message}`,
    );
}

describe("shellcheck on the bash sources (components/kubeadm/scripts)", () => {
    const all = shFiles(SCRIPTS_DIR).sort();
    const scripts = all.filter((f) => !relative(SCRIPTS_DIR, f).startsWith("lib/"));
    const libs = all.filter((f) => relative(SCRIPTS_DIR, f).startsWith("lib/"));

    it(`finds the scripts and their lib files (${scripts.length} scripts, ${libs.length} lib files)`, () => {
        assert.ok(scripts.length >= 12 && libs.length >= 10, all.join(", "));
    });

    it("follows the lib/ includes (a variable a lib file sets counts as set), and catches what is wrong", () => {
        const dir = mkdtempSync(join(tmpdir(), "k8s-ha-sc-"));
        try {
            mkdirSync(join(dir, "lib"));
            mkdirSync(join(dir, "demo"));
            writeFileSync(join(dir, "lib", "workdir.sh"), "make_workdir() { work=$(mktemp -d); }\n");
            const head = "#!/usr/bin/env bash\n# shellcheck source-path=SCRIPTDIR/..\n";
            writeFileSync(join(dir, "demo", "with.sh"), `${head}source lib/workdir.sh\nmake_workdir\necho "$work"\n`);
            writeFileSync(join(dir, "demo", "without.sh"), `${head}echo "$work"\nrm -rf $work/*\n`);
            assert.deepEqual(report(shellcheckFiles([join(dir, "demo", "with.sh")])), []);
            const codes = shellcheckFiles([join(dir, "demo", "without.sh")]).map((f) => f.code);
            assert.ok(
                codes.includes(2154) && codes.includes(2086),
                `expected SC2154 and SC2086, got ${codes.join(", ")}`,
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    for (const f of scripts) {
        it(`${relative(SCRIPTS_DIR, f)} is clean (its includes followed)`, () => {
            assert.deepEqual(report(shellcheckFiles([f])), []);
        });
    }

    // A lib fragment uses what the script that includes it sets (work, the parameters) and sets
    // what that script reads (PUT_CHANGED): alone, only those two checks are relaxed. Each one is
    // also checked in full inside every rendered script below, where it is inlined.
    it("every lib file is clean on its own (SC2034/SC2154 aside: they set and use the includer's variables)", () => {
        assert.deepEqual(report(shellcheckFiles(libs, { exclude: [2034, 2154] })), []);
    });
});

function scripts(): RenderedScript[] {
    const perNode = SAMPLE_NODES.flatMap((n, i) =>
        renderNodeScripts(SAMPLE_CLUSTER, n, { isInitNode: i === 0, caCertHash: SAMPLE_CA_CERT_HASH }).map((s) => ({
            ...s,
            fileName: `${n.name}/${s.fileName}`,
        })),
    );
    // also with an IPv6 node address and hostile-looking but valid extra SANs
    const v6 = {
        name: "cp-v6",
        privateIp: "fd00:10::a",
        role: "control-plane",
        providerId: "aws:///us-east-1c/i-8d627c71039504767",
    } as const;
    const exotic = renderNodeScripts({ ...SAMPLE_CLUSTER, extraSans: ["*.api.example.com", "203.0.113.9"] }, v6, {
        isInitNode: false,
        caCertHash: SAMPLE_CA_CERT_HASH,
    }).map((s) => ({
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
        assert.ok(
            findings.some((f) => f.code === 2086 || f.code === 2115),
            JSON.stringify(findings),
        );
    });

    const all = scripts();
    it(`covers every script of every role (${all.length} scripts)`, () => {
        const kinds = new Set(all.map((s) => `${s.kind}:${s.role ?? "any"}`));
        for (const k of [
            "prepare:control-plane",
            "prepare:worker",
            "place-pki:any",
            "init:control-plane",
            "join:control-plane",
            "join:worker",
            "reset:control-plane",
            "reset:worker",
            "rotate:control-plane",
        ]) {
            assert.ok(kinds.has(k), k);
        }
    });

    for (const s of all) {
        it(`${s.fileName} is clean`, () => {
            const findings = shellcheck(s.text);
            const lines = s.text.split("\n");
            assert.deepEqual(
                findings.map(
                    (f) =>
                        `${s.fileName}:${f.line}:${f.column} SC${f.code} (${f.level}) ${f.message}\n    ${lines[f.line - 1]}`,
                ),
                [],
            );
        });
    }
});
