// Encryption at rest of Secrets: the kube-apiserver's EncryptionConfiguration
// (apiserver.config.k8s.io/v1), rendered from typed data with the `yaml` library. Pure: keys in,
// text out. https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/
//
// Provider: secretbox (XSalsa20-Poly1305, a 32-byte key). Of the local-key providers it is the
// one without a caveat that matters here:
// - aescbc: unauthenticated CBC, open to padding-oracle attacks; Kubernetes' docs no longer
//   recommend it;
// - aesgcm: authenticated, but with random 12-byte nonces a key must be rotated every 200,000
//   writes, which a `pulumi up` cadence cannot promise;
// - secretbox: authenticated, random 24-byte nonces (no write budget), fast. Its one drawback is
//   that it is not a FIPS-approved cipher; a stack that needs that wants KMS v2 (an external KMS
//   plugin), which this renderer does not offer.
// `identity: {}` comes last: Secrets written before encryption was on stay readable, and
// `kubectl get secrets -A -o json | kubectl replace -f -` rewrites them encrypted.
import { createHash } from "node:crypto";
import { Document } from "yaml";
import { KubeadmInputError, PKI_DIR } from "./types";

export const ENCRYPTION_API_VERSION = "apiserver.config.k8s.io/v1";
/**
 * Where the apiserver reads it. kubeadm mounts /etc/kubernetes/pki into the apiserver's pod
 * (read-only, the "k8s-certs" volume), so a file there needs no extra volume, and place-pki writes
 * it with the certificates (mode 0600: it holds the keys).
 */
export const ENCRYPTION_CONFIG_PATH = `${PKI_DIR}/encryption-config.yaml`;
/** The provider every key belongs to; etcd values start with `k8s:enc:secretbox:v1:<key name>:`. */
export const ENCRYPTION_PROVIDER = "secretbox";
/** secretbox takes exactly 32-byte keys. */
export const ENCRYPTION_KEY_BYTES = 32;
/** What is encrypted: Secrets only (ConfigMaps and the rest are not meant to hold secrets). */
export const ENCRYPTED_RESOURCES = ["secrets"] as const;
/** A key name: it is stored in clear in every value's prefix, so a short DNS label (no ':'). */
export const ENCRYPTION_KEY_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;
/** At most this many keys at once: a rotation needs two; more only slows every read of an old value. */
export const MAX_ENCRYPTION_KEYS = 4;

/** One secretbox key. */
export interface EncryptionKey {
    /** The key's name (ENCRYPTION_KEY_NAME_RE); recorded in the prefix of every value it encrypts. */
    readonly name: string;
    /** The key, base64 of ENCRYPTION_KEY_BYTES random bytes. SECRET. */
    readonly secret: string;
}

/**
 * Checks a list of key names as the config gives them (the first encrypts new writes, every one
 * decrypts): 1 to MAX_ENCRYPTION_KEYS distinct names. Returns a problem text, or undefined.
 */
export function encryptionKeyNamesProblem(names: readonly unknown[]): string | undefined {
    if (names.length < 1 || names.length > MAX_ENCRYPTION_KEYS)
        return `1 to ${MAX_ENCRYPTION_KEYS} key names (the first encrypts, every one decrypts)`;
    const bad = names.find((n) => typeof n !== "string" || !ENCRYPTION_KEY_NAME_RE.test(n));
    if (bad !== undefined)
        return `key names of 1-32 lower-case letters, digits or '-' (${JSON.stringify(bad)} is not one)`;
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) return `each key name once (${JSON.stringify(dup)} is repeated)`;
    return undefined;
}

/** The EncryptionConfiguration object: secretbox with `keys` in order (the first writes), then identity. */
export function encryptionConfiguration(keys: readonly EncryptionKey[]) {
    const problem = encryptionKeyNamesProblem(keys.map((k) => k.name));
    if (problem)
        throw new KubeadmInputError(
            "encryption key names",
            keys.map((k) => k.name),
            problem,
        );
    for (const k of keys) {
        const bytes = Buffer.from(k.secret, "base64");
        if (bytes.length !== ENCRYPTION_KEY_BYTES || bytes.toString("base64") !== k.secret) {
            // Never echo the value: it is a key.
            throw new KubeadmInputError(
                `encryption key ${k.name}`,
                "<secret>",
                `base64 of exactly ${ENCRYPTION_KEY_BYTES} bytes`,
            );
        }
    }
    return {
        apiVersion: ENCRYPTION_API_VERSION,
        kind: "EncryptionConfiguration",
        resources: [
            {
                resources: [...ENCRYPTED_RESOURCES],
                providers: [
                    { [ENCRYPTION_PROVIDER]: { keys: keys.map((k) => ({ name: k.name, secret: k.secret })) } },
                    { identity: {} },
                ],
            },
        ],
    };
}

/** The file the apiserver reads with --encryption-provider-config. SECRET text. */
export function renderEncryptionConfig(keys: readonly EncryptionKey[]): string {
    return new Document(encryptionConfiguration(keys)).toString({ lineWidth: 0 });
}

/**
 * sha256 (hex) of the rendered file, for the rotation fingerprint, which is not secret. The file's
 * only secret parts are 256-bit random keys: a hash reveals nothing a search over 2^256 keys could
 * use, so publishing it leaks no key (it does tell when the file changed, which is its purpose).
 */
export function encryptionConfigHash(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}
