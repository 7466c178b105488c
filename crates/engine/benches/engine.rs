//! criterion: one event applied and re-matched on a loaded market
//! (20k workers, 4k gaps, one region).

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use criterion::{criterion_group, criterion_main, Criterion};
use lendwork_domain::{Event, EventId, EventKind, Reason, WorkerId, WorkerWithdrawn};
use lendwork_engine::{Engine, EngineConfig};
use lendwork_sim::{simulate, SimConfig};

fn loaded() -> (Engine, Vec<Event>) {
    let mut jsonl = Vec::new();
    let cfg = SimConfig {
        regions: 1,
        workers: 20_000,
        gaps: 4_000,
        seed: 2,
        ..Default::default()
    };
    simulate(&cfg, &mut jsonl, &mut |_| {}).unwrap();
    let events: Vec<Event> = std::str::from_utf8(&jsonl)
        .unwrap()
        .lines()
        .map(|l| Event::from_json(l).unwrap())
        .collect();
    let mut engine = Engine::new(EngineConfig::default());
    for e in &events {
        engine.apply(e);
        engine.round(e.at);
    }
    let offers = events
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::WorkerOffered(_)))
        .collect();
    (engine, offers)
}

fn one_event(c: &mut Criterion) {
    let (mut engine, offers) = loaded();
    let mut i = 0u64;
    c.bench_function("offer_then_withdraw_worker_with_rounds", |b| {
        b.iter(|| {
            i += 1;
            // A fresh worker with the profile of an existing one.
            let mut e = offers[(i as usize * 7919) % offers.len()].clone();
            let EventKind::WorkerOffered(w) = &mut e.kind else {
                unreachable!()
            };
            w.worker_id = WorkerId::new(format!("bench-{i}")).unwrap();
            let wid = w.worker_id.clone();
            e.id = EventId::new(format!("bench-offer-{i}")).unwrap();
            engine.apply(&e);
            engine.round(e.at);
            let gone = Event {
                id: EventId::new(format!("bench-withdraw-{i}")).unwrap(),
                at: e.at,
                kind: EventKind::WorkerWithdrawn(WorkerWithdrawn {
                    worker_id: wid,
                    reason: Reason::new("bench").unwrap(),
                }),
            };
            engine.apply(&gone);
            engine.round(e.at);
        })
    });
}

criterion_group!(benches, one_event);
criterion_main!(benches);
