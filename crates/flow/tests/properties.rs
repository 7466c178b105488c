//! Property tests of both solvers against independent references, and of
//! every incremental update sequence against a fresh solve.

mod reference;

use lendwork_flow::bipartite::AssignmentSolver;
use lendwork_flow::network::{Arc, Network};
use lendwork_flow::{simplex, solve, ssp, Method, Solution};
use proptest::prelude::*;

fn general_network() -> impl Strategy<Value = Network> {
    (2usize..7).prop_flat_map(|n| {
        let arc = (0..n as u32, 0..n as u32, 0i64..3, 0i64..6, -8i64..12);
        (
            proptest::collection::vec(arc, 0..14),
            proptest::collection::vec(-6i64..7, n - 1),
        )
            .prop_map(move |(arcs, sup)| {
                let mut supply = sup;
                let last = -supply.iter().sum::<i64>();
                supply.push(last);
                let arcs = arcs
                    .into_iter()
                    .filter(|a| a.0 != a.1)
                    .map(|(from, to, low, extra, cost)| Arc {
                        from,
                        to,
                        low: low.min(1),
                        cap: low.min(1) + extra,
                        cost,
                    })
                    .collect();
                Network { supply, arcs }
            })
    })
}

/// A tiny matching instance: gap capacities, each worker's arcs, and the
/// unassigned cost.
type Instance = (Vec<u32>, Vec<Vec<(u32, i64)>>, i64);

fn matching() -> impl Strategy<Value = Instance> {
    (1usize..4, 1usize..7).prop_flat_map(|(g, w)| {
        (
            proptest::collection::vec(0u32..3, g),
            proptest::collection::vec(
                proptest::collection::btree_map(0..g as u32, -5i64..40, 0..=g.min(3))
                    .prop_map(|m| m.into_iter().collect::<Vec<_>>()),
                w,
            ),
            prop_oneof![Just(1_000i64), 0i64..50],
        )
    })
}

fn as_network(caps: &[u32], workers: &[Vec<(u32, i64)>], bypass: i64) -> Network {
    // s = 0, workers 1..=W, gaps after, t last.
    let (nw, ng) = (workers.len(), caps.len());
    let t = (1 + nw + ng) as u32;
    let mut net = Network::with_nodes(nw + ng + 2);
    net.supply[0] = nw as i64;
    net.supply[t as usize] = -(nw as i64);
    for (i, arcs) in workers.iter().enumerate() {
        net.add_arc(0, 1 + i as u32, 1, 0);
        for &(g, c) in arcs {
            net.add_arc(1 + i as u32, 1 + nw as u32 + g, 1, c);
        }
    }
    for (g, &c) in caps.iter().enumerate() {
        net.add_arc(1 + nw as u32 + g as u32, t, i64::from(c), 0);
    }
    net.add_arc(0, t, nw as i64, bypass);
    net
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The general solver matches cycle cancelling, and its flow is
    /// feasible and costs what it says.
    #[test]
    fn general_solver_is_optimal(net in general_network()) {
        let want = reference::cycle_cancelling(&net);
        for got in [ssp::solve(&net), simplex::solve(&net)] {
            prop_assert_eq!(got.cost(), want);
            if let Solution::Optimal { cost, flow } = &got {
                prop_assert_eq!(net.check_flow(flow).unwrap(), *cost);
            }
        }
    }

    /// The assignment solver matches brute force, and the DIMACS form of
    /// the same instance gives the same optimum on both paths.
    #[test]
    fn assignment_solver_is_optimal((caps, workers, u) in matching()) {
        let want = reference::brute_force_matching(&caps, &workers, u);
        let mut m = AssignmentSolver::new(u, 100);
        for &c in &caps {
            m.add_gap(c);
        }
        for arcs in &workers {
            m.add_worker(arcs).unwrap();
        }
        m.check_invariants().unwrap();
        prop_assert_eq!(m.objective(), want);

        let net = as_network(&caps, &workers, u);
        let (sol, method) = solve(&net);
        prop_assert_eq!(method, Method::Bipartite);
        prop_assert_eq!(sol.cost(), Some(want));
        if let Solution::Optimal { cost, flow } = &sol {
            prop_assert_eq!(net.check_flow(flow).unwrap(), *cost);
        }
        prop_assert_eq!(ssp::solve(&net).cost(), Some(want));
    }
}

