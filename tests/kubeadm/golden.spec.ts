// Golden renders: every node script (tests/golden/corpus.ts) must equal its file under
// tests/golden/scripts/ byte for byte, and no stale file may lie there. A changed byte of a script
// re-runs that command on every node at the next `pulumi up`: when a change is meant, update the
// goldens deliberately and review their diff:
//   UPDATE_GOLDEN=1 npx mocha tests/kubeadm/golden.spec.ts      (npm run golden:update)
import { strict as assert } from "node:assert";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { goldenCorpus } from "../golden/corpus";

const GOLDEN_DIR = join(__dirname, "..", "golden", "scripts");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function filesUnder(dir: string): string[] {
    let entries: string[];
    try {
        entries = readdirSync(dir);
    } catch {
        return [];
    }
    return entries.flatMap((e) => {
        const p = join(dir, e);
        return statSync(p).isDirectory() ? filesUnder(p) : [relative(GOLDEN_DIR, p)];
    });
}

/** Where two texts first differ, as "line N: expected / actual" (for a readable failure). */
function firstDifference(expected: string, actual: string): string {
    const e = expected.split("\n");
    const a = actual.split("\n");
    for (let i = 0; i < Math.max(e.length, a.length); i++) {
        if (e[i] !== a[i])
            return `line ${i + 1}:\n  golden:   ${JSON.stringify(e[i])}\n  rendered: ${JSON.stringify(a[i])}`;
    }
    return "same lines, different bytes";
}

describe("golden renders of every node script", () => {
    const corpus = goldenCorpus();

    if (UPDATE) {
        before(() => {
            const wanted = new Set(corpus.map((f) => f.path));
            for (const stale of filesUnder(GOLDEN_DIR).filter((p) => !wanted.has(p))) rmSync(join(GOLDEN_DIR, stale));
            let changed = 0;
            for (const f of corpus) {
                const file = join(GOLDEN_DIR, f.path);
                let old: string | undefined;
                try {
                    old = readFileSync(file, "utf8");
                } catch {
                    old = undefined;
                }
                if (old === f.text) continue;
                mkdirSync(dirname(file), { recursive: true });
                writeFileSync(file, f.text);
                changed++;
            }
            process.stdout.write(
                `      UPDATE_GOLDEN=1: ${changed} of ${corpus.length} golden files written under ${relative(process.cwd(), GOLDEN_DIR)}\n`,
            );
        });
    }

    it(`the corpus covers every script kind and both roles (${corpus.length} files)`, () => {
        const names = new Set(corpus.map((f) => f.path.split("/").pop()));
        for (const f of [
            "prepare-control-plane.sh",
            "prepare-worker.sh",
            "place-pki.sh",
            "init.sh",
            "first-control-plane.sh",
            "join-control-plane.sh",
            "join-worker.sh",
            "reset-control-plane.sh",
            "reset-worker.sh",
            "rotate.sh",
            "etcd-backup.sh",
            "etcd-restore.sh",
            "etcd-backup-install.sh",
            "upgrade-first-control-plane.sh",
            "upgrade-control-plane.sh",
            "upgrade-worker.sh",
            "rollout-gate.sh",
            "renew-kubeconfigs.sh",
            "cert-renewal-install.sh",
        ]) {
            assert.ok(names.has(f), f);
        }
        assert.ok(corpus.every((f) => f.text.length > 0));
    });

    it("no golden file is stale (every file under tests/golden/scripts is rendered)", () => {
        const wanted = new Set(corpus.map((f) => f.path));
        assert.deepEqual(
            filesUnder(GOLDEN_DIR)
                .filter((p) => !wanted.has(p))
                .sort(),
            [],
        );
    });

    for (const f of corpus) {
        it(`${f.path} is byte-identical to its golden file`, () => {
            const file = join(GOLDEN_DIR, f.path);
            let golden: Buffer;
            try {
                golden = readFileSync(file);
            } catch {
                assert.fail(
                    `no golden file ${relative(process.cwd(), file)}: run UPDATE_GOLDEN=1 npx mocha tests/kubeadm/golden.spec.ts (npm run golden:update) and review the diff`,
                );
            }
            const rendered = Buffer.from(f.text, "utf8");
            assert.ok(
                golden.equals(rendered),
                `${f.path} differs from its golden file (${golden.length} vs ${rendered.length} bytes), ${firstDifference(golden.toString("utf8"), f.text)}\nIf the change is meant, it re-runs this command on every node: update with npm run golden:update and review the diff.`,
            );
        });
    }
});
