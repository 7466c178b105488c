//! The matcher: market topic in, proposals out.
//!
//! A matcher is one member of a consumer group on the market topic. Market
//! events are keyed by region, so a region lives in one partition and the
//! group gives each partition to one matcher at a time. Per partition the
//! matcher keeps a [`PartitionState`]: an engine holding the partition's
//! regions, and the counters of the read models. A partition's state is a
//! pure function of its records, so the same records give the same
//! proposals with the same ids on any instance; a batch's effects are made
//! durable (reservations, outputs, read models: [`sink`]) before its
//! offsets are committed, so a crash replays the batch with the same ids.
//!
//! The rooms: [`options`] (what a matcher needs to know), [`partition`]
//! (the pure per-partition state machine), [`supply`] and [`views`] (the
//! read models it gives), [`effects`] (what a batch leaves to make
//! durable), [`sink`] (making it durable), [`rebuild`] (taking over a
//! partition), [`snapshot`] (partition snapshots), [`metrics`] (health and
//! counters), [`error`] (why a matcher stops), and this file, the run loop.
//!
//! The design, its guarantees and their limits are in
//! `docs/design/matcher.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use lendwork_domain::Region;
use lendwork_ports::{EventBus, Record, StateStore, Subscription};
use lendwork_state::keys::Keys;
use tokio::task::JoinHandle;

pub mod effects;
pub mod error;
pub mod metrics;
pub mod options;
pub mod partition;
pub mod rebuild;
pub(crate) mod retry;
pub mod sink;
pub mod snapshot;
pub mod supply;
pub mod views;

pub use effects::{Effects, Hold, Views};
pub use error::MatcherError;
pub use metrics::{probe, Health, Stage, STAGES};
pub use options::MatcherOptions;
pub use partition::PartitionState;
pub use retry::Retryable;

use effects::Batch;
use retry::{persist, persist_first};
use sink::Sink;
use views::json;

/// A running matcher.
pub struct Matcher {
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) opts: MatcherOptions,
    pub(crate) keys: Keys,
    pub(crate) health: Arc<Health>,
    pub(crate) parts: HashMap<u32, PartitionState>,
    /// Regions whose statistics changed since they were last written.
    dirty: BTreeSet<(u32, Region)>,
    regions_written: std::time::Instant,
    /// Regions checked to live in one partition only: the partition.
    pub(crate) homes: HashMap<Region, u32>,
    /// Records handled per partition since its last snapshot (or rebuild).
    pub(crate) since_snapshot: HashMap<u32, u64>,
    /// The last record handled live per partition (a snapshot names it).
    pub(crate) last_handled: HashMap<u32, Record>,
}

/// A handled batch's records to commit once its effects are durable, and
/// the snapshots to write once they are committed.
pub(crate) struct Done {
    /// The last record of each partition.
    records: Vec<Record>,
    /// (partition, snapshot).
    snapshots: Vec<(u32, Vec<u8>)>,
}

/// Region statistics are written at most this often (and whenever the
/// matcher goes idle): recounting a region is linear in its gaps, and an
/// operator's board does not need them fresher.
const REGION_VIEW_EVERY: Duration = Duration::from_millis(500);

impl Matcher {
    /// A matcher over `bus` and `store`.
    pub fn new(
        bus: Arc<dyn EventBus>,
        store: Arc<dyn StateStore>,
        opts: MatcherOptions,
        health: Arc<Health>,
    ) -> Self {
        let keys = Keys::new(opts.prefix.clone());
        Self {
            bus,
            store,
            opts,
            keys,
            health,
            parts: HashMap::new(),
            dirty: BTreeSet::new(),
            regions_written: std::time::Instant::now(),
            homes: HashMap::new(),
            since_snapshot: HashMap::new(),
            last_handled: HashMap::new(),
        }
    }

    /// Creates the topics when missing and joins the group.
    pub async fn start(&self) -> Result<Box<dyn Subscription>, MatcherError> {
        let h = &self.health;
        for t in [&self.opts.market_topic, &self.opts.matches_topic] {
            persist(&h.bus_ok, "creating topics", || {
                self.bus.ensure_topic(t, self.opts.partitions)
            })
            .await?;
        }
        let sub = persist(&h.bus_ok, "joining the group", || {
            self.bus
                .subscribe(&self.opts.market_topic, &self.opts.group)
        })
        .await?;
        h.running.store(true, Ordering::Relaxed);
        Ok(sub)
    }

