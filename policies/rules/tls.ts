// The cluster PKI generated with @pulumi/tls: key strength kubeadm accepts, CA certificates that
// can sign and are not silently re-issued, and allowedUses values the provider understands.

import { PolicyConfigSchema, PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { StackView, T } from "../lib/graph";
import { knobs, reportUndecided, validateResourceOfTypes } from "../lib/kit";
import { asBool, asNumber, humanList, isUnknown, read, readList } from "../lib/values";

// ------------------------------------------------------------------------------------------------

interface KeyKnobs {
    minRsaBits: number;
    allowedEcdsaCurves: string[];
    allowEd25519ForSsh: boolean;
}

const keySchema: PolicyConfigSchema = {
    properties: {
        minRsaBits: { type: "integer", minimum: 1024, default: 2048, description: "Smallest RSA modulus." },
        allowedEcdsaCurves: {
            type: "array",
            items: { type: "string", enum: ["P224", "P256", "P384", "P521"] },
            default: ["P256", "P384"],
            description: "ECDSA curves allowed (kubeadm accepts P-256; an unset curve is P224).",
        },
        allowEd25519ForSsh: {
            type: "boolean",
            default: true,
            description:
                "Allow ED25519 keys that no certificate uses (e.g. SSH keys). Certificates must be RSA or ECDSA.",
        },
    },
};

/** The certificate resources that use `key` (as their own key or as their CA key). */
function certificatesUsing(view: StackView, key: PolicyResource): PolicyResource[] {
    const keyPem = read(() => key.props.privateKeyPem);
    const users: Array<[readonly string[], string]> = [
        [T.selfSignedCert, "privateKeyPem"],
        [T.certRequest, "privateKeyPem"],
        [T.locallySignedCert, "caPrivateKeyPem"],
    ];
    const out: PolicyResource[] = [];
    for (const [types, field] of users) {
        for (const c of view.ofType(types)) {
            const deps = c.propertyDependencies?.[field] ?? [];
            const value = read(() => c.props[field]);
            if (deps.includes(key) || (typeof keyPem === "string" && keyPem !== "" && value === keyPem)) {
                out.push(c);
            }
        }
    }
    return out;
}

export const tlsKeyStrength: StackValidationPolicy = {
    name: "tls-key-strength",
    description:
        "tls.PrivateKey uses RSA >= minRsaBits or ECDSA on an allowed curve; ED25519 only for keys no certificate uses.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: keySchema,
    validateStack: (args, reportViolation) => {
        const k = knobs<KeyKnobs>(keySchema, args);
        const view = new StackView(args.resources);
        const keys = view.ofType(T.privateKey);
        if (keys.length === 0) {
            return args.notApplicable("no tls.PrivateKey resources");
        }
        const undecided: string[] = [];
        for (const key of keys) {
            const alg = read(() => key.props.algorithm);
            if (isUnknown(alg)) {
                undecided.push(key.name);
                continue;
            }
            const algorithm = String(alg ?? "").toUpperCase();
            if (algorithm === "RSA") {
                const raw = read(() => key.props.rsaBits);
                if (isUnknown(raw)) {
                    undecided.push(key.name);
                    continue;
                }
                const bits = asNumber(raw) ?? 2048; // provider default
                if (bits < k.minRsaBits) {
                    reportViolation(
                        `private key ${key.name} is RSA-${bits}, below minRsaBits=${k.minRsaBits}. Set rsaBits: ${Math.max(2048, k.minRsaBits)} ` +
                            `(kubeadm accepts RSA-2048, -3072 and -4096).`,
                        key.urn,
                    );
                }
            } else if (algorithm === "ECDSA") {
                const raw = read(() => key.props.ecdsaCurve);
                if (isUnknown(raw)) {
                    undecided.push(key.name);
                    continue;
                }
                const curve = typeof raw === "string" && raw !== "" ? raw.toUpperCase() : "P224";
                if (!k.allowedEcdsaCurves.map((c) => c.toUpperCase()).includes(curve)) {
                    reportViolation(
                        `private key ${key.name} is ECDSA on ${curve}${raw === undefined || raw === null || raw === "" ? " (the provider's default when ecdsaCurve is unset)" : ""}; ` +
                            `allowed curves are ${humanList(k.allowedEcdsaCurves)} — P224 is rejected by kubeadm and Go's TLS stack. Set ecdsaCurve: "P256".`,
                        key.urn,
                    );
                }
            } else if (algorithm === "ED25519") {
                const users = certificatesUsing(view, key);
                if (!k.allowEd25519ForSsh) {
                    reportViolation(
                        `private key ${key.name} is ED25519, which this stack's policy config does not allow (allowEd25519ForSsh=false). ` +
                            `Use algorithm "RSA" (rsaBits 2048+) or "ECDSA" with ecdsaCurve "P256".`,
                        key.urn,
                    );
                } else if (users.length > 0) {
                    reportViolation(
                        `private key ${key.name} is ED25519 but certificate(s) ${humanList(users.map((u) => u.name))} use it; Kubernetes ` +
                            `and kubeadm certificates must be RSA or ECDSA. Use algorithm "RSA" (rsaBits 2048+) or "ECDSA" with ecdsaCurve "P256" ` +
                            `(ED25519 is fine for SSH keys).`,
                        key.urn,
                    );
                }
            } else {
                reportViolation(
                    `private key ${key.name} has algorithm ${JSON.stringify(alg)}; use "RSA" or "ECDSA".`,
                    key.urn,
                );
            }
        }
        if (undecided.length > 0) {
            reportUndecided(
                reportViolation,
                tlsKeyStrength.description,
                `the algorithm or size of ${humanList(undecided)} is unknown during preview; set them from plain values.`,
            );
        }
    },
};

// ------------------------------------------------------------------------------------------------

interface CaKnobs {
    minCaValidityHours: number;
}

const caSchema: PolicyConfigSchema = {
    properties: {
        minCaValidityHours: {
            type: "integer",
            minimum: 1,
            default: 87600,
            description: "Shortest CA validity (hours); 87600 = 10 years, kubeadm's CA default.",
        },
    },
};

export const tlsCaCertificate: ResourceValidationPolicy = {
    name: "tls-ca-certificate",
    description:
        "CA certificates (isCaCertificate) allow cert_signing, have earlyRenewalHours 0 and at least minCaValidityHours of validity.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: caSchema,
    validateResource: validateResourceOfTypes(
        [...T.selfSignedCert, ...T.locallySignedCert],
        (args, reportViolation) => {
            const k = knobs<CaKnobs>(caSchema, args);
            const isCa = read(() => args.props.isCaCertificate);
            if (isUnknown(isCa)) {
                reportUndecided(
                    reportViolation,
                    tlsCaCertificate.description,
                    `isCaCertificate of ${args.name} is unknown during preview.`,
                );
                return;
            }
            if (asBool(isCa) !== true) {
                return args.notApplicable("not a CA certificate");
            }
            const problems: string[] = [];
            const unknowns: string[] = [];
            const uses = readList(() => args.props.allowedUses as unknown);
            if (isUnknown(uses) || (uses ?? []).some(isUnknown)) {
                unknowns.push("allowedUses");
            } else if (!(uses ?? []).includes("cert_signing")) {
                problems.push(
                    `allowedUses (${(uses ?? []).map((u) => JSON.stringify(u)).join(", ") || "empty"}) lacks "cert_signing", so the CA cannot sign certificates`,
                );
            }
            const early = read(() => args.props.earlyRenewalHours);
            if (isUnknown(early)) {
                unknowns.push("earlyRenewalHours");
            } else if (early !== undefined && early !== null && asNumber(early) !== 0) {
                problems.push(
                    `earlyRenewalHours is ${String(early)}: once inside that window every \`pulumi up\` replaces the CA and ` +
                        `invalidates every certificate it signed — set 0 and rotate CAs deliberately`,
                );
            }
            const validity = read(() => args.props.validityPeriodHours);
            if (isUnknown(validity)) {
                unknowns.push("validityPeriodHours");
            } else {
                const hours = asNumber(validity);
                if (hours === undefined || hours < k.minCaValidityHours) {
                    problems.push(
                        `validityPeriodHours is ${hours ?? "unset"}, below minCaValidityHours=${k.minCaValidityHours} ` +
                            `(${Math.round(k.minCaValidityHours / 8760)} years)`,
                    );
                }
            }
            if (problems.length > 0) {
                reportViolation(
                    `CA certificate ${args.name}: ${problems.join("; ")}. Use allowedUses: ["cert_signing", "key_encipherment", "digital_signature"], ` +
                        `earlyRenewalHours: 0, validityPeriodHours: ${k.minCaValidityHours}.`,
                );
            } else if (unknowns.length > 0) {
                reportUndecided(
                    reportViolation,
                    tlsCaCertificate.description,
                    `${unknowns.join(", ")} of ${args.name} unknown during preview.`,
                );
            }
        },
    ),
};

// ------------------------------------------------------------------------------------------------

/** The values the tls provider accepts in allowedUses. */
export const ALLOWED_USES: ReadonlySet<string> = new Set([
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "cert_signing",
    "crl_signing",
    "encipher_only",
    "decipher_only",
    "any_extended",
    "server_auth",
    "client_auth",
    "code_signing",
    "email_protection",
    "ipsec_end_system",
    "ipsec_tunnel",
    "ipsec_user",
    "timestamping",
    "ocsp_signing",
    "microsoft_server_gated_crypto",
    "netscape_server_gated_crypto",
]);

/** "digitalSignature" / "Digital-Signature" / "DIGITAL_SIGNATURE" -> "digital_signature" when that is valid. */
export function suggestUse(v: string): string | undefined {
    const snake = v
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .replace(/[-\s]+/g, "_")
        .toLowerCase();
    return ALLOWED_USES.has(snake) ? snake : undefined;
}

export const tlsAllowedUsesValid: ResourceValidationPolicy = {
    name: "tls-allowed-uses-valid",
    description: "Every allowedUses value of a tls certificate is one of the provider's snake_case key usages.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: { properties: {} },
    validateResource: validateResourceOfTypes(
        [...T.selfSignedCert, ...T.locallySignedCert, ...T.certRequest],
        (args, reportViolation) => {
            const uses = readList(() => args.props.allowedUses as unknown);
            if (uses === undefined) {
                return args.type === T.certRequest[0] ? args.notApplicable("no allowedUses") : undefined;
            }
            if (isUnknown(uses) || uses.some(isUnknown)) {
                reportUndecided(
                    reportViolation,
                    tlsAllowedUsesValid.description,
                    `allowedUses of ${args.name} unknown during preview.`,
                );
                return;
            }
            const bad = uses.filter((u) => typeof u !== "string" || !ALLOWED_USES.has(u));
            if (bad.length > 0) {
                const hints = bad.map((u) => {
                    const s = typeof u === "string" ? suggestUse(u) : undefined;
                    return s ? `"${String(u)}" (did you mean "${s}"?)` : JSON.stringify(u);
                });
                reportViolation(
                    `${args.name} has allowedUses ${humanList(hints)}, which are not key usages the tls provider accepts ` +
                        `(the offline plan runs no provider validation, so this is where it is caught). The values are snake_case (the SDK docs show camelCase wrongly): ` +
                        `e.g. "digital_signature", "key_encipherment", "cert_signing", "server_auth", "client_auth".`,
                );
            }
        },
    ),
};

export const tlsPolicies = [tlsKeyStrength, tlsCaCertificate, tlsAllowedUsesValid];
