//! Any sequence of valid events — workers and gaps moving between regions,
//! re-posted with other headcounts, decisions on unknown or finished
//! proposals, duplicates — never panics the engine and never breaks its
//! invariants. (The optimality and rule properties are in properties.rs.)

mod common;

use common::*;
use lendwork_domain::*;
use lendwork_engine::{Engine, EngineConfig};
use proptest::prelude::*;

fn kinds() -> impl Strategy<Value = (u8, u8, u8, u8, u8)> {
    (0u8..9, 0u8..6, 0u8..2, 0u8..5, 0u8..4)
}

fn event(seq: &mut Seq, e: &Engine, (k, id, region, a, b): (u8, u8, u8, u8, u8)) -> Event {
    let r = Region::new(["620100", "620200"][region as usize]).unwrap();
    let standing: Vec<MatchId> = e.proposals().map(|p| p.proposed.match_id.clone()).collect();
    let m = if standing.is_empty() || a == 4 {
        MatchId::new(format!("unknown-{a}")).unwrap()
    } else {
        standing[(a as usize * 7 + b as usize) % standing.len()].clone()
    };
    let kind = match k {
        0 | 1 => {
            let mut w = worker(&format!("w{id}"), f64::from(a));
            w.region = r;
            w.available = window("2026-03-01", ["2026-04-30", "2026-12-31"][b as usize % 2]);
            EventKind::WorkerOffered(w)
        }
        2 => {
            let mut g = gap(
                &format!("g{id}"),
                i64::from(a) + 1,
                window(["2026-04-01", "2026-05-01"][b as usize % 2], "2026-05-20"),
            );
            g.region = r;
            EventKind::ShortagePosted(g)
        }
        3 => EventKind::WorkerWithdrawn(WorkerWithdrawn {
            worker_id: WorkerId::new(format!("w{id}")).unwrap(),
            reason: Reason::new("").unwrap(),
        }),
        4 => EventKind::ShortageWithdrawn(ShortageWithdrawn {
            gap_id: GapId::new(format!("g{id}")).unwrap(),
            reason: Reason::new("").unwrap(),
        }),
        5 => EventKind::MatchAccepted(MatchDecision {
            match_id: m,
            by: Party::Lender,
            reason: None,
        }),
        6 => EventKind::MatchDeclined(MatchDecision {
            match_id: m,
            by: Party::Borrower,
            reason: None,
        }),
        7 => EventKind::AssignmentStarted(MatchRef { match_id: m }),
        _ => EventKind::AssignmentEnded(AssignmentEnded {
            match_id: m,
            outcome: [
                Outcome::Completed,
                Outcome::Returned,
                Outcome::NoShow,
                Outcome::Cancelled,
            ][b as usize],
            by: None,
            reason: None,
        }),
    };
    seq.ev(kind)
}

/// Runs the sequence as the property below does, restoring the engine from
/// its own snapshot after every `restore_every` events when given, and
/// returns everything the engine said.
fn transcript(
    steps: &[(u8, u8, u8, u8, u8)],
    every: usize,
    restore_every: Option<usize>,
) -> String {
    let config = EngineConfig::default();
    let mut e = Engine::new(config.clone());
    let mut seq = Seq(0);
    let mut log = String::new();
    for (i, s) in steps.iter().enumerate() {
        let ev = event(&mut seq, &e, *s);
        log.push_str(&format!("{:?} {:?}\n", e.apply(&ev), e.apply(&ev)));
        let mut out = Vec::new();
        if i % every == 0 {
            out = e.round(ev.at);
        }
        if i % 7 == 0 {
            out.extend(
                e.expire(Timestamp::from_unix_seconds(ev.at.unix_seconds() + 3 * 86_400).unwrap()),
            );
        }
        for o in &out {
            log.push_str(&o.to_json());
            log.push('\n');
        }
        if restore_every.is_some_and(|n| (i + 1) % n == 0) {
            e = Engine::restore(&e.snapshot(), &config).expect("restores");
        }
    }
    for p in e.proposals() {
        log.push_str(&serde_json::to_string(p).unwrap());
        log.push('\n');
    }
    log
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Workers and gaps moving between regions, duplicates and decisions
    /// on unknown proposals, with snapshots restored along the way: the
    /// restored engine says what the original says.
    #[test]
    fn a_restored_snapshot_goes_on_as_the_original(steps in proptest::collection::vec(kinds(), 1..80), every in 1usize..4, restore in 1usize..15) {
        prop_assert_eq!(transcript(&steps, every, None), transcript(&steps, every, Some(restore)));
    }

    #[test]
    fn any_valid_sequence_keeps_the_invariants(steps in proptest::collection::vec(kinds(), 1..80), every in 1usize..4) {
        let mut e = Engine::new(EngineConfig::default());
        let mut seq = Seq(0);
        let mut last = None;
        for (i, s) in steps.into_iter().enumerate() {
            let ev = event(&mut seq, &e, s);
            e.apply(&ev);
            if i % 5 == 0 {
                // Now and then the same event again: a duplicate.
                e.apply(&ev);
            }
            if i % every == 0 {
                e.round(ev.at);
            }
            if i % 7 == 0 {
                e.expire(Timestamp::from_unix_seconds(ev.at.unix_seconds() + 3 * 86_400).unwrap());
            }
            e.check_invariants().map_err(TestCaseError::fail)?;
            last = Some(ev.at);
        }
        if let Some(at) = last {
            e.round(at);
            e.check_invariants().map_err(TestCaseError::fail)?;
        }
    }
}
