// Emulates @pulumi/tls with real cryptography (node:crypto keys, @peculiar/x509 certificates),
// following the provider's semantics: PEM formats per algorithm, snake_case allowedUses mapped
// to key usages and extended key usages, the CA flag, validity, SANs split into DNS and IP.
// Tests use it to check what the program asks for with openssl and a real etcd cluster.
import {
    createHash,
    createPrivateKey,
    createPublicKey,
    generateKeyPairSync,
    randomBytes,
    webcrypto,
    type KeyObject,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as X509 from "@peculiar/x509";
import type * as pulumi from "@pulumi/pulumi";
import type { webcrypto as WebCrypto } from "node:crypto";
import { secretValue, unwrapSecrets } from "./values";
import { TYPES } from "../../policies/lib/contract";

let loaded: typeof X509 | undefined;
/**
 * @peculiar/x509 and the two hundred modules under it, loaded with the first certificate: a
 * preview issues none, and the offline plan pays for every module it loads.
 */
function x509(): typeof X509 {
    if (!loaded) {
        require("reflect-metadata");
        loaded = require("@peculiar/x509") as typeof X509;
        loaded.cryptoProvider.set(webcrypto as unknown as Parameters<typeof X509.cryptoProvider.set>[0]);
    }
    return loaded;
}

type CryptoKey = WebCrypto.CryptoKey;
type Algorithm = WebCrypto.Algorithm;
type EcdsaParams = WebCrypto.EcdsaParams;

type State = Record<string, unknown>;

/** allowedUses → key usage flags and extended key usage OIDs, as the provider maps them. */
function usageMaps(): { keyUsage: Record<string, number>; extKeyUsage: Record<string, string> } {
    const { KeyUsageFlags: k, ExtendedKeyUsage: e } = x509();
    return {
        keyUsage: {
            digital_signature: k.digitalSignature,
            content_commitment: k.nonRepudiation,
            key_encipherment: k.keyEncipherment,
            data_encipherment: k.dataEncipherment,
            key_agreement: k.keyAgreement,
            cert_signing: k.keyCertSign,
            crl_signing: k.cRLSign,
            encipher_only: k.encipherOnly,
            decipher_only: k.decipherOnly,
        },
        extKeyUsage: {
            any_extended: "2.5.29.37.0",
            server_auth: e.serverAuth,
            client_auth: e.clientAuth,
            code_signing: e.codeSigning,
            email_protection: e.emailProtection,
            timestamping: e.timeStamping,
            ocsp_signing: e.ocspSigning,
        },
    };
}

/**
 * What the emulated tls resources were issued, as Pulumi's state keeps their outputs: by type,
 * name and inputs. JSON as it stands (secrets keep the runtime's wrapper), so it can be saved.
 */
export type TlsState = Record<string, State>;

export interface TlsEmulatorOptions {
    /** Like Pulumi state: the same resource with the same inputs keeps the keys and certificates it got earlier. */
    keepIssued?: boolean;
    /** Where the kept outputs live (with keepIssued): by default this process's own, or a previous run's state (readTlsState). */
    state?: TlsState;
    /**
     * Types issued anew although kept, as `pulumi up --replace=<urn>` of every resource of the type:
     * the rotation runbook replaces every LocallySignedCert and keeps the CAs, keys and CSRs.
     */
    replaceTypes?: readonly string[];
}

function generate(algorithm: string, rsaBits: number, curve: string): KeyObject {
    switch (algorithm) {
        case "RSA":
            return generateKeyPairSync("rsa", { modulusLength: rsaBits }).privateKey;
        case "ECDSA": {
            const named = { P224: "secp224r1", P256: "prime256v1", P384: "secp384r1", P521: "secp521r1" }[curve];
            if (!named) throw new Error(`tls emulator: unsupported ecdsaCurve ${curve}`);
            return generateKeyPairSync("ec", { namedCurve: named }).privateKey;
        }
        case "ED25519":
            return generateKeyPairSync("ed25519").privateKey;
        default:
            throw new Error(`tls emulator: unsupported algorithm ${algorithm}`);
    }
}

function privateKeyState(key: KeyObject, algorithm: string): State {
    // The provider writes RSA keys as PKCS#1, ECDSA as SEC1 and ED25519 as PKCS#8.
    const pem =
        algorithm === "RSA"
            ? key.export({ type: "pkcs1", format: "pem" })
            : algorithm === "ECDSA"
              ? key.export({ type: "sec1", format: "pem" })
              : key.export({ type: "pkcs8", format: "pem" });
    const pub = createPublicKey(key);
    return {
        algorithm,
        privateKeyPem: secretValue(String(pem)),
        privateKeyPemPkcs8: secretValue(String(key.export({ type: "pkcs8", format: "pem" }))),
        // Not a usable OpenSSH key (node:crypto cannot write that format), but unique per key.
        privateKeyOpenssh: secretValue(
            String(key.export({ type: "pkcs8", format: "pem" })).replace(/PRIVATE KEY/g, "OPENSSH PRIVATE KEY"),
        ),
        publicKeyPem: String(pub.export({ type: "spki", format: "pem" })),
        publicKeyOpenssh: algorithm === "ED25519" ? `ssh-ed25519 ${sshEd25519(pub)}\n` : "",
    };
}

/** OpenSSH's wire form of an ED25519 public key: length-prefixed type name and raw key. */
function sshEd25519(pub: KeyObject): string {
    const raw = (pub.export({ type: "spki", format: "der" }) as Buffer).subarray(-32);
    const field = (b: Buffer) => {
        const length = Buffer.alloc(4);
        length.writeUInt32BE(b.length);
        return Buffer.concat([length, b]);
    };
    return Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]).toString("base64");
}

