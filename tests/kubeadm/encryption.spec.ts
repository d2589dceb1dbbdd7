// The apiserver's EncryptionConfiguration for Secrets, rendered from typed data and parsed back.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { parseAllDocuments } from "yaml";
import { ConfigError, validateConfig } from "../../components/config";
import {
    ENCRYPTION_KEY_BYTES,
    encryptionConfigHash,
    encryptionConfiguration,
    encryptionKeyNamesProblem,
    renderEncryptionConfig,
} from "../../components/kubeadm/encryption";
import { secretsKeyGuardProvider } from "../../components/secretsKeyGuard";
import { TYPES } from "../../policies/lib/contract";
import { plain } from "../graph";
import { sharedRun } from "../../tools/harness/sharedRun";

const key = (name: string) => ({ name, secret: randomBytes(ENCRYPTION_KEY_BYTES).toString("base64") });

function parseOne(text: string): Record<string, any> {
    const docs = parseAllDocuments(text);
    assert.ok(Array.isArray(docs) && docs.length === 1, "one YAML document");
    assert.deepEqual(docs[0].errors, []);
    return docs[0].toJS();
}

describe("EncryptionConfiguration (Secrets at rest)", () => {
    it("encrypts Secrets only, with secretbox and the keys in order, identity last", () => {
        const k1 = key("key1");
        const k2 = key("key2");
        const doc = parseOne(renderEncryptionConfig([k2, k1]));
        assert.deepEqual(doc, {
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "EncryptionConfiguration",
            resources: [
                {
                    resources: ["secrets"],
                    providers: [
                        {
                            secretbox: {
                                keys: [
                                    { name: "key2", secret: k2.secret },
                                    { name: "key1", secret: k1.secret },
                                ],
                            },
                        },
                        { identity: {} },
                    ],
                },
            ],
        });
    });

    it("renders the key as a plain base64 string the apiserver decodes to 32 bytes", () => {
        const k = key("key1");
        const text = renderEncryptionConfig([k]);
        const secret = parseOne(text).resources[0].providers[0].secretbox.keys[0].secret as string;
        assert.equal(Buffer.from(secret, "base64").length, 32);
        assert.equal(secret, k.secret);
    });

    it("refuses a key that is not base64 of 32 bytes, without echoing it", () => {
        for (const secret of [
            randomBytes(16).toString("base64"),
            randomBytes(33).toString("base64"),
            "not base64 at all!",
            "",
        ]) {
            assert.throws(
                () => renderEncryptionConfig([{ name: "key1", secret }]),
                (e: Error) => {
                    assert.match(e.message, /encryption key key1.*"<secret>".*base64 of exactly 32 bytes/);
                    if (secret) assert.ok(!e.message.includes(secret), "the message carries no key");
                    return true;
                },
            );
        }
    });

    it("refuses no keys, too many, a repeated name and names that cannot sit in a value's prefix", () => {
        assert.throws(
            () => encryptionConfiguration([]),
            /encryption key names: \[\] is invalid; expected 1 to 4 key names/,
        );
        assert.throws(() => encryptionConfiguration(["a", "b", "c", "d", "e"].map(key)), /1 to 4 key names/);
        assert.throws(
            () => encryptionConfiguration([key("key1"), key("key1")]),
            /each key name once \("key1" is repeated\)/,
        );
        for (const name of ["Key1", "key:1", "-key", "key-", "", "k".repeat(33)]) {
            assert.throws(() => encryptionConfiguration([key(name)]), /key names of 1-32 lower-case letters/, name);
        }
        assert.equal(encryptionKeyNamesProblem(["key1", "2026-11", "k"]), undefined);
        assert.match(String(encryptionKeyNamesProblem(["key1", 7])), /7 is not one/);
    });

    it("hashes the file: the hash changes with any key or order and carries no key", () => {
        const k1 = key("key1");
        const k2 = key("key2");
        const one = encryptionConfigHash(renderEncryptionConfig([k1]));
        assert.match(one, /^[0-9a-f]{64}$/);
        assert.equal(encryptionConfigHash(renderEncryptionConfig([k1])), one, "stable for the same keys");
        const hashes = [
            one,
            encryptionConfigHash(renderEncryptionConfig([k1, k2])),
            encryptionConfigHash(renderEncryptionConfig([k2, k1])),
            encryptionConfigHash(renderEncryptionConfig([{ ...k1, secret: k2.secret }])),
        ];
        assert.equal(new Set(hashes).size, hashes.length);
        for (const h of hashes)
            for (const k of [k1, k2]) assert.ok(!h.includes(Buffer.from(k.secret, "base64").toString("hex")));
    });
});

