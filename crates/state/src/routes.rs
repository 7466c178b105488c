//! Which region (and so which partition) an event belongs to.
//!
//! Market events are keyed by region so that one region's events stay in
//! order. Offers, postings and proposals name their region; withdrawals and
//! lifecycle events name only a worker, a gap or a match. A [`Router`]
//! writes the region of every worker, gap and match it routes to the store
//! (`P:route:{kind}:{id}`), and looks up the store for the others, keeping
//! what it looked up in a bounded cache: any gateway or publisher can route
//! any event, whoever routed the event that introduced the id.

use std::collections::HashMap;

use lendwork_domain::{Event, EventKind, Region};
use lendwork_ports::{StateStore, StoreError};

use crate::keys::Keys;
use crate::views::MatchView;

/// Why an event could not be routed.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The id it refers to was never offered, posted or proposed.
    #[error("{field}: unknown {kind} {id:?} (it was never offered, posted or proposed here)")]
    Unknown {
        /// The field naming the id.
        field: &'static str,
        /// `worker`, `gap` or `match`.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// The store did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Most ids a [`Router`] keeps in memory. The store holds every route, so
/// the cache only saves round trips: when it is full it starts afresh,
/// which bounds a long-running gateway's memory at a few tens of MB.
const CACHED: usize = 200_000;

fn kind_ix(kind: &str) -> usize {
    match kind {
        "worker" => 0,
        "gap" => 1,
        _ => 2,
    }
}

/// Routes events to regions.
pub struct Router {
    keys: Keys,
    /// Locked only around map look-ups, never across a store call, so many
    /// requests route at once.
    /// Workers', gaps' and matches' regions by id ([`kind_ix`]), so a
    /// look-up borrows the id instead of building a key.
    known: std::sync::Mutex<[HashMap<String, Region, crate::Ids>; 3]>,
}

impl Router {
    /// A router whose store keys start with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            keys: Keys::new(prefix),
            known: std::sync::Mutex::new(Default::default()),
        }
    }

    /// The region of `e`, recording the ids it introduces.
    pub async fn region(&self, store: &dyn StateStore, e: &Event) -> Result<Region, RouteError> {
        let (kind, field, id) = match &e.kind {
            EventKind::WorkerOffered(w) => {
                return self
                    .remember(store, "worker", w.worker_id.as_str(), &w.region)
                    .await
            }
            EventKind::ShortagePosted(g) => {
                return self
                    .remember(store, "gap", g.gap_id.as_str(), &g.region)
                    .await
            }
            EventKind::MatchProposed(m) => {
                return self
                    .remember(store, "match", m.match_id.as_str(), &m.region)
                    .await
            }
            EventKind::WorkerWithdrawn(x) => ("worker", "worker_id", x.worker_id.as_str()),
            EventKind::ShortageWithdrawn(x) => ("gap", "gap_id", x.gap_id.as_str()),
            EventKind::MatchAccepted(d) | EventKind::MatchDeclined(d) => {
                ("match", "match_id", d.match_id.as_str())
            }
            EventKind::MatchExpired(x) | EventKind::AssignmentStarted(x) => {
                ("match", "match_id", x.match_id.as_str())
            }
            EventKind::AssignmentEnded(x) => ("match", "match_id", x.match_id.as_str()),
            EventKind::AgreementSigned(x) => ("match", "match_id", x.match_id.as_str()),
            EventKind::TimesheetSubmitted(x) => ("match", "match_id", x.match_id.as_str()),
            EventKind::TimesheetConfirmed(x) => ("match", "match_id", x.match_id.as_str()),
            EventKind::TimesheetDisputed(x) => ("match", "match_id", x.match_id.as_str()),
            EventKind::PaymentRecorded(x) => ("match", "match_id", x.match_id.as_str()),
            EventKind::PreferenceSet(x) => ("worker", "worker_id", x.worker_id.as_str()),
        };
        if let Some(r) = self.cached(kind, id) {
            return Ok(r);
        }
        let found = match store.get(&self.keys.route(kind, id)).await? {
            Some(b) => Region::new(String::from_utf8_lossy(&b).into_owned()).ok(),
            None if kind == "match" => {
                // Proposals made by the matchers: their view names the region.
                let view = store.get(&self.keys.proposal(id)).await?;
                view.and_then(|v| serde_json::from_slice::<MatchView>(&v).ok())
                    .map(|v| v.proposed.region)
            }
            None => None,
        };
        match found {
            Some(r) => {
                self.cache(kind, id, &r);
                Ok(r)
            }
            None => Err(RouteError::Unknown {
                field,
                kind,
                id: id.to_owned(),
            }),
        }
    }

    fn cache(&self, kind: &'static str, id: &str, region: &Region) {
        let mut known = self.known.lock().expect("not poisoned");
        let map = &mut known[kind_ix(kind)];
        if map.len() >= CACHED {
            map.clear();
        }
        map.insert(id.to_owned(), region.clone());
    }

    fn cached(&self, kind: &'static str, id: &str) -> Option<Region> {
        self.known.lock().expect("not poisoned")[kind_ix(kind)]
            .get(id)
            .cloned()
    }

    async fn remember(
        &self,
        store: &dyn StateStore,
        kind: &'static str,
        id: &str,
        region: &Region,
    ) -> Result<Region, RouteError> {
        // Written every time (no look-up first): ids are new far more
        // often than re-posted. Not cached: most ids posted or offered are
        // never routed again by this process (proposals are answered, gaps
        // filled), and the cache would only churn; the first look-up of an
        // id caches it.
        store
            .set(&self.keys.route(kind, id), region.as_str().as_bytes())
            .await?;
        Ok(region.clone())
    }
}
