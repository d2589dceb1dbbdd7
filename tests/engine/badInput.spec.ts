// Bad input to `npm run engine`: no CLI built, an unknown stack, a bad --config. Each exits non-zero
// with a message that says what to do (the wrapper's own) or the CLI's or the program's message,
// and leaves no process running behind it.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { engineEnv, processesOnState, ROOT, stopLeftovers } from "../../tools/engine/cli";
import { scratchDir } from "../scratch";

/** Runs the wrapper on a state of its own; `left` counts the processes still running on that state after it. */
function engine(args: string[], env: NodeJS.ProcessEnv = {}) {
    const state = scratchDir("k8s-ha-engine-bad-");
    try {
        const r = spawnSync(
            process.execPath,
            ["-r", "./tools/ts-register.js", "tools/engine/cli.ts", ...args, "--state", state],
            { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8" },
        );
        const left = processesOnState(state);
        for (const pid of left) process.kill(pid, "SIGKILL");
        return { code: r.status, out: `${r.stdout}${r.stderr}`, left: left.length };
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

    it("an unknown stack exits non-zero with the CLI's message, and leaves no process behind", () => {
        // The CLI, failing this early, left its language host running in about one run of four.
        for (let i = 0; i < 6; i++) {
            const r = engine(["preview", "--stack", "staging"]);
            assert.notEqual(r.code, 0);
            assert.match(r.out, /no stack named 'staging' found/, r.out);
            assert.equal(r.left, 0, `run ${i + 1}: processes left running on its state`);
        }
    });

    it("what a run left on its state is stopped, and only that", async () => {
        const state = scratchDir("k8s-ha-engine-left-");
        const other = scratchDir("k8s-ha-engine-other-");
        const start = (dir: string) =>
            spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
                // A group of its own, as the CLI starts its plugins.
                detached: true,
                stdio: "ignore",
                env: { ...process.env, PULUMI_BACKEND_URL: engineEnv(dir).PULUMI_BACKEND_URL },
            });
        const left = start(state);
        const kept = start(other);
        try {
            const exited = new Promise((resolve) => left.on("exit", (_code, signal) => resolve(signal)));
            await new Promise((resolve) => setTimeout(resolve, 300));
            assert.equal(await stopLeftovers(state), 1);
            assert.equal(await exited, "SIGTERM");
            assert.equal(kept.exitCode, null);
            assert.equal(kept.signalCode, null);
            assert.equal(await stopLeftovers(state), 0);
        } finally {
            left.kill("SIGKILL");
            kept.kill("SIGKILL");
            rmSync(state, { recursive: true, force: true });
            rmSync(other, { recursive: true, force: true });
        }
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
