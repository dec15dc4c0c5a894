#!/usr/bin/env bash
# Start Steward for ../shared/bench/dns/run.sh (its --start-cmd): writes a configuration that blocks
# every name of the harness's list (and its subdomains) with NXDOMAIN for every client on
# 127.0.0.0/8 and forwards everything else to the harness's upstream, then runs `steward serve`.
# Usage: bench-dns-steward.sh STEWARD_BINARY LIST ADDR PORT UPSTREAM
# (STEWARD_BENCH_DIR chooses the folder for the configuration and data; default a new temporary one.)
set -euo pipefail
steward=$1 list=$2 addr=$3 port=$4 upstream=$5
dir=${STEWARD_BENCH_DIR:-$(mktemp -d /tmp/steward-bench.XXXXXX)}
. "$(dirname "$0")/bench-config.sh"
write_bench_config "$dir" "$list"
cat >> "$dir/steward.yaml" <<YAML
dns:
  listen: ["$addr:$port"]
  upstreams: ["$upstream"]
  block-answer: nxdomain
YAML
exec "$steward" serve --config "$dir/steward.yaml" --log-level warning
