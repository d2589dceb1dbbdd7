// The lab's real binaries, built from Go modules by `npm run lab:tools` into .lab/bin/. A spec
// that needs one and finds it missing fails, naming the command that builds it: never a skip.
import { accessSync, constants } from "node:fs";
import { join, resolve } from "node:path";

/** Where the binaries are: .lab/bin, or K8S_HA_LAB_BIN (the bad-input spec points it at nothing). */
export function labBin(): string {
    return process.env.K8S_HA_LAB_BIN ?? resolve(__dirname, "..", "..", ".lab", "bin");
}

export type LabTool =
    | "kubeadm"
    | "kubelet"
    | "kube-apiserver"
    | "kube-controller-manager"
    | "kube-scheduler"
    | "kubectl"
    | "etcd"
    | "etcdutl"
    | "etcdctl"
    | "pulumi";

/** The absolute path of a lab binary; throws when it has not been built. */
export function labTool(name: LabTool): string {
    const path = join(labBin(), name);
    try {
        accessSync(path, constants.X_OK);
    } catch {
        throw new Error(`${path} is missing: build the lab's tools first with 'npm run lab:tools'`);
    }
    return path;
}

/** Checks every tool a spec file needs up front, so the failure names them all. */
export function requireLabTools(names: readonly LabTool[]): void {
    const missing = names.filter((n) => {
        try {
            labTool(n);
            return false;
        } catch {
            return true;
        }
    });
    if (missing.length > 0)
        throw new Error(`missing lab tools in ${labBin()}: ${missing.join(", ")}; build them with 'npm run lab:tools'`);
}
