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
            prop_assert!(!reference::has_negative_residual_cycle(&net, flow));
        }
        prop_assert_eq!(ssp::solve(&net).cost(), Some(want));

        // With a lexicographic unassigned cost the solver fills as many
        // positions as petgraph's maximum flow says can be filled.
        let mut lex = AssignmentSolver::new(AssignmentSolver::lexicographic_unassigned_cost(100, 16), 100);
        for &c in &caps {
            lex.add_gap(c);
        }
        for arcs in &workers {
            lex.add_worker(arcs).unwrap();
        }
        prop_assert_eq!(lex.assigned_count() as u64, reference::max_pairs(&caps, &workers));
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

/// The live gaps (their capacities) and workers (their arcs) of `m`,
/// renumbered densely.
fn live_instance(m: &AssignmentSolver) -> (Vec<u32>, Vec<Vec<(u32, i64)>>) {
    let mut caps = Vec::new();
    let mut gmap = vec![u32::MAX; m.gap_slots()];
    for (g, slot) in gmap.iter_mut().enumerate() {
        if m.is_live_gap(g as u32) {
            *slot = caps.len() as u32;
            caps.push(m.capacity(g as u32));
        }
    }
    let workers = (0..m.worker_slots() as u32)
        .filter(|&w| m.is_live_worker(w))
        .map(|w| {
            m.worker_arcs(w)
                .map(|(g, c)| (gmap[g as usize], c))
                .collect()
        })
        .collect();
    (caps, workers)
}

