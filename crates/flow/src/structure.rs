//! Recognising the matching structure inside a general network, so that
//! [`crate::solve`] can take the bipartite path for it.
//!
//! # The shape
//!
//! One source `s` with supply `F` and one sink `t` with demand `F`; every
//! other node has supply 0 and is one of:
//!
//! * a *worker* `w`: one arc `s → w` of capacity 1 (any cost `a_w`), arcs
//!   `w → g` to gaps, nothing else;
//! * a *gap* `g`: one arc `g → t` (capacity `k_g`, any cost `b_g`), arcs
//!   `w → g` from workers, nothing else;
//! * a *bypass node* `x`: exactly one arc `s → x` and one arc `x → t`,
//!   nothing else;
//! * isolated (no arcs).
//!
//! Besides, any number of direct arcs `s → t`. Each direct arc and each
//! bypass node is a *bypass route*: its capacity is the least along it and
//! its cost the sum. A direct arc of capacity 0 is ignored; any other
//! arc of capacity 0 keeps its role and carries nothing. Lower bounds must
//! be 0, and no arc may enter `s`, leave `t` or be a loop.
//!
//! A unit that passes worker `w` and gap `g` costs
//! `c'(w, g) = a_w + cost(w → g) + b_g` (the cheapest of parallel arcs), so
//! with `N` workers and a matching `M` of `m` pairs the flow costs
//! `Σ_M c' + β·(F − m)` when the remaining `F − m` units take a bypass of
//! cost `β`.
//!
//! # When the translation is exact
//!
//! [`AssignmentSolver`] with unassigned cost `β` minimises
//! `Σ_M c' + β·(N − m) = Σ_M (c' − β) + β·N` over *all* matchings. The
//! network minimises `Σ_M (c' − β) + β·F` over matchings with `m ≤ F`
//! (only `F` units leave `s`). The two agree, up to the constant
//! `β·(N − F)`, exactly when the limit `m ≤ F` cannot bind, i.e. when
//! `F ≥ min(N', P)`, with `N'` the workers that have an arc and
//! `P = Σ_g min(k_g, workers with an arc to g)`: no matching has more
//! pairs than either. (`N` and `min(N, P)` below stand for these bounds.) Then the cheapest bypass route (ties: the widest)
//! carries `F − m ≥ 0`; it must have capacity ≥ `F`, because `m` may be 0.
//! Any dearer route carries nothing: moving its flow onto the cheapest
//! never costs more. So the recognised cases are:
//!
//! * **bypass**: the cheapest route has capacity ≥ `F` and
//!   `F ≥ min(N, P)` — supply equal to the workers (the classic form),
//!   between the positions and the workers, or above both. Unassigned cost
//!   = `β`.
//! * **no bypass**: `F ≥ min(N, P)` — every unit must pass a worker and a
//!   gap, so the network is feasible only with `m = F`. The solver runs with
//!   a lexicographic unassigned cost (most pairs, then cheapest); the
//!   network is infeasible unless it fills `F` pairs, and otherwise its
//!   optimum is the cheapest matching of the largest size, which is `F`.
//!
//! **Declined** (the general path solves them):
//!
//! * `F < min(N, P)`. The limit `m ≤ F` can bind, and the network asks for
//!   the cheapest matching of *at most* (or, without a bypass, *exactly*)
//!   `F` pairs. Minimum-cost flow does not maximise the pairs here: the
//!   solver's "place everyone who is worth placing" would match more than
//!   `F`. An exact translation exists (an extra gap of capacity `N − F`
//!   adjacent to every worker, cheaper than any other choice, holds the
//!   `N − F` idle workers), but a gap with `N` arcs that is always full
//!   makes each search relax all its members, O(N) a search.
//! * The cheapest bypass route narrower than `F`: the price of not
//!   matching would then rise after that route fills.
//! * Anything else: a worker with two source arcs or a source arc of
//!   capacity above 1, a node with arcs of two roles, lower bounds, more
//!   than one supply or demand node, costs beyond the solver's range.

use crate::bipartite::AssignmentSolver;
use crate::network::{Network, Solution};