#[derive(Clone, Debug)]
enum Op {
    AddWorker(Vec<(usize, i64)>),
    RemoveWorker(usize),
    AddGap(u32, Vec<(usize, i64)>),
    RemoveGap(usize),
    SetCapacity(usize, u32),
    SetArc(usize, usize, Option<i64>),
    Commit(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let arcs = || proptest::collection::vec((0usize..8, 0i64..60), 0..4);
    prop_oneof![
        3 => arcs().prop_map(Op::AddWorker),
        1 => (0usize..16).prop_map(Op::RemoveWorker),
        1 => (0u32..4, arcs()).prop_map(|(c, a)| Op::AddGap(c, a)),
        1 => (0usize..8).prop_map(Op::RemoveGap),
        1 => (0usize..8, 0u32..4).prop_map(|(g, c)| Op::SetCapacity(g, c)),
        2 => (0usize..16, 0usize..8, proptest::option::of(0i64..60)).prop_map(|(w, g, c)| Op::SetArc(w, g, c)),
        1 => (0usize..16).prop_map(Op::Commit),
    ]
}

/// Builds a fresh solver holding the same live gaps, workers and arcs,
/// and returns its optimum.
fn fresh_optimum(m: &AssignmentSolver) -> i128 {
    let mut f = AssignmentSolver::new(m.unassigned_cost(), 100);
    let mut gmap = vec![u32::MAX; m.gap_slots()];
    for (g, slot) in gmap.iter_mut().enumerate() {
        if m.is_live_gap(g as u32) {
            *slot = f.add_gap(m.capacity(g as u32));
        }
    }
    for w in 0..m.worker_slots() as u32 {
        if m.is_live_worker(w) {
            let arcs: Vec<_> = m
                .worker_arcs(w)
                .map(|(g, c)| (gmap[g as usize], c))
                .collect();
            f.add_worker(&arcs).unwrap();
        }
    }
    f.objective()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Every sequence of incremental updates ends (and passes through)
    /// the same optimum as a fresh solve, with the optimality certificate
    /// intact after every step.
    #[test]
    fn incremental_updates_equal_a_fresh_solve(ops in proptest::collection::vec(op(), 1..40), lex in any::<bool>()) {
        let u = if lex {
            AssignmentSolver::lexicographic_unassigned_cost(100, 64)
        } else {
            25
        };
        let mut m = AssignmentSolver::new(u, 100);
        let (mut workers, mut gaps): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        for g in 0..3 {
            gaps.push(m.add_gap(g % 3 + 1));
        }
        for op in ops {
            let pick = |v: &Vec<u32>, i: usize| if v.is_empty() { None } else { Some(v[i % v.len()]) };
            match op {
                Op::AddWorker(arcs) => {
                    if gaps.is_empty() { continue; }
                    let arcs: Vec<_> = arcs.into_iter().map(|(g, c)| (gaps[g % gaps.len()], c)).collect();
                    workers.push(m.add_worker(&arcs).unwrap());
                }
                Op::RemoveWorker(i) => {
                    if let Some(w) = pick(&workers, i) {
                        m.remove_worker(w).unwrap();
                        workers.retain(|&x| x != w);
                    }
                }
                Op::AddGap(cap, arcs) => {
                    let arcs: Vec<_> = arcs.into_iter().filter_map(|(w, c)| pick(&workers, w).map(|w| (w, c))).collect();
                    gaps.push(m.add_gap_with_arcs(cap, &arcs).unwrap());
                }
                Op::RemoveGap(i) => {
                    if let Some(g) = pick(&gaps, i) {
                        m.remove_gap(g).unwrap();
                        gaps.retain(|&x| x != g);
                    }
                }
                Op::SetCapacity(i, c) => {
                    if let Some(g) = pick(&gaps, i) { m.set_capacity(g, c).unwrap(); }
                }
                Op::Commit(i) => {
                    if let Some(w) = pick(&workers, i) {
                        if m.assignment(w).is_some() {
                            m.commit(w).unwrap();
                            workers.retain(|&x| x != w);
                        } else {
                            prop_assert!(m.commit(w).is_err());
                        }
                    }
                }
                Op::SetArc(wi, gi, c) => {
                    if let (Some(w), Some(g)) = (pick(&workers, wi), pick(&gaps, gi)) {
                        m.set_arc(w, g, c).unwrap();
                    }
                }
            }
            m.check_invariants().map_err(TestCaseError::fail)?;
            prop_assert_eq!(m.objective(), fresh_optimum(&m));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Crowded gaps: hundreds of workers come and go on a few gaps, so the
    /// gaps' arc lists are re-sorted and compacted many times over (their
    /// unsorted tails merged into sorted prefixes); the certificate and the
    /// optimum hold throughout.
    #[test]
    fn crowded_gaps_stay_optimal(ops in proptest::collection::vec((0u8..10, 0usize..400, 0i64..100, 0i64..100), 50..400)) {
        let u = AssignmentSolver::lexicographic_unassigned_cost(100, 1024);
        let mut m = AssignmentSolver::new(u, 100);
        let gaps = [m.add_gap(5), m.add_gap(3)];
        let mut workers: Vec<u32> = Vec::new();
        for (i, (kind, pick, c1, c2)) in ops.into_iter().enumerate() {
            match kind {
                0..=5 => workers.push(m.add_worker(&[(gaps[0], c1), (gaps[1], c2)]).unwrap()),
                6 => workers.push(m.add_worker(&[(gaps[pick % 2], c1)]).unwrap()),
                7 | 8 if !workers.is_empty() => {
                    let w = workers.swap_remove(pick % workers.len());
                    m.remove_worker(w).unwrap();
                }
                _ if !workers.is_empty() => {
                    let w = workers[pick % workers.len()];
                    if m.assignment(w).is_some() {
                        m.commit(w).unwrap();
                        workers.retain(|&x| x != w);
                    }
                }
                _ => {}
            }
            m.check_invariants().map_err(TestCaseError::fail)?;
            if i % 16 == 0 {
                prop_assert_eq!(m.objective(), fresh_optimum(&m));
            }
        }
        prop_assert_eq!(m.objective(), fresh_optimum(&m));
    }
}

#[test]
fn removed_nodes_are_refused() {
    let mut m = AssignmentSolver::new(1000, 100);
    let g = m.add_gap(1);
    let w = m.add_worker(&[(g, 5)]).unwrap();
    m.remove_worker(w).unwrap();
    assert!(m.remove_worker(w).is_err());
    m.remove_gap(g).unwrap();
    assert!(m.add_worker(&[(g, 1)]).is_err());
    assert!(m.add_worker(&[(99, 1)]).is_err());
    let g2 = m.add_gap(1);
    assert!(m.add_worker(&[(g2, 101)]).is_err(), "cost beyond the bound");
}

#[test]
fn infeasible_networks_are_reported() {
    let mut net = Network::with_nodes(3);
    net.supply = vec![5, 0, -5];
    net.add_arc(0, 1, 3, 1);
    net.add_arc(1, 2, 3, 1);
    assert_eq!(ssp::solve(&net), Solution::Infeasible);
    net.supply = vec![5, 0, -4];
    assert_eq!(ssp::solve(&net), Solution::Infeasible, "unbalanced");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Larger instances, beyond brute force: the bipartite path and the
    /// general path (different algorithms) agree, with positions scarce
    /// (gap-side start) or plentiful (worker-side start).
    #[test]
    fn both_paths_agree_on_larger_instances(
        caps in proptest::collection::vec(0u32..6, 5..30),
        degrees in proptest::collection::vec(proptest::collection::vec((0usize..30, 0i64..200), 0..8), 20..150),
        bypass in prop_oneof![Just(100_000i64), 50i64..300],
    ) {
        let workers: Vec<Vec<(u32, i64)>> = degrees
            .into_iter()
            .map(|arcs| {
                let mut m = std::collections::BTreeMap::new();
                for (g, c) in arcs {
                    m.entry((g % caps.len()) as u32).or_insert(c);
                }
                m.into_iter().collect()
            })
            .collect();
        let net = as_network(&caps, &workers, bypass);
        let (fast, method) = solve(&net);
        prop_assert_eq!(method, Method::Bipartite);
        let general = simplex::solve(&net);
        prop_assert_eq!(fast.cost(), general.cost());
        prop_assert_eq!(ssp::solve(&net).cost(), general.cost());
        if let Solution::Optimal { cost, flow } = &fast {
            prop_assert_eq!(net.check_flow(flow).unwrap(), *cost);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The DIMACS reader refuses garbage with a line number and never
    /// panics, including on near-valid input.
    #[test]
    fn dimacs_reader_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                "[pnac] [-0-9a-z ]{0,24}",
                Just("p min 3 2".to_owned()),
                "a [0-4] [0-4] [-1-9] [0-9]{1,3} -?[0-9]{1,12}",
                "n [0-4] -?[0-9]{1,20}",
                "\\PC{0,30}",
            ],
            0..8,
        )
    ) {
        let text = lines.join("\n");
        match lendwork_flow::dimacs::read(text.as_bytes()) {
            Ok(net) => {
                // Whatever parses, solves without panicking.
                let _ = lendwork_flow::solve(&net);
            }
            Err(e) => {
                let msg = e.to_string();
                let line: u64 = msg.split(':').next().unwrap().parse().expect("starts with a line number");
                prop_assert!(line >= 1);
            }
        }
    }
}
