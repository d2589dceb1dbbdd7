// Loads TypeScript as `node -r sucrase/register/ts` does, byte for byte, but keeps each file's
// transform on disk: a process that finds its files unchanged neither loads sucrase nor
// transforms them again. That was a tenth of the offline plan's CPU and is paid again by every
// test worker and plan process.
//   node -r ./tools/ts-register.js file.ts
// One cache file per source file (named by a hash of its path), so the cache stays as large as
// the tree; it holds the hash of what it was made from (the text, sucrase's version and options)
// and is rewritten when that differs. Kept in node_modules/.cache/k8s-ha/ts-register/, or in
// K8S_HA_TRANSFORM_CACHE; delete it to start afresh.
"use strict";
const { Buffer } = require("node:buffer");
const { createHash } = require("node:crypto");
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { addHook } = require("pirates");

const CACHE_DIR =
    process.env.K8S_HA_TRANSFORM_CACHE ?? join(__dirname, "..", "node_modules", ".cache", "k8s-ha", "ts-register");
// What sucrase/register/ts passes (sucrase's dist/register.js), with its SUCRASE_OPTIONS override.
const OPTIONS = { transforms: ["imports", "typescript"], ...JSON.parse(process.env.SUCRASE_OPTIONS || "{}") };
const SALT = `${require("sucrase/package.json").version}\0${JSON.stringify(OPTIONS)}\0`;

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/** sucrase's own register hook: the code, then its source map inline. */
function transform(code, filePath) {
    const { transform: sucrase } = require("sucrase");
    const out = sucrase(code, { ...OPTIONS, sourceMapOptions: { compiledFilename: filePath }, filePath });
    const map = Buffer.from(JSON.stringify(out.sourceMap)).toString("base64");
    return `${out.code}\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${map}`;
}

/** The transform of `code`, from the cache when it was made from the same text, else made and kept. */
function cachedTransform(code, filePath) {
    const file = join(CACHE_DIR, `${sha256(filePath)}.js`);
    const stamp = `// ${sha256(SALT + filePath + "\0" + code)}\n`;
    try {
        const kept = readFileSync(file, "utf8");
        if (kept.startsWith(stamp)) return kept.slice(stamp.length);
    } catch {
        // not kept yet
    }
    const result = transform(code, filePath);
    try {
        mkdirSync(CACHE_DIR, { recursive: true });
        // Parallel workers load the same files: each writes its own file and renames it in place.
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, stamp + result);
        renameSync(tmp, file);
    } catch {
        // A cache that cannot be written costs time, not correctness.
    }
    return result;
}

addHook(cachedTransform, { exts: [".ts"] });

module.exports = { cachedTransform, transform, CACHE_DIR };
