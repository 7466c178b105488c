//! Snapshots on a simulated market large enough to fill several of the
//! slot vectors' chunks, answered as the streaming benchmark's parties
//! answer: an engine restored mid-stream goes on as the original; and a
//! snapshot that is not this engine's is refused with the reason.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use lendwork_domain::*;
use lendwork_engine::{Engine, EngineConfig, SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_MAGIC};
use lendwork_sim::SimConfig;

fn market() -> Vec<Event> {
    lendwork_sim::events(&SimConfig {
        regions: 2,
        workers: 9_000,
        gaps: 1_100,
        seed: 5,
        ..SimConfig::default()
    })
}

/// Feeds `events` as a matcher does — each applied, then expiries and a
/// round at its time, the parties' answers to the proposals coming back
/// at their own times — and restores the engine from its snapshot after
/// the events numbered in `cuts`. Returns what it said, and the engine.
fn run(events: &[Event], cuts: &[usize]) -> (String, Engine) {
    let config = EngineConfig::default();
    let mut e = Engine::new(config.clone());
    let mut answers: BinaryHeap<Reverse<(Timestamp, String)>> = BinaryHeap::new();
    let mut log = String::new();
    let feed = |e: &mut Engine, ev: &Event, log: &mut String, answers: &mut BinaryHeap<_>| {
        log.push_str(&format!("{} {:?}\n", ev.id, e.apply(ev)));
        let mut out = e.expire(ev.at);
        out.extend(e.round(ev.at));
        for o in &out {
            log.push_str(&o.to_json());
            log.push('\n');
            if let EventKind::MatchProposed(p) = &o.kind {
                let lent = e
                    .worker(&p.worker_id)
                    .is_some_and(|w| w.employer_id.is_some());
                for a in lendwork_sim::answer(p, lent, o.at) {
                    answers.push(Reverse((a.at, a.to_json())));
                }
            }
        }
    };
    for (i, ev) in events.iter().enumerate() {
        while answers.peek().is_some_and(|Reverse((at, _))| *at <= ev.at) {
            let Reverse((_, a)) = answers.pop().expect("peeked");
            feed(
                &mut e,
                &Event::from_json(&a).unwrap(),
                &mut log,
                &mut answers,
            );
        }
        feed(&mut e, ev, &mut log, &mut answers);
        if cuts.contains(&i) {
            let bytes = e.snapshot();
            e = Engine::restore(&bytes, &config).expect("its own snapshot restores");
            e.check_invariants().unwrap();
        }
    }
    (log, e)
}

#[test]
fn an_engine_restored_mid_stream_goes_on_as_the_original() {
    let events = market();
    let n = events.len();
    let (straight, a) = run(&events, &[]);
    let (restored, b) = run(&events, &[n / 5, n / 2, n - 10]);
    assert!(
        straight.matches("match_proposed").count() > 1_000,
        "a busy market"
    );
    assert!(
        straight == restored,
        "the restored engine said something else"
    );
    let summary = |e: &Engine| {
        e.markets()
            .map(|m| {
                (
                    m.region().to_string(),
                    m.worker_count(),
                    m.gap_count(),
                    m.open_positions().len(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&a), summary(&b));
    assert!(
        a.markets()
            .any(|m| m.worker_count() > lendwork_engine::slots::CHUNK),
        "slots span chunks"
    );
    assert_eq!(a.remembered_ids(), b.remembered_ids());
}

#[test]
fn a_snapshot_that_is_not_this_engines_is_refused() {
    let config = EngineConfig::default();
    let (_, e) = run(&market()[..2_000], &[]);
    let good = e.snapshot();
    assert!(good.starts_with(SNAPSHOT_MAGIC));

    let other = EngineConfig {
        proposal_ttl_secs: 3600,
        ..config.clone()
    };
    assert!(matches!(
        Engine::restore(&good, &other),
        Err(SnapshotError::Config)
    ));

    let mut newer = good.clone();
    newer[4..8].copy_from_slice(&(SNAPSHOT_FORMAT + 1).to_le_bytes());
    match Engine::restore(&newer, &config) {
        Err(SnapshotError::Format { found }) => assert_eq!(found, SNAPSHOT_FORMAT + 1),
        other => panic!("{:?}", other.map(|_| ())),
    }

    for bad in [&b""[..], b"LWEN", b"{\"json\":1}", &good[..good.len() / 2]] {
        let err = Engine::restore(bad, &config).map(|_| ()).unwrap_err();
        assert!(matches!(err, SnapshotError::Decode(_)), "{err}");
    }
    Engine::restore(&good, &config).expect("the untouched bytes restore");
}
