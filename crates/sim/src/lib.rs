//! # lendwork-sim
//!
//! A synthetic but plausible shared-employment market as JSONL events (what
//! `lendwork simulate` writes), for demos, tests and benchmarks.
//!
//! ```
//! use lendwork_sim::{simulate, SimConfig};
//!
//! let mut out = Vec::new();
//! let n = simulate(&SimConfig { workers: 100, gaps: 10, ..Default::default() }, &mut out, &mut |_| {}).unwrap();
//! assert!(n >= 110);
//! ```
//!
//! The same seed gives the same bytes: one PCG stream drives every choice,
//! hash maps are only looked up, never iterated, and floats are rounded
//! before they are written.
//!
//! The shape of the market:
//! * regions carry real Gansu division codes (`620100` Lanzhou, …; more
//!   regions get synthetic codes), each with 3–5 districts where homes and
//!   sites cluster (a Gaussian of a few km around each district centre);
//! * enterprises per region lend (manufacturing with surplus staff) or borrow
//!   (logistics, retail, food, care, construction); a few do both, so the
//!   no-lending-to-yourself rule has work to do;
//! * 60 % of workers are lent employees (10 % of them without consent, some
//!   with a contract ending early); 40 % are flexible workers registered by an
//!   agency, half of them in a policy priority group;
//! * skills come from the enterprise's industry, levels skew low, the
//!   certificates follow the skills;
//! * offers and shortages arrive evenly over `--days`; later events follow in
//!   time order: profile updates, withdrawals, and for some shortages a few
//!   proposals of workers that really are eligible (checked with the domain's
//!   rules against recent workers of the same district), then acceptances,
//!   declines, expiries, starts and ends.
//!
//! Memory stays flat in the number of workers: only a small ring of recent
//! workers per district and the queue of future events are kept.

use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Write};

use lendwork_domain::*;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

mod config;
mod lifecycle;
mod output;
mod people;
mod regions;
#[cfg(test)]
mod tests;
mod work;

pub use config::SimConfig;
pub use lifecycle::answer;
pub use work::Planted;

use lifecycle::Due;
use regions::RegionPlan;

/// The simulated market as events in memory (for tests and benchmarks;
/// [`simulate`] streams them instead).
pub fn events(cfg: &SimConfig) -> Vec<Event> {
    let mut out = Vec::new();
    simulate(cfg, &mut out, &mut |_| {}).expect("writing to memory");
    String::from_utf8(out)
        .expect("the simulator writes UTF-8")
        .lines()
        .map(|l| Event::from_json(l).expect("the simulator writes valid events"))
        .collect()
}

/// The simulated market with work and pay ([`SimConfig::work`] on), and
/// the breaches it planted: for each, the assignment, the pay period's
/// first day and the flags the ledger must show for it when judged long
/// after every period closed.
pub fn events_with_breaches(cfg: &SimConfig) -> (Vec<Event>, Vec<Planted>) {
    let cfg = SimConfig {
        work: true,
        ..cfg.clone()
    };
    let mut out = Vec::new();
    let mut sim = Sim::new(&cfg);
    sim.run(&mut out, &mut |_| {}).expect("writing to memory");
    let events = String::from_utf8(out)
        .expect("the simulator writes UTF-8")
        .lines()
        .map(|l| Event::from_json(l).expect("the simulator writes valid events"))
        .collect();
    (events, std::mem::take(&mut sim.planted))
}

/// Streams the market to `out` and returns the number of events written.
/// `progress` is called now and then with the number of offers and
/// shortages written so far.
pub fn simulate(
    cfg: &SimConfig,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> io::Result<u64> {
    let mut sim = Sim::new(cfg);
    sim.run(out, progress)?;
    Ok(sim.seq)
}

/// A recent worker of a district, kept for the simulation's own proposals.
struct Recent {
    offer: WorkerOffered,
    leaving: bool,
}

/// The simulator's state while it writes one market.
struct Sim<'a> {
    cfg: &'a SimConfig,
    rng: Pcg64Mcg,
    regions: Vec<RegionPlan>,
    /// Recent workers per (region, district): a ring, for proposals.
    recent: Vec<Vec<Vec<Recent>>>,
    ring_pos: Vec<Vec<usize>>,
    /// Windows each proposed worker is busy in (rule 9).
    busy: HashMap<WorkerId, Vec<Window>>,
    /// Full text of scheduled re-offers and proposals.
    bodies: HashMap<Box<str>, EventKind>,
    /// What the simulation's own proposals need to be carried through:
    /// whether the worker has a lender, the agreement's hash, the window.
    deals: HashMap<MatchId, lifecycle::Deal>,
    /// Breaches of the pay rules planted so far (with `work`).
    planted: Vec<Planted>,
    queue: BinaryHeap<Due>,
    seq: u64,
    sched: u64,
}

impl<'a> Sim<'a> {
    fn new(cfg: &'a SimConfig) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(cfg.seed);
        let regions = regions::plan(cfg, &mut rng);
        let recent = regions
            .iter()
            .map(|r| r.districts.iter().map(|_| Vec::new()).collect())
            .collect();
        let ring_pos = regions.iter().map(|r| vec![0; r.districts.len()]).collect();
        Self {
            cfg,
            rng,
            regions,
            recent,
            ring_pos,
            busy: HashMap::new(),
            bodies: HashMap::new(),
            deals: HashMap::new(),
            planted: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            sched: 0,
        }
    }
}
