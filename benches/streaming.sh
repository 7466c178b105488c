#!/usr/bin/env bash
# Streaming benchmark (issue 5): raw rdkafka vs Lendwork end to end against
# the same Tansu broker and redis-server in one run, then event-to-proposal
# latency at a steady offered load. Starts its own servers (scripts/test-infra).
#
#   benches/streaming.sh [WORKERS] [RATE] [SECONDS]     (defaults 20000 10000 10)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lendwork --example stream_bench
exec scripts/test-infra bash -c 'target/release/examples/stream_bench "$LENDWORK_TEST_KAFKA" "$LENDWORK_TEST_REDIS" '"${1:-20000} ${2:-10000} ${3:-10}"
