//! criterion benches: the static solve of labour-market instances, and
//! single incremental updates on a solved 100k-worker market.
//!
//! `cargo bench -p lendwork-flow` runs them; `benches/README.md` records
//! what they printed on the development machine.

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use criterion::{criterion_group, criterion_main, Criterion};
use lendwork_flow::bipartite::AssignmentSolver;
use lendwork_flow::{instances, solve, structure};

fn static_solve(c: &mut Criterion) {
    let mut group = c.benchmark_group("static_solve");
    group.sample_size(10);
    for (w, g) in [(10_000u32, 1_000u32), (100_000, 10_000)] {
        let (net, _) = instances::generate(w, g, 1);
        group.bench_function(format!("market_{w}_workers"), |b| b.iter(|| solve(&net)));
    }
    group.finish();
}

/// A solved 100k-worker market and each worker's arcs (to re-add them).
fn solved_market() -> (AssignmentSolver, Vec<Vec<(u32, i64)>>) {
    let (net, _) = instances::generate(100_000, 10_000, 1);
    let mut b = structure::recognise(&net).expect("matching shape");
    b.solver.place_all();
    let m = b.solver;
    let arcs = (0..m.worker_slots() as u32)
        .map(|w| m.worker_arcs(w).collect())
        .collect();
    (m, arcs)
}

fn incremental(c: &mut Criterion) {
    let (mut m, arcs) = solved_market();
    let mut group = c.benchmark_group("incremental_100k");
    let mut next = 0usize;
    // Add a worker (a copy of an existing one's arcs), then remove it again:
    // two updates per iteration.
    group.bench_function("add_then_remove_worker", |b| {
        b.iter(|| {
            next = (next + 7919) % arcs.len();
            let a: Vec<(u32, i64)> = arcs[next]
                .iter()
                .copied()
                .filter(|&(g, _)| m.is_live_gap(g))
                .collect();
            let w = m.add_worker(&a).unwrap();
            m.remove_worker(w).unwrap();
        })
    });
    // Withdraw a gap and post it again with the same arcs (a new index).
    group.bench_function("remove_then_add_gap", |b| {
        b.iter(|| {
            next = (next + 104_729) % m.gap_slots();
            while !m.is_live_gap(next as u32) {
                next = (next + 1) % m.gap_slots();
            }
            let g = next as u32;
            let cap = m.capacity(g);
            let ins: Vec<(u32, i64)> = m.gap_arcs(g).collect();
            m.remove_gap(g).unwrap();
            m.add_gap_with_arcs(cap, &ins).unwrap();
        })
    });
    group.bench_function("capacity_up_then_down", |b| {
        b.iter(|| {
            next = (next + 31) % m.gap_slots();
            let g = next as u32;
            if m.is_live_gap(g) {
                let cap = m.capacity(g);
                m.set_capacity(g, cap + 1).unwrap();
                m.set_capacity(g, cap).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, static_solve, incremental);
criterion_main!(benches);
