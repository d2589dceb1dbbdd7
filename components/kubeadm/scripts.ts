// Bash scripts for the remote.Command chain, rendered as text from typed data. Pure.
//
// Conventions shared by every script:
// - `#!/usr/bin/env bash`, `set -euo pipefail`, `umask 077`; idempotent guard before any change.
// - Non-secret parameters are shell-quoted `readonly` variables at the top (see shellQuote).
// - Secret material (private keys, the bootstrap token, the admin kubeconfig) is read from STDIN
//   only, with bash's `read` builtin, and is never put in argv, the environment or the script
//   text: it never shows in a process list or in Pulumi's logged command. Temporary copies live
//   in a 0700 directory under /run (tmpfs) and are removed by an EXIT trap.
// - A missing or malformed input fails at once with a message naming it.
// - Waits are bounded loops (attempts x interval) that print progress.
// - Tests replace commands only through PATH, and K8S_HA_FSROOT (default empty) prefixes every
//   host path the script touches so it can run unprivileged in a scratch directory.
//
// stdin framing (see also the *Stdin() encoders at the bottom):
//   place-pki : lines "<octal mode> <absolute path under /etc/kubernetes/> <base64 content>"
//   init      : line 1 = bootstrap token
//   join      : line 1 = bootstrap token, then the admin kubeconfig (rest of stdin)
//   reset     : the admin kubeconfig (all of stdin)
//   prepare, rotate: nothing
import { createHash } from "node:crypto";
import {
    BOOTSTRAP_TOKEN_GROUP,
    BOOTSTRAP_TOKEN_PLACEHOLDER,
    renderAuditPolicy,
    renderInitConfig,
    renderJoinConfig,
    renderPhaseConfig,
} from "./config";
import { pkiFilesFor } from "./pki";
import { PUT_FILE, READ_KUBECONFIG, WAIT_FOR, WORKDIR, compose, requireRole, sh, urlHost } from "./bash";
import { shellQuote } from "./shell";
import {
    API_PORT,
    AUDIT_LOG_DIR,
    AUDIT_POLICY_PATH,
    CRI_SOCKET,
    KUBE_DIR,
    KubeadmInputError,
    controlPlaneEndpoint,
    kubernetesMinorChannel,
    normalizeCluster,
    validateBootstrapToken,
    validateCaCertHash,
    validateNode,
    type ClusterSpec,
    type NodeRole,
    type NodeSpec,
} from "./types";

export interface ScriptOptions {
    /** Seconds between readiness probes. Default 5. */
    readonly waitIntervalSeconds?: number;
    /** Upper bound of every wait. Default 600 (10 minutes). */
    readonly waitTimeoutSeconds?: number;
    /** How long a script waits for stdin to arrive. Default 60. */
    readonly stdinTimeoutSeconds?: number;
    /** Lifetime of the bootstrap token a join (re)creates. Default 30. */
    readonly tokenTtlMinutes?: number;
    /** kubectl drain --timeout for reset. Default "300s". */
    readonly drainTimeout?: string;
}

function opts(o: ScriptOptions = {}) {
    const interval = o.waitIntervalSeconds ?? 5;
    const timeout = o.waitTimeoutSeconds ?? 600;
    const stdinTimeout = o.stdinTimeoutSeconds ?? 60;
    const ttl = o.tokenTtlMinutes ?? 30;
    const drain = o.drainTimeout ?? "300s";
    for (const [k, v] of Object.entries({ waitIntervalSeconds: interval, waitTimeoutSeconds: timeout, stdinTimeoutSeconds: stdinTimeout, tokenTtlMinutes: ttl })) {
        if (!Number.isInteger(v) || v <= 0) throw new KubeadmInputError(`script option ${k}`, v, "a positive integer");
    }
    if (!/^\d+[smh]$/.test(drain)) throw new KubeadmInputError("script option drainTimeout", drain, 'a duration such as "300s"');
    return {
        WAIT_INTERVAL_SECONDS: interval,
        WAIT_ATTEMPTS: Math.max(1, Math.ceil(timeout / interval)),
        STDIN_TIMEOUT_SECONDS: stdinTimeout,
        TOKEN_TTL_MINUTES: ttl,
        DRAIN_TIMEOUT: drain,
    };
}

// ---------------------------------------------------------------------------------------------
// Shared fragments

/** Reads line 1 of stdin into `token` and checks kubeadm's token format. */
const READ_TOKEN = sh`
# read_token: stdin line 1 -> token and its secret half token_secret (never echoed).
read_token() {
  local rc=0
  token=''
  IFS= read -r -t "$STDIN_TIMEOUT_SECONDS" token || rc=$?
  if ((rc > 128)); then
    die "timed out after \${STDIN_TIMEOUT_SECONDS}s waiting for the bootstrap token on stdin (line 1)"
  fi
  token=\${token%$'\r'}
  if [[ -z $token ]]; then
    die "missing input: the bootstrap token (stdin line 1) is empty"
  fi
  if [[ ! $token =~ $TOKEN_RE ]]; then
    die "malformed input: the bootstrap token (stdin line 1) does not match [a-z0-9]{6}.[a-z0-9]{16}"
  fi
  token_secret=\${token#*.}
}

# redact: copy stdin to stdout with the token's secret half masked (defence in depth).
redact() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    printf '%s\n' "\${line//"$token_secret"/"<redacted>"}"
  done
}`;

/** Reads the rest of stdin (or all of it) as the admin kubeconfig into $work/admin.conf. */
const REQUIRE_FILES = sh`
# Every file kubeadm must find in place; without them kubeadm would silently mint its own CA.
require_files() {
  local f missing=()
  for f in "\${REQUIRED_FILES[@]}"; do
    if [[ ! -s "$FSROOT$f" ]]; then
      missing+=("$f")
    fi
  done
  if ((\${#missing[@]} > 0)); then
    die "missing input files (run prepare and place-pki first): \${missing[*]}"
  fi
}`;

