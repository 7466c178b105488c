//! Worker reservations in the state store: the guard that no worker is
//! ever double-booked, even when two matchers briefly both think they own a
//! region (during a rebalance).
//!
//! A worker's reservations are one value, `{prefix}:{worker_id}`, holding
//! the match ids and windows it is committed to. Reserving reads it, checks
//! rule 9 (no overlap), and writes it back with a compare-and-swap on the
//! value it read; a concurrent writer makes the swap fail and the attempt
//! is retried on the new value. So of two overlapping reservations racing
//! from anywhere, exactly one wins. Reserving the same match id again is a
//! no-op (redelivered proposals carry the same id).

use lendwork_domain::{Date, MatchId, Window, WorkerId};
use lendwork_ports::{StateStore, StoreError};
use serde::{Deserialize, Serialize};

/// The outcome of [`Reservations::reserve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserve {
    /// Booked now.
    Reserved,
    /// This match already holds the worker (a redelivery).
    AlreadyHeld,
    /// Another match holds an overlapping window.
    Conflict(MatchId),
    /// A match made *later* in the same ordered scope holds an overlapping
    /// window: this request is a replay of history the store has already
    /// moved past (a redelivered record), so nothing is booked and the
    /// caller treats the proposal as made.
    Superseded(MatchId),
}

/// Where a reservation request comes from in an ordered log: a scope (the
/// region; one region's records are totally ordered) and a position in it
/// (the record's offset).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The ordered scope.
    pub scope: String,
    /// The position within it.
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Held {
    m: MatchId,
    s: Date,
    e: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    o: Option<Origin>,
}

/// Reservations under a key prefix.
pub struct Reservations<'a> {
    store: &'a dyn StateStore,
    prefix: String,
    hints: std::sync::Mutex<std::collections::HashMap<String, Option<bytes::Bytes>>>,
}

const ATTEMPTS: usize = 64;

impl<'a> Reservations<'a> {
    /// Reservations kept under `prefix` (e.g. `lendwork:reserve`).
    pub fn new(store: &'a dyn StateStore, prefix: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.into(),
            hints: Default::default(),
        }
    }

    fn key(&self, w: &WorkerId) -> String {
        format!("{}:{}", self.prefix, w)
    }

    /// Reads the reservations of `workers` in one round trip; each value
    /// read is used once, by the next request for that worker, in place of
    /// its first read (a compare-and-swap still guards the write, so a
    /// stale value only costs a retry).
    pub async fn prefetch(&self, workers: &[&WorkerId]) -> Result<(), StoreError> {
        let keys: Vec<String> = workers.iter().map(|w| self.key(w)).collect();
        let values = self.store.get_many(&keys).await?;
        let mut hints = self.hints.lock().expect("not poisoned");
        hints.extend(keys.into_iter().zip(values));
        Ok(())
    }

    async fn read(&self, key: &str) -> Result<(Option<bytes::Bytes>, Vec<Held>), StoreError> {
        let hint = self.hints.lock().expect("not poisoned").remove(key);
        let raw = match hint {
            Some(v) => v,
            None => self.store.get(key).await?,
        };
        let list = match &raw {
            None => Vec::new(),
            Some(b) => serde_json::from_slice(b).map_err(|e| {
                StoreError::Invalid(format!("reservations at {key:?} are corrupt: {e}"))
            })?,
        };
        Ok((raw, list))
    }

    /// Books `w` for match `m` over `window`, unless an overlapping
    /// reservation of another match exists.
    pub async fn reserve(
        &self,
        w: &WorkerId,
        m: &MatchId,
        window: Window,
    ) -> Result<Reserve, StoreError> {
        self.reserve_from(w, m, window, None).await
    }

    /// [`Reservations::reserve`] for a request made at `origin`: an
    /// overlapping reservation made later in the same scope answers
    /// [`Reserve::Superseded`] instead of a conflict.
    pub async fn reserve_from(
        &self,
        w: &WorkerId,
        m: &MatchId,
        window: Window,
        origin: Option<&Origin>,
    ) -> Result<Reserve, StoreError> {
        let key = self.key(w);
        for _ in 0..ATTEMPTS {
            let (raw, mut list) = self.read(&key).await?;
            if list.iter().any(|h| &h.m == m) {
                return Ok(Reserve::AlreadyHeld);
            }
            if let Some(h) = list
                .iter()
                .find(|h| h.s <= window.end && window.start <= h.e)
            {
                let later = match (origin, &h.o) {
                    (Some(a), Some(b)) => a.scope == b.scope && b.seq > a.seq,
                    _ => false,
                };
                return Ok(if later {
                    Reserve::Superseded(h.m.clone())
                } else {
                    Reserve::Conflict(h.m.clone())
                });
            }
            list.push(Held {
                m: m.clone(),
                s: window.start,
                e: window.end,
                o: origin.cloned(),
            });
            let new = serde_json::to_vec(&list).expect("serializable");
            if self
                .store
                .compare_and_swap(&key, raw.as_deref(), Some(&new))
                .await?
            {
                return Ok(Reserve::Reserved);
            }
        }
        Err(StoreError::Unavailable(format!(
            "reservations of {w} kept changing under {ATTEMPTS} attempts"
        )))
    }

    /// Releases match `m`'s reservation of `w`; true when it was held.
    pub async fn release(&self, w: &WorkerId, m: &MatchId) -> Result<bool, StoreError> {
        let key = self.key(w);
        for _ in 0..ATTEMPTS {
            let (raw, mut list) = self.read(&key).await?;
            let before = list.len();
            list.retain(|h| &h.m != m);
            if list.len() == before {
                return Ok(false);
            }
            let new = if list.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(&list).expect("serializable"))
            };
            if self
                .store
                .compare_and_swap(&key, raw.as_deref(), new.as_deref())
                .await?
            {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(format!(
            "reservations of {w} kept changing under {ATTEMPTS} attempts"
        )))
    }

    /// What holds `w`.
    pub async fn held(&self, w: &WorkerId) -> Result<Vec<(MatchId, Window)>, StoreError> {
        let (_, list) = self.read(&self.key(w)).await?;
        Ok(list
            .into_iter()
            .map(|h| {
                (
                    h.m,
                    Window::new(h.s, h.e).expect("stored windows are valid"),
                )
            })
            .collect())
    }
}

