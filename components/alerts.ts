// The control-plane alert rules, as data (pure): the usual Prometheus rules for etcd and the
// control plane, with the expression, duration and severity chosen for a kubeadm cluster; where a
// choice is not obvious, it is explained beside the rule.

export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    readonly for: string;
    readonly labels: { readonly severity: "critical" | "warning" };
    readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
    readonly name: string;
    readonly rules: readonly AlertRule[];
}

/**
 * The rules for a cluster with `members` etcd members (one per control plane).
 * - APIServerDown, etcd no leader / fsync, NodeNotReady: the common forms.
 * - APIServerLatencyHigh: summed by verb and le, WATCH and CONNECT excluded (a quantile over
 *   long-lived watch requests is always "high"); 1 s for 10 m.
 * - EtcdInsufficientMembers: compared with the cluster's own member count, not a fixed 3.
 * - Controller-manager and scheduler down: kubeadm binds both to 127.0.0.1, so unless Prometheus
 *   is set up to reach them there are no `up` series at all and `up{...} == 0` could never fire;
 *   `absent(up{...} == 1)` fires both when they are down and when nobody scrapes them.
 */
export function controlPlaneAlertRules(members: number): RuleGroup[] {
    if (!Number.isInteger(members) || members < 1)
        throw new Error(`controlPlaneAlertRules: members must be a positive integer, got ${members}`);
    return [
        {
            name: "k8s-ha-control-plane",
            rules: [
                {
                    alert: "APIServerDown",
                    expr: 'up{job="apiserver"} == 0',
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "API server {{ $labels.instance }} is down",
                        description:
                            "The kube-apiserver at {{ $labels.instance }} has not answered scrapes for 5 minutes; the load balancer sends no traffic to it.",
                    },
                },
                {
                    alert: "APIServerLatencyHigh",
                    expr: 'histogram_quantile(0.99, sum(rate(apiserver_request_duration_seconds_bucket{verb!~"WATCH|CONNECT"}[5m])) by (verb, le)) > 1',
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "API server 99th percentile latency above 1s",
                        description: "99th percentile latency of {{ $labels.verb }} requests is {{ $value }}s.",
                    },
                },
                {
                    alert: "EtcdNoLeader",
                    expr: "etcd_server_has_leader == 0",
                    for: "1m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "etcd member {{ $labels.instance }} has no leader",
                        description:
                            "The etcd member at {{ $labels.instance }} has had no leader for 1 minute: it cannot serve writes.",
                    },
                },
                {
                    alert: "EtcdInsufficientMembers",
                    expr: `count(etcd_server_has_leader) < ${members}`,
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "etcd has fewer than its " + members + " members",
                        description: `Only {{ $value }} of ${members} etcd members report; losing ${Math.floor((members - 1) / 2)} more than the cluster tolerates loses quorum.`,
                    },
                },
                {
                    alert: "EtcdHighFsyncDurations",
                    expr: "histogram_quantile(0.99, rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m])) > 0.5",
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "etcd WAL fsync is slow on {{ $labels.instance }}",
                        description:
                            "99th percentile WAL fsync duration is {{ $value }}s (above 0.5s): the disk is too slow for etcd.",
                    },
                },
                {
                    alert: "EtcdHighCommitDurations",
                    expr: "histogram_quantile(0.99, rate(etcd_disk_backend_commit_duration_seconds_bucket[5m])) > 0.25",
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "etcd backend commits are slow on {{ $labels.instance }}",
                        description: "99th percentile backend commit duration is {{ $value }}s (above 0.25s).",
                    },
                },
                {
                    alert: "ControllerManagerDown",
                    expr: 'absent(up{job="kube-controller-manager"} == 1)',
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "No kube-controller-manager is up",
                        description:
                            "No kube-controller-manager has been scraped as up for 5 minutes (down, or not scraped: kubeadm binds it to 127.0.0.1:10257).",
                    },
                },
                {
                    alert: "SchedulerDown",
                    expr: 'absent(up{job="kube-scheduler"} == 1)',
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "No kube-scheduler is up",
                        description:
                            "No kube-scheduler has been scraped as up for 5 minutes (down, or not scraped: kubeadm binds it to 127.0.0.1:10259).",
                    },
                },
                {
                    alert: "NodeNotReady",
                    expr: 'kube_node_status_condition{condition="Ready",status="false"} == 1',
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Node {{ $labels.node }} is not ready",
                        description: "Node {{ $labels.node }} has been NotReady for more than 10 minutes.",
                    },
                },
            ],
        },
    ];
}
