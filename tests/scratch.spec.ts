import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "./scratch";

describe("scratchDir: specs' temporary directories", () => {
    it("is removed with its files when the process that made it exits, even on an uncaught error", () => {
        const script = `const { writeFileSync } = require("node:fs"); const d = require(${JSON.stringify(join(__dirname, "scratch"))}).scratchDir("k8s-ha-scratch-spec-"); writeFileSync(d + "/key.pem", "x"); process.stdout.write(d); throw new Error("midway");`;
        let dir = "";
        try {
            execFileSync(process.execPath, ["-r", join(__dirname, "..", "tools", "ts-register.js"), "-e", script], {
                encoding: "utf8",
                stdio: "pipe",
            });
        } catch (e) {
            dir = String((e as { stdout: string }).stdout);
        }
        assert.match(dir, /k8s-ha-scratch-spec-/);
        assert.equal(existsSync(dir), false, `${dir} is still there`);
    });

    it("is there, empty and writable until then", () => {
        const dir = scratchDir("k8s-ha-scratch-spec-");
        writeFileSync(join(dir, "f"), "x");
        assert.ok(existsSync(join(dir, "f")));
    });
});