/// The reservation checks every store implementation must pass; run over
/// the in-memory store in unit tests and over Redis in the integration
/// tests.
pub async fn reservation_suite(store: &dyn StateStore, prefix: &str) {
    let r = Reservations::new(store, prefix);
    let w = WorkerId::new("w-1").unwrap();
    let m = |s: &str| MatchId::new(s).unwrap();
    let win =
        |a: &str, b: &str| Window::new(Date::parse(a).unwrap(), Date::parse(b).unwrap()).unwrap();
    assert_eq!(
        r.reserve(&w, &m("m1"), win("2026-04-01", "2026-04-30"))
            .await
            .unwrap(),
        Reserve::Reserved
    );
    assert_eq!(
        r.reserve(&w, &m("m1"), win("2026-04-01", "2026-04-30"))
            .await
            .unwrap(),
        Reserve::AlreadyHeld
    );
    assert_eq!(
        r.reserve(&w, &m("m2"), win("2026-04-30", "2026-05-10"))
            .await
            .unwrap(),
        Reserve::Conflict(m("m1")),
        "inclusive windows touching on one day overlap"
    );
    assert_eq!(
        r.reserve(&w, &m("m3"), win("2026-05-01", "2026-05-10"))
            .await
            .unwrap(),
        Reserve::Reserved
    );
    assert_eq!(r.held(&w).await.unwrap().len(), 2);
    assert!(r.release(&w, &m("m1")).await.unwrap());
    assert!(!r.release(&w, &m("m1")).await.unwrap());
    assert_eq!(
        r.reserve(&w, &m("m2"), win("2026-04-30", "2026-04-30"))
            .await
            .unwrap(),
        Reserve::Reserved
    );

    // Replays: a later reservation of the same scope supersedes an earlier
    // request; another scope's is a conflict.
    let o = |scope: &str, seq| Origin {
        scope: scope.into(),
        seq,
    };
    let wr = WorkerId::new("w-replay").unwrap();
    let june = win("2026-06-01", "2026-06-30");
    assert_eq!(
        r.reserve_from(&wr, &m("later"), june, Some(&o("620100", 10)))
            .await
            .unwrap(),
        Reserve::Reserved
    );
    assert_eq!(
        r.reserve_from(&wr, &m("earlier"), june, Some(&o("620100", 5)))
            .await
            .unwrap(),
        Reserve::Superseded(m("later"))
    );
    assert_eq!(
        r.reserve_from(&wr, &m("after"), june, Some(&o("620100", 11)))
            .await
            .unwrap(),
        Reserve::Conflict(m("later"))
    );
    assert_eq!(
        r.reserve_from(&wr, &m("elsewhere"), june, Some(&o("620200", 5)))
            .await
            .unwrap(),
        Reserve::Conflict(m("later"))
    );
    assert_eq!(r.held(&wr).await.unwrap().len(), 1);

    // A prefetched value that went stale costs a retry, not a wrong answer.
    let wp = WorkerId::new("w-prefetch").unwrap();
    r.prefetch(&[&wp]).await.unwrap();
    let other = Reservations::new(store, prefix);
    assert_eq!(
        other.reserve(&wp, &m("p1"), june).await.unwrap(),
        Reserve::Reserved
    );
    assert_eq!(
        r.reserve(&wp, &m("p2"), june).await.unwrap(),
        Reserve::Conflict(m("p1")),
        "the stale prefetch (empty) is not trusted"
    );

    // Sixteen matchers race for one worker with overlapping windows:
    // exactly one wins, whatever the interleaving.
    let racer = WorkerId::new("w-race").unwrap();
    let attempts = (0..16).map(|i| {
        let (r, racer) = (&r, &racer);
        async move {
            let id = MatchId::new(format!("race-{i}")).unwrap();
            r.reserve(racer, &id, win("2026-06-01", "2026-06-30"))
                .await
                .unwrap()
        }
    });
    let results = futures::future::join_all(attempts).await;
    assert_eq!(
        results.iter().filter(|x| **x == Reserve::Reserved).count(),
        1,
        "{results:?}"
    );
    assert_eq!(r.held(&racer).await.unwrap().len(), 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lendwork_ports::memory::MemoryStore;

    #[tokio::test]
    async fn reservations_on_the_memory_store() {
        reservation_suite(&MemoryStore::new(), "t").await;
    }

    #[tokio::test]
    async fn corrupt_values_are_reported_not_overwritten() {
        let store = MemoryStore::new();
        store.set("p:w", b"garbage").await.unwrap();
        let r = Reservations::new(&store, "p");
        let e = r.held(&WorkerId::new("w").unwrap()).await.unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)));
        assert_eq!(
            store.get("p:w").await.unwrap().as_deref(),
            Some(&b"garbage"[..])
        );
    }
}