/// A network recognised as a matching problem.
pub struct Bipartite {
    /// The solver, loaded (not yet solved).
    pub solver: AssignmentSolver,
    /// Whether a bypass route exists (the unassigned cost is its cost).
    pub has_bypass: bool,
    source: usize,
    sink: usize,
    /// The source's supply `F`.
    supply: i64,
    /// Worker index of each node (`NONE` if not a worker).
    worker: Vec<u32>,
    /// Gap index of each node (`NONE` if not a gap).
    gap: Vec<u32>,
    /// The arcs of the bypass route that carries the units not matched:
    /// one direct arc, or the two arcs through a bypass node.
    bypass: Option<(usize, Option<usize>)>,
}

const NONE: u32 = u32::MAX;

/// Per node: how many arcs of each kind touch it, and the arc from the
/// source and to the sink.
#[derive(Clone, Copy)]
struct Degrees {
    from_s: u32,
    to_t: u32,
    mid_in: u32,
    mid_out: u32,
    s_arc: u32,
    t_arc: u32,
}

/// A bypass route: (cost, capacity, first arc, second arc).
type Route = (i64, i64, usize, Option<usize>);

/// The matching structure of `net`, if it has one that translates exactly
/// (see the module docs).
pub fn recognise(net: &Network) -> Option<Bipartite> {
    let n = net.node_count();
    let mut s = None;
    let mut t = None;
    for (v, &b) in net.supply.iter().enumerate() {
        if b > 0 {
            if s.replace(v).is_some() {
                return None;
            }
        } else if b < 0 && t.replace(v).is_some() {
            return None;
        }
    }
    let (s, t) = (s?, t?);
    let f = net.supply[s];
    if net.supply[t] != -f || net.arcs.iter().any(|a| a.low != 0) {
        return None;
    }
    let zero = Degrees {
        from_s: 0,
        to_t: 0,
        mid_in: 0,
        mid_out: 0,
        s_arc: NONE,
        t_arc: NONE,
    };
    let mut deg = vec![zero; n];
    let mut routes: Vec<Route> = Vec::new();
    for (i, a) in net.arcs.iter().enumerate() {
        let (u, v) = (a.from as usize, a.to as usize);
        if u == v || v == s || u == t {
            return None;
        }
        if u == s && v == t {
            if a.cap > 0 {
                routes.push((a.cost, a.cap, i, None));
            }
        } else if u == s {
            deg[v].from_s += 1;
            deg[v].s_arc = i as u32;
        } else if v == t {
            deg[u].to_t += 1;
            deg[u].t_arc = i as u32;
        } else {
            deg[u].mid_out += 1;
            deg[v].mid_in += 1;
        }
    }
    // Roles. A worker's arcs to gaps and a gap's arcs from workers are
    // checked by the degrees alone: a node with an arc in the middle is a
    // worker (out) or a gap (in) or the network is declined.
    let mut worker = vec![NONE; n];
    let mut gap = vec![NONE; n];
    let mut s_cost = Vec::new();
    let mut t_cap_cost: Vec<(u32, i64)> = Vec::new();
    let mut max_cost = 0i64;
    for v in 0..n {
        let d = deg[v];
        if v == s || v == t || d.from_s + d.to_t + d.mid_in + d.mid_out == 0 {
            continue;
        }
        if d.from_s > 1 || d.to_t > 1 {
            return None;
        }
        if d.from_s == 1 && d.to_t == 1 && d.mid_in + d.mid_out == 0 {
            let (a, b) = (&net.arcs[d.s_arc as usize], &net.arcs[d.t_arc as usize]);
            routes.push((
                a.cost + b.cost,
                a.cap.min(b.cap),
                d.s_arc as usize,
                Some(d.t_arc as usize),
            ));
        } else if d.from_s == 1 && d.to_t == 0 && d.mid_in == 0 {
            let a = &net.arcs[d.s_arc as usize];
            if a.cap != 1 {
                return None;
            }
            worker[v] = s_cost.len() as u32;
            s_cost.push(a.cost);
            max_cost = max_cost.max(a.cost.abs());
        } else if d.to_t == 1 && d.from_s == 0 && d.mid_out == 0 {
            let a = &net.arcs[d.t_arc as usize];
            // A gap takes no more than it has arcs in.
            let cap = a.cap.min(i64::from(d.mid_in));
            gap[v] = t_cap_cost.len() as u32;
            t_cap_cost.push((cap as u32, a.cost));
            max_cost = max_cost.max(a.cost.abs());
        } else {
            return None;
        }
    }
    let nw = s_cost.len();
    // The cheapest route, the widest among equals, carries every unit not
    // matched; it must take all `F` of them.
    let bypass = routes
        .iter()
        .min_by_key(|r| (r.0, std::cmp::Reverse(r.1)))
        .copied();
    if bypass.is_some_and(|r| r.1 < f) {
        return None;
    }
    // Group the worker → gap arcs by worker (counting sort of arc indices),
    // so the solver is built without a second copy of the arcs.
    let is_mid = |u: usize, v: usize| u != s && v != t;
    let mut start = vec![0u32; nw + 1];
    for a in &net.arcs {
        let (u, v) = (a.from as usize, a.to as usize);
        if a.cap >= 1 && is_mid(u, v) {
            start[worker[u] as usize + 1] += 1;
            max_cost = max_cost.max(a.cost.abs());
        }
    }
    for i in 0..nw {
        start[i + 1] += start[i];
    }
    let max_abs = 3 * max_cost + 1;
    if max_abs > i64::from(i32::MAX) {
        return None;
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; start[nw] as usize];
    for (i, a) in net.arcs.iter().enumerate() {
        let (u, v) = (a.from as usize, a.to as usize);
        if a.cap < 1 || !is_mid(u, v) {
            continue;
        }
        let wi = worker[u] as usize;
        order[fill[wi] as usize] = i as u32;
        fill[wi] += 1;
    }
    drop(fill);
    let unassigned = match bypass {
        Some(r) => r.0,
        None => {
            AssignmentSolver::lexicographic_unassigned_cost(max_abs, (nw + t_cap_cost.len()) as u64)
        }
    };
    if unassigned.abs() >= 1 << 58 {
        return None;
    }
    let mut solver = AssignmentSolver::new(unassigned, max_abs);
    for &(cap, _) in &t_cap_cost {
        solver.add_gap(cap);
    }
    let mut buf = Vec::new();
    for wi in 0..nw {
        buf.clear();
        for &i in &order[start[wi] as usize..start[wi + 1] as usize] {
            let a = &net.arcs[i as usize];
            let gi = gap[a.to as usize];
            buf.push((gi, s_cost[wi] + a.cost + t_cap_cost[gi as usize].1));
        }
        solver.add_worker_unplaced(&buf).ok()?;
    }
    // The most pairs any matching can make is at most the workers with an
    // arc and at most P (parallel arcs are one in the solver).
    let placeable = (0..nw as u32)
        .filter(|&w| solver.worker_arcs(w).next().is_some())
        .count() as i64;
    let positions: i64 = (0..t_cap_cost.len() as u32)
        .map(|g| i64::from(solver.capacity(g)).min(solver.gap_arcs(g).count() as i64))
        .sum();
    if f < placeable.min(positions) {
        return None;
    }
    Some(Bipartite {
        solver,
        has_bypass: bypass.is_some(),
        source: s,
        sink: t,
        supply: f,
        worker,
        gap,
        bypass: bypass.map(|r| (r.2, r.3)),
    })
}

