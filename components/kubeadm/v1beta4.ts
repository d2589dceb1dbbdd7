// The kubeadm.k8s.io/v1beta4 and kubelet.config.k8s.io/v1beta1 objects this stack renders, typed
// after the upstream API reference (field names and shapes; only the fields the stack may set):
//   https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/
//   https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/
// A misspelled or misplaced field fails the type check instead of being dropped by kubeadm's
// lenient decoding; the lab's `kubeadm config validate` checks the values.

/** A structured command-line argument (extraArgs, kubeletExtraArgs). */
export interface Arg {
    readonly name: string;
    readonly value: string;
}

/** An extra host path mounted into a control-plane static pod. */
export interface HostPathMount {
    readonly name: string;
    readonly hostPath: string;
    readonly mountPath: string;
    readonly readOnly?: boolean;
    readonly pathType?:
        "" | "DirectoryOrCreate" | "Directory" | "FileOrCreate" | "File" | "Socket" | "CharDevice" | "BlockDevice";
}

export interface ControlPlaneComponent {
    readonly extraArgs?: readonly Arg[];
    readonly extraVolumes?: readonly HostPathMount[];
}

export interface APIServer extends ControlPlaneComponent {
    readonly certSANs?: readonly string[];
}

export interface LocalEtcd {
    readonly imageRepository?: string;
    readonly imageTag?: string;
    readonly dataDir?: string;
    readonly extraArgs?: readonly Arg[];
    readonly serverCertSANs?: readonly string[];
    readonly peerCertSANs?: readonly string[];
}

export interface Networking {
    readonly serviceSubnet?: string;
    readonly podSubnet?: string;
    readonly dnsDomain?: string;
}

export interface ClusterConfiguration {
    readonly apiVersion: "kubeadm.k8s.io/v1beta4";
    readonly kind: "ClusterConfiguration";
    readonly clusterName?: string;
    readonly kubernetesVersion?: string;
    readonly controlPlaneEndpoint?: string;
    readonly certificatesDir?: string;
    readonly imageRepository?: string;
    readonly networking?: Networking;
    readonly apiServer?: APIServer;
    readonly controllerManager?: ControlPlaneComponent;
    readonly scheduler?: ControlPlaneComponent;
    readonly etcd?: { readonly local?: LocalEtcd };
    readonly featureGates?: Readonly<Record<string, boolean>>;
}

export interface BootstrapToken {
    readonly token: string;
    readonly description?: string;
    readonly ttl?: string;
    readonly usages?: readonly ("signing" | "authentication")[];
    readonly groups?: readonly string[];
}

export interface NodeRegistrationOptions {
    readonly name?: string;
    readonly criSocket?: string;
    readonly kubeletExtraArgs?: readonly Arg[];
    readonly ignorePreflightErrors?: readonly string[];
}

export interface APIEndpoint {
    readonly advertiseAddress?: string;
    readonly bindPort?: number;
}

/** kubeadm's v1beta4 timeouts (Go durations such as "8m0s"). */
export interface Timeouts {
    readonly controlPlaneComponentHealthCheck?: string;
    readonly kubeletHealthCheck?: string;
    readonly kubernetesAPICall?: string;
    readonly etcdAPICall?: string;
    readonly tlsBootstrap?: string;
    readonly discovery?: string;
    readonly upgradeManifests?: string;
}

export interface InitConfiguration {
    readonly apiVersion: "kubeadm.k8s.io/v1beta4";
    readonly kind: "InitConfiguration";
    readonly bootstrapTokens?: readonly BootstrapToken[];
    readonly nodeRegistration?: NodeRegistrationOptions;
    readonly localAPIEndpoint?: APIEndpoint;
    readonly skipPhases?: readonly string[];
    readonly timeouts?: Timeouts;
}

export interface JoinConfiguration {
    readonly apiVersion: "kubeadm.k8s.io/v1beta4";
    readonly kind: "JoinConfiguration";
    readonly discovery: {
        readonly bootstrapToken?: {
            readonly token: string;
            readonly apiServerEndpoint?: string;
            readonly caCertHashes?: readonly string[];
        };
    };
    readonly nodeRegistration?: NodeRegistrationOptions;
    readonly controlPlane?: { readonly localAPIEndpoint?: APIEndpoint };
    readonly skipPhases?: readonly string[];
    readonly timeouts?: Timeouts;
}

/** The kubelet settings the stack sets (kubeadm uploads them to the kubelet-config ConfigMap). */
export interface KubeletConfiguration {
    readonly apiVersion: "kubelet.config.k8s.io/v1beta1";
    readonly kind: "KubeletConfiguration";
    readonly cgroupDriver?: "systemd" | "cgroupfs";
    readonly serverTLSBootstrap?: boolean;
    readonly rotateCertificates?: boolean;
}
