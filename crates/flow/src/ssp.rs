//! A second general solver: successive shortest paths with Dijkstra on
//! reduced costs (primal–dual), with capacity scaling. [`crate::solve`] uses
//! the network simplex, which measured 20–400× faster on NETGEN networks;
//! this one is kept because it shares no code with it, so the tests can
//! check one against the other.
//!
//! How it works:
//! 1. Lower bounds are shifted into the supplies; arcs of negative cost are
//!    saturated up front (their surplus moves to the supplies), so every
//!    residual arc starts with a non-negative reduced cost at potential 0.
//! 2. Capacity scaling: in phase Δ only residual arcs with at least Δ units
//!    count, and only nodes with at least Δ excess start a search. Before a
//!    phase, arcs that the smaller Δ makes visible but that break the
//!    reduced-cost condition are saturated (the standard Edmonds–Karp /
//!    Orlin scheme), which keeps the number of augmentations at
//!    O(m log U) instead of O(total supply).
//! 3. Each search runs Dijkstra from one excess node and stops at the first
//!    node with a deficit; only settled nodes get new potentials, so a
//!    search costs what it touches, not O(n).
//!
//! Infeasibility is found when a search from an excess node reaches no
//! deficit in the last phase (Δ = 1).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::network::{Network, Solution};

const INF: i64 = i64::MAX / 4;

/// Residual graph in forward-star form; arc `a ^ 1` is the reverse of `a`.
struct Residual {
    first: Vec<u32>,
    /// Arc ids ordered by tail node.
    order: Vec<u32>,
    to: Vec<u32>,
    cap: Vec<i64>,
    cost: Vec<i64>,
}

impl Residual {
    fn new(n: usize, net: &Network) -> Self {
        let m = net.arcs.len();
        let mut to = Vec::with_capacity(2 * m);
        let mut cap = Vec::with_capacity(2 * m);
        let mut cost = Vec::with_capacity(2 * m);
        let mut deg = vec![0u32; n + 1];
        for a in &net.arcs {
            to.push(a.to);
            cap.push(a.cap - a.low);
            cost.push(a.cost);
            to.push(a.from);
            cap.push(0);
            cost.push(-a.cost);
            deg[a.from as usize] += 1;
            deg[a.to as usize] += 1;
        }
        let mut first = vec![0u32; n + 1];
        for v in 0..n {
            first[v + 1] = first[v] + deg[v];
        }
        let mut fill = first.clone();
        let mut order = vec![0u32; 2 * m];
        for (i, a) in net.arcs.iter().enumerate() {
            let (f, b) = (2 * i as u32, 2 * i as u32 + 1);
            order[fill[a.from as usize] as usize] = f;
            fill[a.from as usize] += 1;
            order[fill[a.to as usize] as usize] = b;
            fill[a.to as usize] += 1;
        }
        Self {
            first,
            order,
            to,
            cap,
            cost,
        }
    }

    fn tail(&self, a: usize) -> usize {
        self.to[a ^ 1] as usize
    }
}

