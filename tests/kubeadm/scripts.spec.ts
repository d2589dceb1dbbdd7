// Rendered scripts as text: structure, embedded parameters, no secrets; shellQuote; stdin encoders.
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    asRemoteCommand,
    tokenStdin,
    joinStdin,
    placePkiStdin,
    renderAdminKubeconfig,
    renderInitScript,
    renderJoinScript,
    renderNodeScripts,
    renderResetScript,
    renderRotateScript,
    renderScriptSet,
    adminStdin,
    shellQuote,
} from "../../components/kubeadm";
import { SAMPLE_CA_CERT_HASH, SAMPLE_CLUSTER, SAMPLE_NODES, SAMPLE_SCRIPT_SET } from "../../tools/render-scripts";

const TOKEN = "abcdef.0123456789abcdef";
const PEM_KEY =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

/** Every script for every sample node, plus the role-generic set. */
function allScripts() {
    const perNode = SAMPLE_NODES.flatMap((n, i) =>
        renderNodeScripts(SAMPLE_CLUSTER, n, { isInitNode: i === 0, caCertHash: SAMPLE_CA_CERT_HASH }),
    );
    return [...renderScriptSet(SAMPLE_SCRIPT_SET), ...perNode];
}

describe("rendered scripts", () => {
    const set = renderScriptSet(SAMPLE_SCRIPT_SET);

    it("the set covers every script for every role", () => {
        assert.deepEqual(
            set.map((s) => s.fileName),
            [
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
                "renew-kubeconfigs.sh",
                "cert-renewal-install.sh",
            ],
        );
    });

    it("each starts with the bash shebang and strict mode, and parses (bash -n)", () => {
        for (const s of allScripts()) {
            const lines = s.text.split("\n");
            assert.equal(lines[0], "#!/usr/bin/env bash", s.fileName);
            assert.ok(lines.slice(0, 10).includes("set -euo pipefail"), `${s.fileName}: strict mode near the top`);
            const r = spawnSync("bash", ["-n"], { input: s.text });
            assert.equal(r.status, 0, `${s.fileName}: ${r.stderr}`);
        }
    });

    it("the idempotency guard comes before the first command that changes anything", () => {
        const guardBefore: Record<string, [RegExp, RegExp]> = {
            "init.sh": [/if \[\[ -e "\$KUBE_DIR\/admin\.conf" \]\]/, /^kubeadm init /m],
            "join-control-plane.sh": [/if \[\[ -n \$leftovers \]\]/, /^refresh_token$/m],
            "join-worker.sh": [/if \[\[ -n \$leftovers \]\]/, /^kubeadm join --config /m],
            "prepare-worker.sh": [/if \[\[ -f \$MARKER/, /^hostnamectl /m],
            "rotate.sh": [/if \[\[ ! -s \$CHANGED_FILE \]\]/, /^restart_static_pod /m],
            "renew-kubeconfigs.sh": [
                /if \[\[ ! -e "\$KUBE_DIR\/manifests\/kube-apiserver\.yaml" \]\]/,
                /kubeadm certs renew /,
            ],
            "reset-control-plane.sh": [
                /if \(\(!joined && !resuming\)\) && \[\[ -z \$node_object \]\]/,
                /^ {2}kube drain /m,
            ],
        };
        for (const [file, [guard, action]] of Object.entries(guardBefore)) {
            const text = set.find((s) => s.fileName === file)!.text;
            const g = text.search(guard);
            const a = text.search(action);
            assert.ok(g > 0, `${file}: guard not found`);
            assert.ok(a > g, `${file}: guard at ${g} must precede the first action at ${a}`);
        }
    });

    it("embeds non-secret parameters as shell-quoted readonly variables", () => {
        const join = set.find((s) => s.fileName === "join-control-plane.sh")!.text;
        assert.match(join, /^readonly NODE_NAME='k8s-ha-dev-cp-1'$/m);
        assert.match(
            join,
            new RegExp(`^readonly API_ENDPOINT='${SAMPLE_CLUSTER.apiEndpointHost.replace(/\./g, "\\.")}:6443'$`, "m"),
        );
        assert.match(join, /^readonly LOCAL_READYZ_URL='https:\/\/10\.0\.32\.10:6443\/readyz'$/m);
        assert.ok(join.includes(SAMPLE_CA_CERT_HASH), "the CA hash (not secret) is embedded in the join config");
        const prep = set.find((s) => s.fileName === "prepare-control-plane.sh")!.text;
        assert.match(prep, /^readonly NODE_ROLE='control-plane'$/m);
        assert.doesNotMatch(
            prep,
            /K8S_VERSION|1\.35/,
            "prepare carries no Kubernetes version (the upgrade step installs)",
        );
        const init = set.find((s) => s.fileName === "init.sh")!.text;
        assert.match(init, /^kubernetesVersion: k8s-ha-installed-kubeadm-version$/m);
        assert.match(init, /^readonly VERSION_PLACEHOLDER='k8s-ha-installed-kubeadm-version'$/m);
        assert.ok(prep.includes("kind: Policy"), "control-plane prepare carries the audit policy");
        assert.ok(!set.find((s) => s.fileName === "prepare-worker.sh")!.text.includes("kind: Policy"));
    });

    it("contain no secret: no token, no key material, only the token placeholder", () => {
        const kubeconfig = renderAdminKubeconfig(SAMPLE_CLUSTER, {
            caCertPem: "CA",
            clientCertPem: "CERT",
            clientKeyPem: PEM_KEY,
        });
        const keyB64 = Buffer.from(PEM_KEY).toString("base64");
        for (const s of allScripts()) {
            assert.ok(
                !/[a-z0-9]{6}\.[a-z0-9]{16}(?![a-z0-9])/.test(s.text.replace(/k8s-ha-bootstrap-token-from-stdin/g, "")),
                `${s.fileName}: token-shaped string`,
            );
            assert.ok(!s.text.includes("PRIVATE KEY"), `${s.fileName}: key material`);
            assert.ok(
                !s.text.includes(keyB64) && !s.text.includes("client-key-data:"),
                `${s.fileName}: kubeconfig material`,
            );
            assert.ok(
                !kubeconfig.split("\n").some((l) => l.includes("client-key-data") && s.text.includes(l.trim())),
                s.fileName,
            );
        }
        // and the renderers have no parameter through which a secret could enter
        assert.equal(renderInitScript.length, 3);
        assert.equal(renderJoinScript.length, 4);
    });

    it("scripts that take secrets read them with bash's read builtin, never from argv or the environment", () => {
        for (const s of set.filter(
            (x) => ["init", "join", "reset", "place-pki"].includes(x.kind) && !x.text.includes("\n# stdin: nothing\n"),
        )) {
            assert.match(s.text, /IFS= read -r /, s.fileName);
        }
        // the only environment variable a script reads is the test hook K8S_HA_FSROOT
        for (const s of allScripts()) {
            const envReads = [...s.text.matchAll(/\$\{([A-Z][A-Z0-9_]*):-/g)].map((m) => m[1]);
            assert.deepEqual([...new Set(envReads)], ["K8S_HA_FSROOT"], s.fileName);
        }
    });

    it("reset and rotate are role-aware", () => {
        const cpReset = renderResetScript(SAMPLE_CLUSTER, SAMPLE_NODES[1]);
        const wReset = renderResetScript(SAMPLE_CLUSTER, SAMPLE_NODES[3]);
        assert.ok(cpReset.includes("check_quorum") && !wReset.includes("check_quorum"));
        assert.throws(() => renderRotateScript(SAMPLE_CLUSTER, SAMPLE_NODES[3]), /control-plane/);
        assert.throws(() => renderInitScript(SAMPLE_CLUSTER, SAMPLE_NODES[3]), /control-plane/);
    });

    it("bounded waits follow the options", () => {
        const text = renderInitScript(SAMPLE_CLUSTER, SAMPLE_NODES[0], {
            waitIntervalSeconds: 10,
            waitTimeoutSeconds: 300,
        });
        assert.match(text, /^readonly WAIT_INTERVAL_SECONDS='10'$/m);
        assert.match(text, /^readonly WAIT_ATTEMPTS='30'$/m);
        assert.throws(
            () => renderInitScript(SAMPLE_CLUSTER, SAMPLE_NODES[0], { waitIntervalSeconds: 0 }),
            /waitIntervalSeconds/,
        );
    });
});

describe("shellQuote", () => {
    const hostile = [
        "",
        "plain",
        "with space",
        "it's",
        "'",
        "''",
        '"double"',
        "$(touch PWNED)",
        "`touch PWNED`",
        "${HOME}",
        "$HOME",
        "back\\slash\\",
        "new\nline\n",
        "tab\tand\rcr",
        "*?[glob]",
        "-n",
        "--help",
        "!history",
        "semi;colon && or || pipe | amp &",
        "< > >> redirections",
        "unicode: 漢字 ✓ é",
        "'$(touch PWNED)'\"`touch PWNED`\"",
    ];
    let dir: string;
    before(() => {
        dir = mkdtempSync(join(tmpdir(), "k8s-ha-quote-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("round-trips hostile strings through bash -c without executing anything", () => {
        for (const s of hostile) {
            const out = execFileSync("bash", ["-c", `printf '%s' ${shellQuote(s)}`], { cwd: dir });
            assert.equal(out.toString("utf8"), s, JSON.stringify(s));
            // also as an assignment, the way scripts embed parameters
            const viaVar = execFileSync("bash", ["-c", `readonly V=${shellQuote(s)}; printf '%s' "$V"`], { cwd: dir });
            assert.equal(viaVar.toString("utf8"), s, JSON.stringify(s));
        }
        assert.ok(!existsSync(join(dir, "PWNED")), "a quoted string executed a command");
    });

    it("round-trips through asRemoteCommand's `bash -c` wrapper", () => {
        const script = "#!/usr/bin/env bash\nprintf '%s|' \"it's\" '$(x)' \"$0\"\n";
        const cmd = asRemoteCommand(script).replace(/^sudo /, "");
        const out = execFileSync("bash", ["-c", cmd], { cwd: dir }).toString();
        assert.equal(out, "it's|$(x)|bash|");
    });

    it("refuses NUL", () => {
        assert.throws(() => shellQuote("a\0b"), /NUL/);
    });
});

describe("stdin encoders", () => {
    it("init and join frame the token on line 1", () => {
        assert.equal(tokenStdin(TOKEN), `${TOKEN}\n`);
        assert.equal(joinStdin(TOKEN, "apiVersion: v1\n"), `${TOKEN}\napiVersion: v1\n`);
        assert.equal(adminStdin("apiVersion: v1"), "apiVersion: v1\n");
        assert.throws(
            () => tokenStdin("bad"),
            (e: Error) => /bootstrap token/.test(e.message) && !e.message.includes('bad"'),
        );
        assert.throws(() => joinStdin(TOKEN, "  \n"), /admin kubeconfig/);
    });

    it("place-pki lines: octal mode, path, base64; the script's rules enforced early", () => {
        const text = placePkiStdin([
            { path: "/etc/kubernetes/pki/ca.crt", mode: 0o644, content: "CERT\n" },
            { path: "/etc/kubernetes/pki/ca.key", mode: 0o600, content: PEM_KEY },
        ]);
        const lines = text.trimEnd().split("\n");
        assert.equal(lines.length, 2);
        assert.equal(lines[0], `0644 /etc/kubernetes/pki/ca.crt ${Buffer.from("CERT\n").toString("base64")}`);
        assert.equal(Buffer.from(lines[1].split(" ")[2], "base64").toString(), PEM_KEY);
        assert.throws(
            () => placePkiStdin([{ path: "/etc/passwd", mode: 0o644, content: "x" }]),
            /under \/etc\/kubernetes/,
        );
        assert.throws(
            () => placePkiStdin([{ path: "/etc/kubernetes/../passwd", mode: 0o644, content: "x" }]),
            /under \/etc\/kubernetes/,
        );
        assert.throws(() => placePkiStdin([{ path: "/etc/kubernetes/pki/ca.key", mode: 0o644, content: "x" }]), /0600/);
        assert.throws(
            () => placePkiStdin([{ path: "/etc/kubernetes/pki/ca.crt", mode: 0o666, content: "x" }]),
            /write/,
        );
        assert.throws(() => placePkiStdin([]), /at least one/);
    });

    it("what placePkiStdin produces, place-pki.sh accepts (round trip in a scratch root)", () => {
        const dir = mkdtempSync(join(tmpdir(), "k8s-ha-place-"));
        try {
            const script = renderScriptSet(SAMPLE_SCRIPT_SET).find((s) => s.kind === "place-pki")!.text;
            const input = placePkiStdin([
                { path: "/etc/kubernetes/pki/ca.crt", mode: 0o644, content: "CERT\n" },
                { path: "/etc/kubernetes/pki/etcd/ca.key", mode: 0o600, content: PEM_KEY },
            ]);
            const r = spawnSync("bash", ["-c", script], { input, env: { PATH: process.env.PATH, K8S_HA_FSROOT: dir } });
            assert.equal(r.status, 0, r.stderr.toString());
            assert.match(r.stdout.toString(), /summary: 2 changed, 0 unchanged/);
            assert.ok(!r.stdout.toString().includes("PRIVATE KEY") && !r.stderr.toString().includes("PRIVATE KEY"));
            assert.equal(execFileSync("cat", [join(dir, "etc/kubernetes/pki/etcd/ca.key")]).toString(), PEM_KEY);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
