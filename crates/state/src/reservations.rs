//! Worker reservations in the state store: the guard that no worker is
//! ever double-booked, even when two matchers briefly both think they own a
//! region (during a rebalance).
//!
//! A worker's reservations are one value ([`crate::keys::reservation`]), holding
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

/// One step of a worker's chain in [`Reservations::apply`].
#[derive(Clone, Debug)]
pub enum Step<'s> {
    /// [`Reservations::reserve_from`].
    Reserve {
        /// The proposal.
        m: &'s MatchId,
        /// Its window.
        window: Window,
        /// Where the request comes from.
        origin: Option<Origin>,
    },
    /// [`Reservations::release`].
    Release {
        /// The proposal.
        m: &'s MatchId,
    },
}

/// What one [`Step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The answer to a reservation.
    Reserve(Reserve),
    /// Whether a release found the reservation.
    Released(bool),
}

/// Books `m` in `list` unless it is there already or overlaps another.
fn reserve_in(
    list: &mut Vec<Held>,
    m: &MatchId,
    window: Window,
    origin: Option<&Origin>,
) -> Reserve {
    if list.iter().any(|h| &h.m == m) {
        return Reserve::AlreadyHeld;
    }
    if let Some(h) = list
        .iter()
        .find(|h| h.s <= window.end && window.start <= h.e)
    {
        let later = match (origin, &h.o) {
            (Some(a), Some(b)) => a.scope == b.scope && b.seq > a.seq,
            _ => false,
        };
        return if later {
            Reserve::Superseded(h.m.clone())
        } else {
            Reserve::Conflict(h.m.clone())
        };
    }
    list.push(Held {
        m: m.clone(),
        s: window.start,
        e: window.end,
        o: origin.cloned(),
    });
    Reserve::Reserved
}

/// Takes `m` out of `list`; true when it was there.
fn release_in(list: &mut Vec<Held>, m: &MatchId) -> bool {
    let before = list.len();
    list.retain(|h| &h.m != m);
    list.len() != before
}

/// The stored form of `list` (None: nothing held, the key is deleted).
fn encode(list: &[Held]) -> Option<Vec<u8>> {
    (!list.is_empty()).then(|| serde_json::to_vec(list).expect("serializable"))
}

fn decode(key: &str, raw: Option<&[u8]>) -> Result<Vec<Held>, StoreError> {
    match raw {
        None => Ok(Vec::new()),
        Some(b) => serde_json::from_slice(b)
            .map_err(|e| StoreError::Invalid(format!("reservations at {key:?} are corrupt: {e}"))),
    }
}

/// Reservations under a key prefix.
pub struct Reservations<'a> {
    store: &'a dyn StateStore,
    prefix: String,
}

const ATTEMPTS: usize = 64;

