#!/usr/bin/env python3
"""A second labour-market instance generator, independent of
`lendwork solve --gen-market`: families of DIMACS min-cost-flow files that
differ in district count, cost spread, headcount distribution, which side
is scarce, and the source supply against the positions.

    python3 benches/labour_families.py --list
    python3 benches/labour_families.py FAMILY WORKERS [SEED] > FILE.min

The market. Districts (their number is the family's) have centres spread
over a square and a spread of 2-7 km each; they differ in size (Dirichlet
weights), and gaps follow the workers' weights only roughly, so some
districts are short of workers and others of positions. A worker holds 1-4
of 16 skills, accepts a commute of 5-18 km and has a reservation wage; a
gap asks for 1-3 skills, pays a wage and has a headcount 1-12 drawn from
the family's distribution. Each worker looks at ~120 random gaps of its own
district and ~15 anywhere, and is eligible for those within its commute
where it lacks at most one skill and the wage is at most 800 below its
reservation. The cost of a pair grows with the distance, the wage
shortfall and the skills lacking; the family's spread scales these from
narrow (0-30) to wide (a per-gap lognormal factor, up to 10^5).

The network: source 1, workers 2..W+1, gaps next, sink, and (in one
family) a bypass node. Arcs source -> worker (capacity 1), worker -> gap
(capacity 1, the cost), gap -> sink (capacity = headcount), and a bypass
source -> sink (direct, or through the bypass node) of capacity = supply,
whose cost is either far above any pair ("high": the most positions
filled, then the cheapest) or around the 60th percentile of pair costs
("mid": some pairs are not worth making). The supply is set against the
positions P: below, equal to or above it, in both regimes (positions
scarcer than workers, and workers scarcer than positions).
"""
import sys

import numpy as np

SKILLS = 16

# name: (districts, positions per worker, headcounts, spread, supply, bypass, form)
# supply: "below" = 0.7 P, "equal" = P, "workers" = W, "below-workers" =
# 0.6 W, "above" = 1.3 P.
FAMILIES = {
    "slump-below": (12, 0.5, "bimodal", "medium", "below", "high", "plain"),
    "slump-equal": (4, 0.5, "uniform", "narrow", "equal", "high", "plain"),
    "slump-above": (30, 0.6, "ones", "wide", "workers", "mid", "costs"),
    "balanced": (12, 1.0, "uniform", "medium", "workers", "mid", "plain"),
    "boom-below": (4, 2.0, "uniform", "wide", "workers", "high", "plain"),
    "boom-below-workers": (100, 2.0, "ones", "narrow", "below-workers", "high", "plain"),
    "boom-equal": (30, 1.5, "bimodal", "medium", "equal", "mid", "via-node"),
    "boom-above": (12, 1.5, "uniform", "narrow", "above", "high", "plain"),
}


def headcounts(rng, kind, n):
    if kind == "uniform":
        return rng.integers(1, 13, n)
    if kind == "ones":  # mostly single posts: geometric, capped at 12
        return np.minimum(rng.geometric(0.55, n), 12)
    # bimodal: most 1-2, some crews of 8-12
    small = rng.integers(1, 3, n)
    big = rng.integers(8, 13, n)
    return np.where(rng.random(n) < 0.75, small, big)


def mean_headcount(kind):
    return {"uniform": 6.5, "ones": 1.8, "bimodal": 0.75 * 1.5 + 0.25 * 10}[kind]


