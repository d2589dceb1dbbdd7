// The node sandboxes' images, built here and never pulled: for every image `kubeadm config images
// list` names, a one-layer archive of the lab's own static binaries (the pause program of our own,
// etcd, the control-plane binaries, kube-proxy, CoreDNS) written by the lab's oci-image tool
// (tools/lab/nodes, go-containerregistry) for `ctr -n k8s.io images import`. The archives are
// cached in .lab/images/, keyed by the reference and the exact binaries that went in.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { run } from "../system/etcd/cluster";
import { labBin } from "../lab/tools";

/** What goes into an image: binaries from .lab/bin at paths in the image, and its entrypoint. */
export interface ImageRecipe {
    /** Path in the image → a binary's name in .lab/bin, or an absolute path on the host. */
    readonly files: Readonly<Record<string, string>>;
    readonly entrypoint?: string;
}

/**
 * The recipe for one of kubeadm's image references, by its repository's last path element.
 * kube-proxy's image also needs iptables (its default mode): `debianIptables` adds it.
 */
export function recipeFor(ref: string): ImageRecipe {
    const repo = ref
        .replace(/:[^/:]+$/, "")
        .split("/")
        .pop()!;
    const bin = (name: string) => ({ [`/usr/local/bin/${name}`]: name });
    const kube = (name: string) => ({ [`/usr/local/bin/${name}`]: kubernetesBinary(ref, name) });
    switch (repo) {
        case "pause":
            return { files: { "/pause": "pause" }, entrypoint: "/pause" };
        case "etcd":
            return { files: { ...bin("etcd"), ...bin("etcdctl"), ...bin("etcdutl") } };
        case "kube-apiserver":
        case "kube-controller-manager":
        case "kube-scheduler":
        case "kube-proxy":
            return { files: kube(repo) };
        case "coredns":
            // CoreDNS's Deployment passes only args: the image's entrypoint is the binary.
            return { files: { "/coredns": "coredns" }, entrypoint: "/coredns" };
        default:
            throw new Error(
                `no recipe for image ${ref}: the node sandboxes build pause, etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and coredns`,
            );
    }
}

/** The archive of one image, built when the cache has none for exactly these binaries. */
export async function imageArchive(
    ref: string,
    cacheDir = resolve(__dirname, "..", "..", ".lab", "images"),
): Promise<string> {
    const base = recipeFor(ref);
    const recipe: ImageRecipe = /\/kube-proxy:/.test(ref)
        ? { ...base, files: { ...base.files, ...(await debianIptables()) } }
        : base;
    const tool = join(labBin(), "oci-image");
    const sources = Object.entries(recipe.files).map(([dst, name]) => {
        const src = isAbsolute(name) ? name : join(labBin(), name);
        if (!existsSync(src))
            throw new Error(
                `${src} is missing for image ${ref}: build it with 'npm run lab:tools -- --toolset ${toolsetOf(name)}'`,
            );
        return [realpathSync(src), dst] as const;
    });
    if (!existsSync(tool)) throw new Error(`${tool} is missing: build it with 'npm run lab:tools -- --toolset nodes'`);
    // The binaries' real paths name their build (the cache directory carries its hash).
    const key = createHash("sha256")
        .update(
            JSON.stringify({
                ref,
                recipe,
                sources,
                tool: realpathSync(tool),
                size: sources.map(([s]) => statSync(s).size),
            }),
        )
        .digest("hex")
        .slice(0, 16);
    const out = join(cacheDir, `${ref.replace(/[^A-Za-z0-9.-]+/g, "_")}-${key}.tar`);
    if (existsSync(out)) return out;
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    const args = [
        "-ref",
        ref,
        "-out",
        tmp,
        ...(recipe.entrypoint ? ["-entrypoint", recipe.entrypoint] : []),
        ...sources.map(([src, dst]) => `${src}=${dst}`),
    ];
    const r = await run(tool, args, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`oci-image ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
    renameSync(tmp, out);
    return out;
}

/**
 * A Kubernetes binary for an image of that tag: the previous minor's build (toolset k8s-prev, in
 * .lab/bin/k8s-prev/) for its version, the k8s toolset's otherwise.
 */
function kubernetesBinary(ref: string, name: string): string {
    const prev = /^require k8s\.io\/kubernetes (v\S+)$/m.exec(
        readFileSync(resolve(__dirname, "..", "..", "tools", "lab", "k8s-prev", "go.mod"), "utf8"),
    )?.[1];
    return ref.endsWith(`:${prev}`) ? join("k8s-prev", name) : name;
}

function toolsetOf(binary: string): string {
    if (binary.includes("/")) return binary.split("/")[0];
    if (binary === "pause") return "nodes";
    if (binary === "coredns") return "coredns";
    if (binary === "kube-proxy") return "k8s-node";
    return binary.startsWith("etcd") ? "etcd" : "k8s";
}

/** Every image `kubeadm config images list` of that kubeadm names for the version, in its order. */
export async function kubeadmImages(version: string, kubeadm = join(labBin(), "kubeadm")): Promise<string[]> {
    const r = await run(kubeadm, ["config", "images", "list", "--kubernetes-version", version], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`kubeadm config images list failed: ${r.stderr}`);
    return r.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
}

/** The commands kube-proxy runs in iptables mode (Debian's iptables: one multi-call binary). */
const IPTABLES_COMMANDS = [
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
];

/**
 * iptables from Debian's package as the host installed it (`dpkg -L iptables`): the nft
 * multi-call binary under every name kube-proxy calls, its match and target extensions, and the
 * shared libraries they load (`ldd`, which names them by the paths the loader looks in), with the
 * loader itself. Debian's iptables (nft backend) is what the host's kubelet uses too.
 */
export async function debianIptables(): Promise<Record<string, string>> {
    const listed = await run("dpkg", ["-L", "iptables"], { timeoutMs: 30_000 });
    if (listed.code !== 0)
        throw new Error(
            `dpkg -L iptables failed: the node sandboxes need Debian's iptables installed (apt-get install iptables): ${listed.stderr}`,
        );
    const owned = listed.stdout.split("\n").filter((f) => f.trim() !== "");
    const multi = owned.find((f) => f.endsWith("/xtables-nft-multi"));
    if (!multi) throw new Error("Debian's iptables package lists no xtables-nft-multi");
    const extensions = owned.filter((f) => /\/xtables\/[^/]+\.so$/.test(f) && statSync(f).isFile());
    const files: Record<string, string> = {};
    for (const c of IPTABLES_COMMANDS) files[`/usr/sbin/${c}`] = multi;
    for (const e of extensions) files[e] = e;
    // One ldd over everything: each "name => /path (addr)" and the loader's "/path (addr)" line.
    const ldd = await run("ldd", [multi, ...extensions], { timeoutMs: 60_000 });
    if (ldd.code !== 0) throw new Error(`ldd of Debian's iptables failed: ${ldd.stderr}`);
    for (const m of ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)) {
        files[m[1]] = realpathSync(m[1]);
    }
    return files;
}