/** WebCrypto algorithm parameters for signing with a key. */
function signingAlgorithm(key: KeyObject): {
    import: WebCrypto.RsaHashedImportParams | WebCrypto.EcKeyImportParams;
    sign: Algorithm | EcdsaParams;
} {
    if (key.asymmetricKeyType === "rsa") {
        return { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: { name: "RSASSA-PKCS1-v1_5" } };
    }
    if (key.asymmetricKeyType === "ec") {
        const curve = key.asymmetricKeyDetails?.namedCurve;
        const named = curve === "secp384r1" ? "P-384" : "P-256";
        if (curve !== "prime256v1" && curve !== "secp384r1")
            throw new Error(`tls emulator: cannot sign with curve ${curve}`);
        return {
            import: { name: "ECDSA", namedCurve: named },
            sign: { name: "ECDSA", hash: named === "P-384" ? "SHA-384" : "SHA-256" } as EcdsaParams,
        };
    }
    throw new Error(`tls emulator: cannot sign certificates with ${key.asymmetricKeyType}`);
}

async function cryptoKeys(pem: string): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey; sign: Algorithm }> {
    const key = createPrivateKey(pem);
    const alg = signingAlgorithm(key);
    const pkcs8 = key.export({ type: "pkcs8", format: "der" });
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, alg.import, true, ["sign"]);
    const publicKey = await webcrypto.subtle.importKey("spki", spki, alg.import, true, ["verify"]);
    return { privateKey: privateKey as CryptoKey, publicKey: publicKey as CryptoKey, sign: alg.sign };
}

function distinguishedName(subject: State | undefined): string {
    if (!subject) return "";
    const parts: string[] = [];
    const add = (attr: string, v: unknown) => {
        for (const value of Array.isArray(v) ? v : v === undefined ? [] : [v])
            parts.push(`${attr}=${String(value).replace(/([,+=])/g, "\\$1")}`);
    };
    add("C", subject.country);
    add("ST", subject.province);
    add("L", subject.locality);
    add("O", subject.organization);
    add("OU", subject.organizationalUnit);
    add("CN", subject.commonName);
    return parts.join(", ");
}

