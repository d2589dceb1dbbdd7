// A checking proxy in front of s3rver, TEST CODE: s3rver 3.7.1 checks that the access key id exists
// but not V4 signatures ("Signature version 4 calculation is unimplemeneted", its
// lib/middleware/authentication.js), nor the body against x-amz-content-sha256 or Content-MD5. Real
// S3 does all three, so this proxy does them the way AWS documents them, before it forwards the
// request to s3rver unchanged:
// - the SigV4 header signature, from the secret of the key id
//   (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html);
// - the body against the signed x-amz-content-sha256 (S3: XAmzContentSHA256Mismatch) and against
//   Content-MD5 (S3: BadDigest).
// Refusals are S3-style XML errors with S3's codes and statuses.
import { createHash, createHmac } from "node:crypto";
import { createServer, request, type IncomingMessage, type Server } from "node:http";

export interface CheckedRequest {
    readonly method: string;
    readonly path: string;
    readonly signedHeaders: string[];
    readonly headers: Readonly<Record<string, string>>;
    /** The S3 error code the proxy answered with, or "forwarded". */
    readonly outcome: string;
}

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();
const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** The V4 signature of a request as S3 computes it; undefined when the Authorization header is not SigV4. */
export function sigV4(
    method: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    secret: string,
): { expected: string; provided: string; accessKeyId: string; signedHeaders: string[] } | undefined {
    const m =
        /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
            headers.authorization ?? "",
        );
    if (!m) return undefined;
    const [, accessKeyId, date, region, service, signed, provided] = m;
    const signedHeaders = signed.split(";");
    const [pathOnly, query = ""] = path.split("?");
    const canonicalQuery = query
        .split("&")
        .filter(Boolean)
        .map((p) => (p.includes("=") ? p : `${p}=`))
        .sort()
        .join("&");
    const canonicalHeaders = signedHeaders
        .map((h) => `${h}:${(headers[h] ?? "").trim().replace(/\s+/g, " ")}\n`)
        .join("");
    const canonicalRequest = [
        method,
        pathOnly,
        canonicalQuery,
        canonicalHeaders,
        signed,
        headers["x-amz-content-sha256"] ?? "",
    ].join("\n");
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", headers["x-amz-date"] ?? "", scope, sha256Hex(canonicalRequest)].join(
        "\n",
    );
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
    return {
        expected: createHmac("sha256", key).update(stringToSign, "utf8").digest("hex"),
        provided,
        accessKeyId,
        signedHeaders,
    };
}

/** Listens on 127.0.0.1 (any port); checks each request against `secrets` (key id -> secret), then forwards it to `upstream`. */
export function sigV4Proxy(
    upstream: { host: string; port: number },
    secrets: Readonly<Record<string, string>>,
    seen: CheckedRequest[],
): Server {
    return createServer((req: IncomingMessage, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (b: Buffer) => chunks.push(b));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            const headers = Object.fromEntries(
                Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : String(v)]),
            );
            const method = req.method ?? "";
            const path = req.url ?? "/";
            const refuse = (status: number, code: string, message: string, signedHeaders: string[] = []) => {
                seen.push({ method, path, signedHeaders, headers, outcome: code });
                res.writeHead(status, { "content-type": "application/xml" }).end(
                    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
                );
            };
            const sig = sigV4(
                method,
                path,
                headers,
                secrets[/Credential=([^/]+)\//.exec(headers.authorization ?? "")?.[1] ?? ""] ?? "",
            );
            if (!sig) return refuse(403, "AccessDenied", "no SigV4 Authorization header");
            if (!(sig.accessKeyId in secrets))
                return refuse(
                    403,
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                    sig.signedHeaders,
                );
            if (sig.expected !== sig.provided)
                return refuse(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                    sig.signedHeaders,
                );
            for (const h of ["host", "x-amz-date", "x-amz-content-sha256"]) {
                if (!sig.signedHeaders.includes(h))
                    return refuse(403, "AccessDenied", `${h} is not signed`, sig.signedHeaders);
            }
            const declared = headers["x-amz-content-sha256"];
            if (declared !== "UNSIGNED-PAYLOAD" && declared !== sha256Hex(body)) {
                return refuse(
                    400,
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    sig.signedHeaders,
                );
            }
            if (
                headers["content-md5"] !== undefined &&
                headers["content-md5"] !== createHash("md5").update(body).digest("base64")
            ) {
                return refuse(
                    400,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                    sig.signedHeaders,
                );
            }
            seen.push({ method, path, signedHeaders: sig.signedHeaders, headers, outcome: "forwarded" });
            const up = request(
                { host: upstream.host, port: upstream.port, method, path, headers: req.headers },
                (r) => {
                    res.writeHead(r.statusCode ?? 502, r.headers);
                    r.pipe(res);
                },
            );
            up.on("error", (e) => res.writeHead(502).end(String(e)));
            up.end(body);
        });
    });
}