impl Bipartite {
    /// Solves and translates the assignment back into arc flows.
    pub fn solve(mut self, net: &Network) -> Solution {
        self.solver.place_all();
        if std::env::var_os("LENDWORK_FLOW_STATS").is_some() {
            eprintln!(
                "lendwork-flow: {:?}, {} unassigned",
                self.solver.stats,
                self.solver.unassigned_count()
            );
        }
        // `recognise` accepted only F ≥ min(N, P) ≥ m, so the bypass
        // carries F − m ≥ 0; without one, every unit must be matched.
        let matched = self.solver.assigned_count() as i64;
        if self.bypass.is_none() && matched != self.supply {
            return Solution::Infeasible;
        }
        // One pass over the arcs: a worker's unit runs s → w → g → t along
        // the cheapest of any parallel arcs to its gap.
        let mut flow = vec![0i64; net.arcs.len()];
        let mut chosen: Vec<(u32, i64)> = vec![(NONE, i64::MAX); self.solver.worker_slots()];
        for (i, a) in net.arcs.iter().enumerate() {
            let (u, v) = (a.from as usize, a.to as usize);
            if a.cap == 0 || (u == self.source && v == self.sink) {
                continue;
            } else if u == self.source {
                if self.worker[v] != NONE && self.solver.assignment(self.worker[v]).is_some() {
                    flow[i] = 1;
                }
            } else if v == self.sink {
                if self.gap[u] != NONE {
                    flow[i] = self.solver.members(self.gap[u]).len() as i64;
                }
            } else {
                let w = self.worker[u];
                if self.solver.assignment(w) == Some(self.gap[v]) && a.cost < chosen[w as usize].1 {
                    chosen[w as usize] = (i as u32, a.cost);
                }
            }
        }
        for (i, _) in chosen {
            if i != NONE {
                flow[i as usize] = 1;
            }
        }
        if let Some((a, b)) = self.bypass {
            flow[a] = self.supply - matched;
            if let Some(b) = b {
                flow[b] = self.supply - matched;
            }
        }
        Solution::optimal(net, flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{simplex, Method};

    /// s = 0, a node x with only `s → x` and `x → t`, a worker 2 with one
    /// gap 3, t = 4, and a dear direct bypass.
    fn with_unit_route() -> Network {
        let mut net = Network::with_nodes(5);
        net.supply = vec![2, 0, 0, 0, -2];
        net.add_arc(0, 1, 1, 1);
        net.add_arc(1, 4, 1, 1);
        net.add_arc(0, 2, 1, 0);
        net.add_arc(2, 3, 1, 5);
        net.add_arc(3, 4, 1, 0);
        net.add_arc(0, 4, 2, 100);
        net
    }

    /// Regression: a node with only a source arc and a sink arc was taken
    /// for a worker (with no arcs) and a gap (that no one can reach), so its
    /// unit went round the dear bypass: cost 105 instead of 7.
    #[test]
    fn node_with_only_source_and_sink_arcs_is_not_a_worker_and_a_gap() {
        let net = with_unit_route();
        let (sol, _) = crate::solve(&net);
        assert_eq!(sol.cost(), simplex::solve(&net).cost());
        assert_eq!(sol.cost(), Some(7));
    }

    /// A bypass through a node, wide enough for the supply, is the bypass.
    #[test]
    fn bypass_through_a_node_is_recognised() {
        let mut net = with_unit_route();
        net.arcs[0].cap = 2;
        net.arcs[1].cap = 2;
        net.arcs[5].cost = 200;
        let b = recognise(&net).expect("recognised");
        assert!(b.has_bypass);
        assert_eq!(b.solver.unassigned_cost(), 2);
        let (sol, method) = crate::solve(&net);
        assert_eq!(method, Method::Bipartite);
        assert_eq!(sol.cost(), simplex::solve(&net).cost());
        assert_eq!(sol.cost(), Some(4));
    }

    /// Supply below both the workers and the positions: "at most F pairs",
    /// which the assignment objective does not express; declined.
    #[test]
    fn supply_below_workers_and_positions_is_declined() {
        // Two workers, each with its own gap of one position, supply 1.
        let mut net = Network::with_nodes(6);
        net.supply = vec![1, 0, 0, 0, 0, -1];
        net.add_arc(0, 1, 1, 0);
        net.add_arc(0, 2, 1, 0);
        net.add_arc(1, 3, 1, -5);
        net.add_arc(2, 4, 1, -7);
        net.add_arc(3, 5, 1, 0);
        net.add_arc(4, 5, 1, 0);
        assert!(recognise(&net).is_none());
        net.add_arc(0, 5, 1, 0);
        assert!(recognise(&net).is_none());
        // With supply 2 = workers = positions it is the matching shape.
        net.supply = vec![2, 0, 0, 0, 0, -2];
        net.arcs[6].cap = 2;
        assert!(recognise(&net).is_some());
        assert_eq!(crate::solve(&net).0.cost(), Some(-12));
    }

    /// A cheapest bypass narrower than the supply would make the price of
    /// an unmatched unit rise once it fills; declined.
    #[test]
    fn narrow_cheapest_bypass_is_declined() {
        let mut net = with_unit_route();
        net.arcs[0].cap = 2;
        net.arcs[1].cap = 1; // route through node 1: cost 2, width 1 < F
        assert!(recognise(&net).is_none());
    }
}
