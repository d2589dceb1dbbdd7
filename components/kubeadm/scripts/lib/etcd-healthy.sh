etcd_healthy() { curl -sf --max-time 5 -o /dev/null http://127.0.0.1:2381/health; }
