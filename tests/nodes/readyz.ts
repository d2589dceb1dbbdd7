// /readyz through the NLB stand-in while a scenario changes the control plane (the upgrade, the
// rotation): a poller that records every answer or failure, and the gaps it saw; and the serving
// certificate an apiserver presents.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { connect } from "node:tls";
import { parse } from "yaml";
import { LB_IP } from "../lab/controlPlane";

/** One /readyz poll through the NLB stand-in. */
export interface Poll {
    readonly at: number;
    readonly ok: boolean;
    readonly detail: string;
}

/**
 * Polls https://NLB/readyz with the cluster's admin credentials (the render's admin kubeconfig)
 * every intervalMs until stopped; each answer or failure is recorded. Node's default agent keeps
 * the connection, so the NLB stand-in (TCP) sends every poll to one apiserver until it closes.
 */
export function pollReadyz(
    adminKubeconfig: string,
    servername: string,
    intervalMs = 500,
    /** The NLB stand-in, or one apiserver's own address (to tell which one a gap came from). */
    host = LB_IP,
): { polls: Poll[]; stop: () => Promise<void> } {
    return poll(adminKubeconfig, servername, intervalMs, {
        host,
        path: "/readyz",
        fresh: false,
        ok: (status, body) => status === 200 && body.trim() === "ok",
    });
}

/**
 * Polls a read that needs etcd (GET the default Namespace) through the NLB stand-in, each on a
 * new connection as a new client's would be balanced (or, with fresh false, on one kept
 * connection): whether the API answers. /readyz is not that during a graceful restart: a stopping
 * apiserver fails it on purpose (so that load balancers drain it) while it still serves every
 * request for its shutdown delay.
 */
export function pollApi(
    adminKubeconfig: string,
    servername: string,
    intervalMs = 500,
    fresh = true,
): { polls: Poll[]; stop: () => Promise<void> } {
    return poll(adminKubeconfig, servername, intervalMs, {
        host: LB_IP,
        path: "/api/v1/namespaces/default",
        fresh,
        ok: (status, body) => status === 200 && /"kind":\s*"Namespace"/.test(body),
    });
}

function poll(
    adminKubeconfig: string,
    servername: string,
    intervalMs: number,
    what: { host: string; path: string; fresh: boolean; ok: (status: number | undefined, body: string) => boolean },
): { polls: Poll[]; stop: () => Promise<void> } {
    const kc = parse(readFileSync(adminKubeconfig, "utf8"));
    const b64 = (s: string) => Buffer.from(s, "base64");
    const tls = {
        ca: b64(kc.clusters[0].cluster["certificate-authority-data"]),
        cert: b64(kc.users[0].user["client-certificate-data"]),
        key: b64(kc.users[0].user["client-key-data"]),
    };
    const polls: Poll[] = [];
    let stopped = false;
    const once = () =>
        new Promise<Poll>((done) => {
            const at = Date.now();
            const req = request(
                {
                    host: what.host,
                    port: 6443,
                    path: what.path,
                    servername,
                    ...tls,
                    timeout: 2000,
                    ...(what.fresh ? { agent: false } : {}),
                },
                (res) => {
                    let body = "";
                    res.on("data", (d: Buffer) => (body += d.toString()));
                    res.on("end", () =>
                        done({
                            at,
                            ok: what.ok(res.statusCode, body),
                            detail: `${res.statusCode} ${body.trim().split("\n").pop()?.slice(0, 200)}`,
                        }),
                    );
                },
            );
            req.on("timeout", () => req.destroy(new Error("timed out after 2 s")));
            req.on("error", (e) => done({ at, ok: false, detail: e.message }));
            req.end();
        });
    const loop = (async () => {
        while (!stopped) {
            polls.push(await once());
            await new Promise((r) => setTimeout(r, intervalMs));
        }
    })();
    return {
        polls,
        stop: async () => {
            stopped = true;
            await loop;
        },
    };
}

/** Runs of failed polls: when each began, how long it lasted, what the first failure said. */
export function gaps(polls: readonly Poll[]): { from: number; seconds: number; failures: number; first: string }[] {
    const out: { from: number; seconds: number; failures: number; first: string }[] = [];
    let start = -1;
    for (let i = 0; i <= polls.length; i++) {
        const failed = i < polls.length && !polls[i].ok;
        if (failed && start < 0) start = i;
        if (!failed && start >= 0) {
            const end = i < polls.length ? polls[i].at : polls[i - 1].at;
            out.push({
                from: polls[start].at,
                seconds: (end - polls[start].at) / 1000,
                failures: i - start,
                first: polls[start].detail,
            });
            start = -1;
        }
    }
    return out;
}

/**
 * The serial number (hex, upper case, as node:crypto prints it) of the certificate the apiserver at
 * host:6443 presents for servername; the handshake only, no request.
 */
export function servedSerial(host: string, servername: string, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = connect({ host, port: 6443, servername, rejectUnauthorized: false, timeout: timeoutMs }, () => {
            const serial = socket.getPeerX509Certificate()?.serialNumber;
            socket.destroy();
            if (serial) resolve(serial);
            else reject(new Error(`${host}:6443 presented no certificate`));
        });
        socket.on("timeout", () => socket.destroy(new Error(`${host}:6443: no TLS handshake within ${timeoutMs} ms`)));
        socket.on("error", reject);
    });
}