const API_READY = sh`
# The API through the NLB. -k: this is a liveness probe; nothing secret is sent.
api_ready() { curl -ksf --max-time 5 -o /dev/null "$API_READYZ_URL"; }`;

const LOCAL_API_READY = sh`
local_api_ready() { curl -ksf --max-time 5 -o /dev/null "$LOCAL_READYZ_URL"; }`;

function controlPlaneRequiredFiles(): string[] {
    return [...pkiFilesFor("control-plane").map((f) => f.path), AUDIT_POLICY_PATH];
}

// ---------------------------------------------------------------------------------------------
// prepare

/** Node preparation: hostname, swap, kernel modules, sysctls, containerd, pinned kubelet/kubeadm/kubectl. */
export function renderPrepareScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    void opts(o);
    const repo = `https://pkgs.k8s.io/core:/stable:/${kubernetesMinorChannel(c.kubernetesVersion)}/deb/`;
    const cp = node.role === "control-plane";
    const vars: Record<string, string> = {
        NODE_NAME: node.name,
        NODE_ROLE: node.role,
        K8S_VERSION: c.kubernetesVersion,
        K8S_REPO: repo,
        ...(cp ? { AUDIT_POLICY_PATH, AUDIT_LOG_DIR, AUDIT_POLICY: renderAuditPolicy() } : {}),
    };
    const body = sh`
# Nothing secret here: system files get the usual modes (apt's _apt user must read the keyring).
umask 022
readonly MARKER="$STATE_DIR/prepared"
readonly KEYRING_PATH='/etc/apt/keyrings/kubernetes-apt-keyring.gpg'


# --- guard: prepared by this very script before? ----------------------------------------------
if [[ -f $MARKER && "$(<"$MARKER")" == "$PREPARE_FINGERPRINT" ]]; then
  log "already prepared for Kubernetes $K8S_VERSION ($MARKER); nothing to do"
  exit 0
fi
# shellcheck disable=SC2016  # \${Version} is dpkg-query's format, not a shell expansion
installed=$(dpkg-query -W -f='\${Version}' kubelet 2>/dev/null || true)
if [[ -n $installed && $installed != "$K8S_VERSION"-* && -e "$KUBE_DIR/kubelet.conf" ]]; then
  die "kubelet $installed is installed on a joined node; changing it to $K8S_VERSION is an upgrade (kubeadm upgrade), which prepare does not do"
fi

log "preparing $NODE_NAME ($NODE_ROLE) for Kubernetes $K8S_VERSION"

# --- hostname -----------------------------------------------------------------------------------
hostnamectl set-hostname "$NODE_NAME"

# --- swap off, now and after reboot -------------------------------------------------------------
swapoff -a
if [[ -f "$FSROOT/etc/fstab" ]]; then
  sed -i -E 's/^([^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/# k8s-ha: \1/' "$FSROOT/etc/fstab"
fi

# --- kernel modules and sysctls -----------------------------------------------------------------
put_file 0644 "$FSROOT/etc/modules-load.d/k8s-ha.conf" $'overlay\nbr_netfilter'
modprobe overlay
modprobe br_netfilter
put_file 0644 "$FSROOT/etc/sysctl.d/99-k8s-ha.conf" $'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1'
sysctl --system >/dev/null

# --- containerd from Ubuntu's archive, systemd cgroups ------------------------------------------
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q apt-transport-https ca-certificates curl gpg containerd conntrack socat
default_config=$(containerd config default) || die "containerd config default failed"
containerd_config=\${default_config//SystemdCgroup = false/SystemdCgroup = true}
if [[ $containerd_config != *"SystemdCgroup = true"* ]]; then
  die "containerd's default configuration has no SystemdCgroup option to enable"
fi
put_file 0644 "$FSROOT/etc/containerd/config.toml" "$containerd_config"
systemctl enable containerd
if ((PUT_CHANGED)); then
  systemctl restart containerd
fi

# --- kubelet, kubeadm, kubectl pinned to $K8S_VERSION from pkgs.k8s.io --------------------------
mkdir -p -- "$FSROOT/etc/apt/keyrings"
curl -fsSL "\${K8S_REPO}Release.key" | gpg --dearmor --batch --yes -o "$FSROOT$KEYRING_PATH" ||
  die "cannot fetch the signing key of $K8S_REPO"
chmod 0644 -- "$FSROOT$KEYRING_PATH"
put_file 0644 "$FSROOT/etc/apt/sources.list.d/kubernetes.list" "deb [signed-by=$KEYRING_PATH] $K8S_REPO /"
apt-get update -q
pkg_version=$(apt-cache madison kubeadm | awk -F'|' -v want="$K8S_VERSION-" '{ gsub(/[[:space:]]/, "", $2); if (index($2, want) == 1) { print $2; exit } }')
if [[ -z $pkg_version ]]; then
  die "kubeadm $K8S_VERSION is not available from $K8S_REPO"
fi
apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
apt-get install -y -q --allow-downgrades --allow-change-held-packages \
  "kubelet=$pkg_version" "kubeadm=$pkg_version" "kubectl=$pkg_version"
apt-mark hold kubelet kubeadm kubectl
systemctl enable kubelet
${
        cp
            ? sh`