/// Solves `net` exactly. Costs and capacities are `i64`; the total cost is
/// summed in `i128` so it cannot overflow.
pub fn solve(net: &Network) -> Solution {
    let n = net.node_count();
    let mut r = Residual::new(n, net);
    let mut excess: Vec<i64> = net.supply.clone();
    for a in &net.arcs {
        excess[a.from as usize] -= a.low;
        excess[a.to as usize] += a.low;
    }
    if excess.iter().map(|&e| i128::from(e)).sum::<i128>() != 0 {
        return Solution::Infeasible;
    }
    // Saturate negative arcs so that potential 0 is feasible.
    for a in (0..r.to.len()).step_by(2) {
        if r.cost[a] < 0 && r.cap[a] > 0 {
            let c = r.cap[a];
            push(&mut r, &mut excess, a, c);
        }
    }
    let mut pi = vec![0i64; n];
    let max_cap = r
        .cap
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(excess.iter().map(|e| e.abs()).max().unwrap_or(0));
    let mut delta: i64 = 1;
    while delta.saturating_mul(2) <= max_cap {
        delta *= 2;
    }
    let mut search = Search::new(n);
    loop {
        // Arcs with residual ≥ Δ and negative reduced cost are saturated so
        // that the Δ-residual graph keeps non-negative reduced costs.
        for a in 0..r.to.len() {
            if r.cap[a] >= delta {
                let u = r.tail(a);
                let v = r.to[a] as usize;
                if r.cost[a] + pi[u] - pi[v] < 0 {
                    let c = r.cap[a];
                    push(&mut r, &mut excess, a, c);
                }
            }
        }
        let mut s = 0;
        while s < n {
            if excess[s] < delta {
                s += 1;
                continue;
            }
            match search.run(&r, &mut pi, &excess, s, delta) {
                Some(t) => {
                    // Bottleneck along the path, bounded by excess and deficit.
                    let mut amount = excess[s].min(-excess[t]);
                    let mut v = t;
                    while v != s {
                        let a = search.pred[v] as usize;
                        amount = amount.min(r.cap[a]);
                        v = r.tail(a);
                    }
                    let mut v = t;
                    while v != s {
                        let a = search.pred[v] as usize;
                        r.cap[a] -= amount;
                        r.cap[a ^ 1] += amount;
                        v = r.tail(a);
                    }
                    excess[s] -= amount;
                    excess[t] += amount;
                }
                None => {
                    if delta == 1 {
                        return Solution::Infeasible;
                    }
                    s += 1;
                }
            }
        }
        if delta == 1 {
            break;
        }
        delta /= 2;
    }
    if excess.iter().any(|&e| e != 0) {
        return Solution::Infeasible;
    }
    let flow: Vec<i64> = net
        .arcs
        .iter()
        .enumerate()
        .map(|(i, a)| a.low + r.cap[2 * i + 1])
        .collect();
    Solution::optimal(net, flow)
}

fn push(r: &mut Residual, excess: &mut [i64], a: usize, amount: i64) {
    let u = r.tail(a);
    let v = r.to[a] as usize;
    r.cap[a] -= amount;
    r.cap[a ^ 1] += amount;
    excess[u] -= amount;
    excess[v] += amount;
}

/// Dijkstra state reused across searches; only touched entries are reset.
struct Search {
    dist: Vec<i64>,
    pred: Vec<u32>,
    done: Vec<bool>,
    touched: Vec<u32>,
    settled: Vec<u32>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
}

impl Search {
    fn new(n: usize) -> Self {
        Self {
            dist: vec![INF; n],
            pred: vec![u32::MAX; n],
            done: vec![false; n],
            touched: Vec::new(),
            settled: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Shortest path from `s` over arcs with residual ≥ Δ to the nearest node
    /// with deficit ≥ Δ (any deficit when Δ = 1); updates the potentials of
    /// the settled nodes and returns the target.
    fn run(
        &mut self,
        r: &Residual,
        pi: &mut [i64],
        excess: &[i64],
        s: usize,
        delta: i64,
    ) -> Option<usize> {
        for &v in &self.touched {
            self.dist[v as usize] = INF;
            self.done[v as usize] = false;
        }
        self.touched.clear();
        self.settled.clear();
        self.heap.clear();
        self.dist[s] = 0;
        self.touched.push(s as u32);
        self.heap.push(Reverse((0, s as u32)));
        let mut target = None;
        while let Some(Reverse((d, v))) = self.heap.pop() {
            let v = v as usize;
            if self.done[v] || d > self.dist[v] {
                continue;
            }
            self.done[v] = true;
            self.settled.push(v as u32);
            if excess[v] <= -delta || (excess[v] < 0 && delta == 1) {
                target = Some(v);
                break;
            }
            let pv = pi[v];
            for &a in &r.order[r.first[v] as usize..r.first[v + 1] as usize] {
                let a = a as usize;
                if r.cap[a] < delta {
                    continue;
                }
                let w = r.to[a] as usize;
                if self.done[w] {
                    continue;
                }
                let nd = d + r.cost[a] + pv - pi[w];
                if nd < self.dist[w] {
                    if self.dist[w] == INF {
                        self.touched.push(w as u32);
                    }
                    self.dist[w] = nd;
                    self.pred[w] = a as u32;
                    self.heap.push(Reverse((nd, w as u32)));
                }
            }
        }
        // Settled nodes move by (d - D); the rest keep theirs (an implicit
        // shift of everyone by D, which changes no reduced cost).
        let big_d = match target {
            Some(t) => self.dist[t],
            None => self.settled.last().map_or(0, |&v| self.dist[v as usize]),
        };
        for &v in &self.settled {
            pi[v as usize] += self.dist[v as usize] - big_d;
        }
        target
    }
}
