// Composing node scripts from their bash sources (components/kubeadm/bash.ts): declarations,
// role blocks, includes, and the check that a builder gives exactly the declared parameters.
import { strict as assert } from "node:assert";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { SCRIPTS_DIR, composeScript, loadScript, parseScript, sourcesRead } from "../../components/kubeadm/bash";
import { goldenCorpus } from "../golden/corpus";

const LIBS: Record<string, string> = {
    "greet.sh": '# greet: says hello\ngreet() { log "hello $WHO"; }\n',
    "log.sh": "log() { printf '%s\\n' \"$*\"; }\n",
};
const lib = (name: string) => {
    if (!(name in LIBS)) throw new Error(`no lib ${name}`);
    return LIBS[name];
};

const SOURCE = [
    "#!/usr/bin/env bash",
    "# shellcheck source-path=SCRIPTDIR/..",
    "# demo: a test script",
    "# stdin: nothing",
    "# params: WHO",
    "#@if control-plane",
    "# params: ROLE_ONLY",
    "#@endif",
    "# params: NAMES[]",
    "",
    "source lib/log.sh",
    "",
    "source lib/greet.sh",
    "",
    "greet",
    "#@if control-plane",
    'echo "$ROLE_ONLY"',
    "#@else",
    "echo worker",
    "#@endif",
    "printf '%s\\n' \"${NAMES[@]}\"",
    "",
].join("\n");

function filesUnder(dir: string): string[] {
    return readdirSync(dir).flatMap((e) => {
        const p = join(dir, e);
        return statSync(p).isDirectory() ? filesUnder(p) : [relative(SCRIPTS_DIR, p)];
    });
}