function extensions(inputs: State, publicKey: CryptoKey): Promise<X509.Extension[]> {
    const uses = (inputs.allowedUses as string[] | undefined) ?? [];
    const lib = x509();
    const { keyUsage, extKeyUsage } = usageMaps();
    const unknown = uses.filter((u) => !(u in keyUsage) && !(u in extKeyUsage));
    if (unknown.length > 0) throw new Error(`tls emulator: the provider rejects allowedUses ${unknown.join(", ")}`);
    const exts: X509.Extension[] = [];
    const flags = uses.reduce((f, u) => f | (keyUsage[u] ?? 0), 0);
    if (flags) exts.push(new lib.KeyUsagesExtension(flags, true));
    const eku = uses.filter((u) => u in extKeyUsage).map((u) => extKeyUsage[u]);
    if (eku.length) exts.push(new lib.ExtendedKeyUsageExtension(eku, false));
    exts.push(new lib.BasicConstraintsExtension(inputs.isCaCertificate === true, undefined, true));
    const names = [
        ...((inputs.dnsNames as string[] | undefined) ?? []).map((value) => ({ type: "dns" as const, value })),
        ...((inputs.ipAddresses as string[] | undefined) ?? []).map((value) => ({ type: "ip" as const, value })),
    ];
    if (names.length) exts.push(new lib.SubjectAlternativeNameExtension(names, false));
    return lib.SubjectKeyIdentifierExtension.create(publicKey).then((ski) => [...exts, ski]);
}

function validity(inputs: State): { notBefore: Date; notAfter: Date } {
    const notBefore = new Date(Date.now() - 60_000);
    const hours = Number(inputs.validityPeriodHours ?? 0);
    return { notBefore, notAfter: new Date(notBefore.getTime() + hours * 3_600_000) };
}

function certState(cert: X509.X509Certificate, inputs: State): State {
    const earlyHours = Number(inputs.earlyRenewalHours ?? 0);
    return {
        certPem: cert.toString("pem") + "\n",
        validityStartTime: cert.notBefore.toISOString(),
        validityEndTime: cert.notAfter.toISOString(),
        readyForRenewal: Date.now() > cert.notAfter.getTime() - earlyHours * 3_600_000,
    };
}

/** Per-type overrides for realisticMocks: real keys, CSRs and certificates. */
export function tlsEmulator(
    options: TlsEmulatorOptions = {},
): Record<string, (args: pulumi.runtime.MockResourceArgs) => Promise<State>> {
    const handlers = emulators();
    if (!options.keepIssued) return handlers;
    const state = options.state ?? issued;
    const replaced = new Set(options.replaceTypes ?? []);
    // Like Pulumi state: a resource whose inputs did not change keeps its outputs, so a second run
    // of the program issues no new certificate and nothing downstream sees a change, unless its
    // type is replaced (then its new outputs are what the state keeps from now on).
    return Object.fromEntries(
        Object.entries(handlers).map(([type, handler]) => [
            type,
            async (args: pulumi.runtime.MockResourceArgs) => {
                const key = `${type}/${args.name}/${JSON.stringify(unwrapSecrets(args.inputs))}`;
                const known =
                    (!replaced.has(type) && state[key]) ||
                    (type === TYPES.privateKey && process.env[KEY_STORE_ENV]
                        ? await storedKey(process.env[KEY_STORE_ENV]!, key, args, handler)
                        : await handler(args));
                state[key] = known;
                return known;
            },
        ]),
    );
}

/** This process's kept outputs: runs that name no state of their own share them. */
const issued: TlsState = {};

/** A state saved by writeTlsState; refuses a file that is not one, naming it. */
export function readTlsState(file: string): TlsState {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { kind?: unknown; resources?: unknown };
    if (parsed.kind !== TLS_STATE_KIND || typeof parsed.resources !== "object" || parsed.resources === null)
        throw new Error(`${file} is not a tls state written by the offline render (kind ${TLS_STATE_KIND})`);
    return parsed.resources as TlsState;
}

/** Saves a state, 0600: it holds every private key of the cluster, as Pulumi's state does (encrypted there). */
export function writeTlsState(file: string, state: TlsState): void {
    writeSecretFile(file, `${JSON.stringify({ kind: TLS_STATE_KIND, resources: state })}\n`);
}

/** Writes a 0600 file aside and renames it into place: a reader never sees half of it. */
function writeSecretFile(file: string, text: string): void {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
}

const TLS_STATE_KIND = "k8s-ha/tls-state/v1";

/**
 * A directory where keepIssued also keeps private keys across processes (the unit-test runner sets
 * it): generating RSA keys was a tenth of `npm test`'s CPU, paid again by every worker and run.
 * `npm run plan` never sets it, so renders made by hand never share keys (plan processes a
 * spec starts inherit it with the rest of the test runner's environment).
 */
