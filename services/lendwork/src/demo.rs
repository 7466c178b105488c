//! The demo market of `lendwork serve --demo`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lendwork_domain::Event;
use lendwork_ports::{EventBus, StateStore};
use lendwork_state::routes::Router;

use crate::config::Config;

/// The demo: a simulated province fed at `rate` events per second, and
/// borrowers that answer proposals (seven in ten accepted, a few hours of
/// market time later; accepted ones start), so the board moves.
pub(crate) async fn demo_feed(
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    c: Config,
    rate: u64,
) {
    use lendwork_domain::{EventId, EventKind, MatchDecision, MatchRef, Party, Timestamp};
    // The market's clock starts now, so the gateway's own writes (stamped
    // with the wall clock) fall inside the simulated timeline.
    let start = lendwork_gateway::now_timestamp();
    let events = lendwork_sim::events(&lendwork_sim::SimConfig {
        workers: 20_000,
        gaps: 3_000,
        regions: 4,
        seed: 2026,
        start,
        ..Default::default()
    });
    // Only offers, postings and withdrawals: the engine makes the proposals.
    let events: Vec<Event> = events
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::WorkerOffered(_)
                    | EventKind::ShortagePosted(_)
                    | EventKind::WorkerWithdrawn(_)
                    | EventKind::ShortageWithdrawn(_)
            )
        })
        .collect();
    let answers = {
        let (bus, store, c) = (bus.clone(), store.clone(), c.clone());
        async move {
            let group = format!("lendwork-demo-{}", rand::random::<u32>());
            let Ok(mut sub) = bus.subscribe(&c.topics.matches, &group).await else {
                return;
            };
            let router = Router::new(c.redis.prefix.clone());
            while let Ok(r) = sub.next().await {
                let Ok(e) = Event::from_json(std::str::from_utf8(&r.payload).unwrap_or("")) else {
                    continue;
                };
                let EventKind::MatchProposed(p) = &e.kind else {
                    continue;
                };
                let later = |h: i64| {
                    Timestamp::from_unix_seconds(e.at.unix_seconds() + h * 3600).expect("in range")
                };
                let m = p.match_id.clone();
                let accept = rand::random::<u8>() % 10 < 7;
                let mut out = vec![Event {
                    id: EventId::new(format!("evt-demo-a-{m}")).expect("valid"),
                    at: later(3),
                    kind: if accept {
                        EventKind::MatchAccepted(MatchDecision {
                            match_id: m.clone(),
                            by: Party::Borrower,
                            reason: None,
                        })
                    } else {
                        EventKind::MatchDeclined(MatchDecision {
                            match_id: m.clone(),
                            by: Party::Borrower,
                            reason: None,
                        })
                    },
                }];
                if accept {
                    out.push(Event {
                        id: EventId::new(format!("evt-demo-s-{m}")).expect("valid"),
                        at: later(5),
                        kind: EventKind::AssignmentStarted(MatchRef { match_id: m }),
                    });
                }
                let _ = router.region(store.as_ref(), &e).await;
                let recs: Vec<(Bytes, Bytes)> = out
                    .iter()
                    .map(|x| (Bytes::from(p.region.to_string()), Bytes::from(x.to_json())))
                    .collect();
                let _ = bus.publish_all(&c.topics.market, &recs).await;
            }
        }
    };
    tokio::spawn(answers);
    let router = Router::new(c.redis.prefix.clone());
    let tick = Duration::from_millis(100);
    let per_tick = ((rate as f64) / 10.0).ceil().max(1.0) as usize;
    for chunk in events.chunks(per_tick) {
        let mut recs = Vec::with_capacity(chunk.len());
        for e in chunk {
            if let Ok(r) = router.region(store.as_ref(), e).await {
                recs.push((Bytes::from(r.to_string()), Bytes::from(e.to_json())));
            }
        }
        if let Err(e) = bus.publish_all(&c.topics.market, &recs).await {
            tracing::warn!(error = %e, "demo: publishing failed");
        }
        tokio::time::sleep(tick).await;
    }
    tracing::info!("demo: the simulated market has been fed");
}
