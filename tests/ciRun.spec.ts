// `.ci/run` on a clean machine: the Debian packages it installs are the ones the README tells a
// newcomer to install, and cover what the nodes' own scripts `apt-get install` (the sandboxes'
// apt-get only checks that the host has them, tests/nodes/sandbox/bin/apt-get).
import * as assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..");
const read = (f: string) => readFileSync(join(ROOT, f), "utf8");

/** The package names of every `apt-get install` in a text, continuation lines joined. */
function aptInstalls(text: string): Set<string> {
    const names = new Set<string>();
    for (const line of text.replace(/\\\n/g, " ").split("\n")) {
        const m = /\bapt-get install\b(.*)$/.exec(line);
        if (!m) continue;
        for (const word of m[1].trim().split(/\s+/)) {
            const w = word.replace(/^"|"$/g, "");
            if (w === "" || w.startsWith("-") || w.startsWith("$") || w.startsWith("#")) continue;
            if (w === "|" || w === "&&" || w === ">/dev/null") break;
            names.add(w.split("=")[0]);
        }
    }
    return names;
}

/** The README's shell blocks: what it tells a newcomer to run. */
function readmeShell(): string {
    return [...read("README.md").matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]).join("\n");
}

function ciPackages(): Set<string> {
    const m = /^APT_PACKAGES=\(([^)]*)\)/m.exec(read(".ci/run"));
    assert.ok(m, ".ci/run has no APT_PACKAGES=(...)");
    return new Set(m[1].split(/\s+/).filter(Boolean));
}

function nodeScripts(dir = "components/kubeadm/scripts"): string[] {
    return readdirSync(join(ROOT, dir), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith(".sh"))
        .map((f) => read(join(dir, f)));
}

describe(".ci/run's Debian packages", () => {
    it("are exactly the ones the README's apt-get lines name", () => {
        const readme = aptInstalls(readmeShell());
        const ci = ciPackages();
        assert.deepEqual([...readme].filter((p) => !ci.has(p)).sort(), [], "in the README, not installed by .ci/run");
        assert.deepEqual([...ci].filter((p) => !readme.has(p)).sort(), [], "installed by .ci/run, not in the README");
    });

    it("cover every package a node script installs, but the lab's own builds", () => {
        // kubelet, kubeadm and kubectl are the lab's builds (.lab/bin); apt-transport-https is a
        // transitional package that apt itself replaces.
        const lab = new Set(["kubelet", "kubeadm", "kubectl", "apt-transport-https"]);
        const ci = ciPackages();
        const wanted = new Set(nodeScripts().flatMap((s) => [...aptInstalls(s)]));
        assert.ok(wanted.has("containerd") && wanted.has("etcd-client"), [...wanted].join(" "));
        assert.deepEqual([...wanted].filter((p) => !lab.has(p) && !ci.has(p)).sort(), []);
    });

    it("reads a continued apt-get line and its pinned versions", () => {
        const text = 'x\n  apt-get install -y -q \\\n    "kubelet=$v" curl gpg >/dev/null\napt-get update\n';
        assert.deepEqual([...aptInstalls(text)].sort(), ["curl", "gpg", "kubelet"]);
    });
});