export const KEY_STORE_ENV = "K8S_HA_TLS_KEY_STORE";

async function storedKey(
    store: string,
    key: string,
    args: pulumi.runtime.MockResourceArgs,
    generateState: (args: pulumi.runtime.MockResourceArgs) => Promise<State>,
): Promise<State> {
    const file = join(store, `${createHash("sha256").update(key).digest("hex")}.pem`);
    const algorithm = String((unwrapSecrets(args.inputs) as State).algorithm ?? "RSA");
    if (existsSync(file)) return privateKeyState(createPrivateKey(readFileSync(file, "utf8")), algorithm);
    const state = await generateState(args);
    mkdirSync(store, { recursive: true, mode: 0o700 });
    // Another worker may read it at the same time.
    writeSecretFile(file, String(unwrapSecrets(state.privateKeyPemPkcs8)));
    return state;
}

function emulators(): Record<string, (args: pulumi.runtime.MockResourceArgs) => Promise<State>> {
    return {
        [TYPES.privateKey]: async (args) => {
            const i = unwrapSecrets(args.inputs) as State;
            const algorithm = String(i.algorithm ?? "RSA");
            return privateKeyState(
                generate(algorithm, Number(i.rsaBits ?? 2048), String(i.ecdsaCurve ?? "P224")),
                algorithm,
            );
        },
        [TYPES.selfSignedCert]: async (args) => {
            const lib = x509();
            const i = unwrapSecrets(args.inputs) as State;
            const keys = await cryptoKeys(String(i.privateKeyPem));
            const name = distinguishedName(i.subject as State);
            const cert = await lib.X509CertificateGenerator.create({
                serialNumber: randomBytes(16)
                    .toString("hex")
                    .replace(/^[89a-f]/, "1"),
                subject: name,
                issuer: name,
                ...validity(i),
                signingAlgorithm: keys.sign,
                publicKey: keys.publicKey,
                signingKey: keys.privateKey,
                extensions: await extensions(i, keys.publicKey),
            });
            return certState(cert, i);
        },
        [TYPES.certRequest]: async (args) => {
            const lib = x509();
            const i = unwrapSecrets(args.inputs) as State;
            const keys = await cryptoKeys(String(i.privateKeyPem));
            const names = [
                ...((i.dnsNames as string[] | undefined) ?? []).map((value) => ({ type: "dns" as const, value })),
                ...((i.ipAddresses as string[] | undefined) ?? []).map((value) => ({ type: "ip" as const, value })),
            ];
            const csr = await lib.Pkcs10CertificateRequestGenerator.create({
                name: distinguishedName(i.subject as State),
                keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
                signingAlgorithm: keys.sign,
                extensions: names.length ? [new lib.SubjectAlternativeNameExtension(names)] : [],
            });
            return { certRequestPem: csr.toString("pem") + "\n" };
        },
        [TYPES.locallySignedCert]: async (args) => {
            const lib = x509();
            const i = unwrapSecrets(args.inputs) as State;
            const csr = new lib.Pkcs10CertificateRequest(String(i.certRequestPem));
            const ca = new lib.X509Certificate(String(i.caCertPem));
            const caKeys = await cryptoKeys(String(i.caPrivateKeyPem));
            const sans = csr.getExtension("2.5.29.17") as X509.SubjectAlternativeNameExtension | null;
            const requested = {
                ...i,
                dnsNames:
                    sans?.names.items
                        .filter((n: X509.GeneralName) => n.type === "dns")
                        .map((n: X509.GeneralName) => n.value) ?? [],
                ipAddresses:
                    sans?.names.items
                        .filter((n: X509.GeneralName) => n.type === "ip")
                        .map((n: X509.GeneralName) => n.value) ?? [],
            };
            const publicKey = await csr.publicKey.export();
            const cert = await lib.X509CertificateGenerator.create({
                serialNumber: randomBytes(16)
                    .toString("hex")
                    .replace(/^[89a-f]/, "1"),
                subject: csr.subject,
                issuer: ca.subject,
                ...validity(i),
                signingAlgorithm: caKeys.sign,
                publicKey,
                signingKey: caKeys.privateKey,
                extensions: [
                    ...(await extensions(requested, publicKey)),
                    await lib.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
                ],
            });
            return certState(cert, i);
        },
    };
}
