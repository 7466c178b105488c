#!/usr/bin/env bash
# Side-by-side: `lendwork solve` against LEMON's network simplex
# (`dimacs-solver -long`, Debian liblemon-utils) and Google OR-tools
# (SimpleMinCostFlow), on the same DIMACS files in one run. Checks that all
# three report the same optimum and prints solve-time ratios (solve only,
# not file reading: each tool reports its own solve time) and Lendwork's
# peak memory per arc.
#
#   benches/compare_solvers.sh            # market 10k, 100k; NETGEN-8 2^12..2^16
#   benches/compare_solvers.sh --full     # also the 1M-worker market (~3 GB file, minutes)
#
# Instances are written to bench-data/ (git-ignored) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = "--full" ] && full=1

need() { command -v "$1" >/dev/null 2>&1; }
if ! need dimacs-solver; then
  apt-get update -qq && apt-get install -y -qq liblemon-utils >/dev/null
fi
if ! python3 -c 'import ortools, numpy' 2>/dev/null; then
  python3 -m pip install -q ortools numpy
fi
tools=bench-data/tools
if [ ! -x "$tools/bin/netgen_rs" ]; then
  cargo install -q netgen_rs --version 0.1.0 --locked --root "$tools"
fi
cargo build -q --release -p lendwork
lw=target/release/lendwork
mkdir -p bench-data

instances=()
sizes=(10000 100000)
[ "$full" = 1 ] && sizes+=(1000000)
for w in "${sizes[@]}"; do
  f=bench-data/market-$w.min
  [ -s "$f" ] || "$lw" solve --gen-market --workers "$w" --seed 1 --out "$f"
  instances+=("$f")
done
for k in 12 14 16; do
  n=$((1 << k)); s=$(python3 -c "import math; print(int(math.sqrt($n)))")
  f=bench-data/netgen8-$k.min
  # NETGEN-8 style: 8 arcs per node, ~sqrt(n) sources and sinks, costs 1..10000,
  # capacities 1..1000, supply 1000*sqrt(n).
  [ -s "$f" ] || "$tools/bin/netgen_rs" 1 1 "$n" "$s" "$s" $((8 * n)) 1 10000 $((1000 * s)) 0 0 30 100 1 1000 > "$f"
  instances+=("$f")
done

printf '%-24s %10s %10s %10s %10s %9s %9s %8s %6s\n' instance arcs lendwork_s lemon_s ortools_s lemon/lw ortools/lw B/arc agree
for f in "${instances[@]}"; do
  out=$( { /usr/bin/time -f 'peak_kb=%M' "$lw" solve "$f"; } 2>&1 )
  lw_cost=$(sed -n 's/.*"cost":\([-0-9]*\).*/\1/p' <<<"$out")
  lw_s=$(sed -n 's/.*solve \([0-9.]*\) s.*/\1/p' <<<"$out")
  arcs=$(sed -n 's/.* \([0-9]*\) arcs,.*/\1/p' <<<"$out")
  peak=$(sed -n 's/.*peak_kb=\([0-9]*\).*/\1/p' <<<"$out")
  lemon=$(dimacs-solver -long "$f" 2>&1)
  le_cost=$(sed -n 's/^Min flow cost: \(.*\)$/\1/p' <<<"$lemon")
  le_s=$(sed -n 's/^Run NetworkSimplex:.*real: \([0-9.e-]*\)s.*/\1/p' <<<"$lemon")
  ort=$(python3 benches/ortools_solve.py "$f")
  or_cost=$(sed -n 's/^cost=\([-0-9]*\) .*/\1/p' <<<"$ort")
  or_s=$(sed -n 's/.*solve=\([0-9.]*\).*/\1/p' <<<"$ort")
  agree=no
  [ -n "$lw_cost" ] && [ "$lw_cost" = "$le_cost" ] && [ "$lw_cost" = "$or_cost" ] && agree=yes
  python3 - "$f" "$arcs" "$lw_s" "$le_s" "$or_s" "$peak" "$agree" <<'PY'
import os, sys
f, arcs, lw, le, ort, peak, agree = sys.argv[1:]
lw, le, ort, arcs, peak = float(lw), float(le), float(ort), int(arcs), int(peak)
r = lambda x: f"{x / lw:.2f}x" if lw > 0 else "-"
print(f"{os.path.basename(f):<24} {arcs:>10} {lw:>10.3f} {le:>10.3f} {ort:>10.3f} {r(le):>9} {r(ort):>9} {peak * 1024 / arcs:>8.1f} {agree:>6}")
PY
  [ "$agree" = yes ] || { echo "optimum mismatch on $f: lendwork=$lw_cost lemon=$le_cost ortools=$or_cost" >&2; exit 1; }
done
echo
echo "Incremental updates on the solved 100k-worker market (each timed alone):"
cargo run -q --release -p lendwork-flow --example incremental_latency -- 100000 2000