impl<'a> Reservations<'a> {
    /// Reservations kept under `prefix` (e.g. `lendwork:reserve`).
    pub fn new(store: &'a dyn StateStore, prefix: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.into(),
        }
    }

    fn key(&self, w: &WorkerId) -> String {
        crate::keys::reservation(&self.prefix, w.as_str())
    }

    async fn read(&self, key: &str) -> Result<(Option<bytes::Bytes>, Vec<Held>), StoreError> {
        let raw = self.store.get(key).await?;
        let list = decode(key, raw.as_deref())?;
        Ok((raw, list))
    }

    /// Runs each worker's chain of steps, in order, for many workers in
    /// three round trips: one read of every worker's reservations, the
    /// steps applied to what was read, one write of every value that
    /// changed with a compare-and-swap on the value read
    /// ([`StateStore::compare_and_swap_many`]). A worker whose value
    /// changed in between (another matcher booked it) has its chain run
    /// again step by step on fresh reads, so the answers are always those
    /// of the steps run one at a time. Workers must be distinct.
    pub async fn apply(
        &self,
        chains: &[(&WorkerId, Vec<Step<'_>>)],
    ) -> Result<Vec<Vec<Answer>>, StoreError> {
        let keys: Vec<String> = chains.iter().map(|(w, _)| self.key(w)).collect();
        let raws = self.store.get_many(&keys).await?;
        let mut results = Vec::with_capacity(chains.len());
        let (mut swaps, mut swapped) = (Vec::new(), Vec::new());
        for (i, ((_, steps), raw)) in chains.iter().zip(raws).enumerate() {
            let mut list = decode(&keys[i], raw.as_deref())?;
            let mut changed = false;
            let outcomes: Vec<Answer> = steps
                .iter()
                .map(|step| {
                    let o = match step {
                        Step::Reserve { m, window, origin } => {
                            Answer::Reserve(reserve_in(&mut list, m, *window, origin.as_ref()))
                        }
                        Step::Release { m } => Answer::Released(release_in(&mut list, m)),
                    };
                    changed |= matches!(
                        o,
                        Answer::Reserve(Reserve::Reserved) | Answer::Released(true)
                    );
                    o
                })
                .collect();
            if changed {
                swaps.push((keys[i].clone(), raw.map(|b| b.to_vec()), encode(&list)));
                swapped.push(i);
            }
            results.push(outcomes);
        }
        let ok = self.store.compare_and_swap_many(&swaps).await?;
        for (i, done) in swapped.into_iter().zip(ok) {
            if !done {
                let (w, steps) = &chains[i];
                let mut again = Vec::with_capacity(steps.len());
                for step in steps {
                    again.push(match step {
                        Step::Reserve { m, window, origin } => Answer::Reserve(
                            self.reserve_from(w, m, *window, origin.as_ref()).await?,
                        ),
                        Step::Release { m } => Answer::Released(self.release(w, m).await?),
                    });
                }
                results[i] = again;
            }
        }
        Ok(results)
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
            let r = reserve_in(&mut list, m, window, origin);
            if r != Reserve::Reserved {
                return Ok(r);
            }
            if self
                .store
                .compare_and_swap(&key, raw.as_deref(), encode(&list).as_deref())
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
            if !release_in(&mut list, m) {
                return Ok(false);
            }
            if self
                .store
                .compare_and_swap(&key, raw.as_deref(), encode(&list).as_deref())
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
/// tests. Built with the `testing` feature (or in this crate's tests), so
/// it does not ship in the release binary.
#[cfg(any(test, feature = "testing"))]
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

    // Many workers' chains at once give the answers of the steps run one
    // at a time.
    let (wa, wb, wc) = (
        WorkerId::new("w-batch-a").unwrap(),
        WorkerId::new("w-batch-b").unwrap(),
        WorkerId::new("w-batch-c").unwrap(),
    );
    let (ma, mb, mc, md) = (m("ba"), m("bb"), m("bc"), m("bd"));
    let july = win("2026-07-01", "2026-07-31");
    let sept = win("2026-09-01", "2026-09-30");
    r.reserve(&wc, &md, july).await.unwrap();
    let chains = vec![
        (
            &wa,
            vec![
                Step::Reserve {
                    m: &ma,
                    window: july,
                    origin: None,
                },
                Step::Reserve {
                    m: &mb,
                    window: july,
                    origin: None,
                },
                Step::Reserve {
                    m: &ma,
                    window: july,
                    origin: None,
                },
                Step::Reserve {
                    m: &mc,
                    window: sept,
                    origin: None,
                },
            ],
        ),
        (&wb, vec![Step::Release { m: &ma }]),
        (
            &wc,
            vec![
                Step::Reserve {
                    m: &ma,
                    window: july,
                    origin: None,
                },
                Step::Release { m: &md },
                Step::Reserve {
                    m: &ma,
                    window: july,
                    origin: None,
                },
            ],
        ),
    ];
    let got = r.apply(&chains).await.unwrap();
    assert_eq!(
        got,
        vec![
            vec![
                Answer::Reserve(Reserve::Reserved),
                Answer::Reserve(Reserve::Conflict(ma.clone())),
                Answer::Reserve(Reserve::AlreadyHeld),
                Answer::Reserve(Reserve::Reserved),
            ],
            vec![Answer::Released(false)],
            vec![
                Answer::Reserve(Reserve::Conflict(md.clone())),
                Answer::Released(true),
                Answer::Reserve(Reserve::Reserved),
            ],
        ]
    );
    assert_eq!(r.held(&wa).await.unwrap().len(), 2);
    assert_eq!(r.held(&wb).await.unwrap().len(), 0);
    assert_eq!(r.held(&wc).await.unwrap(), vec![(ma.clone(), july)]);
    // Run again (a redelivered batch): nothing changes, nothing conflicts.
    let again = r.apply(&chains[..1]).await.unwrap();
    assert_eq!(again[0][0], Answer::Reserve(Reserve::AlreadyHeld));
    assert!(r.apply(&[]).await.unwrap().is_empty());

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

    /// A store on which another matcher books worker `w` for `m` just
    /// before this one's batch of swaps lands.
    struct Raced {
        inner: MemoryStore,
        prefix: &'static str,
    }

    #[async_trait::async_trait]
    impl StateStore for Raced {
        async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, StoreError> {
            self.inner.get(key).await
        }
        async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
            self.inner.set(key, value).await
        }
        async fn set_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
            self.inner.set_if_absent(key, value).await
        }
        async fn delete(&self, key: &str) -> Result<bool, StoreError> {
            self.inner.delete(key).await
        }
        async fn compare_and_swap(
            &self,
            key: &str,
            expected: Option<&[u8]>,
            new: Option<&[u8]>,
        ) -> Result<bool, StoreError> {
            self.inner.compare_and_swap(key, expected, new).await
        }
        async fn compare_and_swap_many(
            &self,
            ops: &[lendwork_ports::Swap],
        ) -> Result<Vec<bool>, StoreError> {
            let other = Reservations::new(&self.inner, self.prefix);
            let june = Window::new(
                Date::parse("2026-06-01").unwrap(),
                Date::parse("2026-06-30").unwrap(),
            )
            .unwrap();
            let w = WorkerId::new("w").unwrap();
            other
                .reserve(&w, &MatchId::new("theirs").unwrap(), june)
                .await?;
            self.inner.compare_and_swap_many(ops).await
        }
        async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
            self.inner.incr_by(key, delta).await
        }
        async fn scan_prefix(
            &self,
            prefix: &str,
        ) -> Result<Vec<(String, bytes::Bytes)>, StoreError> {
            self.inner.scan_prefix(prefix).await
        }
        async fn add_to_sets(&self, adds: &[(String, String)]) -> Result<(), StoreError> {
            self.inner.add_to_sets(adds).await
        }
        async fn members_many(&self, keys: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
            self.inner.members_many(keys).await
        }
    }

    #[tokio::test]
    async fn a_batch_that_loses_a_race_answers_as_the_steps_alone_would() {
        let store = Raced {
            inner: MemoryStore::new(),
            prefix: "t",
        };
        let r = Reservations::new(&store, "t");
        let (w, v) = (WorkerId::new("w").unwrap(), WorkerId::new("v").unwrap());
        let mine = MatchId::new("mine").unwrap();
        let june = Window::new(
            Date::parse("2026-06-10").unwrap(),
            Date::parse("2026-06-20").unwrap(),
        )
        .unwrap();
        let step = Step::Reserve {
            m: &mine,
            window: june,
            origin: None,
        };
        let got = r
            .apply(&[(&w, vec![step.clone()]), (&v, vec![step])])
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![
                vec![Answer::Reserve(Reserve::Conflict(
                    MatchId::new("theirs").unwrap()
                ))],
                vec![Answer::Reserve(Reserve::Reserved)],
            ],
            "the worker booked in between is not double-booked; the other is booked"
        );
        assert_eq!(r.held(&w).await.unwrap().len(), 1);
        assert_eq!(r.held(&v).await.unwrap(), vec![(mine, june)]);
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
