//! Making a batch durable, in order: reserve the proposed workers, decline
//! the conflicts back into the market, publish the outputs, write the read
//! models. The offsets are committed only after (`Matcher::settle`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use lendwork_domain::*;
use lendwork_ports::{EventBus, StateStore};
use lendwork_state::keys::Keys;
use lendwork_state::reservations::{Answer, Origin, Reservations, Reserve, Step};

use super::effects::{Batch, Hold};
use super::error::MatcherError;
use super::metrics::{Health, Stage};
use super::retry::persist;

/// Where a batch's effects go: cloned into the task that makes a batch
/// durable.
#[derive(Clone)]
pub(crate) struct Sink {
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) keys: Keys,
    pub(crate) health: Arc<Health>,
    pub(crate) market_topic: String,
    pub(crate) matches_topic: String,
}

impl Sink {
    /// Reservations, declines for conflicts, outputs, read models.
    pub(crate) async fn make_durable(self, b: Batch) -> Result<(), MatcherError> {
        let fx = &b.fx;
        let h = &self.health;
        for e in fx.values() {
            for line in &e.invalid {
                h.invalid.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("skipped an invalid record: {line}");
            }
        }
        let t = std::time::Instant::now();
        // 1. Reservations: each worker's steps in order, workers at once.
        let mut per_worker: BTreeMap<&WorkerId, Vec<&Hold>> = BTreeMap::new();
        for e in fx.values() {
            for hold in &e.holds {
                let w = match hold {
                    Hold::Reserve { worker, .. } | Hold::Release { worker, .. } => worker,
                };
                per_worker.entry(w).or_default().push(hold);
            }
        }
        let resv = Reservations::new(self.store.as_ref(), self.keys.reservations());
        // Every worker's steps in three round trips (read all, decide,
        // swap all), whatever the batch size.
        let chains: Vec<(&WorkerId, Vec<Step<'_>>)> = per_worker
            .iter()
            .map(|(w, holds)| {
                let steps = holds
                    .iter()
                    .map(|hold| match hold {
                        Hold::Reserve {
                            match_id,
                            window,
                            region,
                            offset,
                            ..
                        } => Step::Reserve {
                            m: match_id,
                            window: *window,
                            origin: Some(Origin {
                                scope: region.to_string(),
                                seq: *offset,
                            }),
                        },
                        Hold::Release { match_id, .. } => Step::Release { m: match_id },
                    })
                    .collect();
                (*w, steps)
            })
            .collect();
        let outcomes = persist(&h.store_ok, "reserving workers", || resv.apply(&chains)).await?;
        let mut withheld = BTreeSet::new();
        let mut declines = Vec::new();
        for (holds, outs) in per_worker.values().zip(&outcomes) {
            for (hold, out) in holds.iter().zip(outs) {
                let (
                    Hold::Reserve {
                        match_id: m,
                        region,
                        at,
                        ..
                    },
                    Answer::Reserve(Reserve::Conflict(other)),
                ) = (hold, out)
                else {
                    continue;
                };
                h.conflicts.fetch_add(1, Ordering::Relaxed);
                let ev = Event {
                    id: EventId::new(format!("evt-x-{m}")).expect("valid id"),
                    at: *at,
                    kind: EventKind::MatchDeclined(MatchDecision {
                        match_id: m.clone(),
                        by: Party::Worker,
                        reason: Some(
                            Reason::new(format!("worker already reserved by proposal {other}"))
                                .expect("valid reason"),
                        ),
                    }),
                };
                declines.push((
                    Bytes::copy_from_slice(region.as_str().as_bytes()),
                    Bytes::from(ev.to_json()),
                ));
                withheld.insert(m.clone());
            }
        }
        let t = h.spent(Stage::Reserve, t);
        // 2. Declines for conflicts, back into the market.
        if !declines.is_empty() {
            persist(&h.bus_ok, "publishing declines", || {
                self.bus.publish_all(&self.market_topic, &declines)
            })
            .await?;
        }
        // 3. Proposals and lifecycle events out.
        let mut out = Vec::new();
        let mut proposals = 0u64;
        for e in fx.values() {
            for (region, ev) in &e.outputs {
                if let EventKind::MatchProposed(p) = &ev.kind {
                    if withheld.contains(&p.match_id) {
                        continue;
                    }
                    proposals += 1;
                }
                out.push((
                    Bytes::copy_from_slice(region.as_str().as_bytes()),
                    Bytes::from(ev.to_json()),
                ));
            }
        }
        if !out.is_empty() {
            persist(&h.bus_ok, "publishing proposals", || {
                self.bus.publish_all(&self.matches_topic, &out)
            })
            .await?;
        }
        h.proposals.fetch_add(proposals, Ordering::Relaxed);
        let t = h.spent(Stage::Publish, t);
        // 4. Read models.
        let (writes, mut sets) = b.views.withhold(&withheld);
        if !writes.is_empty() {
            // One multi-key write (MSET in chunks on Redis), not one command
            // per key: a batch writes thousands of views.
            persist(&h.store_ok, "writing read models", || {
                self.store.set_many(&writes)
            })
            .await?;
        }
        if !sets.is_empty() {
            // The index sets after the views, so a listed id has a view.
            sets.sort_unstable();
            sets.dedup();
            persist(&h.store_ok, "writing read-model indexes", || {
                self.store.add_to_sets(&sets)
            })
            .await?;
        }
        h.spent(Stage::Views, t);
        Ok(())
    }
}
