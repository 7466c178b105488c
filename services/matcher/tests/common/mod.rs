//! The matcher's test harness over the in-memory bus and store: options,
//! simulated markets, runs to a point, the audit check, and the faults a
//! test puts in — one faulty store and one faulty subscription, with their
//! faults as fields.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lendwork_domain::*;
use lendwork_engine::EngineConfig;
use lendwork_matcher::audit::{audit, drain};
use lendwork_matcher::{Health, Matcher, MatcherOptions, PartitionState};
use lendwork_ports::memory::{MemoryBus, MemoryStore};
use lendwork_ports::{BusError, EventBus, Record, StateStore, StoreError, Subscription, Swap};
use lendwork_sim::SimConfig;
use lendwork_state::keys::Keys;
use lendwork_state::routes::Router;

/// A member's subscription with faults put in: commits that never land (a
/// crash between effects and commit, every time), and records its consumer
/// never delivers (as librdkafka on Tansu was seen to do under load: a
/// fetch answered from a later offset).
pub struct FaultySubscription {
    pub inner: Box<dyn Subscription>,
    /// (partition, offset) of the records it drops.
    pub drop: BTreeSet<(u32, u64)>,
    /// Every commit fails.
    pub lose_commits: bool,
}

impl FaultySubscription {
    /// A subscription whose commits never land.
    pub fn losing_commits(inner: Box<dyn Subscription>) -> Self {
        Self {
            inner,
            drop: BTreeSet::new(),
            lose_commits: true,
        }
    }

    /// A subscription that never delivers the records at `drop`.
    pub fn skipping(inner: Box<dyn Subscription>, drop: BTreeSet<(u32, u64)>) -> Self {
        Self {
            inner,
            drop,
            lose_commits: false,
        }
    }
}

#[async_trait::async_trait]
impl Subscription for FaultySubscription {
    async fn next(&mut self) -> Result<Record, BusError> {
        loop {
            let r = self.inner.next().await?;
            if !self.drop.remove(&(r.position.partition, r.position.offset)) {
                return Ok(r);
            }
        }
    }
    async fn commit(&mut self, r: &Record) -> Result<(), BusError> {
        if self.lose_commits {
            return Err(BusError::Unavailable("commit lost".into()));
        }
        self.inner.commit(r).await
    }
    async fn committed(&mut self, partition: u32) -> Result<Option<u64>, BusError> {
        self.inner.committed(partition).await
    }
}

pub fn options(partitions: u32) -> MatcherOptions {
    MatcherOptions {
        market_topic: "lendwork.market.v1".into(),
        matches_topic: "lendwork.matches.v1".into(),
        partitions,
        group: "matchers".into(),
        prefix: "lw".into(),
        engine: EngineConfig::default(),
        max_batch: 64,
        linger: std::time::Duration::from_millis(5),
        snapshot_every: 0,
    }
}

/// A simulated market's records, keyed by region the way the gateway
/// does it ([`Router`]).
pub async fn sim_events(workers: u64, gaps: u64, seed: u64) -> Vec<(Bytes, Bytes)> {
    let events = lendwork_sim::events(&SimConfig {
        workers,
        gaps,
        regions: 3,
        seed,
        ..Default::default()
    });
    let (store, router) = (MemoryStore::new(), Router::new("routes"));
    let mut out = Vec::new();
    for e in &events {
        let r = router.region(&store, e).await.unwrap();
        out.push((Bytes::from(r.to_string()), Bytes::from(e.to_json())));
    }
    out
}

/// A fresh bus and store, the market topic made with `partitions`
/// partitions and `records` published on it.
pub async fn market_with(partitions: u32, records: &[(Bytes, Bytes)]) -> (MemoryBus, MemoryStore) {
    let bus = MemoryBus::new();
    bus.ensure_topic("lendwork.market.v1", partitions)
        .await
        .unwrap();
    bus.publish_all("lendwork.market.v1", records)
        .await
        .unwrap();
    (bus, MemoryStore::new())
}

/// Runs a matcher until it has handled or replayed `records` records.
pub async fn run_until(
    bus: &MemoryBus,
    store: &MemoryStore,
    opts: MatcherOptions,
    records: u64,
    fail_commits: bool,
) -> Arc<Health> {
    run_to(bus, store, opts, fail_commits, move |h: &Health| {
        h.records.load(Ordering::Relaxed) + h.replayed.load(Ordering::Relaxed) >= records
    })
    .await
}

/// A next owner: a few more simulated events (`workers`, seed `seed`)
/// published after the `before` records, and a new matcher run until it
/// has handled or replayed them all.
pub async fn next_owner(
    bus: &MemoryBus,
    store: &MemoryStore,
    opts: MatcherOptions,
    before: usize,
    workers: u64,
    seed: u64,
) -> Arc<Health> {
    let more = sim_events(workers, 10, seed).await;
    bus.publish_all(&opts.market_topic, &more).await.unwrap();
    run_until(bus, store, opts, (before + more.len()) as u64, false).await
}

