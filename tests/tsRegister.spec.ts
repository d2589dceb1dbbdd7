// tools/ts-register.js: TypeScript loads exactly as through sucrase/register/ts, and a process that
// finds its files unchanged takes their transforms from disk without loading sucrase.
import * as assert from "assert";
import { execFileSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "./scratch";

const ROOT = join(__dirname, "..");

interface Loaded {
    /** What node compiled for the module: the transform's output. */
    compiled: string;
    /** The module's exports, as JSON. */
    exports: unknown;
    /** Whether sucrase's transformer was loaded in that process. */
    sucraseLoaded: boolean;
}

/** Requires `file` in a new process through `register`, recording the text node compiles for it. */
function load(register: string, file: string, cache: string): Loaded {
    const capture = join(scratchDir("k8s-ha-ts-register-capture-"), "capture.js");
    // Installed before the register hook: pirates hands the transformed text to Module#_compile.
    writeFileSync(
        capture,
        `const Module = require("node:module");
         const compile = Module.prototype._compile;
         Module.prototype._compile = function (code, filename) {
             if (filename === ${JSON.stringify(file)}) globalThis.__compiled = code;
             return compile.call(this, code, filename);
         };`,
    );
    const script = `const exp = require(${JSON.stringify(file)});
        process.stdout.write(JSON.stringify({ compiled: globalThis.__compiled, exports: exp,
            sucraseLoaded: Object.keys(require.cache).some((k) => k.includes("/sucrase/dist/index.js")) }));`;
    return JSON.parse(
        execFileSync(process.execPath, ["-r", capture, "-r", register, "-e", script], {
            cwd: ROOT,
            env: { ...process.env, K8S_HA_TRANSFORM_CACHE: cache },
            encoding: "utf8",
        }),
    );
}

const source = (n: number) => `import { join } from "node:path";
enum Kind { A = ${n}, B }
export const value: number = Kind.A;
export const joined = join("a", String(Kind.B as number));
`;

describe("ts-register: sucrase's transforms, kept on disk", function () {
    this.timeout(60_000);
    const REGISTER = "./tools/ts-register.js";

    it("compiles byte for byte what sucrase/register/ts compiles, on a miss and on a hit", () => {
        const dir = scratchDir("k8s-ha-ts-register-");
        const file = join(dir, "mod.ts");
        writeFileSync(file, source(1));
        const cache = join(dir, "cache");
        const reference = load("sucrase/register/ts", file, cache);
        const miss = load(REGISTER, file, cache);
        const hit = load(REGISTER, file, cache);
        assert.ok(reference.compiled.includes("sourceMappingURL"), "the reference is sucrase's output with its map");
        assert.strictEqual(miss.compiled, reference.compiled);
        assert.strictEqual(hit.compiled, reference.compiled);
        assert.deepStrictEqual(hit.exports, { value: 1, joined: join("a", "2") });
    });

    it("loads sucrase only when a file's transform is not kept yet", () => {
        const dir = scratchDir("k8s-ha-ts-register-");
        const file = join(dir, "mod.ts");
        writeFileSync(file, source(1));
        const cache = join(dir, "cache");
        assert.strictEqual(load(REGISTER, file, cache).sucraseLoaded, true);
        assert.strictEqual(load(REGISTER, file, cache).sucraseLoaded, false);
        assert.strictEqual(readdirSync(cache).length, 1, "one cache file per source file");
    });

    it("transforms a changed file again and keeps one file for it", () => {
        const dir = scratchDir("k8s-ha-ts-register-");
        const file = join(dir, "mod.ts");
        const cache = join(dir, "cache");
        writeFileSync(file, source(1));
        assert.strictEqual((load(REGISTER, file, cache).exports as { value: number }).value, 1);
        writeFileSync(file, source(7));
        const changed = load(REGISTER, file, cache);
        assert.strictEqual((changed.exports as { value: number }).value, 7);
        assert.strictEqual(changed.sucraseLoaded, true);
        assert.strictEqual(readdirSync(cache).length, 1, "the changed file's transform replaced the old one");
    });
});
