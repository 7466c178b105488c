//! The demo market of `lendwork serve --demo`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lendwork_domain::Event;
use lendwork_ports::{EventBus, StateStore};
use lendwork_state::routes::Router;

use crate::config::Config;

/// The demo: a simulated province fed at `rate` events per second, and
/// parties that answer the engine's proposals for the simulated gaps (six
/// in ten accepted by every required party and signed, minutes of market
/// time later), so the board moves.
pub(crate) async fn demo_feed(
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    c: Config,
    rate: u64,
) {
    use lendwork_domain::{EventKind, GapId, ShortagePosted, WorkerId, WorkerOffered};
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
    // The simulated parties answer the engine's proposals for the
    // simulated gaps (a gap a visitor posts is the visitor's to answer):
    // every required party accepts six in ten (lendwork_sim::answer), then
    // each signs the agreement (its hash made from the same terms the
    // engine freezes).
    let gaps: std::collections::HashMap<GapId, ShortagePosted> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ShortagePosted(g) => Some((g.gap_id.clone(), g.clone())),
            _ => None,
        })
        .collect();
    let workers: std::collections::HashMap<WorkerId, WorkerOffered> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::WorkerOffered(w) => Some((w.worker_id.clone(), w.clone())),
            _ => None,
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
                let (Some(gap), Some(worker)) = (gaps.get(&p.gap_id), workers.get(&p.worker_id))
                else {
                    continue;
                };
                let out = lifecycle(p, gap, worker, e.at);
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

/// The simulated parties' answer to proposal `p` made at `at`: the
/// acceptances (or a decline, or nothing) of [`lendwork_sim::answer`] and,
/// after a full acceptance, every required party's signature on the
/// agreement, ten minutes apart. Starts wait for the window's first day,
/// days of market time away: the demo's events keep to the market's
/// present (a start stamped days ahead would move the engine's clock and
/// expire every proposal in between), so it leaves starting to the
/// visitor.
fn lifecycle(
    p: &lendwork_domain::MatchProposed,
    gap: &lendwork_domain::ShortagePosted,
    worker: &lendwork_domain::WorkerOffered,
    at: lendwork_domain::Timestamp,
) -> Vec<Event> {
    use lendwork_domain::*;
    let lent = worker.employer_id.is_some();
    let mut out = lendwork_sim::answer(p, lent, at);
    let parties = agreement::required_parties(lent);
    let agreed = out.len() == parties.len()
        && out
            .iter()
            .all(|e| matches!(e.kind, EventKind::MatchAccepted(_)));
    if !agreed {
        return out;
    }
    let sha = AgreementTerms::of(p, gap, worker).sha256();
    let last = out.last().map_or(at, |e| e.at).unix_seconds();
    let stamp = |secs: i64| Timestamp::from_unix_seconds(secs).expect("in range");
    let m = &p.match_id;
    for (i, by) in parties.into_iter().enumerate() {
        out.push(Event {
            id: EventId::new(format!("evt-demo-sign-{i}-{m}")).expect("valid"),
            at: stamp(last + 600 * (i as i64 + 1)),
            kind: EventKind::AgreementSigned(AgreementSigned {
                match_id: m.clone(),
                by,
                document_sha256: sha.clone(),
            }),
        });
    }
    out
}
