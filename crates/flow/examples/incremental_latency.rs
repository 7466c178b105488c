//! Latency of single incremental updates on a solved labour market:
//! median, p99 and max over a stream of random updates, each timed alone.
//!
//! ```sh
//! cargo run --release -p lendwork-flow --example incremental_latency -- 100000 2000
//! ```
//! (workers, updates). A third argument, a DIMACS file of the matching
//! shape (e.g. from `benches/labour_families.py`), is solved instead of a
//! generated market (the workers argument is then ignored). Each update is
//! checked against nothing here; the property tests prove that
//! incremental results equal fresh solves.

use std::time::Instant;

use lendwork_flow::{dimacs, instances, structure};

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<u64> = raw
        .iter()
        .take(2)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let workers = args.first().copied().unwrap_or(100_000) as u32;
    let updates = args.get(1).copied().unwrap_or(2_000) as usize;
    let net = match raw.get(2) {
        Some(path) => {
            let file = std::fs::File::open(path).expect("readable file");
            dimacs::read(std::io::BufReader::new(file)).expect("a DIMACS problem")
        }
        None => instances::generate(workers, workers / 10, 1).0,
    };
    let t = Instant::now();
    let mut b = structure::recognise(&net).expect("matching shape");
    b.solver.place_all();
    let mut m = b.solver;
    eprintln!(
        "loaded and solved {} workers in {:.3} s",
        m.worker_slots(),
        t.elapsed().as_secs_f64()
    );
    let arcs: Vec<Vec<(u32, i64)>> = (0..m.worker_slots() as u32)
        .map(|w| m.worker_arcs(w).collect())
        .collect();
    let mut kinds: Vec<(&str, Vec<f64>)> = [
        "add worker",
        "remove worker",
        "add gap",
        "remove gap",
        "capacity change",
    ]
    .iter()
    .map(|k| (*k, Vec::new()))
    .collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rnd = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for i in 0..updates {
        match i % 5 {
            0 => {
                // A copy of some worker, over the gaps that still exist.
                let a: Vec<(u32, i64)> = arcs[rnd(arcs.len())]
                    .iter()
                    .copied()
                    .filter(|&(g, _)| m.is_live_gap(g))
                    .collect();
                let t = Instant::now();
                m.add_worker(&a).unwrap();
                kinds[0].1.push(t.elapsed().as_secs_f64());
            }
            1 => {
                let mut w = rnd(m.worker_slots()) as u32;
                while !m.is_live_worker(w) {
                    w = (w + 1) % m.worker_slots() as u32;
                }
                let t = Instant::now();
                m.remove_worker(w).unwrap();
                kinds[1].1.push(t.elapsed().as_secs_f64());
            }
            2 | 3 => {
                let mut g = rnd(m.gap_slots()) as u32;
                while !m.is_live_gap(g) {
                    g = (g + 1) % m.gap_slots() as u32;
                }
                let cap = m.capacity(g);
                let ins: Vec<(u32, i64)> = m.gap_arcs(g).collect();
                let t = Instant::now();
                m.remove_gap(g).unwrap();
                kinds[3].1.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                m.add_gap_with_arcs(cap, &ins).unwrap();
                kinds[2].1.push(t.elapsed().as_secs_f64());
            }
            _ => {
                let mut g = rnd(m.gap_slots()) as u32;
                while !m.is_live_gap(g) {
                    g = (g + 1) % m.gap_slots() as u32;
                }
                let cap = m.capacity(g);
                let new = if cap > 1 && rnd(2) == 0 {
                    cap - 1
                } else {
                    cap + 1
                };
                let t = Instant::now();
                m.set_capacity(g, new).unwrap();
                kinds[4].1.push(t.elapsed().as_secs_f64());
            }
        }
    }
    let mut all = Vec::new();
    println!(
        "{:<16} {:>7} {:>10} {:>10} {:>10}",
        "update", "count", "median ms", "p99 ms", "max ms"
    );
    for (name, mut v) in kinds {
        all.extend_from_slice(&v);
        print_row(name, &mut v);
    }
    print_row("all", &mut all);
}

fn print_row(name: &str, v: &mut [f64]) {
    if v.is_empty() {
        return;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] * 1e3;
    println!(
        "{name:<16} {:>7} {:>10.3} {:>10.3} {:>10.3}",
        v.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
}