/// Builds a fresh solver holding the same live gaps, workers and arcs,
/// and returns its optimum.
fn fresh_optimum(m: &AssignmentSolver) -> i128 {
    let (caps, workers) = live_instance(m);
    let mut f = AssignmentSolver::new(m.unassigned_cost(), 100);
    for c in caps {
        f.add_gap(c);
    }
    for arcs in &workers {
        f.add_worker(arcs).unwrap();
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
            if lex {
                let (caps, workers) = live_instance(&m);
                prop_assert_eq!(m.assigned_count() as u64, reference::max_pairs(&caps, &workers));
            }
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
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Larger instances, beyond brute force: the bipartite path and the
    /// general path (different algorithms) agree, with positions scarce
    /// (gap-side start) or plentiful (worker-side start).
    #[test]
    fn both_paths_agree_on_larger_instances(
        caps in proptest::collection::vec(0u32..6, 5..30),
        degrees in proptest::collection::vec(proptest::collection::vec((0usize..30, 0i64..200), 0..8), 20..150),
        bypass in prop_oneof![Just(100_000i64), 50i64..300],
        form in form(),
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
            prop_assert!(!reference::has_negative_residual_cycle(&net, flow));
            if bypass == 100_000 {
                // Lexicographic here: the most pairs petgraph can find.
                let bypassed = *flow.last().unwrap();
                prop_assert_eq!((workers.len() as i64 - bypassed) as u64, reference::max_pairs(&caps, &workers));
            }
        }
        // The same instance in another recognised or declined form.
        let form = Form { bypass_cost: bypass, ..form };
        let (net, expect) = as_form_network(&caps, &workers, &form);
        let (fast, method) = solve(&net);
        prop_assert_eq!(method == Method::Bipartite, expect, "form {:?}", form);
        let general = simplex::solve(&net);
        prop_assert_eq!(fast.cost(), general.cost(), "form {:?}", form);
        prop_assert_eq!(ssp::solve(&net).cost(), general.cost());
        if let Solution::Optimal { cost, flow } = &fast {
            prop_assert_eq!(net.check_flow(flow).unwrap(), *cost);
            prop_assert!(!reference::has_negative_residual_cycle(&net, flow));
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

/// How a matching instance is written as a network.
#[derive(Clone, Debug)]
struct Form {
    /// Supply: 0 = the workers, 1 = the positions (if fewer), 2 = between
    /// positions and workers, 3 = above the workers, 4 = below both
    /// (declined), 5 = the workers plus one.
    supply: u8,
    /// 0 = no bypass, 1 = direct, 2 = through a node, 3 = direct plus a
    /// dearer route through a node, 4 = a cheaper route narrower than the
    /// supply beside a wide one (declined).
    bypass: u8,
    bypass_cost: i64,
    source_costs: Option<Vec<i64>>,
    sink_costs: Option<Vec<i64>>,
    /// Some worker → gap arcs written twice (the dearer copy unused), and
    /// an arc of capacity 0.
    parallel: bool,
    /// Node ids shuffled by this seed (0: in order s, workers, gaps, t).
    shuffle: u64,
}

fn form() -> impl Strategy<Value = Form> {
    (
        0u8..6,
        0u8..5,
        prop_oneof![Just(1_000i64), -5i64..50],
        proptest::option::of(proptest::collection::vec(-5i64..10, 8)),
        proptest::option::of(proptest::collection::vec(-5i64..10, 4)),
        any::<bool>(),
        prop_oneof![Just(0u64), any::<u64>()],
    )
        .prop_map(
            |(supply, bypass, bypass_cost, source_costs, sink_costs, parallel, shuffle)| Form {
                supply,
                bypass,
                bypass_cost,
                source_costs,
                sink_costs,
                parallel,
                shuffle,
            },
        )
}

/// The network for a matching instance in `form`, and whether `structure`
/// should recognise it.
fn as_form_network(caps: &[u32], workers: &[Vec<(u32, i64)>], form: &Form) -> (Network, bool) {
    let (nw, ng) = (workers.len(), caps.len());
    let positions: i64 = caps
        .iter()
        .enumerate()
        .map(|(g, &c)| {
            let indeg = workers
                .iter()
                .filter(|a| a.iter().any(|x| x.0 == g as u32))
                .count();
            i64::from(c).min(indeg as i64)
        })
        .sum();
    let n_w = nw as i64;
    let floor = (workers.iter().filter(|a| !a.is_empty()).count() as i64).min(positions);
    let f = match form.supply {
        0 => n_w,
        1 => floor,
        2 => (positions + n_w) / 2,
        3 => n_w + 2,
        4 => floor - 1,
        _ => n_w + 1,
    };
    // Nodes: s, workers, gaps, t, two spare nodes for bypass routes.
    let total = nw + ng + 4;
    let mut id: Vec<u32> = (0..total as u32).collect();
    if form.shuffle != 0 {
        let mut x = form.shuffle;
        for i in (1..total).rev() {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            id.swap(i, (x >> 33) as usize % (i + 1));
        }
    }
    let (s, t) = (id[0], id[1 + nw + ng]);
    let (x1, x2) = (id[2 + nw + ng], id[3 + nw + ng]);
    let w = |i: usize| id[1 + i];
    let g = |j: u32| id[1 + nw + j as usize];
    let mut net = Network::with_nodes(total);
    if f > 0 {
        net.supply[s as usize] = f;
        net.supply[t as usize] = -f;
    }
    for (i, arcs) in workers.iter().enumerate() {
        let a = form.source_costs.as_ref().map_or(0, |c| c[i % c.len()]);
        net.add_arc(s, w(i), 1, a);
        for &(j, c) in arcs {
            net.add_arc(w(i), g(j), 1, c);
            if form.parallel && (i + j as usize) % 3 == 0 {
                net.add_arc(w(i), g(j), 1, c + 7);
                net.add_arc(w(i), g(j), 0, c - 50);
            }
        }
    }
    for (j, &c) in caps.iter().enumerate() {
        let b = form.sink_costs.as_ref().map_or(0, |k| k[j % k.len()]);
        net.add_arc(g(j as u32), t, i64::from(c), b);
    }
    let wide = f.max(1) + 1;
    let beta = form.bypass_cost;
    match form.bypass {
        0 => {}
        1 => {
            net.add_arc(s, t, wide, beta);
        }
        2 => {
            net.add_arc(s, x1, wide, beta - 3);
            net.add_arc(x1, t, wide + 4, 3);
        }
        3 => {
            net.add_arc(s, t, wide, beta);
            net.add_arc(s, x2, wide, beta + 1);
            net.add_arc(x2, t, wide, 0);
        }
        _ => {
            net.add_arc(s, t, wide, beta);
            net.add_arc(s, x1, 1, beta - 2);
            net.add_arc(x1, t, 1, 1);
        }
    }
    let narrow_cheapest = form.bypass == 4 && f > 1;
    let expect = f > 0 && !narrow_cheapest && f >= floor;
    (net, expect)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Every form of the matching shape that `structure` recognises gives
    /// the general path's optimum (network simplex, capacity scaling and
    /// cycle cancelling), its flow is feasible and costs what it says; the
    /// forms it must decline take the general path.
    #[test]
    fn every_recognised_form_equals_the_general_path(
        (caps, workers, _) in matching(),
        form in form(),
    ) {
        let (net, expect) = as_form_network(&caps, &workers, &form);
        let (sol, method) = solve(&net);
        prop_assert_eq!(method == Method::Bipartite, expect, "form {:?}", form);
        let general = simplex::solve(&net);
        prop_assert_eq!(sol.cost(), general.cost(), "form {:?}", form);
        prop_assert_eq!(ssp::solve(&net).cost(), general.cost());
        prop_assert_eq!(reference::cycle_cancelling(&net), general.cost());
        if let Solution::Optimal { cost, flow } = &sol {
            prop_assert_eq!(net.check_flow(flow).unwrap(), *cost);
            prop_assert!(!reference::has_negative_residual_cycle(&net, flow));
        }
    }
}

/// The petgraph references are not vacuous: the certificate rejects a
/// feasible flow that is not optimal, and the maximum flow counts pairs.
#[test]
fn petgraph_references_catch_what_they_should() {
    // Two workers, one gap of one position; worker 1's unit on the bypass
    // although it could fill the gap for less.
    let net = as_network(&[1], &[vec![], vec![(0, 5)]], 100);
    let bad = vec![0, 0, 0, 0, 2];
    assert!(net.check_flow(&bad).is_ok());
    assert!(reference::has_negative_residual_cycle(&net, &bad));
    let good = vec![0, 1, 1, 1, 1];
    assert_eq!(net.check_flow(&good), Ok(105));
    assert!(!reference::has_negative_residual_cycle(&net, &good));
    assert_eq!(
        reference::max_pairs(&[1, 2], &[vec![(0, 0)], vec![(0, 0)], vec![(1, 0)]]),
        2
    );
}
