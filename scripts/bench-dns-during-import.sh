#!/usr/bin/env bash
# Does the DNS query path slow down while the store is busy with a roster import? Runs the shared
# DNS benchmark's mix workload against Steward twice, as ../shared/bench/dns/run.sh does (server
# pinned to one core, dnsperf on the other, the harness's unbound stub as upstream), once quiet and
# once while `steward import oneroster` runs in a loop against the same store, on the client core
# so that it does not take the server's core (alternating two
# 50,000-person districts so every import writes). Prints q/s and the fixed-rate latency.
# Usage: bench-dns-during-import.sh BENCH_DNS_DIR   (a writable copy of ../shared/bench/dns, set up)
set -euo pipefail
bench=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
steward=$here/.build/release/steward
work=$(mktemp -d /tmp/steward-import-bench.XXXXXX)
python3 "$here/scripts/make-oneroster.py" 50000 "$work/a" >/dev/null
python3 "$here/scripts/make-oneroster.py" 50000 "$work/b" --moved-every 9 --leaving 500 >/dev/null
cd "$bench"
taskset -c 0 unbound -d -c build/stub/stub.conf >/dev/null 2>&1 &
stub=$!
STEWARD_BENCH_DIR=$work/node taskset -c 1 "$here/scripts/bench-dns-steward.sh" "$steward" "$bench/data/block-real.txt" 127.0.0.30 5360 127.0.0.2:5300 &
server=$!
trap 'kill $server $stub ${importer:-} 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 50); do dig +short +time=1 @127.0.0.30 -p 5360 stub.probe >/dev/null 2>&1 && break; sleep 0.2; done
taskset -c 0 dnsperf -s 127.0.0.30 -p 5360 -d queries/mix-real.txt -n 1 -c 10 -T 1 -O suppress=timeout >/dev/null 2>&1
run() {
  taskset -c 0 dnsperf -s 127.0.0.30 -p 5360 -d queries/mix-real.txt -l 15 -c 10 -T 1 -O suppress=timeout,unexpected \
    | grep -E "Queries per second|Queries lost" | sed "s/^/  $1: /"
  taskset -c 0 dnsperf -s 127.0.0.30 -p 5360 -d queries/mix-real-lat.txt -l 10 -Q 5000 -c 10 -T 1 -v -O suppress=timeout,unexpected 2>&1 \
    | python3 lat.py "$work/lat-$1"
  echo "  $1 at 5000 q/s: $(tr '\n' ' ' < "$work/lat-$1.pct")"
}
echo "mix, quiet:"; run quiet
( while true; do for d in a b; do taskset -c 0 "$steward" import oneroster "$work/$d" --config "$work/node/steward.yaml" >>"$work/imports.log" 2>&1; done; done ) &
importer=$!
sleep 1
echo "mix, importing 50,000-person rosters in a loop:"; run importing
kill $importer; wait $importer 2>/dev/null || true
echo "imports completed during the runs: $(grep -c 'people read' "$work/imports.log")"
