//! Independent reference algorithms for the property tests: brute force for
//! tiny matchings, and cycle cancelling (feasible flow by Edmonds–Karp, then
//! Bellman–Ford negative-cycle cancelling) for general networks. Slow and
//! simple on purpose: they share no code or idea with the solvers under test.

#![allow(dead_code)]

use lendwork_flow::network::Network;

/// Minimum objective over all assignments: each worker takes one of its
/// arcs or stays unassigned at `unassigned_cost`; gaps hold `caps[g]`.
pub fn brute_force_matching(
    caps: &[u32],
    workers: &[Vec<(u32, i64)>],
    unassigned_cost: i64,
) -> i128 {
    fn go(
        i: usize,
        caps: &mut [u32],
        workers: &[Vec<(u32, i64)>],
        u: i64,
        acc: i128,
        best: &mut i128,
    ) {
        if acc >= *best
            && i < workers.len()
            && u >= 0
            && workers[i..].iter().all(|a| a.iter().all(|x| x.1 >= 0))
        {
            return;
        }
        if i == workers.len() {
            *best = (*best).min(acc);
            return;
        }
        go(i + 1, caps, workers, u, acc + i128::from(u), best);
        for &(g, c) in &workers[i] {
            if caps[g as usize] > 0 {
                caps[g as usize] -= 1;
                go(i + 1, caps, workers, u, acc + i128::from(c), best);
                caps[g as usize] += 1;
            }
        }
    }
    let mut best = i128::MAX;
    go(
        0,
        &mut caps.to_vec(),
        workers,
        unassigned_cost,
        0,
        &mut best,
    );
    best
}

/// Optimal cost of a general network by cycle cancelling, or None when
/// infeasible. Lower bounds are supported.
pub fn cycle_cancelling(net: &Network) -> Option<i128> {
    let n = net.node_count();
    // Residual arcs: (from, to, cap, cost), pairs at i and i^1.
    let (ss, tt) = (n, n + 1);
    let mut arcs: Vec<(usize, usize, i64, i64)> = Vec::new();
    let mut b: Vec<i64> = net.supply.clone();
    for a in &net.arcs {
        b[a.from as usize] -= a.low;
        b[a.to as usize] += a.low;
        arcs.push((a.from as usize, a.to as usize, a.cap - a.low, a.cost));
        arcs.push((a.to as usize, a.from as usize, 0, -a.cost));
    }
    if b.iter().sum::<i64>() != 0 {
        return None;
    }
    let first_extra = arcs.len();
    let mut need = 0;
    for (v, &bv) in b.iter().enumerate() {
        if bv > 0 {
            arcs.push((ss, v, bv, 0));
            arcs.push((v, ss, 0, 0));
            need += bv;
        } else if bv < 0 {
            arcs.push((v, tt, -bv, 0));
            arcs.push((tt, v, 0, 0));
        }
    }
    // Edmonds–Karp from ss to tt.
    let total = n + 2;
    let mut got = 0;
    loop {
        let mut pred = vec![usize::MAX; total];
        let mut q = std::collections::VecDeque::from([ss]);
        let mut seen = vec![false; total];
        seen[ss] = true;
        while let Some(u) = q.pop_front() {
            for (i, a) in arcs.iter().enumerate() {
                if a.0 == u && a.2 > 0 && !seen[a.1] {
                    seen[a.1] = true;
                    pred[a.1] = i;
                    q.push_back(a.1);
                }
            }
        }
        if !seen[tt] {
            break;
        }
        let mut f = i64::MAX;
        let mut v = tt;
        while v != ss {
            f = f.min(arcs[pred[v]].2);
            v = arcs[pred[v]].0;
        }
        let mut v = tt;
        while v != ss {
            let i = pred[v];
            arcs[i].2 -= f;
            arcs[i ^ 1].2 += f;
            v = arcs[i].0;
        }
        got += f;
    }
    if got != need {
        return None;
    }
    arcs.truncate(first_extra);
    // Cancel negative cycles (Bellman–Ford from a virtual root).
    loop {
        let mut dist = vec![0i64; n];
        let mut pred = vec![usize::MAX; n];
        let mut last = usize::MAX;
        for _ in 0..n {
            last = usize::MAX;
            for (i, a) in arcs.iter().enumerate() {
                if a.2 > 0 && dist[a.0] + a.3 < dist[a.1] {
                    dist[a.1] = dist[a.0] + a.3;
                    pred[a.1] = i;
                    last = a.1;
                }
            }
        }
        if last == usize::MAX {
            break;
        }
        let mut v = last;
        for _ in 0..n {
            v = arcs[pred[v]].0;
        }
        let start = v;
        let mut cyc = Vec::new();
        loop {
            let i = pred[v];
            cyc.push(i);
            v = arcs[i].0;
            if v == start {
                break;
            }
        }
        let f = cyc.iter().map(|&i| arcs[i].2).min().unwrap();
        for &i in &cyc {
            arcs[i].2 -= f;
            arcs[i ^ 1].2 += f;
        }
    }
    let mut cost: i128 = 0;
    for (k, a) in net.arcs.iter().enumerate() {
        let flow = a.low + arcs[2 * k + 1].2;
        cost += i128::from(flow) * i128::from(a.cost);
    }
    Some(cost)
}

/// The most pairs a matching can make — workers with one unit each, gaps
/// holding `caps[g]` — by petgraph's Dinic maximum flow on
/// source → worker → gap → sink. It knows nothing of costs, so it checks
/// the "most positions filled" half of the lexicographic objective.
pub fn max_pairs(caps: &[u32], workers: &[Vec<(u32, i64)>]) -> u64 {
    use petgraph::graph::{DiGraph, NodeIndex};
    let (nw, ng) = (workers.len(), caps.len());
    let mut g = DiGraph::<(), u64>::with_capacity(nw + ng + 2, 0);
    let nodes: Vec<NodeIndex> = (0..nw + ng + 2).map(|_| g.add_node(())).collect();
    let (s, t) = (nodes[nw + ng], nodes[nw + ng + 1]);
    for (w, arcs) in workers.iter().enumerate() {
        g.add_edge(s, nodes[w], 1);
        for &(gap, _) in arcs {
            g.add_edge(nodes[w], nodes[nw + gap as usize], 1);
        }
    }
    for (gap, &c) in caps.iter().enumerate() {
        g.add_edge(nodes[nw + gap], t, u64::from(c));
    }
    petgraph::algo::dinics(&g, s, t).0
}

/// Whether `flow` on `net` leaves a negative cycle in the residual graph
/// (petgraph's Bellman–Ford from a root joined to every node). A feasible
/// flow without one is optimal, so this certifies any solver's answer
/// without solving the problem again.
pub fn has_negative_residual_cycle(net: &Network, flow: &[i64]) -> bool {
    use petgraph::graph::DiGraph;
    let n = net.node_count();
    let mut g = DiGraph::<(), f64>::with_capacity(n + 1, 2 * net.arcs.len() + n);
    let nodes: Vec<_> = (0..=n).map(|_| g.add_node(())).collect();
    for (a, &f) in net.arcs.iter().zip(flow) {
        let (u, v) = (nodes[a.from as usize], nodes[a.to as usize]);
        if f < a.cap {
            g.add_edge(u, v, a.cost as f64);
        }
        if f > a.low {
            g.add_edge(v, u, -a.cost as f64);
        }
    }
    for &v in &nodes[..n] {
        g.add_edge(nodes[n], v, 0.0);
    }
    petgraph::algo::find_negative_cycle(&g, nodes[n]).is_some()
}