def generate(family, workers, seed):
    districts, ratio, hc_kind, spread, supply_kind, bypass_kind, form = FAMILIES[family]
    rng = np.random.default_rng([seed, workers, sum(map(ord, family))])
    w_n = workers
    g_n = max(1, int(round(ratio * w_n / mean_headcount(hc_kind))))
    side = 25.0 * np.sqrt(districts)
    centre = rng.random((districts, 2)) * side
    sigma = rng.uniform(2.0, 7.0, districts)
    weight = rng.dirichlet(np.full(districts, 1.5))
    gweight = weight * rng.uniform(0.5, 1.5, districts)
    gweight /= gweight.sum()

    w_d = rng.choice(districts, w_n, p=weight)
    w_xy = centre[w_d] + rng.normal(size=(w_n, 2)) * sigma[w_d, None]
    w_skill = np.zeros(w_n, dtype=np.int64)  # bit mask
    for _ in range(4):
        take = rng.random(w_n) < 0.45
        w_skill |= np.where(take, 1 << rng.integers(0, SKILLS, w_n), 0)
    w_skill |= 1 << rng.integers(0, SKILLS, w_n)  # at least one
    w_commute = rng.uniform(5.0, 18.0, w_n)
    w_res = rng.normal(3000, 500, w_n)

    g_d = np.sort(rng.choice(districts, g_n, p=gweight))
    g_xy = centre[g_d] + rng.normal(size=(g_n, 2)) * sigma[g_d, None]
    g_skill = 1 << rng.integers(0, SKILLS, g_n)
    for _ in range(2):
        g_skill |= np.where(rng.random(g_n) < 0.35, 1 << rng.integers(0, SKILLS, g_n), 0)
    g_wage = rng.normal(3100, 600, g_n)
    g_head = headcounts(rng, hc_kind, g_n)
    g_factor = rng.lognormal(0.0, 1.0, g_n)
    d_start = np.searchsorted(g_d, np.arange(districts))
    d_count = np.bincount(g_d, minlength=districts)

    keys = []
    costs = []
    chunk = 50_000
    for lo in range(0, w_n, chunk):
        hi = min(w_n, lo + chunk)
        m = hi - lo
        d = w_d[lo:hi]
        local = d_start[d, None] + (rng.random((m, 120)) * d_count[d, None]).astype(np.int64)
        local = np.where(d_count[d, None] > 0, local, 0)
        anywhere = rng.integers(0, g_n, (m, 15))
        cand = np.concatenate([local, anywhere], axis=1)
        wi = np.repeat(np.arange(lo, hi), cand.shape[1])
        gi = cand.ravel()
        dist = np.hypot(*(w_xy[wi] - g_xy[gi]).T)
        lack = g_skill[gi] & ~w_skill[wi]
        missing = np.zeros(len(gi), dtype=np.int64)
        for b in range(SKILLS):
            missing += (lack >> b) & 1
        short = np.maximum(0.0, w_res[wi] - g_wage[gi])
        ok = (dist <= w_commute[wi]) & (missing <= 1) & (short <= 800)
        wi, gi, dist, missing, short = wi[ok], gi[ok], dist[ok], missing[ok], short[ok]
        if spread == "narrow":
            c = np.round(dist) + short // 100 + 5 * missing
        elif spread == "medium":
            c = np.round(8 * dist) + short // 10 + 40 * missing
        else:
            c = np.minimum(100_000, np.round((20 * dist + short / 2 + 300 * missing) * g_factor[gi]))
        k, first = np.unique(wi * g_n + gi, return_index=True)
        keys.append(k)
        costs.append(c[first].astype(np.int64))
    keys = np.concatenate(keys)
    cost = np.concatenate(costs)
    aw, ag = keys // g_n, keys % g_n

    positions = int(g_head.sum())
    supply = {
        "below": int(0.7 * positions),
        "equal": positions,
        "workers": w_n,
        "below-workers": int(0.6 * w_n),
        "above": int(1.3 * positions),
    }[supply_kind]
    max_cost = int(cost.max()) if len(cost) else 1
    if bypass_kind == "high":
        bypass = 4 * (max_cost + 1)
    else:
        bypass = int(np.percentile(cost, 60)) if len(cost) else 1
    src_cost = rng.integers(0, 6, w_n) if form == "costs" else np.zeros(w_n, dtype=np.int64)
    sink_cost = rng.integers(0, 4, g_n) if form == "costs" else np.zeros(g_n, dtype=np.int64)
    return dict(
        w_n=w_n, g_n=g_n, aw=aw, ag=ag, cost=cost, head=g_head, supply=supply,
        bypass=bypass, form=form, src_cost=src_cost, sink_cost=sink_cost,
        positions=positions,
    )


def write(inst, family, seed, out):
    w_n, g_n = inst["w_n"], inst["g_n"]
    sink = w_n + g_n + 2
    via = inst["form"] == "via-node"
    nodes = sink + (1 if via else 0)
    m = w_n + len(inst["aw"]) + g_n + (2 if via else 1)
    f = inst["supply"]
    out.write(f"c labour_families.py {family} workers={w_n} gaps={g_n} "
              f"positions={inst['positions']} supply={f} arcs_w_g={len(inst['aw'])} "
              f"bypass_cost={inst['bypass']} seed={seed}\n")
    out.write(f"p min {nodes} {m}\nn 1 {f}\nn {sink} {-f}\n")

    def lines(cols, fmt):
        step = 500_000
        n = len(cols[0])
        for lo in range(0, n, step):
            part = [c[lo:lo + step].tolist() for c in cols]
            out.write("".join(fmt % row for row in zip(*part)))

    lines([np.arange(2, w_n + 2), inst["src_cost"]], "a 1 %d 0 1 %d\n")
    lines([inst["aw"] + 2, inst["ag"] + w_n + 2, inst["cost"]], "a %d %d 0 1 %d\n")
    lines([np.arange(w_n + 2, w_n + g_n + 2), inst["head"], inst["sink_cost"]],
          f"a %d {sink} 0 %d %d\n")
    if via:
        x = sink + 1
        out.write(f"a 1 {x} 0 {f} {inst['bypass'] - 1}\na {x} {sink} 0 {f} 1\n")
    else:
        out.write(f"a 1 {sink} 0 {f} {inst['bypass']}\n")


def main(argv):
    if len(argv) >= 1 and argv[0] == "--list":
        print("\n".join(FAMILIES))
        return
    if len(argv) < 2 or argv[0] not in FAMILIES:
        sys.exit(__doc__)
    family, workers = argv[0], int(argv[1])
    seed = int(argv[2]) if len(argv) > 2 else 1
    inst = generate(family, workers, seed)
    write(inst, family, seed, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
