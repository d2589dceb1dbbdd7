// The stack: read and validate config, build the cluster, export what operators need. Nothing else.
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import { loadConfig } from "./components/config";

const config = loadConfig();
const cluster = new Cluster(config.clusterName, { config });

export const apiEndpoint = cluster.apiEndpoint;
export const vpcId = cluster.network.vpcId;
export const publicSubnetIds = pulumi.all(cluster.network.publicSubnets.map((s) => s.id));
export const privateSubnetIds = pulumi.all(cluster.network.privateSubnets.map((s) => s.id));
export const controlPlanePrivateIps = cluster.controlPlane.privateIps;
export const controlPlaneZones = cluster.controlPlane.zones;
export const bastionAddress = cluster.bastion.publicIp;
export const sshPrivateKey = cluster.bastion.privateKeyOpenssh;
export const kubeconfig = cluster.pki.adminKubeconfig;
export const clusterCaCertificate = cluster.pki.caCertPem;
export const discoveryHash = cluster.pki.discoveryHash;
export const etcdBackupBucket = cluster.etcdBackup.bucketName;
export const etcdBackupPrefix = cluster.etcdBackup.prefix;
