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
        }),
    };
    seq.ev(kind)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

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
