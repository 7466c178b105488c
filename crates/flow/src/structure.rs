//! Recognising the matching structure inside a general network, so that
//! [`crate::solve`] can take the bipartite path for it.
//!
//! The shape: one source `s` with supply `F`, one sink `t` with demand `F`;
//! arcs `s → w` of capacity 1 (one per worker, `F` workers), arcs `w → g`,
//! arcs `g → t` (one per gap, its capacity is the gap's), and optionally one
//! bypass `s → t` of capacity ≥ `F`. Every unit then either passes one
//! worker and one gap, or takes the bypass, so the problem is exactly
//! [`AssignmentSolver`]'s with `unassigned_cost` = the bypass cost, and the
//! arc cost of `(w, g)` = cost(s→w) + cost(w→g) + cost(g→t). Without a
//! bypass every worker must be placed; the solver then runs with a
//! lexicographic unassigned cost and any unassigned worker means
//! infeasible.

use crate::bipartite::AssignmentSolver;
use crate::network::{Network, Solution};

/// A network recognised as a matching problem.
pub struct Bipartite {
    /// The solver, loaded (not yet solved).
    pub solver: AssignmentSolver,
    /// Whether a bypass arc exists.
    pub has_bypass: bool,
    source: usize,
    sink: usize,
    /// Worker index of each node (`NONE` if not a worker).
    worker: Vec<u32>,
    /// Gap index of each node (`NONE` if not a gap).
    gap: Vec<u32>,
    bypass: Option<usize>,
}

const NONE: u32 = u32::MAX;

/// The matching structure of `net`, if it has one.
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
    // Role of each node, and the cost of its arc from s or to t.
    let mut worker = vec![NONE; n];
    let mut gap = vec![NONE; n];
    let mut s_cost = Vec::new();
    let mut t_cap_cost = Vec::new();
    let mut bypass = None;
    let mut max_cost = 0i64;
    for (i, a) in net.arcs.iter().enumerate() {
        let (u, v) = (a.from as usize, a.to as usize);
        max_cost = max_cost.max(a.cost.abs());
        if u == s && v == t {
            if bypass.replace(i).is_some() || a.cap < f {
                return None;
            }
        } else if u == s {
            if a.cap != 1 || worker[v] != NONE || v == t {
                return None;
            }
            worker[v] = s_cost.len() as u32;
            s_cost.push(a.cost);
        } else if v == t {
            if gap[u] != NONE || a.cap >= i64::from(u32::MAX - 2) {
                return None;
            }
            gap[u] = t_cap_cost.len() as u32;
            t_cap_cost.push((a.cap.max(0) as u32, a.cost));
        }
    }
    if s_cost.len() as i64 != f || t_cap_cost.is_empty() {
        return None;
    }
    let max_abs = 3 * max_cost + 1;
    if max_abs > i64::from(i32::MAX) {
        return None;
    }
    // Group the worker → gap arcs by worker (counting sort of arc indices),
    // so the solver is built without a second copy of the arcs.
    let nw = s_cost.len();
    let mut start = vec![0u32; nw + 1];
    for a in &net.arcs {
        let (u, v) = (a.from as usize, a.to as usize);
        if u == s || v == t {
            continue;
        }
        let (wi, gi) = (worker[u], gap[v]);
        if wi == NONE || gi == NONE || worker[v] != NONE || gap[u] != NONE {
            return None;
        }
        if a.cap >= 1 {
            start[wi as usize + 1] += 1;
        }
    }
    for i in 0..nw {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; start[nw] as usize];
    for (i, a) in net.arcs.iter().enumerate() {
        let (u, v) = (a.from as usize, a.to as usize);
        if u == s || v == t || a.cap < 1 {
            continue;
        }
        let wi = worker[u] as usize;
        order[fill[wi] as usize] = i as u32;
        fill[wi] += 1;
    }
    drop(fill);
    let (unassigned, has_bypass) = match bypass {
        Some(b) => (net.arcs[b].cost, true),
        None => (
            AssignmentSolver::lexicographic_unassigned_cost(
                max_abs,
                (nw + t_cap_cost.len()) as u64,
            ),
            false,
        ),
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
    Some(Bipartite {
        solver,
        has_bypass,
        source: s,
        sink: t,
        worker,
        gap,
        bypass,
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
        if !self.has_bypass && self.solver.unassigned_count() > 0 {
            return Solution::Infeasible;
        }
        // One pass over the arcs: a worker's unit runs s → w → g → t along
        // the cheapest of any parallel arcs to its gap.
        let mut flow = vec![0i64; net.arcs.len()];
        let mut chosen: Vec<(u32, i64)> = vec![(NONE, i64::MAX); self.solver.worker_slots()];
        for (i, a) in net.arcs.iter().enumerate() {
            let (u, v) = (a.from as usize, a.to as usize);
            if u == self.source && v == self.sink {
                continue;
            } else if u == self.source {
                if self.solver.assignment(self.worker[v]).is_some() {
                    flow[i] = 1;
                }
            } else if v == self.sink {
                flow[i] = self.solver.members(self.gap[u]).len() as i64;
            } else if a.cap >= 1 {
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
        if let Some(b) = self.bypass {
            flow[b] = self.solver.unassigned_count() as i64;
        }
        Solution::optimal(net, flow)
    }
}