    /// Runs until `stop` resolves (or a refused request, which is a
    /// configuration or data error for an operator to see).
    ///
    /// Batches are pipelined: while one batch's effects are being made
    /// durable (reservations, publication, read models — mostly waiting on
    /// the store and the broker), the next batch is read and handled; its
    /// effects are made durable only after the previous batch's, and every
    /// batch's offsets are committed only after its effects are durable, so
    /// the guarantees above are those of handling batch by batch. (Region
    /// statistics, written now and then from the partitions' state, may
    /// count the batch still being made durable; its replay after a crash
    /// makes the same proposals with the same ids.)
    ///
    /// When it returns, for whatever reason, the matcher is no longer
    /// [`Health::ready`]: `lendwork serve`'s `/readyz` then reports the
    /// matcher down instead of accepting writes nobody will match.
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), MatcherError> {
        let r = self.run_until(stop).await;
        self.health.running.store(false, Ordering::Relaxed);
        r
    }

    async fn run_until(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), MatcherError> {
        let mut sub = self.start().await?;
        tokio::pin!(stop);
        // The batch being made durable, and its records to commit after.
        let mut inflight: Option<(JoinHandle<Result<(), MatcherError>>, Done)> = None;
        loop {
            let first = tokio::select! {
                r = sub.next() => r,
                res = async { (&mut inflight.as_mut().expect("guarded").0).await },
                    if inflight.is_some() =>
                {
                    let (_, done) = inflight.take().expect("guarded");
                    res??;
                    self.settle(sub.as_mut(), done).await?;
                    continue;
                }
                () = &mut stop => {
                    if let Some((durable, done)) = inflight.take() {
                        durable.await??;
                        self.settle(sub.as_mut(), done).await?;
                    }
                    if !self.dirty.is_empty() {
                        self.write_regions().await?;
                    }
                    return Ok(());
                }
                // Idle for a moment, every batch committed: bring the
                // region statistics up to date, take the snapshots due.
                () = tokio::time::sleep(Duration::from_millis(100)),
                    if inflight.is_none() && (!self.dirty.is_empty() || self.snapshots_due()) =>
                {
                    if !self.dirty.is_empty() {
                        self.write_regions().await?;
                    }
                    self.snapshot_idle().await;
                    continue;
                }
            };
            // Sized at once (up to a bound, as the batch size may be set
            // large): grown record by record, a batch of the default 500
            // would be reallocated and copied seven times.
            let mut batch = Vec::with_capacity(self.opts.max_batch.min(1024));
            batch.push(persist_first(&self.health.bus_ok, first)?);
            // Linger: when nothing more is there at once, sleep out the
            // linger once and then take what arrived meanwhile (up to
            // the batch size). Waiting record by record instead would
            // wake this thread for every record published in the linger —
            // on the embedded bus, one cross-thread wake-up per posting.
            let deadline = tokio::time::Instant::now() + self.opts.linger;
            let mut lingered = self.opts.linger.is_zero();
            while batch.len() < self.opts.max_batch {
                match sub.next().now_or_never() {
                    Some(Ok(r)) => batch.push(r),
                    Some(Err(e)) if !e.retryable() => return Err(e.into()),
                    Some(Err(_)) => break,
                    None if lingered => break,
                    None => {
                        tokio::time::sleep_until(deadline).await;
                        lingered = true;
                    }
                }
            }
            let (b, done) = self.prepare(sub.as_mut(), batch).await?;
            if let Some((durable, prev)) = inflight.take() {
                durable.await??;
                self.settle(sub.as_mut(), prev).await?;
            }
            let sink = self.sink();
            inflight = Some((tokio::spawn(sink.make_durable(b)), done));
        }
    }

    /// Handles one batch: state, effects, commit (without pipelining).
    pub async fn handle(
        &mut self,
        sub: &mut dyn Subscription,
        batch: Vec<Record>,
    ) -> Result<(), MatcherError> {
        let (b, done) = self.prepare(sub, batch).await?;
        self.sink().make_durable(b).await?;
        self.settle(sub, done).await
    }

    /// Applies a batch to the partitions' state and computes its effects;
    /// returns them with the last record of each partition (to commit once
    /// the effects are durable) and the partitions' snapshots that are due.
    async fn prepare(
        &mut self,
        sub: &mut dyn Subscription,
        batch: Vec<Record>,
    ) -> Result<(Batch, Done), MatcherError> {
        let t = std::time::Instant::now();
        let mut fx: BTreeMap<u32, Effects> = BTreeMap::new();
        let mut last: BTreeMap<u32, Record> = BTreeMap::new();
        for rec in batch {
            let p = rec.position.partition;
            let expected = self.parts.get(&p).map(|s| s.next_offset);
            match expected {
                Some(next) if rec.position.offset < next => {
                    // Handled before by this instance, effects durable.
                    last.insert(p, rec);
                    continue;
                }
                Some(next) if rec.position.offset == next => {}
                _ => {
                    let until = rec.position.offset;
                    self.catch_up(sub, p, expected, until, &mut fx, &mut last)
                        .await?
                }
            }
            self.handle_one(rec, &mut fx, &mut last);
        }
        for (p, e) in &fx {
            for r in &e.regions {
                self.check_home(r, *p).await?;
            }
        }
        let t = self.health.spent(Stage::Match, t);
        let mut views = Views::default();
        for (p, e) in &fx {
            if let Some(state) = self.parts.get(p) {
                state.views(&self.keys, e, &mut views);
            }
            for r in &e.regions {
                self.dirty.insert((*p, r.clone()));
            }
        }
        let t = self.health.spent(Stage::Views, t);
        let mut snapshots = Vec::new();
        let every = self.opts.snapshot_every;
        for p in fx.keys().filter(|_| every > 0) {
            let Some(rec) = last.get(p) else { continue };
            self.last_handled.insert(*p, rec.clone());
            // Overdue: the load left no quiet moment (see "Snapshots").
            let since = self.since_snapshot.entry(*p).or_default();
            if *since < every.saturating_mul(2) {
                continue;
            }
            if let Some(state) = self.parts.get(p) {
                *since = 0;
                let bytes = state.snapshot(&self.opts.market_topic, *p, rec);
                snapshots.push((*p, bytes));
            }
        }
        if !snapshots.is_empty() {
            self.health.spent(Stage::Snapshot, t);
        }
        let records = last.into_values().collect();
        Ok((Batch { fx, views }, Done { records, snapshots }))
    }

    /// Applies one record, the next of its partition, to the partition's
    /// state; its effects join the batch's.
    pub(crate) fn handle_one(
        &mut self,
        rec: Record,
        fx: &mut BTreeMap<u32, Effects>,
        last: &mut BTreeMap<u32, Record>,
    ) {
        let p = rec.position.partition;
        let state = self.parts.get_mut(&p).expect("rebuilt");
        state.process(&rec, fx.entry(p).or_default());
        self.health.records.fetch_add(1, Ordering::Relaxed);
        if self.opts.snapshot_every > 0 {
            *self.since_snapshot.entry(p).or_default() += 1;
        }
        last.insert(p, rec);
    }

    /// After a batch's effects are durable: region statistics when due,
    /// then the commit, then the batch's snapshots.
    async fn settle(&mut self, sub: &mut dyn Subscription, done: Done) -> Result<(), MatcherError> {
        if self.regions_written.elapsed() >= REGION_VIEW_EVERY {
            self.write_regions().await?;
        }
        let t = std::time::Instant::now();
        match sub.commit_all(&done.records).await {
            Ok(()) => {
                self.health.batches.fetch_add(1, Ordering::Relaxed);
                let t = self.health.spent(Stage::Commit, t);
                for (p, bytes) in &done.snapshots {
                    self.write_snapshot(*p, bytes).await;
                }
                if !done.snapshots.is_empty() {
                    self.health.spent(Stage::Snapshot, t);
                }
            }
            Err(e) => {
                // Not fatal: the next commit covers these offsets, and if
                // the partition moved, its new owner handles them again.
                self.health.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    error = %e,
                    "commit failed; the records will be delivered again if no later commit \
                     covers them"
                );
            }
        }
        Ok(())
    }

    fn sink(&self) -> Sink {
        Sink {
            bus: self.bus.clone(),
            store: self.store.clone(),
            keys: self.keys.clone(),
            health: self.health.clone(),
            market_topic: self.opts.market_topic.clone(),
            matches_topic: self.opts.matches_topic.clone(),
        }
    }

    /// Writes the statistics of the regions that changed.
    pub async fn write_regions(&mut self) -> Result<(), MatcherError> {
        let t = std::time::Instant::now();
        let mut writes = Vec::new();
        for (p, r) in &self.dirty {
            if let Some(state) = self.parts.get(p) {
                let view = state.region_view(r);
                writes.push((self.keys.region(r.as_str()), json(&view)));
            }
        }
        if !writes.is_empty() {
            persist(&self.health.store_ok, "writing region statistics", || {
                self.store.set_many(&writes)
            })
            .await?;
            self.health.spent(Stage::Views, t);
        }
        self.dirty.clear();
        self.regions_written = std::time::Instant::now();
        Ok(())
    }
}
