//! Engine throughput and re-match latency on a simulated region.
//!
//! ```sh
//! cargo run --release -p lendwork-engine --example throughput -- 100000 20000
//! ```
//! (workers, gaps[, batch]; one region). Every event is applied and, after
//! every `batch` events (default 1), a matching round runs; each event's
//! apply (+ round) is timed alone. Prints events per second over the whole
//! stream and the median, p99 and max latency of one event's apply + round,
//! then the size of the final engine's snapshot and the time to take and
//! restore it.
//!
//! It allocates with mimalloc, as the `lendwork` binary that runs the engine
//! does (glibc's malloc was a tenth of this example's time).

use std::time::Instant;

use lendwork_domain::Event;
use lendwork_engine::{Engine, EngineConfig};
use lendwork_sim::{simulate, SimConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let workers = args.first().copied().unwrap_or(100_000);
    let gaps = args.get(1).copied().unwrap_or(20_000);
    let batch = args.get(2).copied().unwrap_or(1).max(1) as usize;
    let mut jsonl = Vec::new();
    let cfg = SimConfig {
        regions: 1,
        workers,
        gaps,
        seed: 1,
        ..Default::default()
    };
    simulate(&cfg, &mut jsonl, &mut |_| {}).expect("in memory");
    let events: Vec<Event> = std::str::from_utf8(&jsonl)
        .expect("utf-8")
        .lines()
        .map(|l| Event::from_json(l).expect("the simulator writes valid events"))
        .collect();
    drop(jsonl);
    let mut engine = Engine::new(EngineConfig::default());
    let mut lat = Vec::with_capacity(events.len());
    let mut proposals = 0usize;
    let t0 = Instant::now();
    for (i, e) in events.iter().enumerate() {
        let t = Instant::now();
        engine.apply(e);
        if (i + 1) % batch == 0 || i + 1 == events.len() {
            proposals += engine.round(e.at).len();
        }
        lat.push(t.elapsed().as_secs_f64());
    }
    let total = t0.elapsed().as_secs_f64();
    let n = events.len();
    let m = engine.markets().next().expect("one region");
    println!(
        "{n} events ({} workers, {} gaps at the end), rounds every {batch} events, {proposals} proposals made, {:.2} s: {:.0} events/s",
        m.worker_count(),
        m.gap_count(),
        total,
        n as f64 / total
    );
    println!("{:?}; solver {:?}", m.stats, m.solver_stats());
    let report = |name: &str, v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] * 1e3;
        println!(
            "{name:<28} median {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            q(0.5),
            q(0.99),
            q(1.0)
        );
    };
    let mut second_half = lat[n / 2..].to_vec();
    report("apply + round, all events", &mut lat);
    report("apply + round, second half", &mut second_half);
    // What a snapshot of this market costs (the streaming matcher's
    // rebuilds start from one).
    let t = Instant::now();
    let bytes = engine.snapshot();
    let take = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let restored = Engine::restore(&bytes, &EngineConfig::default()).expect("restores");
    let restore = t.elapsed().as_secs_f64();
    drop(restored);
    println!(
        "snapshot                     {:.1} MB ({:.0} bytes per event), take {:.3} s, restore {:.3} s (the replay took {total:.2} s)",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / n as f64,
        take,
        restore
    );
}