/// Runs a matcher until `done` says so.
pub async fn run_to(
    bus: &MemoryBus,
    store: &MemoryStore,
    opts: MatcherOptions,
    fail_commits: bool,
    done: impl Fn(&Health) -> bool + Send + 'static,
) -> Arc<Health> {
    let (mut m, health) = matcher_on(bus, store, &opts);
    let h = health.clone();
    let stop = async move {
        while !done(&h) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    if fail_commits {
        let mut sub = FaultySubscription::losing_commits(m.start().await.unwrap());
        tokio::pin!(stop);
        loop {
            tokio::select! {
                r = sub.next() => m.handle(&mut sub, vec![r.unwrap()]).await.unwrap(),
                () = &mut stop => break,
            }
        }
    } else {
        tokio::time::timeout(Duration::from_secs(120), m.run(stop))
            .await
            .expect("the matcher keeps up")
            .unwrap();
    }
    health
}

pub async fn check(
    bus: &MemoryBus,
    store: &MemoryStore,
    opts: &MatcherOptions,
) -> lendwork_matcher::audit::AuditReport {
    let market = drain(
        bus,
        &opts.market_topic,
        "audit-m",
        Duration::from_millis(50),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    let matches = drain(
        bus,
        &opts.matches_topic,
        "audit-x",
        Duration::from_millis(50),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
    let report = audit(&market, &matches, store, &opts.prefix, &opts.engine)
        .await
        .unwrap();
    assert!(report.clean(), "{report:#?}");
    report
}

pub fn offer(id: &str, worker: &str, region: &str, at: i64) -> Event {
    Event {
        id: EventId::new(id).unwrap(),
        at: Timestamp::from_unix_seconds(1_772_352_000 + at).unwrap(),
        kind: EventKind::WorkerOffered(WorkerOffered {
            worker_id: WorkerId::new(worker).unwrap(),
            region: Region::new(region).unwrap(),
            home: Place::new(36.06, 103.83).unwrap(),
            skills: vec![],
            certificates: vec![],
            available: Window::new(
                Date::parse("2026-03-01").unwrap(),
                Date::parse("2026-12-31").unwrap(),
            )
            .unwrap(),
            max_commute_km: Km::new(30.0).unwrap(),
            min_hourly_wage_fen: Fen::new(2000).unwrap(),
            employer_id: None,
            consent: true,
            contract_end: None,
            priority_group: None,
            display_name: None,
        }),
    }
}

pub fn post(id: &str, gap: &str, region: &str, at: i64) -> Event {
    Event {
        id: EventId::new(id).unwrap(),
        at: Timestamp::from_unix_seconds(1_772_352_000 + at).unwrap(),
        kind: EventKind::ShortagePosted(ShortagePosted {
            gap_id: GapId::new(gap).unwrap(),
            enterprise_id: EnterpriseId::new("borrower").unwrap(),
            region: Region::new(region).unwrap(),
            site: Place::new(36.06, 103.84).unwrap(),
            requirements: vec![],
            certificates: vec![],
            headcount: Headcount::new(1).unwrap(),
            window: Window::new(
                Date::parse("2026-04-01").unwrap(),
                Date::parse("2026-04-30").unwrap(),
            )
            .unwrap(),
            hourly_wage_fen: Fen::new(3000).unwrap(),
            max_commute_km: None,
            industry: None,
            title: None,
            description: None,
            hours_per_day: None,
        }),
    }
}

/// The memory store with faults put in: multi-key writes (the read
/// models) that wait until `gate` opens; snapshot writes or reads that
/// fail (a Redis that refuses a value that large, times out on it, or is
/// down at that moment). Everything else passes through.
#[derive(Clone, Default)]
pub struct Faulty {
    pub inner: MemoryStore,
    pub gate: Option<Arc<tokio::sync::Semaphore>>,
    pub fail_snapshot_writes: bool,
    pub fail_snapshot_reads: bool,
}

#[async_trait::async_trait]
impl StateStore for Faulty {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        if self.fail_snapshot_reads && key.contains(":snap:") {
            return Err(StoreError::Unavailable("response timed out".into()));
        }
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if self.fail_snapshot_writes && key.contains(":snap:") {
            return Err(StoreError::Unavailable("snapshot refused".into()));
        }
        self.inner.set(key, value).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let _pass = match &self.gate {
            Some(gate) => Some(gate.acquire().await.expect("never closed")),
            None => None,
        };
        self.inner.set_many(pairs).await
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
    async fn compare_and_swap_many(&self, ops: &[Swap]) -> Result<Vec<bool>, StoreError> {
        self.inner.compare_and_swap_many(ops).await
    }
    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.inner.incr_by(key, delta).await
    }
    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Bytes)>, StoreError> {
        self.inner.scan_prefix(prefix).await
    }
    async fn add_to_sets(&self, adds: &[(String, String)]) -> Result<(), StoreError> {
        self.inner.add_to_sets(adds).await
    }
    async fn members_many(&self, keys: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
        self.inner.members_many(keys).await
    }
}

/// The memory bus with the oldest records of every partition gone from
/// replays, as a Kafka topic's retention would delete them (neither Tansu
/// nor the mock cluster implements DeleteRecords). Live reading is as is.
pub struct Truncated {
    pub inner: MemoryBus,
    /// The first offset left in each partition.
    pub from: u64,
}

#[async_trait::async_trait]
impl EventBus for Truncated {
    async fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<(), BusError> {
        self.inner.ensure_topic(topic, partitions).await
    }
    async fn publish(
        &self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
    ) -> Result<lendwork_ports::Position, BusError> {
        self.inner.publish(topic, key, payload).await
    }
    async fn subscribe(&self, topic: &str, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe(topic, group).await
    }
    async fn read_partition(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        until: u64,
    ) -> Result<Box<dyn lendwork_ports::PartitionReader>, BusError> {
        let mut all = self
            .inner
            .read_partition(topic, partition, from, until)
            .await?;
        let mut kept = Vec::new();
        while let Some(r) = all.next().await? {
            if r.position.offset >= self.from {
                kept.push(r);
            }
        }
        Ok(Box::new(Replay(kept.into_iter())))
    }
}

pub struct Replay(std::vec::IntoIter<Record>);

#[async_trait::async_trait]
impl lendwork_ports::PartitionReader for Replay {
    async fn next(&mut self) -> Result<Option<Record>, BusError> {
        Ok(self.0.next())
    }
}

pub fn snapshotting(partitions: u32, every: u64) -> MatcherOptions {
    MatcherOptions {
        snapshot_every: every,
        ..options(partitions)
    }
}

/// A matcher with snapshots every `every` records over `events`, on a
/// fresh bus and store; returns the snapshots it left.
pub async fn snapshots_of(events: &[(Bytes, Bytes)], every: u64) -> Vec<(String, Bytes)> {
    let opts = snapshotting(3, every);
    let (bus, store) = market_with(3, events).await;
    run_until(&bus, &store, opts, events.len() as u64, false).await;
    store.scan_prefix("lw:snap:").await.unwrap()
}

/// Runs a matcher over `store` until it has handled `live` records live;
/// `what` says what a timeout means.
pub async fn run_live(
    bus: &MemoryBus,
    store: Arc<dyn StateStore>,
    opts: &MatcherOptions,
    live: u64,
    what: &str,
) -> Arc<Health> {
    let health = Arc::new(Health::default());
    let mut m = Matcher::new(Arc::new(bus.clone()), store, opts.clone(), health.clone());
    let h = health.clone();
    let stop = async move {
        while h.records.load(Ordering::Relaxed) < live {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), m.run(stop))
        .await
        .expect(what)
        .unwrap();
    health
}

/// Done once `records` records were handled live and every partition's
/// snapshot stands at the partition's last record — the one a matcher
/// takes in its first quiet moment after them.
pub async fn snapshotted_at_ends(
    bus: &MemoryBus,
    store: &MemoryStore,
    opts: &MatcherOptions,
    records: u64,
) -> impl Fn(&Health) -> bool + Send + 'static {
    let mut ends = Vec::new();
    for p in 0..opts.partitions {
        let mut r = bus
            .read_partition(&opts.market_topic, p, 0, u64::MAX)
            .await
            .unwrap();
        let mut end = 0;
        while let Some(rec) = r.next().await.unwrap() {
            end = rec.position.offset + 1;
        }
        let key = Keys::new(opts.prefix.clone()).snapshot(&opts.market_topic, p);
        ends.push((key, p, end));
    }
    let (store, topic, engine) = (
        store.clone(),
        opts.market_topic.clone(),
        opts.engine.clone(),
    );
    move |h: &Health| {
        h.records.load(Ordering::Relaxed) >= records
            && ends
                .iter()
                .filter(|(_, _, end)| *end > 0)
                .all(|(key, p, end)| {
                    futures::executor::block_on(store.get(key))
                        .unwrap()
                        .and_then(|b| PartitionState::restore(&b, &topic, *p, &engine).ok())
                        .is_some_and(|(state, _)| state.next_offset == *end)
                })
    }
}

/// A matcher on the memory bus and store, and its health.
pub fn matcher_on(
    bus: &MemoryBus,
    store: &MemoryStore,
    opts: &MatcherOptions,
) -> (Matcher, Arc<Health>) {
    let health = Arc::new(Health::default());
    let m = Matcher::new(
        Arc::new(bus.clone()),
        Arc::new(store.clone()),
        opts.clone(),
        health.clone(),
    );
    (m, health)
}

/// Handles what `sub` delivers, batch by batch, until `records` records
/// have been handled.
pub async fn handle_all(m: &mut Matcher, sub: &mut dyn Subscription, h: &Health, records: u64) {
    while h.records.load(Ordering::Relaxed) < records {
        let r = tokio::time::timeout(Duration::from_secs(60), sub.next())
            .await
            .expect("a record")
            .unwrap();
        m.handle(sub, vec![r]).await.unwrap();
    }
}