describe("composing node scripts from bash sources", () => {
    it("reads the declarations and keeps each role's lines", () => {
        const cp = parseScript("demo.sh", SOURCE, ["control-plane"], lib);
        assert.equal(cp.stdin, "nothing");
        assert.deepEqual(cp.params, ["WHO", "ROLE_ONLY"]);
        assert.deepEqual(cp.arrays, ["NAMES"]);
        assert.deepEqual(cp.includes, ["log.sh", "greet.sh"]);
        assert.ok(cp.text.includes('echo "$ROLE_ONLY"') && !cp.text.includes("echo worker"));
        assert.ok(!cp.text.includes("#@") && !cp.text.includes("source lib/"), "directives and include lines are gone");
        assert.ok(cp.text.includes('greet() { log "hello $WHO"; }'), "the include is inlined");
        const w = parseScript("demo.sh", SOURCE, ["worker"], lib);
        assert.deepEqual(w.params, ["WHO"]);
        assert.ok(w.text.includes("echo worker") && !w.text.includes("ROLE_ONLY"));
        assert.equal(
            w.body,
            "\ngreet\necho worker\nprintf '%s\\n' \"${NAMES[@]}\"\n",
            "the body is what follows the last include",
        );
    });

    it("renders the header: parameters in declared order, arrays after them, the source below", () => {
        const src = parseScript("demo.sh", SOURCE, ["control-plane"], lib);
        const text = composeScript(src, {
            name: "demo",
            title: "a test",
            role: "control-plane",
            params: { ROLE_ONLY: "it's", WHO: "w" },
            arrays: { NAMES: ["a b", "c"] },
        });
        const lines = text.split("\n");
        assert.equal(lines[0], "#!/usr/bin/env bash");
        assert.equal(lines[1], "# k8s-ha demo: a test");
        assert.ok(lines.includes("# stdin: nothing"));
        const at = (l: string) => lines.indexOf(l);
        assert.ok(at("readonly SCRIPT_NAME='demo'") > 0);
        assert.ok(
            at("readonly SCRIPT_NAME='demo'") < at("readonly WHO='w'") &&
                at("readonly WHO='w'") < at("readonly ROLE_ONLY='it'\\''s'"),
            "declared order, not the builder's",
        );
        assert.ok(at("readonly ROLE_ONLY='it'\\''s'") < at("readonly -a NAMES=('a b' 'c')"));
        assert.ok(text.endsWith("printf '%s\\n' \"${NAMES[@]}\"\n"));
        assert.ok(!text.includes("shellcheck disable=SC2016"), "no embedded scripts, no SC2016 directive");
    });

    it("fails when the builder's parameters differ from the declared ones, naming them", () => {
        const src = parseScript("demo.sh", SOURCE, ["control-plane"], lib);
        const render =
            (params: Record<string, string>, arrays: Record<string, string[]> = { NAMES: [] }) =>
            () =>
                composeScript(src, { name: "demo", title: "t", role: "control-plane", params, arrays });
        assert.throws(
            render({ WHO: "w" }),
            /demo\.sh: the builder of "demo" does not match .*declared but not given: ROLE_ONLY/,
        );
        assert.throws(render({ WHO: "w", ROLE_ONLY: "r", EXTRA: "x" }), /given but not declared: EXTRA/);
        assert.throws(render({ WHO: "w", ROLE_ONLY: "r" }, {}), /array parameters: declared but not given: NAMES/);
        // the worker's source does not declare ROLE_ONLY: giving it is a mismatch too
        const w = parseScript("demo.sh", SOURCE, ["worker"], lib);
        assert.throws(
            () =>
                composeScript(w, {
                    name: "demo",
                    title: "t",
                    role: "worker",
                    params: { WHO: "w", ROLE_ONLY: "r" },
                    arrays: { NAMES: [] },
                }),
            /given but not declared: ROLE_ONLY/,
        );
        assert.doesNotThrow(render({ WHO: "w", ROLE_ONLY: "r" }));
    });

    it("fails on a declared parameter the script never uses", () => {
        const src = parseScript("demo.sh", SOURCE.replace("# params: WHO", "# params: WHO UNUSED"), ["worker"], lib);
        assert.throws(
            () =>
                composeScript(src, {
                    name: "demo",
                    title: "t",
                    params: { WHO: "w", UNUSED: "u" },
                    arrays: { NAMES: [] },
                }),
            /declared but never used: UNUSED/,
        );
    });

    it("rejects malformed sources with the file and line", () => {
        const bad =
            (text: string, flags: string[] = ["worker"]) =>
            () =>
                parseScript("bad.sh", text, flags, lib);
        assert.throws(bad(SOURCE.replace("#@endif\nprintf", "printf")), /bad\.sh:16: #@if without its #@endif/);
        assert.throws(
            bad(SOURCE.replace("#@if control-plane\necho", "#@if controlplane\necho")),
            /bad\.sh:16: #@if needs one of control-plane, worker/,
        );
        assert.throws(bad(SOURCE.replace("greet\n", "#@endif\ngreet\n")), /bad\.sh:15: #@endif without its #@if/);
        assert.throws(bad(SOURCE.replace("greet\n", "#@elif worker\ngreet\n")), /unknown directive/);
        assert.throws(bad(SOURCE.replace("# stdin: nothing\n", "")), /no # stdin: line/);
        assert.throws(bad(SOURCE.replace("# params: NAMES[]", "# params: WHO")), /WHO declared twice/);
        assert.throws(bad(SOURCE.replace("# params: WHO", "# params: who")), /bad parameter name who/);
        assert.throws(
            bad(SOURCE.replace("source lib/greet.sh", "source ./lib/greet.sh")),
            /bad\.sh:13: only whole-line "source lib\/<name>\.sh" includes/,
        );
        assert.throws(bad(SOURCE.replace("source lib/greet.sh", "source lib/missing.sh")), /no lib missing\.sh/);
        assert.throws(
            bad(SOURCE.replace("#!/usr/bin/env bash", "#!/bin/sh")),
            /must start with #!\/usr\/bin\/env bash/,
        );
        assert.throws(
            () => parseScript("x.sh", SOURCE, ["worker"], () => "source lib/log.sh\n"),
            /a lib file holds no includes/,
        );
        assert.throws(bad(SOURCE, ["master"]), /unknown flag master/);
    });

    describe("the sources in components/kubeadm/scripts", () => {
        // rendering the whole corpus reads every source it needs
        const corpus = goldenCorpus();
        const files = filesUnder(SCRIPTS_DIR)
            .filter((f) => f.endsWith(".sh"))
            .sort();

        it("every script and every lib file is used by some builder", () => {
            assert.ok(corpus.length > 0);
            assert.deepEqual(
                files.filter((f) => !sourcesRead().includes(f)),
                [],
            );
        });

        it("each script declares its stdin and parameters; role-specific ones only for that role", () => {
            const join = {
                cp: loadScript("membership/join.sh", ["control-plane"]),
                w: loadScript("membership/join.sh", ["worker"]),
            };
            assert.ok(join.cp.params.includes("LOCAL_READYZ_URL") && !join.w.params.includes("LOCAL_READYZ_URL"));
            assert.deepEqual(join.cp.arrays, ["REQUIRED_FILES"]);
            assert.deepEqual(join.w.arrays, []);
            assert.match(join.w.stdin, /bootstrap token/);
            for (const f of files.filter((x) => !x.startsWith("lib/"))) {
                const src = loadScript(f, ["control-plane"]);
                assert.ok(src.stdin.length > 0, f);
                assert.ok(src.includes[0] === "log.sh", `${f}: lib/log.sh comes first (log and die)`);
            }
        });

        it("each shared function is defined once, in lib/ (no copies in a script or in TypeScript)", () => {
            const libs = files.filter((f) => f.startsWith("lib/"));
            const defs = libs.flatMap((f) =>
                [...readFileSync(join(SCRIPTS_DIR, f), "utf8").matchAll(/^([a-z_]+)\(\) \{/gm)].map((m) => ({
                    fn: m[1],
                    f,
                })),
            );
            assert.ok(defs.length >= 15, `functions in lib/: ${defs.map((d) => d.fn).join(", ")}`);
            for (const name of [
                "local_api_ready",
                "etcd_healthy",
                "api_ready",
                "wait_for",
                "put_file",
                "snapshot_tool",
                "read_admin_kubeconfig",
                "stop_static_pod",
                "put_manifest",
            ]) {
                assert.ok(
                    defs.some((d) => d.fn === name),
                    `${name} lives in lib/`,
                );
            }
            const others = [
                ...files.filter((f) => !f.startsWith("lib/")).map((f) => join(SCRIPTS_DIR, f)),
                ...readdirSync(join(SCRIPTS_DIR, ".."))
                    .filter((f) => f.endsWith(".ts"))
                    .map((f) => join(SCRIPTS_DIR, "..", f)),
            ];
            for (const file of others) {
                const text = readFileSync(file, "utf8");
                for (const { fn, f } of defs) {
                    assert.ok(
                        !new RegExp(`^\\s*${fn}\\(\\) \\{`, "m").test(text),
                        `${relative(SCRIPTS_DIR, file)} defines ${fn}() again; it lives in ${f}`,
                    );
                }
            }
        });

        it("a static pod is stopped, and its manifest swapped, only through lib/static-pods.sh", () => {
            // The graceful stop (crictl's stop with the shutdown timeout) and the manifest written
            // through a dot file were each copied into several scripts once.
            const scripts = files.filter((f) => !f.startsWith("lib/"));
            assert.ok(scripts.includes("certificates/rotate.sh") && scripts.includes("packages/upgrade.sh"));
            for (const f of scripts) {
                const code = readFileSync(join(SCRIPTS_DIR, f), "utf8")
                    .split("\n")
                    .filter((line) => !/^\s*#/.test(line));
                for (const line of code) {
                    assert.doesNotMatch(
                        line,
                        /\bcrictl_? stop\b/,
                        `${f} stops a container itself: use stop_static_pod`,
                    );
                    assert.doesNotMatch(line, /manifests\/\./, `${f} writes a manifest itself: use put_manifest`);
                }
            }
        });

        it("the folder's README names every script in its folder's row", () => {
            const readme = readFileSync(join(SCRIPTS_DIR, "README.md"), "utf8");
            const missing = files
                .filter((f) => !f.startsWith("lib/"))
                .filter((f) => {
                    const [dir, name] = f.split("/");
                    const row = readme.split("\n").find((l) => l.startsWith(`| \`${dir}/\` |`));
                    return !row?.includes(`\`${name}\``);
                });
            assert.deepEqual(missing, []);
        });
    });
});
