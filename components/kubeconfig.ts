// A kubeconfig rendered from typed data with the `yaml` library (never by string concatenation).
import { stringify } from "yaml";

export interface KubeconfigSpec {
    /** Cluster (and context) name. */
    clusterName: string;
    /** https://<host>:6443 */
    server: string;
    caCertPem: string;
    /** Client certificate and key, PEM. */
    clientCertPem: string;
    clientKeyPem: string;
    /** The user entry's name, e.g. kubernetes-admin. */
    userName: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

export function renderKubeconfig(k: KubeconfigSpec): string {
    const context = `${k.userName}@${k.clusterName}`;
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: k.clusterName, cluster: { server: k.server, "certificate-authority-data": b64(k.caCertPem) } }],
        users: [{ name: k.userName, user: { "client-certificate-data": b64(k.clientCertPem), "client-key-data": b64(k.clientKeyPem) } }],
        contexts: [{ name: context, context: { cluster: k.clusterName, user: k.userName } }],
        "current-context": context,
        preferences: {},
    });
}