describe("config key secretsEncryptionKeys", () => {
    const base = { sshAllowedCidrs: '["203.0.113.0/24"]', apiAllowedCidrs: '["203.0.113.0/24"]' };
    it("defaults to one key and takes a rotation's two names in order", () => {
        assert.deepEqual(validateConfig(base, "us-east-1").secretsEncryptionKeys, ["key1"]);
        assert.deepEqual(
            validateConfig({ ...base, secretsEncryptionKeys: '["key2","key1"]' }, "us-east-1").secretsEncryptionKeys,
            ["key2", "key1"],
        );
    });

    it("refuses, before anything is built, no key, a repeated name or a name with ':', naming the key and the value", () => {
        for (const [value, why] of [
            ["[]", /1 to 4 key names/],
            ['["key1","key1"]', /each key name once/],
            ['["key:1"]', /lower-case letters/],
            ['"key1"', /a list of strings|JSON list/],
        ] as const) {
            assert.throws(
                () => validateConfig({ ...base, secretsEncryptionKeys: value }, "us-east-1"),
                (e: unknown) => {
                    assert.ok(e instanceof ConfigError);
                    assert.deepEqual(
                        e.problems.map((p) => p.key),
                        ["secretsEncryptionKeys"],
                        value,
                    );
                    assert.match(e.message, why, value);
                    return true;
                },
            );
        }
    });
});

describe("the Secrets key guard (the dynamic provider's diff)", () => {
    const diff = (olds: string[], news: string[]) =>
        secretsKeyGuardProvider.diff!("secrets-keys", { keys: olds }, { keys: news });

    it("accepts every step of the rotation runbook, and no change", async () => {
        assert.deepEqual(await diff(["key1"], ["key1"]), { changes: false });
        for (const [olds, news] of [
            [["key1"], ["key1", "key2"]], // the new name second
            [
                ["key1", "key2"],
                ["key2", "key1"],
            ], // moved first, once every apiserver knows it
            [["key2", "key1"], ["key2"]], // the old name dropped after the Secrets were rewritten
            [["key1", "key2"], ["key1"]], // a second name that never wrote anything
        ]) {
            assert.deepEqual(await diff(olds, news), { changes: true }, `${olds} → ${news}`);
        }
    });

    for (const [title, olds, news] of [
        ["a rename in one step (a typo fixed)", ["key1"], ["key2"]],
        ["dropping the write key before the new one moved first", ["key1", "key2"], ["key2"]],
    ] as const) {
        it(`refuses ${title}, naming the key, the kept name and the runbook`, async () => {
            await assert.rejects(diff([...olds], [...news]), (err: Error) => {
                assert.match(
                    err.message,
                    new RegExp(`^secretsEncryptionKeys: ${escape(JSON.stringify(news))} is not allowed`),
                );
                assert.match(
                    err.message,
                    new RegExp(`keeps ${escape(JSON.stringify(olds[0]))}, the key new Secrets were written with`),
                );
                assert.match(err.message, /runbook "Rotate the Secrets encryption key"/);
                return true;
            });
        });
    }

    it("the program holds the configured names in the guard, and places no encryption configuration before it", async () => {
        const run = await sharedRun({ stack: "dev", config: { secretsEncryptionKeys: ["key2", "key1"] } });
        assert.ifError(run.error);
        const guards = run.resources.filter((r) => r.type === TYPES.secretsKeyGuard);
        assert.equal(guards.length, 1);
        assert.deepEqual(plain(guards[0]).keys, ["key2", "key1"]);
        const keys = run.resources.filter((r) => r.type === TYPES.randomBytes);
        assert.deepEqual(keys.map((k) => k.name).sort(), ["k8s-dev-secrets-key-key1", "k8s-dev-secrets-key-key2"]);
        const placePki = run.resources.filter((r) => r.type === TYPES.remoteCommand && r.name.endsWith("-place-pki"));
        assert.equal(placePki.length, 3);
        for (const r of placePki) {
            const deps = new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat()]);
            assert.ok(deps.has(guards[0].urn), `${r.name} does not wait for the guard`);
        }
    });
});

function escape(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
