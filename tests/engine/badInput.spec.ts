// Bad input to `npm run engine`: no CLI built, an unknown stack, a bad --config. Each exits non-zero
// with a message that says what to do (the wrapper's own) or the CLI's or the program's message.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../tools/engine/cli";
import { scratchDir } from "../scratch";

function engine(args: string[], env: NodeJS.ProcessEnv = {}) {
    const state = scratchDir("k8s-ha-engine-bad-");
    try {
        const r = spawnSync(
            process.execPath,
            ["-r", "./tools/ts-register.js", "tools/engine/cli.ts", ...args, "--state", state],
            { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8" },
        );
        return { code: r.status, out: `${r.stdout}${r.stderr}` };
    } finally {
        rmSync(state, { recursive: true, force: true });
    }
}

describe("engine: bad input", () => {
    it("without the built CLI it names the command that builds it (exit 2)", () => {
        const r = engine(["preview", "--stack", "dev"], { K8S_HA_LAB_BIN: join(tmpdir(), "no-such-lab-bin") });
        assert.equal(r.code, 2, r.out);
        assert.match(r.out, /not built .*run `npm run lab:tools`/s);
    });

    it("a usage error names the usage (exit 2)", () => {
        const r = engine(["apply", "--stack", "dev"]);
        assert.equal(r.code, 2);
        assert.match(r.out, /usage: npm run engine -- <preview\|up\|destroy\|refresh>/);
    });

    it("an unknown stack exits non-zero with the CLI's message", () => {
        const r = engine(["preview", "--stack", "staging"]);
        assert.notEqual(r.code, 0);
        assert.match(r.out, /no stack named 'staging' found/, r.out);
    });

    it("a --config of the wrong type exits non-zero with the CLI's message (it checks Pulumi.yaml's types)", () => {
        const r = engine(["preview", "--stack", "dev", "--config", "controlPlaneCount=eight"]);
        assert.notEqual(r.code, 0, r.out);
        assert.match(r.out, /configuration key 'controlPlaneCount' must be of type 'integer'/, r.out);
    });

    it("a --config out of range exits non-zero with the program's message naming the key and the value", () => {
        const r = engine(["preview", "--stack", "dev", "--config", "controlPlaneCount=9"]);
        assert.notEqual(r.code, 0, r.out);
        assert.match(r.out, /ConfigError: invalid stack configuration/, r.out);
        assert.match(r.out, /controlPlaneCount: 9 is not allowed/, r.out);
    });
});
