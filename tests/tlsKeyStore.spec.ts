// The unit-test runner keeps the TLS emulator's private keys on disk across processes
// (tools/harness/tlsEmulator.ts, K8S_HA_TLS_KEY_STORE): the same resource with the same inputs gets
// the same key in every worker and run, anything else a new one, and nothing without the setting.
import * as assert from "assert";
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { TYPES } from "../policies/lib/contract";
import { KEY_STORE_ENV, tlsEmulator } from "../tools/harness/tlsEmulator";
import { scratchDir } from "./scratch";

const ROOT = join(__dirname, "..");

/** Issues private keys in a fresh process, as a mocha worker would; returns each public key. */
function issueInNewProcess(store: string | undefined, keys: { name: string; inputs: object }[]): string[] {
    const script = `
        const { tlsEmulator } = require("./tools/harness/tlsEmulator");
        const { TYPES } = require("./policies/lib/contract");
        const issue = tlsEmulator({ keepIssued: true })[TYPES.privateKey];
        (async () => {
            const out = [];
            for (const k of ${JSON.stringify(keys)}) out.push((await issue({ type: TYPES.privateKey, name: k.name, inputs: k.inputs, provider: "", id: "" })).publicKeyPem);
            process.stdout.write(JSON.stringify(out));
        })();`;
    const env = { ...process.env };
    delete env[KEY_STORE_ENV];
    if (store) env[KEY_STORE_ENV] = store;
    return JSON.parse(
        execFileSync(process.execPath, ["-r", "./tools/ts-register.js", "-e", script], {
            cwd: ROOT,
            env,
            encoding: "utf8",
        }),
    );
}

describe("TLS emulator: private keys kept on disk across processes for the test runner", function () {
    this.timeout(60_000);
    // Names of this run only, so that no key of this process's earlier runs answers from memory.
    const run = `spec-${process.pid}-${Date.now()}`;
    const keys = [
        { name: `${run}-ca-key`, inputs: { algorithm: "RSA", rsaBits: 2048 } },
        { name: `${run}-ca-key`, inputs: { algorithm: "ECDSA", ecdsaCurve: "P256" } },
        { name: `${run}-etcd-ca-key`, inputs: { algorithm: "ECDSA", ecdsaCurve: "P256" } },
    ];
    const issue = tlsEmulator({ keepIssued: true })[TYPES.privateKey];
    const issueHere = async (k: (typeof keys)[number]) =>
        (await issue({ type: TYPES.privateKey, name: k.name, inputs: k.inputs, provider: "", id: "" })).publicKeyPem;
    const saved = process.env[KEY_STORE_ENV];
    let store: string;
    let fromChild: string[];
    before(() => {
        store = join(scratchDir("k8s-ha-keys-"), "store");
        fromChild = issueInNewProcess(store, keys);
    });
    afterEach(() => {
        if (saved === undefined) delete process.env[KEY_STORE_ENV];
        else process.env[KEY_STORE_ENV] = saved;
    });

    it("gives the same resource with the same inputs the key another process got, anything else a new key", async () => {
        process.env[KEY_STORE_ENV] = store;
        const here: string[] = [];
        for (const k of keys) here.push(String(await issueHere(k)));
        assert.deepStrictEqual(here, fromChild);
        assert.strictEqual(new Set(here).size, 3, "another name or other inputs get another key");
        assert.match(here[0], /^-----BEGIN PUBLIC KEY-----/);
    });

    it("keeps them in files only its owner can read", () => {
        assert.strictEqual(statSync(store).mode & 0o777, 0o700);
        const files = readdirSync(store);
        assert.strictEqual(files.length, 3);
        for (const f of files) assert.strictEqual(statSync(join(store, f)).mode & 0o777, 0o600, f);
    });

    it("without the setting (the offline plan) generates and writes nothing to disk", async () => {
        delete process.env[KEY_STORE_ENV];
        const fresh = { name: `${run}-fresh-key`, inputs: { algorithm: "ECDSA", ecdsaCurve: "P256" } };
        assert.match(String(await issueHere(fresh)), /^-----BEGIN PUBLIC KEY-----/);
        assert.strictEqual(readdirSync(store).length, 3);
        process.env[KEY_STORE_ENV] = store;
        const again = { ...fresh, name: `${run}-fresh-key-2` };
        await issueHere(again);
        assert.strictEqual(readdirSync(store).length, 4, "the same call with the setting writes one");
    });
});
