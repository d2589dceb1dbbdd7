import * as assert from "assert";
import { suggestUse, tlsAllowedUsesValid, tlsCaCertificate, tlsKeyStrength } from "../../policies/rules/tls";
import {
    checkResource,
    expectClean,
    expectLevel,
    expectNotApplicable,
    layout,
    runStack,
    secret,
    Stack,
    TYPES,
    UNKNOWN,
} from "./helpers";

const goodCa = {
    isCaCertificate: true,
    validityPeriodHours: 87600,
    earlyRenewalHours: 0,
    allowedUses: ["cert_signing", "key_encipherment", "digital_signature"],
    privateKeyPem: secret("pem"),
};

describe("policies: TLS", () => {
    describe("tls-key-strength", () => {
        it("passes the layout's RSA-2048 CA key, ECDSA P256 key and unused ED25519 (SSH) key, in preview and with known values", async () => {
            expectClean(await runStack(tlsKeyStrength, layout({ mode: "preview" })));
            expectClean(await runStack(tlsKeyStrength, layout({ mode: "known" })));
        });
        it("passes RSA with rsaBits unset (provider default 2048)", async () => {
            const s = new Stack();
            s.add(TYPES.key, "k", { algorithm: "RSA" });
            expectClean(await runStack(tlsKeyStrength, s));
        });
        it("fails RSA-1024 and ECDSA with no curve (P224)", async () => {
            const s = new Stack();
            const weak = s.add(TYPES.key, "weak", { algorithm: "RSA", rsaBits: 1024 });
            s.add(TYPES.key, "p224", { algorithm: "ECDSA" });
            const o = await runStack(tlsKeyStrength, s);
            const [rsa, ec] = expectLevel(o, "mandatory", 2);
            assert.match(rsa, /private key weak is RSA-1024, below minRsaBits=2048/);
            assert.strictEqual(o.at("mandatory")[0].urn, weak.urn);
            assert.match(ec, /private key p224 is ECDSA on P224 \(the provider's default when ecdsaCurve is unset\)/);
            assert.match(ec, /Set ecdsaCurve: "P256"/);
        });
        it("fails an ED25519 key that a certificate uses (through propertyDependencies, or by value)", async () => {
            const s = layout();
            const key = s.get("cluster-ca-key");
            key.inputs.algorithm = "ED25519";
            delete key.inputs.rsaBits;
            const [msg] = expectLevel(await runStack(tlsKeyStrength, s), "mandatory", 1);
            assert.match(
                msg,
                /private key cluster-ca-key is ED25519 but certificate\(s\) cluster-ca and apiserver use it/,
            );
            const k = layout({ mode: "known" });
            k.get("apiserver-key").inputs.algorithm = "ED25519";
            assert.match(
                expectLevel(await runStack(tlsKeyStrength, k), "mandatory", 1)[0],
                /apiserver-key is ED25519 but certificate\(s\) apiserver-csr use it/,
            );
        });
        it("fails any ED25519 key when allowEd25519ForSsh is false", async () => {
            const o = await runStack(tlsKeyStrength, layout(), {
                config: { "tls-key-strength": { allowEd25519ForSsh: false } },
            });
            assert.match(expectLevel(o, "mandatory", 1)[0], /private key ssh-key is ED25519/);
        });
        it("advises when the algorithm is unknown", async () => {
            const s = new Stack();
            s.add(TYPES.key, "k", { algorithm: UNKNOWN });
            const o = await runStack(tlsKeyStrength, s);
            expectLevel(o, "mandatory", 0);
            expectLevel(o, "advisory", 1);
        });
    });

    describe("tls-ca-certificate", () => {
        it("passes a sound CA and ignores leaf certificates", async () => {
            expectClean(await checkResource(tlsCaCertificate, TYPES.selfSigned, goodCa));
            expectNotApplicable(
                await checkResource(tlsCaCertificate, TYPES.locallySigned, {
                    allowedUses: ["server_auth"],
                    validityPeriodHours: 8760,
                    earlyRenewalHours: 720,
                }),
            );
        });
        it("fails a CA that cannot sign, renews early and expires soon", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    tlsCaCertificate,
                    TYPES.selfSigned,
                    {
                        ...goodCa,
                        allowedUses: ["digital_signature"],
                        earlyRenewalHours: 720,
                        validityPeriodHours: 8760,
                    },
                    { name: "etcd-ca" },
                ),
                "mandatory",
                1,
            );
            assert.match(msg, /CA certificate etcd-ca: allowedUses \("digital_signature"\) lacks "cert_signing"/);
            assert.match(msg, /earlyRenewalHours is 720/);
            assert.match(msg, /validityPeriodHours is 8760, below minCaValidityHours=87600/);
        });
        it("honours minCaValidityHours", async () => {
            const config = { "tls-ca-certificate": { minCaValidityHours: 8760 } };
            expectClean(
                await checkResource(
                    tlsCaCertificate,
                    TYPES.selfSigned,
                    { ...goodCa, validityPeriodHours: 8760 },
                    { config },
                ),
            );
        });
    });

    describe("tls-allowed-uses-valid", () => {
        it("passes snake_case values", async () => {
            expectClean(
                await checkResource(tlsAllowedUsesValid, TYPES.locallySigned, {
                    allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
                }),
            );
            expectNotApplicable(
                await checkResource(tlsAllowedUsesValid, TYPES.certRequest, { subject: { commonName: "x" } }),
            );
        });
        it("fails camelCase values with a hint", async () => {
            const [msg] = expectLevel(
                await checkResource(
                    tlsAllowedUsesValid,
                    TYPES.selfSigned,
                    { allowedUses: ["digitalSignature", "cert_signing", "serverAuth", "bogus"] },
                    { name: "front-proxy-ca" },
                ),
                "mandatory",
                1,
            );
            assert.match(
                msg,
                /front-proxy-ca has allowedUses "digitalSignature" \(did you mean "digital_signature"\?\), "serverAuth" \(did you mean "server_auth"\?\) and "bogus"/,
            );
        });
        it("suggests snake_case for camel and kebab case", () => {
            assert.strictEqual(suggestUse("keyEncipherment"), "key_encipherment");
            assert.strictEqual(suggestUse("client-auth"), "client_auth");
            assert.strictEqual(suggestUse("nope"), undefined);
        });
    });
});
