#!/usr/bin/env bash
# Engine throughput and re-match latency on simulated single-region markets:
# every event applied and followed by a matching round (batch size 1), each
# apply + round timed alone. Prints events/s and median / p99 / max latency.
#
#   benches/engine_throughput.sh              # 20k/4k, 50k/10k, 100k/20k workers/gaps
#   benches/engine_throughput.sh 100000 20000 # one size
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p lendwork-engine --example throughput
if [ $# -eq 2 ]; then
  sizes=("$1 $2")
else
  sizes=("20000 4000" "50000 10000" "100000 20000")
fi
for s in "${sizes[@]}"; do
  echo "== workers/gaps: $s"
  # shellcheck disable=SC2086
  target/release/examples/throughput $s
done
