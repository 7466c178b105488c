#!/usr/bin/env bash
# Side-by-side: `lendwork solve` against LEMON's network simplex
# (`dimacs-solver -long`, Debian liblemon-utils) and Google OR-tools
# (SimpleMinCostFlow), on the same DIMACS files in one run. Checks that all
# three report the same optimum and prints solve times (solve only, not
# file reading: each tool reports its own solve time), the path Lendwork
# took, Lendwork's time over the faster of LEMON and OR-tools, and
# Lendwork's peak memory per arc. Ends with the WORST of those ratios.
#
#   benches/compare_solvers.sh            # all families at 10k and 100k workers
#   benches/compare_solvers.sh --full     # also 1M workers (files of GBs, long)
#   RUNS=3 benches/compare_solvers.sh     # each tool 3 times per file, medians
#   ONLY=boom benches/compare_solvers.sh  # only files whose name contains "boom"
#
# Families: `market-N` (`lendwork solve --gen-market`), the eight families
# of benches/labour_families.py (a second, independent generator), and
# NETGEN-8 general networks (2^12..2^16 nodes; not a labour market, so its
# ratio is reported apart). Instances are written to bench-data/
# (git-ignored) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = "--full" ] && full=1
runs=${RUNS:-1}
only=${ONLY:-}

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
lw=${CARGO_TARGET_DIR:-target}/release/lendwork
mkdir -p bench-data

instances=()
sizes=(10000 100000)
[ "$full" = 1 ] && sizes+=(1000000)
families=$(python3 benches/labour_families.py --list)
for w in "${sizes[@]}"; do
  f=bench-data/market-$w.min
  [ -s "$f" ] || "$lw" solve --gen-market --workers "$w" --seed 1 --out "$f"
  instances+=("$f")
  for fam in $families; do
    f=bench-data/$fam-$w.min
    [ -s "$f" ] || python3 benches/labour_families.py "$fam" "$w" 1 > "$f"
    instances+=("$f")
  done
done
for k in 12 14 16; do
  n=$((1 << k)); s=$(python3 -c "import math; print(int(math.sqrt($n)))")
  f=bench-data/netgen8-$k.min
  # NETGEN-8 style: 8 arcs per node, ~sqrt(n) sources and sinks, costs 1..10000,
  # capacities 1..1000, supply 1000*sqrt(n).
  [ -s "$f" ] || "$tools/bin/netgen_rs" 1 1 "$n" "$s" "$s" $((8 * n)) 1 10000 $((1000 * s)) 0 0 30 100 1 1000 > "$f"
  instances+=("$f")
done

median() { python3 -c 'import sys, statistics; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }
results=$(mktemp)
printf '%-28s %9s %9s %10s %10s %10s %8s %7s %6s\n' instance arcs path lendwork_s lemon_s ortools_s lw/best B/arc agree
for f in "${instances[@]}"; do
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  lw_ts=(); le_ts=(); or_ts=()
  for _ in $(seq "$runs"); do
    out=$( { /usr/bin/time -f 'peak_kb=%M' "$lw" solve "$f"; } 2>&1 )
    lw_cost=$(sed -n 's/.*"cost":\([-0-9]*\).*/\1/p' <<<"$out")
    lw_ts+=("$(sed -n 's/.*solve \([0-9.]*\) s.*/\1/p' <<<"$out")")
    arcs=$(sed -n 's/.* \([0-9]*\) arcs,.*/\1/p' <<<"$out")
    path=$(sed -n 's/.* arcs, \([a-z]*\) path.*/\1/p' <<<"$out")
    peak=$(sed -n 's/.*peak_kb=\([0-9]*\).*/\1/p' <<<"$out")
    lemon=$(dimacs-solver -long "$f" 2>&1)
    le_cost=$(sed -n 's/^Min flow cost: \(.*\)$/\1/p' <<<"$lemon")
    le_ts+=("$(sed -n 's/^Run NetworkSimplex:.*real: \([0-9.e-]*\)s.*/\1/p' <<<"$lemon")")
    ort=$(python3 benches/ortools_solve.py "$f")
    or_cost=$(sed -n 's/^cost=\([-0-9]*\) .*/\1/p' <<<"$ort")
    or_ts+=("$(sed -n 's/.*solve=\([0-9.]*\).*/\1/p' <<<"$ort")")
  done
  agree=no
  [ -n "$lw_cost" ] && [ "$lw_cost" = "$le_cost" ] && [ "$lw_cost" = "$or_cost" ] && agree=yes
  python3 - "$f" "$arcs" "$path" "$(median "${lw_ts[@]}")" "$(median "${le_ts[@]}")" \
    "$(median "${or_ts[@]}")" "$peak" "$agree" "$results" <<'PY'
import os, sys
f, arcs, path, lw, le, ort, peak, agree, results = sys.argv[1:]
lw, le, ort, arcs, peak = float(lw), float(le), float(ort), int(arcs), int(peak)
best = min(le, ort)
ratio = lw / best if best > 0 else float("inf")
name = os.path.basename(f).removesuffix(".min")
print(f"{name:<28} {arcs:>9} {path:>9} {lw:>10.3f} {le:>10.3f} {ort:>10.3f} {ratio:>8.2f} {peak * 1024 / arcs:>7.1f} {agree:>6}")
with open(results, "a") as r:
    r.write(f"{name} {ratio}\n")
PY
  [ "$agree" = yes ] || { echo "optimum mismatch on $f: lendwork=$lw_cost lemon=$le_cost ortools=$or_cost" >&2; exit 1; }
done
echo
python3 - "$results" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rows = [(n, float(r)) for n, r in rows]
def worst(label, sel):
    if sel:
        n, r = max(sel, key=lambda x: x[1])
        print(f"WORST lw/best {label}: {r:.2f} ({n}); target <= 0.5")
worst("over labour-market files (all sizes)", [x for x in rows if not x[0].startswith("netgen")])
worst("over labour-market files at 100k", [x for x in rows if x[0].endswith("-100000")])
worst("over every file (NETGEN included)", rows)
PY
rm -f "$results"
[ -n "$only" ] && exit 0
echo
echo "Incremental updates on the solved 100k-worker market (each timed alone):"
cargo run -q --release -p lendwork-flow --example incremental_latency -- 100000 2000