# --- control plane: the apiserver's audit policy and log directory (mounted by kubeadm) ---------
put_file 0600 "$FSROOT$AUDIT_POLICY_PATH" "$AUDIT_POLICY"
mkdir -p -- "$FSROOT$AUDIT_LOG_DIR"
`
            : ""
    }
mkdir -p -- "$STATE_DIR"
printf '%s\n' "$PREPARE_FINGERPRINT" >"$MARKER"
log "prepared $NODE_NAME for Kubernetes $K8S_VERSION (kubelet/kubeadm/kubectl $pkg_version, held)"
`;
    // The fingerprint covers everything the script does, so a changed script is re-applied once.
    const fingerprint = createHash("sha256").update(JSON.stringify(vars)).update(PUT_FILE).update(body).digest("hex");
    return compose({
        generator: "scripts.ts",
        name: "prepare",
        title: `prepare ${node.name} (${node.role}) for Kubernetes ${c.kubernetesVersion}`,
        stdin: "nothing",
        vars: { ...vars, PREPARE_FINGERPRINT: fingerprint },
        fragments: [PUT_FILE],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// place-pki

/**
 * Writes PKI files read from stdin, atomically, only when their content changed; records the
 * changed paths in /var/lib/k8s-ha/pki-changed for rotate and prints them.
 */
export function renderPlacePkiScript(o?: ScriptOptions): string {
    const p = opts(o);
    const body = sh`
readonly CHANGED_FILE="$STATE_DIR/pki-changed"
readonly LINE_RE='^(0[0-7]{3})[[:space:]]+(/[^[:space:]]+)[[:space:]]+([A-Za-z0-9+/]+={0,2})$'
readonly PATH_RE='^/etc/kubernetes/[A-Za-z0-9._/-]+$'

# No guard needed: placing is idempotent by construction (identical files are left untouched).

# --- read and validate every entry before writing anything ------------------------------------
modes=()
paths=()
contents=()
declare -A seen=()
line_no=0
while :; do
  line=''
  rc=0
  IFS= read -r -t "$STDIN_TIMEOUT_SECONDS" line || rc=$?
  if ((rc > 128)); then
    die "timed out after \${STDIN_TIMEOUT_SECONDS}s waiting for PKI entries on stdin"
  fi
  line=\${line%$'\r'}
  if [[ -n $line ]]; then
    line_no=$((line_no + 1))
    if [[ ! $line =~ $LINE_RE ]]; then
      die "malformed input: stdin line $line_no is not '<octal mode> <absolute path> <base64 content>'"
    fi
    mode=\${BASH_REMATCH[1]}
    path=\${BASH_REMATCH[2]}
    b64=\${BASH_REMATCH[3]}
    if [[ ! $path =~ $PATH_RE || $path == *//* || $path == */ || "$path/" == */./* || "$path/" == */../* ]]; then
      die "refusing stdin line $line_no: $path is not a plain path under /etc/kubernetes/"
    fi
    if ((8#$mode & 8#022)); then
      die "refusing stdin line $line_no: mode $mode for $path is group- or world-writable"
    fi
    if [[ $path == *.key && $mode != 0600 ]]; then
      die "refusing stdin line $line_no: private key $path must have mode 0600, not $mode"
    fi
    if [[ -n \${seen[$path]:-} ]]; then
      die "malformed input: $path appears twice on stdin"
    fi
    if ! printf '%s' "$b64" | base64 -d >/dev/null 2>&1; then
      die "malformed input: the content for $path (stdin line $line_no) is not valid base64"
    fi
    seen[$path]=1
    modes+=("$mode")
    paths+=("$path")
    contents+=("$b64")
  fi
  if ((rc != 0)); then
    break
  fi
done
if ((\${#paths[@]} == 0)); then
  die "missing input: no PKI entries on stdin (expected lines '<octal mode> <absolute path> <base64 content>')"
fi

# --- write: temp file in the target directory, mode set before the content lands, then rename --
tmp=''
trap 'if [[ -n $tmp ]]; then rm -f -- "$tmp"; fi' EXIT
changed=()
unchanged=0
for i in "\${!paths[@]}"; do
  path=\${paths[i]}
  mode=\${modes[i]}
  dest="$FSROOT$path"
  mkdir -p -- "\${dest%/*}"
  tmp=$(mktemp "\${dest%/*}/.k8s-ha-place.XXXXXX")
  chmod "$mode" -- "$tmp"
  printf '%s' "\${contents[i]}" | base64 -d >"$tmp"
  if [[ -f $dest && ! -L $dest ]] && cmp -s -- "$tmp" "$dest"; then
    rm -f -- "$tmp"
    tmp=''
    if [[ $(stat -c '%a' -- "$dest") != "\${mode#0}" ]]; then
      chmod "$mode" -- "$dest"
      log "mode of $path set to $mode (content unchanged)"
    fi
    unchanged=$((unchanged + 1))
  else
    mv -f -- "$tmp" "$dest"
    tmp=''
    changed+=("$path")
    log "changed $path"
  fi
done

if ((\${#changed[@]} > 0)); then
  mkdir -p -- "$STATE_DIR"
  {
    if [[ -f $CHANGED_FILE ]]; then
      cat -- "$CHANGED_FILE"
    fi
    printf '%s\n' "\${changed[@]}"
  } | sort -u >"$CHANGED_FILE.tmp"
  mv -f -- "$CHANGED_FILE.tmp" "$CHANGED_FILE"
fi
log "summary: \${#changed[@]} changed, $unchanged unchanged"
`;
    return compose({
        generator: "scripts.ts",
        name: "place-pki",
        title: "place PKI files under /etc/kubernetes from stdin",
        stdin: "lines '<octal mode> <absolute path under /etc/kubernetes/> <base64 content>' (SECRET: private keys)",
        vars: { STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS },
        fragments: [],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// init

/** `kubeadm init` on the first control-plane node, then a wait for the API through the NLB. */
export function renderInitScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "kubeadm init runs on a control-plane node");
    const p = opts(o);
    const body = sh`
# --- guard: initialised before? ------------------------------------------------------------------
if [[ -e "$KUBE_DIR/admin.conf" ]]; then
  log "$KUBE_DIR/admin.conf exists: initialised before; checking the API through the NLB"
  wait_for "the API at $API_READYZ_URL" api_ready ||
    die "admin.conf exists but $API_READYZ_URL does not answer; not re-running kubeadm init (inspect $NODE_NAME, or 'kubeadm reset -f' it and retry)"
  log "already initialised; nothing to do"
  exit 0
fi
if [[ -e "$KUBE_DIR/manifests/kube-apiserver.yaml" ]]; then
  die "an earlier kubeadm init stopped half-way ($KUBE_DIR/manifests/kube-apiserver.yaml exists, admin.conf does not); run 'kubeadm reset -f' on $NODE_NAME and retry"
fi

# --- inputs ---------------------------------------------------------------------------------------
require_files
read_token
make_workdir
printf '%s\n' "\${KUBEADM_CONFIG_TEMPLATE//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/kubeadm.yaml"

# --- init -----------------------------------------------------------------------------------------
# Every certificate is already in place (place-pki), so the certs phase reuses them.
# --skip-token-print keeps the token out of the log; redact masks it should it appear anyway.
log "kubeadm init of $NODE_NAME, control-plane endpoint $API_ENDPOINT"
kubeadm init --config "$work/kubeadm.yaml" --skip-token-print 2>&1 | redact ||
  die "kubeadm init failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"

# --- success means: the API answers through the NLB ---------------------------------------------
wait_for "the API at $API_READYZ_URL" api_ready ||
  die "kubeadm init finished but $API_READYZ_URL did not answer within $((WAIT_ATTEMPTS * WAIT_INTERVAL_SECONDS))s (NLB target health, security groups, hairpinning?)"
log "initialised $NODE_NAME; the API answers at $API_READYZ_URL"
`;
    return compose({
        generator: "scripts.ts",
        name: "init",
        title: `kubeadm init on ${node.name}`,
        stdin: "line 1 = the bootstrap token (SECRET)",
        vars: {
            NODE_NAME: node.name,
            API_ENDPOINT: controlPlaneEndpoint(c),
            API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
            TOKEN_RE: "^[a-z0-9]{6}\\.[a-z0-9]{16}$",
            TOKEN_PLACEHOLDER: BOOTSTRAP_TOKEN_PLACEHOLDER,
            KUBEADM_CONFIG_TEMPLATE: renderInitConfig(c, node, { token: BOOTSTRAP_TOKEN_PLACEHOLDER, ttl: "1h" }),
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
        arrays: { REQUIRED_FILES: controlPlaneRequiredFiles() },
        fragments: [WAIT_FOR, WORKDIR, READ_TOKEN, REQUIRE_FILES, API_READY],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// first control plane: init, or join when the cluster already exists

/**
 * What node 0 runs: `kubeadm init` on a new cluster, but `kubeadm join --control-plane` when the
 * API already answers through the NLB with this cluster's CA and this node never initialised.
 * That is the case when node 0 was replaced (lost instance, new subnet): a plain init would start
 * a second one-member etcd behind the same load balancer, a split brain. stdin is the join's
 * (token, then the admin kubeconfig); the init reads only the token line.
 */
export function renderFirstControlPlaneScript(cluster: ClusterSpec, node: NodeSpec, caCertHash: string, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "the first control plane");
    const body = sh`
if [[ ! -e "$KUBE_DIR/admin.conf" ]] &&
  curl -sf --max-time 5 --cacert "$KUBE_DIR/pki/ca.crt" -o /dev/null "$API_READYZ_URL"; then
  log "the cluster already answers at $API_READYZ_URL and $NODE_NAME never initialised: joining it (node 0 was replaced)"
  exec bash -c "$JOIN_SCRIPT"
fi
exec bash -c "$INIT_SCRIPT"
`;
    return compose({
        generator: "scripts.ts",
        // The two embedded scripts are single-quoted on purpose; shellcheck lints each on its own.
        embedsScripts: true,
        name: "first-control-plane",
        title: `kubeadm init on ${node.name}, or join when the cluster already exists`,
        stdin: "line 1 = the bootstrap token, then the admin kubeconfig (SECRET)",
        vars: {
            NODE_NAME: node.name,
            API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
            INIT_SCRIPT: renderInitScript(c, node, o),
            JOIN_SCRIPT: renderJoinScript(c, node, caCertHash, o),
        },
        fragments: [],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// join

/**
 * `kubeadm join` of a control-plane or worker node. The admin kubeconfig on stdin is used to
 * (re)create the bootstrap token through the NLB with a short TTL right before joining, so a join
 * never depends on a token that may have expired.
 */
export function renderJoinScript(cluster: ClusterSpec, node: NodeSpec, caCertHash: string, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    validateCaCertHash(caCertHash);
    const p = opts(o);
    const cp = node.role === "control-plane";
    const body = sh`${cp ? "" : sh`
node_registered() { kube get node "$NODE_NAME" -o name >/dev/null 2>&1; }
`}
# refresh_token: (re)create the bootstrap token Secret with a fresh expiry, through the NLB. The
# secret half goes through a 0600 file and a pipe, never argv. Server-side apply makes it an
# upsert: an existing token (from init or an earlier join) just gets the new expiry.
refresh_token() {
  local expiration token_id=\${token%%.*}
  expiration=$(date -u -d "+\${TOKEN_TTL_MINUTES} minutes" '+%Y-%m-%dT%H:%M:%SZ') ||
    die "cannot compute the token expiry"
  printf '%s' "$token_secret" >"$work/token-secret"
  kube -n kube-system create secret generic "bootstrap-token-$token_id" \
    --type=bootstrap.kubernetes.io/token \
    --from-literal=token-id="$token_id" \
    --from-file=token-secret="$work/token-secret" \
    --from-literal=expiration="$expiration" \
    --from-literal=usage-bootstrap-authentication=true \
    --from-literal=usage-bootstrap-signing=true \
    --from-literal=auth-extra-groups="$TOKEN_GROUP" \
    --from-literal=description="k8s-ha: join of $NODE_NAME" \
    --dry-run=client -o yaml |
    kube apply --server-side --force-conflicts --field-manager=k8s-ha-join -f - >/dev/null ||
    die "could not (re)create bootstrap token $token_id through $API_ENDPOINT"
  log "bootstrap token $token_id valid until $expiration"
}

# --- guard: joined before? ------------------------------------------------------------------------
if [[ -e "$KUBE_DIR/kubelet.conf" ]]; then
  log "already joined ($KUBE_DIR/kubelet.conf exists); nothing to do"
  exit 0
fi

# --- inputs ---------------------------------------------------------------------------------------
${cp ? "require_files\n" : ""}read_token
make_workdir
read_admin_kubeconfig "stdin after line 1"

# --- the cluster answers through the NLB; a fresh token ---------------------------------------
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot join"
refresh_token

# --- join -----------------------------------------------------------------------------------------
printf '%s\n' "\${JOIN_CONFIG_TEMPLATE//"$TOKEN_PLACEHOLDER"/"$token"}" >"$work/join.yaml"
log "kubeadm join of $NODE_NAME ($NODE_ROLE) through $API_ENDPOINT"
kubeadm join --config "$work/join.yaml" 2>&1 | redact || die "kubeadm join failed (output above)"
rm -f -- "$STATE_DIR/pki-changed"
${
        cp
            ? sh`
# --- success means: this node's apiserver (and so its etcd member) is ready --------------------
wait_for "the local apiserver at $LOCAL_READYZ_URL" local_api_ready ||
  die "joined, but $LOCAL_READYZ_URL did not become ready"`
            : sh`
# --- success means: the Node is registered ---------------------------------------------------------
wait_for "Node $NODE_NAME registered" node_registered || die "joined, but Node $NODE_NAME did not appear"`
    }
log "joined $NODE_NAME ($NODE_ROLE)"
`;
    return compose({
        generator: "scripts.ts",
        name: `join-${node.role}`,
        title: `kubeadm join of ${node.name} as ${node.role === "control-plane" ? "a control-plane node" : "a worker"}`,
        stdin: "line 1 = the bootstrap token, then the admin kubeconfig (SECRET, both)",
        vars: {
            NODE_NAME: node.name,
            NODE_ROLE: node.role,
            API_ENDPOINT: controlPlaneEndpoint(c),
            API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
            ...(cp ? { LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz` } : {}),
            TOKEN_RE: "^[a-z0-9]{6}\\.[a-z0-9]{16}$",
            TOKEN_PLACEHOLDER: BOOTSTRAP_TOKEN_PLACEHOLDER,
            TOKEN_GROUP: BOOTSTRAP_TOKEN_GROUP,
            TOKEN_TTL_MINUTES: p.TOKEN_TTL_MINUTES,
            JOIN_CONFIG_TEMPLATE: renderJoinConfig(c, node, { token: BOOTSTRAP_TOKEN_PLACEHOLDER, caCertHash }),
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
        arrays: cp ? { REQUIRED_FILES: controlPlaneRequiredFiles() } : {},
        fragments: [WAIT_FOR, WORKDIR, READ_TOKEN, READ_KUBECONFIG, ...(cp ? [REQUIRE_FILES, LOCAL_API_READY] : []), API_READY],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// reset

/**
 * Clean removal of a node, run on the node itself when its resource is deleted:
 * quorum check (control planes) -> kubectl drain -> kubeadm reset -f (which removes this node's
 * etcd member) -> CNI/iptables leftovers -> kubectl delete node. The order is kubeadm's documented
 * one: resetting before deleting the Node object means the kubelet is stopped and cannot
 * re-register it.
 *
 * Quorum rule (stacked etcd: one member per control-plane node; members = etcd static pods,
 * healthy = those Ready):
 * - the last member is removed only by a teardown: reset it without drain or quorum check;
 * - refuse if healthy < floor(n/2)+1 now: the member-remove itself needs quorum to commit;
 * - refuse if, after removal, the healthy remainder < floor((n-1)/2)+1, the quorum of the new
 *   size. E.g. 3 members, all healthy: removal leaves 2 of 2 (quorum 2), allowed; 3 members with
 *   one other already down: removal would leave 1 healthy of 2 (quorum 2), refused; removing the
 *   unhealthy member itself is allowed (2 of 2 remain).
 */
export function renderResetScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    validateNode(node);
    const p = opts(o);
    const cp = node.role === "control-plane";
    const body = sh`
${
    cp
        ? sh`
# check_quorum: refuse a removal that would leave etcd without quorum (rule in the generator's doc).
check_quorum() {
  local pods pod_node ready members=0 healthy=0 self_member=0 self_healthy=0
  pods=$(kube -n kube-system get pods -l component=etcd,tier=control-plane \
    -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}') ||
    die "cannot list the etcd members (etcd pods in kube-system)"
  while read -r pod_node ready; do
    if [[ -z $pod_node ]]; then
      continue
    fi
    members=$((members + 1))
    if [[ $ready == True ]]; then
      healthy=$((healthy + 1))
    fi
    if [[ $pod_node == "$NODE_NAME" ]]; then
      self_member=1
      if [[ $ready == True ]]; then
        self_healthy=1
      fi
    fi
  done <<<"$pods"
  if ((!self_member)); then
    log "no etcd member on $NODE_NAME; its removal does not change etcd membership"
    return 0
  fi
  if ((members <= 1)); then
    # Only a teardown removes the last member (a replacement joins its successor first), so
    # there is no quorum left to protect: reset without draining into nowhere.
    log "$NODE_NAME is the last control-plane node: the cluster is being torn down"
    last_member=1
    return 0
  fi
  local need_now=$((members / 2 + 1))
  local after_members=$((members - 1))
  local after_healthy=$((healthy - self_healthy))
  local need_after=$((after_members / 2 + 1))
  if ((healthy < need_now)); then
    die "refusing to remove $NODE_NAME: etcd has $healthy healthy of $members members, below its quorum of $need_now; a member removal cannot commit"
  fi
  if ((after_healthy < need_after)); then
    die "refusing to remove $NODE_NAME: etcd would keep $after_healthy healthy of $after_members members, below the quorum of $need_after; repair the unhealthy members first"
  fi
  log "etcd quorum check passed: $healthy/$members healthy now, $after_healthy/$after_members after removing $NODE_NAME"
}
`
        : ""
}
delete_node() { kube delete node "$NODE_NAME" --ignore-not-found >/dev/null; }

# Leftovers kubeadm reset does not remove: CNI configuration and KUBE-/CNI- iptables chains.
clean_network_state() {
  local t
  rm -rf -- "$FSROOT/etc/cni/net.d"
  for t in iptables ip6tables; do
    if command -v "$t-save" >/dev/null 2>&1 && command -v "$t-restore" >/dev/null 2>&1; then
      "$t-save" | { grep -v -E 'KUBE-|CNI-' || true; } | "$t-restore" || log "could not clean $t rules (continuing)"
    fi
  done
  if command -v ipvsadm >/dev/null 2>&1; then
    ipvsadm --clear || true
  fi
}

# --- inputs (needed by the guard: is the Node still known to the cluster?) ---------------------
make_workdir
read_admin_kubeconfig "all of stdin"
wait_for "the API at $API_READYZ_URL" api_ready || die "$API_READYZ_URL does not answer; cannot remove $NODE_NAME cleanly"
node_object=$(kube get node "$NODE_NAME" --ignore-not-found -o name) || die "cannot look up Node $NODE_NAME"
joined=0
if [[ -e "$KUBE_DIR/kubelet.conf" ]]; then
  joined=1
fi

# --- guard: already removed? ------------------------------------------------------------------------
if ((!joined)) && [[ -z $node_object ]]; then
  log "$NODE_NAME is not joined and has no Node object; nothing to do"
  exit 0
fi

# --- remove -------------------------------------------------------------------------------------------
last_member=0
${cp ? "if ((joined)); then\n  check_quorum\nfi\n" : ""}if [[ -n $node_object ]] && ((!last_member)); then
  log "draining $NODE_NAME"
  kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout="$DRAIN_TIMEOUT" ||
    die "kubectl drain $NODE_NAME failed"
fi
if ((joined)); then
  log "kubeadm reset of $NODE_NAME"
  kubeadm reset -f --kubeconfig "$work/admin.conf" || die "kubeadm reset failed"
  clean_network_state
  rm -f -- "$STATE_DIR/pki-changed"
fi
if ((last_member)); then
  log "removed $NODE_NAME and with it the cluster"
  exit 0
fi
# Through the NLB, which may still route to this node's stopped apiserver for a few seconds.
wait_for "Node $NODE_NAME deleted" delete_node || die "could not delete Node $NODE_NAME"
log "removed $NODE_NAME"
`;
    return compose({
        generator: "scripts.ts",
        name: `reset-${node.role}`,
        title: `remove ${node.name} (${node.role}) from the cluster`,
        stdin: "the admin kubeconfig (SECRET)",
        vars: {
            NODE_NAME: node.name,
            API_READYZ_URL: `https://${controlPlaneEndpoint(c)}/readyz`,
            DRAIN_TIMEOUT: p.DRAIN_TIMEOUT,
            STDIN_TIMEOUT_SECONDS: p.STDIN_TIMEOUT_SECONDS,
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
        fragments: [WAIT_FOR, WORKDIR, READ_KUBECONFIG, API_READY],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// rotate

/** Kubeconfigs kubeadm writes on control planes, with the `kubeadm init phase kubeconfig` phase for each. */
export const KUBECONFIG_PHASES: ReadonlyArray<readonly [file: string, phase: string]> = [
    ["admin.conf", "admin"],
    ["super-admin.conf", "super-admin"],
    ["controller-manager.conf", "controller-manager"],
    ["scheduler.conf", "scheduler"],
    ["kubelet.conf", "kubelet"],
];

/**
 * After place-pki changed a control-plane node's certificates: regenerate kubeconfigs that embed
 * an old cluster CA (only when ca.crt changed: leaf renewals leave every kubeconfig valid, since
 * they are signed by the same CA), restart the static pods one at a time (etcd only when its
 * files changed), waiting for each to be healthy, then clear the change record.
 * Limits: a cluster-CA change also needs the workers' trust updated and service-account tokens
 * re-issued; that is a separate, multi-step procedure this script does not attempt.
 */
export function renderRotateScript(cluster: ClusterSpec, node: NodeSpec, o?: ScriptOptions): string {
    const c = normalizeCluster(cluster);
    requireRole(node, "control-plane", "certificates are placed and rotated on control-plane nodes only");
    const p = opts(o);
    const body = sh`
readonly CHANGED_FILE="$STATE_DIR/pki-changed"

crictl_() { crictl --runtime-endpoint "$CRI_SOCKET" "$@"; }
running_ids() { crictl_ ps --quiet --state running --name "^$1\$"; }
new_container_running() {
  local now
  now=$(running_ids "$1") || return 1
  [[ -n $now && $now != "$2" ]]
}
etcd_healthy() { curl -sf --max-time 5 -o /dev/null http://127.0.0.1:2381/health; }
controller_manager_healthy() { curl -ksf --max-time 5 -o /dev/null https://127.0.0.1:10257/healthz; }
scheduler_healthy() { curl -ksf --max-time 5 -o /dev/null https://127.0.0.1:10259/healthz; }

# restart_static_pod NAME CHECK: stop NAME's container (the kubelet starts a new one, which reads
# the new files), wait for the new container, then for CHECK.
restart_static_pod() {
  local name=$1 check=$2 old
  old=$(running_ids "$name") || die "crictl cannot list containers"
  if [[ -n $old ]]; then
    local ids=()
    mapfile -t ids <<<"$old"
    log "restarting $name"
    crictl_ stop "\${ids[@]}" >/dev/null || die "could not stop $name"
  else
    log "$name has no running container; waiting for the kubelet to start it"
  fi
  wait_for "a new $name container" new_container_running "$name" "$old" || die "$name did not come back"
  wait_for "$name healthy" "$check" || die "$name did not become healthy after the restart"
}

cert_fingerprint() { openssl x509 -noout -fingerprint -sha256 2>/dev/null; }
kubeconfig_ca_fingerprint() {
  local data
  data=$(sed -n -E 's/^[[:space:]]*certificate-authority-data:[[:space:]]*//p' "$1" | sed -n 1p)
  if [[ -n $data ]]; then
    printf '%s' "$data" | base64 -d 2>/dev/null | cert_fingerprint || true
  fi
}

# --- guard: anything to do? ----------------------------------------------------------------------
if [[ ! -s $CHANGED_FILE ]]; then
  log "no certificate changes recorded by place-pki; nothing to rotate"
  exit 0
fi
if [[ ! -e "$KUBE_DIR/kubelet.conf" ]]; then
  log "$NODE_NAME has not joined yet; kubeadm will read the new files when it does"
  rm -f -- "$CHANGED_FILE"
  exit 0
fi

mapfile -t changed <"$CHANGED_FILE"
log "certificates changed: \${changed[*]}"
ca_changed=0
etcd_changed=0
for path in "\${changed[@]}"; do
  case $path in
  /etc/kubernetes/pki/ca.crt | /etc/kubernetes/pki/ca.key) ca_changed=1 ;;
  /etc/kubernetes/pki/etcd/*) etcd_changed=1 ;;
  esac
done
restart_kubelet=$ca_changed

# --- kubeconfigs that embed an old cluster CA (only when ca.crt changed) ------------------------
if ((ca_changed)); then
  make_workdir
  printf '%s\n' "$KUBEADM_PHASE_CONFIG" >"$work/kubeadm.yaml"
  ca_fp=$(cert_fingerprint <"$KUBE_DIR/pki/ca.crt") || die "cannot read $KUBE_DIR/pki/ca.crt"
  backup="$STATE_DIR/kubeconfig-backup-$(date -u +%Y%m%dT%H%M%SZ)"
  for entry in "\${KUBECONFIG_PHASES[@]}"; do
    file=\${entry%%:*}
    phase=\${entry#*:}
    if [[ ! -e "$KUBE_DIR/$file" ]]; then
      continue
    fi
    if [[ "$(kubeconfig_ca_fingerprint "$KUBE_DIR/$file")" == "$ca_fp" ]]; then
      continue
    fi
    mkdir -p -- "$backup"
    mv -f -- "$KUBE_DIR/$file" "$backup/$file"
    log "regenerating $file (it embedded the old cluster CA; the old file is in $backup)"
    kubeadm init phase kubeconfig "$phase" --config "$work/kubeadm.yaml" || die "kubeadm init phase kubeconfig $phase failed"
  done
fi

# --- restart the static pods one at a time ---------------------------------------------------------
if ((etcd_changed)); then
  restart_static_pod etcd etcd_healthy
fi
restart_static_pod kube-apiserver local_api_ready
restart_static_pod kube-controller-manager controller_manager_healthy
restart_static_pod kube-scheduler scheduler_healthy
if ((restart_kubelet)); then
  log "restarting the kubelet (its client CA and kubeconfig changed)"
  systemctl restart kubelet
  wait_for "the local apiserver after the kubelet restart" local_api_ready || die "the local apiserver did not come back"
fi
rm -f -- "$CHANGED_FILE"
log "rotated the certificates of $NODE_NAME"
`;
    return compose({
        generator: "scripts.ts",
        name: "rotate",
        title: `apply changed certificates on ${node.name}`,
        stdin: "nothing",
        vars: {
            NODE_NAME: node.name,
            CRI_SOCKET,
            LOCAL_READYZ_URL: `https://${urlHost(node.privateIp)}:${API_PORT}/readyz`,
            KUBEADM_PHASE_CONFIG: renderPhaseConfig(c, node),
            WAIT_INTERVAL_SECONDS: p.WAIT_INTERVAL_SECONDS,
            WAIT_ATTEMPTS: p.WAIT_ATTEMPTS,
        },
        arrays: { KUBECONFIG_PHASES: KUBECONFIG_PHASES.map(([f, ph]) => `${f}:${ph}`) },
        fragments: [WAIT_FOR, WORKDIR, LOCAL_API_READY],
        body,
    });
}

// ---------------------------------------------------------------------------------------------
// The whole set, for tools/render-scripts.ts and the tests.

export type ScriptKind = "prepare" | "place-pki" | "init" | "join" | "reset" | "rotate";

export interface RenderedScript {
    /** e.g. "join-control-plane.sh". */
    readonly fileName: string;
    readonly kind: ScriptKind;
    readonly role?: NodeRole;
    readonly node?: string;
    readonly text: string;
}

export interface ScriptSetInput {
    readonly cluster: ClusterSpec;
    /** The node kubeadm init runs on. */
    readonly initNode: NodeSpec;
    /** A control-plane node that joins. */
    readonly joinControlPlane: NodeSpec;
    /** A worker. */
    readonly worker: NodeSpec;
    readonly caCertHash: string;
    readonly options?: ScriptOptions;
}

/** Every script for every role, one sample node per role. */
export function renderScriptSet(s: ScriptSetInput): RenderedScript[] {
    const o = s.options;
    return [
        { fileName: "prepare-control-plane.sh", kind: "prepare", role: "control-plane", node: s.initNode.name, text: renderPrepareScript(s.cluster, s.initNode, o) },
        { fileName: "prepare-worker.sh", kind: "prepare", role: "worker", node: s.worker.name, text: renderPrepareScript(s.cluster, s.worker, o) },
        { fileName: "place-pki.sh", kind: "place-pki", text: renderPlacePkiScript(o) },
        { fileName: "init.sh", kind: "init", role: "control-plane", node: s.initNode.name, text: renderInitScript(s.cluster, s.initNode, o) },
        { fileName: "first-control-plane.sh", kind: "init", role: "control-plane", node: s.initNode.name, text: renderFirstControlPlaneScript(s.cluster, s.initNode, s.caCertHash, o) },
        { fileName: "join-control-plane.sh", kind: "join", role: "control-plane", node: s.joinControlPlane.name, text: renderJoinScript(s.cluster, s.joinControlPlane, s.caCertHash, o) },
        { fileName: "join-worker.sh", kind: "join", role: "worker", node: s.worker.name, text: renderJoinScript(s.cluster, s.worker, s.caCertHash, o) },
        { fileName: "reset-control-plane.sh", kind: "reset", role: "control-plane", node: s.joinControlPlane.name, text: renderResetScript(s.cluster, s.joinControlPlane, o) },
        { fileName: "reset-worker.sh", kind: "reset", role: "worker", node: s.worker.name, text: renderResetScript(s.cluster, s.worker, o) },
        { fileName: "rotate.sh", kind: "rotate", role: "control-plane", node: s.initNode.name, text: renderRotateScript(s.cluster, s.initNode, o) },
    ];
}

/** Every script a given node runs (prepare, join or init, reset, and for control planes rotate). */
export function renderNodeScripts(cluster: ClusterSpec, node: NodeSpec, how: { isInitNode: boolean; caCertHash: string; options?: ScriptOptions }): RenderedScript[] {
    const o = how.options;
    const role = node.role;
    const out: RenderedScript[] = [{ fileName: `prepare-${role}.sh`, kind: "prepare", role, node: node.name, text: renderPrepareScript(cluster, node, o) }];
    if (role === "control-plane") out.push({ fileName: "place-pki.sh", kind: "place-pki", text: renderPlacePkiScript(o) });
    if (how.isInitNode) {
        out.push({ fileName: "init.sh", kind: "init", role, node: node.name, text: renderInitScript(cluster, node, o) });
    } else {
        out.push({ fileName: `join-${role}.sh`, kind: "join", role, node: node.name, text: renderJoinScript(cluster, node, how.caCertHash, o) });
    }
    out.push({ fileName: `reset-${role}.sh`, kind: "reset", role, node: node.name, text: renderResetScript(cluster, node, o) });
    if (role === "control-plane") out.push({ fileName: "rotate.sh", kind: "rotate", role, node: node.name, text: renderRotateScript(cluster, node, o) });
    return out;
}

// ---------------------------------------------------------------------------------------------
// stdin encoders: what the bootstrap component passes as remote.Command `stdin` (SECRET text).

/** init: line 1 = the bootstrap token. */
export function initStdin(token: string): string {
    return `${validateBootstrapToken(token)}\n`;
}

/** join: line 1 = the bootstrap token, then the admin kubeconfig. */
export function joinStdin(token: string, adminKubeconfig: string): string {
    validateBootstrapToken(token);
    if (!adminKubeconfig.trim()) throw new KubeadmInputError("admin kubeconfig", "<empty>", "a kubeconfig with client credentials");
    return `${token}\n${adminKubeconfig.endsWith("\n") ? adminKubeconfig : `${adminKubeconfig}\n`}`;
}

/** reset: the admin kubeconfig. */
export function resetStdin(adminKubeconfig: string): string {
    if (!adminKubeconfig.trim()) throw new KubeadmInputError("admin kubeconfig", "<empty>", "a kubeconfig with client credentials");
    return adminKubeconfig.endsWith("\n") ? adminKubeconfig : `${adminKubeconfig}\n`;
}

export interface PlacedFile {
    /** Absolute path under /etc/kubernetes/ (e.g. a PkiFile.path). */
    readonly path: string;
    readonly mode: number;
    /** The file's content (PEM text). */
    readonly content: string;
}

/** place-pki: one "<octal mode> <path> <base64>" line per file. Checks the same rules the script enforces. */
export function placePkiStdin(files: readonly PlacedFile[]): string {
    if (files.length === 0) throw new KubeadmInputError("place-pki files", [], "at least one file");
    const seen = new Set<string>();
    return files
        .map((f) => {
            if (!/^\/etc\/kubernetes\/[A-Za-z0-9._/-]+$/.test(f.path) || /\/\.{1,2}(\/|$)/.test(f.path) || f.path.includes("//") || f.path.endsWith("/")) {
                throw new KubeadmInputError("place-pki path", f.path, `a plain absolute path under ${KUBE_DIR}/`);
            }
            if (seen.has(f.path)) throw new KubeadmInputError("place-pki path", f.path, "each path once");
            seen.add(f.path);
            if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o777 || (f.mode & 0o022) !== 0) {
                throw new KubeadmInputError(`place-pki mode of ${f.path}`, f.mode.toString(8), "an octal mode without group/world write, e.g. 0600 or 0644");
            }
            if (f.path.endsWith(".key") && f.mode !== 0o600) throw new KubeadmInputError(`place-pki mode of ${f.path}`, f.mode.toString(8), "0600 for a private key");
            if (!f.content) throw new KubeadmInputError(`place-pki content of ${f.path}`, "<empty>", "non-empty content");
            return `0${f.mode.toString(8).padStart(3, "0")} ${f.path} ${Buffer.from(f.content, "utf8").toString("base64")}`;
        })
        .join("\n")
        .concat("\n");
}

/** Exposed for tests: the quoted form of a value as the scripts embed it. */
export { shellQuote };
