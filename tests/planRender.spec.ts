import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asRemoteCommand, readonlyVars, shellQuote } from "../components/kubeadm";
import { readonlyValues, readQuotedWord, scriptOf } from "../tools/plan/render";
import { planInProcess } from "./planCli";
import { scratchDir } from "./scratch";

const ROOT = join(__dirname, "..");

const renderArgs = (dir: string, extra: string[]) => [
    "--stack",
    "dev",
    "--config",
    "pkiAlgorithm=ECDSA",
    ...extra,
    "--render",
    dir,
];

/**
 * `npm run plan -- --render DIR ...` without npm's own start-up; `inProcess`: the same command
 * line in this process on a shared program run (tests/planCli.ts).
 */
function renderCli(
    dir: string,
    extra: string[] = [],
    inProcess = false,
): Promise<{ code: number; stdout: string; stderr: string }> {
    if (inProcess) return planInProcess(renderArgs(dir, extra));
    const args = ["-r", "./tools/ts-register.js", "tools/plan.ts", ...renderArgs(dir, extra)];
    return new Promise((resolve) => {
        execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
        });
    });
}

function walk(dir: string, out: string[] = []): string[] {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p, out);
        else out.push(p);
    }
    return out;
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe("offline plan --render DIR: what every node receives", function () {
    this.timeout(180_000);
    let dir: string;
    let result: { code: number; stdout: string; stderr: string };
    before(async () => {
        dir = join(scratchDir("k8s-ha-render-spec-"), "out");
        result = await renderCli(dir);
    });

    it("exits 0 and writes one directory per node, named after the node, plus nodes.json and admin.conf", () => {
        assert.equal(result.code, 0, result.stderr);
        const nodes = JSON.parse(readFileSync(join(dir, "nodes.json"), "utf8")) as { name: string; role: string }[];
        assert.deepEqual(
            nodes
                .filter((n) => n.role !== "bastion")
                .map((n) => n.name)
                .sort(),
            ["k8s-dev-cp-0", "k8s-dev-cp-1", "k8s-dev-cp-2", "k8s-dev-worker-0"],
        );
        for (const n of nodes.filter((x) => x.role !== "bastion"))
            assert.ok(statSync(join(dir, n.name)).isDirectory(), n.name);
        assert.match(readFileSync(join(dir, "admin.conf"), "utf8"), /client-key-data: /);
    });

    it("a control plane gets its scripts, stdin, kubeadm configuration and /etc/kubernetes/pki", () => {
        const cp1 = join(dir, "k8s-dev-cp-1");
        assert.deepEqual(readdirSync(join(cp1, "kubeadm")).sort(), [
            "join-control-plane.yaml",
            "renew-kubeconfigs.kubeadm-phase-config.yaml",
            "rotate.kubeadm-phase-config.yaml",
            "upgrade-control-plane.kubeadm-phase-config.yaml",
        ]);
        for (const f of [
            "ca.crt",
            "ca.key",
            "apiserver.crt",
            "apiserver.key",
            "sa.key",
            "sa.pub",
            "etcd/ca.crt",
            "etcd/peer.key",
        ])
            assert.ok(existsSync(join(cp1, "etc/kubernetes/pki", f)), f);
        assert.ok(readdirSync(join(cp1, "scripts")).includes("join.create.sh"));
        assert.ok(readdirSync(join(cp1, "scripts")).includes("reset.delete.sh"));
        assert.match(readFileSync(join(cp1, "scripts", "join.create.sh"), "utf8"), /^#!\/usr\/bin\/env bash\n/);
    });

    it("a worker gets no PKI: kubeadm's worker join refuses an existing pki/ca.crt", () => {
        assert.ok(!existsSync(join(dir, "k8s-dev-worker-0", "etc")));
        assert.deepEqual(readdirSync(join(dir, "k8s-dev-worker-0", "kubeadm")), ["join-worker.yaml"]);
    });

    it("the kubeadm configuration carries the real bootstrap token from stdin, not the placeholder", () => {
        const token = readFileSync(join(dir, "k8s-dev-cp-1", "stdin", "join"), "utf8").split("\n")[0];
        assert.match(token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
        const join1 = readFileSync(join(dir, "k8s-dev-cp-1", "kubeadm", "join-control-plane.yaml"), "utf8");
        assert.ok(join1.includes(`token: "${token}"`), join1);
        assert.ok(!join1.includes("k8s-ha-bootstrap-token-from-stdin"));
    });

    it("secrets are 0600 (keys, stdin, kubeadm configuration, admin.conf); scripts hold no secret", () => {
        const files = walk(dir);
        const secret = files.filter(
            (f) => f.endsWith(".key") || f.includes("/stdin/") || f.includes("/kubeadm/") || f.endsWith("admin.conf"),
        );
        assert.ok(secret.length > 30, `${secret.length}`);
        for (const f of secret) assert.equal(mode(f), 0o600, f);
        const token = readFileSync(join(dir, "k8s-dev-cp-1", "stdin", "join"), "utf8").split("\n")[0];
        const keys = files.filter((f) => f.endsWith(".key")).map((f) => readFileSync(f, "utf8").split("\n")[1]);
        for (const f of files.filter((x) => x.includes("/scripts/"))) {
            const text = readFileSync(f, "utf8");
            assert.ok(!text.includes(token), `${f} holds the token`);
            for (const k of keys) assert.ok(!text.includes(k), `${f} holds a private key`);
            assert.equal(mode(f), 0o755, f);
        }
    });

    it("refuses a directory that is not empty, with exit 2, and writes nothing", async () => {
        const busy = scratchDir("k8s-ha-render-busy-");
        writeFileSync(join(busy, "keep"), "x");
        const r = await renderCli(busy, [], true);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /exists and is not empty/);
        assert.deepEqual(readdirSync(busy), ["keep"]);
    });

    it("writes the files even when a policy fails, and exits 1", async () => {
        const out = join(scratchDir("k8s-ha-render-bad-"), "out");
        mkdirSync(out);
        const r = await renderCli(out, ["--config", "controlPlaneCount=4"], true);
        assert.equal(r.code, 1, r.stderr);
        assert.ok(existsSync(join(out, "k8s-dev-cp-3", "kubeadm", "join-control-plane.yaml")));
    });
});

describe("render helpers read what the script builders write", () => {
    it("readQuotedWord and scriptOf invert shellQuote and asRemoteCommand", () => {
        for (const s of ["plain", "it's", "'''", "a\nb'c\\d$e`f", ""]) {
            assert.equal(readQuotedWord(shellQuote(s), 0).value, s);
        }
        const script = "#!/usr/bin/env bash\necho 'hi'\n";
        assert.equal(scriptOf(asRemoteCommand(script)), script);
        assert.equal(scriptOf(`${asRemoteCommand(script)} # certificates ab12`), `${script}# certificates ab12\n`);
        assert.equal(scriptOf("true"), "true\n");
    });

    it("readonlyValues reads a header's values, including values that are scripts", () => {
        const inner = `#!/usr/bin/env bash\n${readonlyVars({ KUBEADM_CONFIG_TEMPLATE: "apiVersion: kubeadm.k8s.io/v1beta4\nkind: X\n" })}\n`;
        const outer = `#!/usr/bin/env bash\n${readonlyVars({ SCRIPT_NAME: "first", INIT_SCRIPT: inner, N: 3 })}\necho\n`;
        const values = readonlyValues(outer);
        assert.deepEqual(Object.keys(values), ["SCRIPT_NAME", "INIT_SCRIPT", "N"]);
        assert.equal(values.INIT_SCRIPT, inner);
        assert.equal(
            readonlyValues(values.INIT_SCRIPT).KUBEADM_CONFIG_TEMPLATE,
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: X\n",
        );
    });
});
