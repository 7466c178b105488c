//! Recognising the matching structure inside a general network, so that
//! [`crate::solve`] can take the bipartite path for it.
//!
//! The shape: one source `s` with supply `F`, one sink `t` with demand `F`;
//! arcs `s → w` of capacity 1 (one per worker, `F` workers), arcs `w → g`,
//! arcs `g → t` (one per gap, its capacity is the gap's), and optionally one
//! bypass `s → t` of capacity ≥ `F`. Every unit then either passes one
//! worker and one gap, or takes the bypass, so the problem is exactly
//! [`Matcher`]'s with `unassigned_cost` = the bypass cost, and the arc cost
//! of `(w, g)` = cost(s→w) + cost(w→g) + cost(g→t). Without a bypass every
//! worker must be placed; the matcher then runs with a lexicographic
//! unassigned cost and any unassigned worker means infeasible.

use crate::bipartite::Matcher;
use crate::network::{Network, Solution};

/// A network recognised as a matching problem.
pub struct Bipartite {
    /// The solver, loaded (not yet solved).
    pub matcher: Matcher,
    /// Whether a bypass arc exists.
    pub has_bypass: bool,
    s_arc: Vec<usize>,
    t_arc: Vec<usize>,
    /// For each matcher arc, the original arc index, per worker in order.
    wg_arc: Vec<Vec<usize>>,
    bypass: Option<usize>,
}

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
    const NONE: u32 = u32::MAX;
    // Role of each node: worker index or gap index.
    let mut worker = vec![NONE; n];
    let mut gap = vec![NONE; n];
    let mut s_arc = Vec::new();
    let mut t_arc = Vec::new();
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
            worker[v] = s_arc.len() as u32;
            s_arc.push(i);
        } else if v == t {
            if gap[u] != NONE || a.cap >= i64::from(u32::MAX - 2) {
                return None;
            }
            gap[u] = t_arc.len() as u32;
            t_arc.push(i);
        }
    }
    if s_arc.len() as i64 != f || t_arc.is_empty() {
        return None;
    }
    let mut arcs_of: Vec<Vec<(u32, i64, usize)>> = vec![Vec::new(); s_arc.len()];
    for (i, a) in net.arcs.iter().enumerate() {
        let (u, v) = (a.from as usize, a.to as usize);
        if u == s || v == t {
            continue;
        }
        let (wi, gi) = (worker[u], gap[v]);
        if wi == NONE || gi == NONE || worker[v] != NONE || gap[u] != NONE {
            return None;
        }
        if a.cap < 1 {
            continue;
        }
        let c = net.arcs[s_arc[wi as usize]].cost + a.cost + net.arcs[t_arc[gi as usize]].cost;
        arcs_of[wi as usize].push((gi, c, i));
    }
    let max_abs = 3 * max_cost + 1;
    let (unassigned, has_bypass) = match bypass {
        Some(b) => (net.arcs[b].cost, true),
        None => (
            Matcher::lexicographic_unassigned_cost(max_abs, (s_arc.len() + t_arc.len()) as u64),
            false,
        ),
    };
    if unassigned.abs() >= 1 << 58 {
        return None;
    }
    let mut matcher = Matcher::new(unassigned, max_abs);
    for &ti in &t_arc {
        matcher.add_gap(net.arcs[ti].cap.max(0) as u32);
    }
    let mut wg_arc = Vec::with_capacity(s_arc.len());
    let mut buf = Vec::new();
    for list in &mut arcs_of {
        // Parallel arcs: keep the cheapest, remember which it was.
        list.sort_unstable_by_key(|&(g, c, i)| (g, c, i));
        list.dedup_by_key(|x| x.0);
        buf.clear();
        buf.extend(list.iter().map(|&(g, c, _)| (g, c)));
        matcher.add_worker_unplaced(&buf).ok()?;
        wg_arc.push(list.iter().map(|x| x.2).collect());
        *list = Vec::new();
    }
    Some(Bipartite {
        matcher,
        has_bypass,
        s_arc,
        t_arc,
        wg_arc,
        bypass,
    })
}

impl Bipartite {
    /// Solves and translates the assignment back into arc flows.
    pub fn solve(mut self, net: &Network) -> Solution {
        self.matcher.place_all();
        if !self.has_bypass && self.matcher.unassigned_count() > 0 {
            return Solution::Infeasible;
        }
        let mut flow = vec![0i64; net.arcs.len()];
        for (w, &si) in self.s_arc.iter().enumerate() {
            if let Some(g) = self.matcher.assignment(w as u32) {
                flow[si] = 1;
                let arcs = self.matcher.worker_arcs(w as u32);
                // Arcs were stored in sorted order; the matcher may have
                // reordered them by swap-removal only on removals, which a
                // static solve does not do.
                let k = arcs
                    .iter()
                    .position(|a| a.0 == g)
                    .expect("assigned over an arc");
                flow[self.wg_arc[w][k]] = 1;
                flow[self.t_arc[g as usize]] += 1;
            }
        }
        if let Some(b) = self.bypass {
            flow[b] = self.matcher.unassigned_count() as i64;
        }
        let cost = flow
            .iter()
            .zip(&net.arcs)
            .map(|(&f, a)| i128::from(f) * i128::from(a.cost))
            .sum();
        Solution::Optimal { cost, flow }
    }
}
