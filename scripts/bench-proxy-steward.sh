#!/usr/bin/env bash
# Start Steward for ../shared/bench/proxy (run_all.sh --proxy ADDR:PORT --name steward --pid PID):
# writes a configuration that blocks every entry of the harness's list (names with their
# subdomains, and the IPv4 addresses it lists) for every client on 127.0.0.0/8 and serves the web
# proxy on ADDR:PORT, then runs `steward serve` in the background and prints its PID once the
# proxy answers.
# Usage: bench-proxy-steward.sh STEWARD_BINARY LIST [ADDR:PORT]
# (STEWARD_BENCH_DIR chooses the folder for the configuration and data; default a new temporary one.)
set -euo pipefail
steward=$1 list=$2 listen=${3:-127.0.0.20:3128}
dir=${STEWARD_BENCH_DIR:-$(mktemp -d /tmp/steward-proxy-bench.XXXXXX)}
. "$(dirname "$0")/bench-config.sh"
write_bench_config "$dir" "$list"
cat >> "$dir/steward.yaml" <<YAML
proxy:
  listen: ["$listen"]
  connect-ports: [443, 3101]
  # The harness opens 5,000 idle tunnels from four loopback addresses; a district's default
  # (512 per client address) would refuse most of them.
  max-connections-per-client: 5000
YAML
"$steward" serve --config "$dir/steward.yaml" --log-level warning > "$dir/steward.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -s -o /dev/null -x "http://$listen" http://bench-probe.invalid/ 2>/dev/null; then break; fi
  sleep 0.1
done
echo "$pid"
