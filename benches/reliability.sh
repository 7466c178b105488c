#!/usr/bin/env bash
# Reliability suite (issue 7): runs the fault and load tests against real
# servers (Tansu, redis-server, librdkafka's mock cluster, real `lendwork`
# processes) and prints one table: what was tried, the load, the events in
# the log, events lost and workers double-booked (both must be 0), and
# notes. The same tests run in CI (scripts/test); this prints their figures.
#
#   benches/reliability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
  scripts/test-infra cargo test -q -p lendwork \
    --test e2e_matcher --test e2e_scale --test e2e_gateway -- --nocapture
  scripts/test-infra cargo test -q -p lendwork-matcher --test matcher_faults -- --nocapture
  scripts/test-infra cargo test -q -p lendwork-gateway --test gateway -- --nocapture
} 2>&1 | tee "$out" | grep -E "^test result|FAILED|panicked" >&2 || true
python3 - "$out" <<'PY'
import sys
# libtest prints progress without a newline, so a row may not start its line.
rows = [l[l.find("reliability|"):].strip().split("|")[1:7] for l in open(sys.argv[1], encoding="utf-8", errors="replace") if "reliability|" in l]
head = ["check", "load", "events", "lost", "double-booked", "notes"]
widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
bad = [r for r in rows if r[3] != "0" or r[4] != "0"]
print(f"\n{len(rows)} checks; {'ALL ZERO lost and double-booked' if not bad else 'FAILURES: ' + str(bad)}")
sys.exit(1 if bad or not rows else 0)
PY
