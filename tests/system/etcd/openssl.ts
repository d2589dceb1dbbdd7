// openssl as an independent judge of certificates: chain verification, extensions as openssl
// prints them, and a foreign CA with a client certificate for negative tests.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, type KeyPair, type RunResult } from "./cluster";

async function openssl(args: readonly string[], cwd?: string): Promise<RunResult> {
    return run("openssl", args, { cwd, timeoutMs: 30_000 });
}

async function opensslOk(args: readonly string[], cwd?: string): Promise<string> {
    const r = await openssl(args, cwd);
    if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
}

/** `openssl verify -CAfile ca [-purpose p] cert`: ok when exit 0 and "<cert>: OK". */
export async function verify(
    caFile: string,
    certFile: string,
    purpose?: "sslserver" | "sslclient",
): Promise<{ ok: boolean; output: string }> {
    const r = await openssl(["verify", "-CAfile", caFile, ...(purpose ? ["-purpose", purpose] : []), certFile]);
    return { ok: r.code === 0 && r.stdout.trim() === `${certFile}: OK`, output: `${r.stdout}${r.stderr}`.trim() };
}

export interface CertExtensions {
    /** e.g. "DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1" (openssl 3's form of ::1). */
    readonly subjectAltNames: string[];
    /** e.g. "Digital Signature", "Key Encipherment", "Certificate Sign". */
    readonly keyUsage: string[];
    readonly keyUsageCritical: boolean;
    /** e.g. "TLS Web Server Authentication", "TLS Web Client Authentication". */
    readonly extendedKeyUsage: string[];
    /** e.g. "CA:TRUE" or "CA:FALSE". */
    readonly basicConstraints: string[];
    readonly basicConstraintsCritical: boolean;
    /** RFC 2253 subject, e.g. "CN=k8s-dev-cp-0". */
    readonly subject: string;
    /** Everything openssl printed, for error messages. */
    readonly text: string;
}

export const SERVER_AUTH = "TLS Web Server Authentication";
export const CLIENT_AUTH = "TLS Web Client Authentication";

/** The extensions kubeadm's rules are about, as `openssl x509 -noout -ext ...` prints them. */
export async function extensions(certFile: string): Promise<CertExtensions> {
    const text = await opensslOk([
        "x509",
        "-in",
        certFile,
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
        "-ext",
        "subjectAltName,keyUsage,extendedKeyUsage,basicConstraints",
    ]);
    const sections = new Map<string, { critical: boolean; values: string[] }>();
    let current: { critical: boolean; values: string[] } | undefined;
    let subject = "";
    for (const line of text.split("\n")) {
        if (line.startsWith("subject=")) {
            subject = line.slice("subject=".length).trim();
            current = undefined;
        } else if (/^X509v3 /.test(line)) {
            const m = /^X509v3 ([^:]+):\s*(critical)?/.exec(line)!;
            current = { critical: m[2] === "critical", values: [] };
            sections.set(m[1], current);
        } else if (current && line.trim()) {
            current.values.push(...line.trim().split(/,\s*/).filter(Boolean));
        }
    }
    const get = (name: string) => sections.get(name) ?? { critical: false, values: [] };
    return {
        subjectAltNames: get("Subject Alternative Name").values,
        keyUsage: get("Key Usage").values,
        keyUsageCritical: get("Key Usage").critical,
        extendedKeyUsage: get("Extended Key Usage").values,
        basicConstraints: get("Basic Constraints").values,
        basicConstraintsCritical: get("Basic Constraints").critical,
        subject,
        text,
    };
}

/**
 * A CA nobody trusts and a client certificate it signed (ECDSA P-256, clientAuth), with the given
 * subject: an impostor that looks like a legitimate client in every way but the issuer.
 */
export async function foreignClient(dir: string, commonName: string): Promise<KeyPair & { ca: string }> {
    const ca = join(dir, "foreign-ca.crt");
    const caKey = join(dir, "foreign-ca.key");
    const key = join(dir, "foreign-client.key");
    const csr = join(dir, "foreign-client.csr");
    const cert = join(dir, "foreign-client.crt");
    const ext = join(dir, "foreign-client.ext");
    await opensslOk([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        caKey,
        "-out",
        ca,
        "-days",
        "1",
        "-subj",
        "/CN=etcd-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,digitalSignature",
    ]);
    await opensslOk([
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        `/CN=${commonName}`,
    ]);
    writeFileSync(
        ext,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    );
    await opensslOk([
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "1",
        "-extfile",
        ext,
    ]);
    return { ca, cert, key };
}

/**
 * A TLS 1.2 handshake with `openssl s_client` presenting a client certificate. TLS 1.2 because
 * under TLS 1.3 the server checks the client certificate after the client considers the
 * handshake done: s_client then prints CONNECTION ESTABLISHED and exits 0 even when the server
 * rejects the certificate. Under TLS 1.2 a rejection fails the handshake with an alert (etcd 3.6.16
 * built with Go 1.26: alert 48, unknown ca, for a certificate from a CA it does not trust).
 */
export async function tls12Handshake(
    host: string,
    port: number,
    caFile: string,
    client: KeyPair,
): Promise<{ ok: boolean; output: string }> {
    const r = await run(
        "openssl",
        [
            "s_client",
            "-connect",
            `${host}:${port}`,
            "-tls1_2",
            "-CAfile",
            caFile,
            "-cert",
            client.cert,
            "-key",
            client.key,
            "-verify_return_error",
            "-brief",
        ],
        { input: "", timeoutMs: 10_000 },
    );
    return { ok: r.code === 0, output: `${r.stdout}${r.stderr}`.trim() };
}
