#!/usr/bin/env bash
# The settlement ledger of a simulated log with work and pay (`simulate
# --work`), timed whole-process beside the engine's own replay of the same
# log (`lendwork match`: every event applied, then one round), in the same
# run, with peak memory; prints the assignment-days, the ledger lines, the
# seconds and the ratio. The log is written to bench-data/ and reused.
#
#   benches/ledger.sh [WORKERS GAPS]      # default 100000 20000 over 20 regions
set -euo pipefail
cd "$(dirname "$0")/.."
workers=${1:-100000}
gaps=${2:-20000}
target=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p lendwork
lw=$target/release/lendwork
mkdir -p bench-data
log=bench-data/work-$workers-$gaps.jsonl
[ -s "$log" ] || "$lw" simulate --workers "$workers" --gaps "$gaps" --regions 20 --seed 1 --work --out "$log"
events=$(wc -l < "$log")
days=$(grep -c '"type":"timesheet_submitted"' "$log" || true)
run() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
for round in 1 2 3; do
  read -r ls lkb < <(run "$lw" ledger --events "$log" --as-of 2030-01-01T00:00:00Z)
  read -r es ekb < <(run "$lw" match --events "$log")
  lines=$("$lw" ledger --events "$log" --as-of 2030-01-01T00:00:00Z --format csv | tail -n +2 | wc -l)
  printf 'round %d: %s events, %s timesheet submissions, %s ledger lines | ledger %ss %s MB | engine replay %ss %s MB | ledger/replay %.2f\n' \
    "$round" "$events" "$days" "$lines" "$ls" "$((lkb / 1024))" "$es" "$((ekb / 1024))" "$(echo "$ls / $es" | bc -l)"
done
