//! The matcher over the in-memory bus and store: what it publishes equals a
//! replay of the market topic, read models follow, a restart (with or
//! without the last commit) loses nothing and changes no id, and a worker
//! offered in two regions owned by different partitions is never
//! double-booked; and batches are pipelined without committing early.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lendwork::audit::{audit, drain};
use lendwork::matcher::{Health, Matcher, MatcherOptions, PartitionState};
use lendwork::readmodel::{GapView, Keys, RegionView};
use lendwork::route::Router;
use lendwork_domain::*;
use lendwork_engine::EngineConfig;
use lendwork_ports::memory::{MemoryBus, MemoryStore};
use lendwork_ports::{BusError, EventBus, Record, StateStore, StoreError, Subscription, Swap};
use lendwork_sim::SimConfig;

fn options(partitions: u32) -> MatcherOptions {
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
async fn sim_events(workers: u64, gaps: u64, seed: u64) -> Vec<(Bytes, Bytes)> {
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
async fn market_with(partitions: u32, records: &[(Bytes, Bytes)]) -> (MemoryBus, MemoryStore) {
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
async fn run_until(
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
async fn next_owner(
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
async fn run_to(
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
        let mut sub = NoCommit(m.start().await.unwrap());
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

/// A member that handles records but whose commits never land (a crash
/// between effects and commit, every time).
struct NoCommit(Box<dyn Subscription>);

#[async_trait::async_trait]
impl Subscription for NoCommit {
    async fn next(&mut self) -> Result<Record, BusError> {
        self.0.next().await
    }
    async fn commit(&mut self, _: &Record) -> Result<(), BusError> {
        Err(BusError::Unavailable("commit lost".into()))
    }
    async fn committed(&mut self, partition: u32) -> Result<Option<u64>, BusError> {
        self.0.committed(partition).await
    }
}

async fn check(
    bus: &MemoryBus,
    store: &MemoryStore,
    opts: &MatcherOptions,
) -> lendwork::audit::AuditReport {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_outputs_equal_a_replay_and_views_follow() {
    let opts = options(4);
    let events = sim_events(600, 80, 7).await;
    let (bus, store) = market_with(4, &events).await;
    let health = run_until(&bus, &store, opts.clone(), events.len() as u64, false).await;
    assert_eq!(health.records.load(Ordering::Relaxed), events.len() as u64);
    let report = check(&bus, &store, &opts).await;
    assert!(report.published_ids > 50, "{report:#?}");
    assert_eq!(report.duplicates, 0);
    // Region views: proposals counted equal the proposals published.
    let keys = Keys::new("lw");
    let regions = store.scan_prefix(&keys.regions()).await.unwrap();
    assert_eq!(regions.len(), 3, "a view per region");
    let mut proposed = 0;
    for (_, v) in &regions {
        let r: RegionView = serde_json::from_slice(v).unwrap();
        assert!(r.workers > 0 && r.positions >= r.open_positions);
        proposed += r.proposed;
    }
    let published = drain(
        &bus,
        &opts.matches_topic,
        "count",
        Duration::from_millis(50),
        Duration::from_millis(50),
    )
    .await
    .unwrap()
    .iter()
    .filter(|r| {
        std::str::from_utf8(&r.payload)
            .unwrap()
            .contains("\"match_proposed\"")
    })
    .count() as u64;
    assert_eq!(proposed, published);
    // A gap view says how many positions are open.
    let gaps = store.scan_prefix("lw:rm:gap:").await.unwrap();
    assert!(!gaps.is_empty());
    for (_, v) in gaps {
        let g: GapView = serde_json::from_slice(&v).unwrap();
        assert!(g.open <= g.headcount);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_nothing_and_changes_no_id() {
    let opts = options(3);
    let events = sim_events(500, 70, 11).await;
    let (first, second) = events.split_at(events.len() / 2);
    let (bus, store) = market_with(3, first).await;
    // The first instance's commits never land: the next one gets every
    // record again, rebuilds nothing and republishes the same ids.
    run_until(&bus, &store, opts.clone(), first.len() as u64, true).await;
    bus.publish_all(&opts.market_topic, second).await.unwrap();
    let h = run_until(&bus, &store, opts.clone(), events.len() as u64, false).await;
    assert_eq!(
        h.rebuilds.load(Ordering::Relaxed),
        3,
        "one per partition, from offset 0"
    );
    let report = check(&bus, &store, &opts).await;
    assert!(
        report.duplicates > 0,
        "the uncommitted half was published twice"
    );
    // A third instance after committed work replays and goes on.
    let h = next_owner(&bus, &store, opts.clone(), events.len(), 40, 12).await;
    assert!(h.replayed.load(Ordering::Relaxed) >= events.len() as u64 - 3);
    check(&bus, &store, &opts).await;
}

fn offer(id: &str, worker: &str, region: &str, at: i64) -> Event {
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
        }),
    }
}

fn post(id: &str, gap: &str, region: &str, at: i64) -> Event {
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
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_in_two_partitions_is_booked_once() {
    let (bus, store) = (MemoryBus::new(), MemoryStore::new());
    let opts = options(2);
    // Two regions in different partitions.
    let (ra, rb) = (
        "620100",
        (620101..620200)
            .map(|r| r.to_string())
            .find(|r| {
                lendwork_ports::partition_for(r.as_bytes(), 2)
                    != lendwork_ports::partition_for(b"620100", 2)
            })
            .unwrap(),
    );
    let events = [
        post("e1", "gap-a", ra, 1),
        offer("e2", "w1", ra, 2),
        post("e3", "gap-b", &rb, 3),
        // The same worker re-offered in region B: partition B's engine
        // proposes them too, but partition A still holds its proposal.
        offer("e4", "w1", &rb, 4),
    ];
    bus.ensure_topic(&opts.market_topic, 2).await.unwrap();
    for e in &events {
        let key = e.kind.region().unwrap().to_string();
        bus.publish(&opts.market_topic, key.as_bytes(), e.to_json().as_bytes())
            .await
            .unwrap();
    }
    // Four records and the decline the conflict appends.
    let h = run_until(&bus, &store, opts.clone(), 5, false).await;
    assert_eq!(h.conflicts.load(Ordering::Relaxed), 1);
    let report = check(&bus, &store, &opts).await;
    assert_eq!(report.withheld, 1);
    let keys = Keys::new("lw");
    let b: GapView =
        serde_json::from_slice(&store.get(&keys.gap("gap-b")).await.unwrap().unwrap()).unwrap();
    assert_eq!(b.open, 1, "gap B is open again after the decline");
}

/// The memory store with faults put in: multi-key writes (the read
/// models) that wait until `gate` opens; snapshot writes or reads that
/// fail (a Redis that refuses a value that large, times out on it, or is
/// down at that moment). Everything else passes through.
#[derive(Clone, Default)]
struct Faulty {
    inner: MemoryStore,
    gate: Option<Arc<tokio::sync::Semaphore>>,
    fail_snapshot_writes: bool,
    fail_snapshot_reads: bool,
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

/// Pipelining: while a batch's read models are held back, the matcher
/// handles the next batch — and no further — and commits nothing; once
/// the writes land, everything is handled, committed, and the read models
/// agree with a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_handled_while_the_one_before_is_made_durable_and_committed_only_after() {
    let (bus, inner) = (MemoryBus::new(), MemoryStore::new());
    let opts = options(2);
    let events = sim_events(300, 40, 5).await;
    let n = events.len() as u64;
    assert!(n > 3 * opts.max_batch as u64, "several batches");
    bus.ensure_topic(&opts.market_topic, opts.partitions)
        .await
        .unwrap();
    bus.publish_all(&opts.market_topic, &events).await.unwrap();
    let store = Faulty {
        inner: inner.clone(),
        gate: Some(Arc::new(tokio::sync::Semaphore::new(0))),
        ..Faulty::default()
    };
    let health = Arc::new(Health::default());
    let mut m = Matcher::new(
        Arc::new(bus.clone()),
        Arc::new(store.clone()),
        opts.clone(),
        health.clone(),
    );
    let h = health.clone();
    let running = tokio::spawn(async move {
        m.run(async move {
            while h.records.load(Ordering::Relaxed) < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    });
    // The first batch is stuck making its views durable; the second is
    // handled meanwhile; the third waits for the first.
    let batch = opts.max_batch as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while health.records.load(Ordering::Relaxed) < 2 * batch {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for the second batch"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        health.records.load(Ordering::Relaxed),
        2 * batch,
        "one batch ahead, no more"
    );
    assert_eq!(
        health.batches.load(Ordering::Relaxed),
        0,
        "nothing committed before its effects are durable"
    );
    store
        .gate
        .as_ref()
        .expect("gated")
        .add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    tokio::time::timeout(Duration::from_secs(120), running)
        .await
        .expect("the matcher finishes")
        .unwrap()
        .unwrap();
    assert!(health.batches.load(Ordering::Relaxed) >= n / batch);
    check(&bus, &inner, &opts).await;
}

/// The memory bus with the oldest records of every partition gone from
/// replays, as a Kafka topic's retention would delete them (neither Tansu
/// nor the mock cluster implements DeleteRecords). Live reading is as is.
struct Truncated {
    inner: MemoryBus,
    /// The first offset left in each partition.
    from: u64,
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

struct Replay(std::vec::IntoIter<Record>);

#[async_trait::async_trait]
impl lendwork_ports::PartitionReader for Replay {
    async fn next(&mut self) -> Result<Option<Record>, BusError> {
        Ok(self.0.next())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_missing_its_oldest_records_stops_the_matcher_instead_of_matching() {
    let opts = options(1);
    let events = sim_events(200, 30, 5).await;
    let (first, second) = events.split_at(events.len() / 2);
    let (bus, store) = market_with(1, first).await;
    // A first instance handles and commits the first half.
    run_until(&bus, &store, opts.clone(), first.len() as u64, false).await;
    bus.publish_all(&opts.market_topic, second).await.unwrap();
    let published = |bus: MemoryBus| async move {
        drain(
            &bus,
            "lendwork.matches.v1",
            &format!("count-{}", rand::random::<u32>()),
            Duration::from_millis(50),
            Duration::from_millis(50),
        )
        .await
        .unwrap()
        .len()
    };
    let before = published(bus.clone()).await;
    // The next instance must rebuild from offset 0, which is gone.
    let health = Arc::new(Health::default());
    let mut m = Matcher::new(
        Arc::new(Truncated {
            inner: bus.clone(),
            from: 3,
        }),
        Arc::new(store.clone()),
        opts.clone(),
        health.clone(),
    );
    let err = tokio::time::timeout(Duration::from_secs(60), m.run(std::future::pending()))
        .await
        .expect("the matcher stops by itself")
        .expect_err("a partial history is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("partition 0 of topic lendwork.market.v1")
            && text.contains("found offset 3 where offset 0 was due")
            && text.contains("retention.ms=-1"),
        "{text}"
    );
    assert!(!health.ready(), "a stopped matcher is not ready");
    assert_eq!(health.records.load(Ordering::Relaxed), 0, "nothing handled");
    assert_eq!(published(bus.clone()).await, before, "nothing published");
    // With the whole history the same records are handled.
    run_until(&bus, &store, opts.clone(), events.len() as u64, false).await;
    check(&bus, &store, &opts).await;
}

fn snapshotting(partitions: u32, every: u64) -> MatcherOptions {
    MatcherOptions {
        snapshot_every: every,
        ..options(partitions)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_starts_from_the_snapshot_and_publishes_what_a_full_replay_would() {
    let opts = snapshotting(3, 40);
    let events = sim_events(500, 70, 11).await;
    let (first, second) = events.split_at(events.len() * 2 / 3);
    let (bus, store) = market_with(3, first).await;
    let h = run_to(
        &bus,
        &store,
        opts.clone(),
        false,
        snapshotted_at_ends(&bus, &store, &opts, first.len() as u64).await,
    )
    .await;
    assert!(
        h.snapshots_written.load(Ordering::Relaxed) >= 3,
        "snapshots taken"
    );
    assert_eq!(
        store
            .scan_prefix("lw:snap:lendwork.market.v1:")
            .await
            .unwrap()
            .len(),
        3,
        "one per partition"
    );
    // The next instance starts each partition from its snapshot and
    // replays only the records after it.
    bus.publish_all(&opts.market_topic, second).await.unwrap();
    let live = second.len() as u64;
    let h = run_to(&bus, &store, opts.clone(), false, move |h: &Health| {
        h.records.load(Ordering::Relaxed) >= live
    })
    .await;
    assert_eq!(
        h.records.load(Ordering::Relaxed),
        live,
        "the second part, live"
    );
    assert_eq!(h.snapshots_restored.load(Ordering::Relaxed), 3);
    assert_eq!(h.snapshots_refused.load(Ordering::Relaxed), 0);
    // The first instance's last snapshots were taken in its quiet moment
    // after its last records, all committed: nothing is left to replay.
    assert_eq!(h.replayed.load(Ordering::Relaxed), 0);
    // What it published equals a replay of the whole topic from offset 0.
    let report = check(&bus, &store, &opts).await;
    assert!(report.published_ids > 50, "{report:#?}");
}

/// A matcher with snapshots every `every` records over `events`, on a
/// fresh bus and store; returns the snapshots it left.
async fn snapshots_of(events: &[(Bytes, Bytes)], every: u64) -> Vec<(String, Bytes)> {
    let opts = snapshotting(3, every);
    let (bus, store) = market_with(3, events).await;
    run_until(&bus, &store, opts, events.len() as u64, false).await;
    store.scan_prefix("lw:snap:").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_does_not_fit_is_refused_and_the_partition_replayed_in_full() {
    let small = sim_events(300, 40, 11).await;
    let large = sim_events(900, 120, 99).await;
    let foreign = snapshots_of(&small, 30).await;
    assert_eq!(foreign.len(), 3);
    let key = |p: u32| Keys::new("lw").snapshot("lendwork.market.v1", p);
    // Each case: what the store holds under the snapshot keys when a
    // matcher takes over the large market's topic after its first half
    // was handled and committed (without snapshots), and how many
    // partitions must refuse theirs.
    let cases: Vec<(&str, Vec<(String, Bytes)>)> = vec![
        // Another topic's history: the records the snapshots were taken
        // after are not those at their offsets here.
        ("other records", foreign.clone()),
        (
            "garbage",
            (0..3)
                .map(|p| (key(p), Bytes::from_static(b"junk")))
                .collect(),
        ),
        // Partition 0's snapshot under every partition's key: right for
        // partition 0 only (whose digest check then refuses it too).
        (
            "another partition",
            (0..3)
                .map(|p| {
                    (
                        key(p),
                        foreign
                            .iter()
                            .find(|(k, _)| *k == key(0))
                            .unwrap()
                            .1
                            .clone(),
                    )
                })
                .collect(),
        ),
    ];
    for (name, seeded) in cases {
        let (first, second) = large.split_at(large.len() / 2);
        let (bus, store) = market_with(3, first).await;
        run_until(&bus, &store, snapshotting(3, 0), first.len() as u64, false).await;
        for (k, v) in &seeded {
            store.set(k, v).await.unwrap();
        }
        bus.publish_all("lendwork.market.v1", second).await.unwrap();
        let opts = snapshotting(3, 1_000_000);
        let h = run_until(&bus, &store, opts.clone(), large.len() as u64, false).await;
        assert_eq!(h.snapshots_refused.load(Ordering::Relaxed), 3, "{name}");
        assert_eq!(h.snapshots_restored.load(Ordering::Relaxed), 0, "{name}");
        assert_eq!(
            h.replayed.load(Ordering::Relaxed),
            first.len() as u64,
            "{name}: every partition replayed from offset 0"
        );
        check(&bus, &store, &opts).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_ahead_of_the_groups_offsets_or_of_other_settings_is_refused() {
    let events = sim_events(400, 60, 21).await;
    let (bus, store) = market_with(3, &events).await;
    let opts = snapshotting(3, 30);
    run_until(&bus, &store, opts.clone(), events.len() as u64, false).await;
    // Another group starts at offset 0 of every partition: the snapshots
    // are ahead of it (as after an operator moved the offsets back), so
    // it handles every record itself.
    let again = MatcherOptions {
        group: "again".into(),
        ..opts.clone()
    };
    let h = run_until(&bus, &store, again, events.len() as u64, false).await;
    assert_eq!(h.snapshots_refused.load(Ordering::Relaxed), 3);
    assert_eq!(h.records.load(Ordering::Relaxed), events.len() as u64);
    check(&bus, &store, &opts).await;
    // A matcher with other engine settings would make other proposals
    // from the same records: it refuses the snapshots and replays.
    let mut other = snapshotting(3, 30);
    other.engine.proposal_ttl_secs += 60;
    let h = next_owner(&bus, &store, other, events.len(), 60, 22).await;
    assert_eq!(h.snapshots_refused.load(Ordering::Relaxed), 3);
    assert_eq!(h.snapshots_restored.load(Ordering::Relaxed), 0);
    assert_eq!(h.replayed.load(Ordering::Relaxed), events.len() as u64);
}

/// Runs a matcher over `store` until it has handled `live` records live;
/// `what` says what a timeout means.
async fn run_live(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_cannot_be_written_holds_nothing_up() {
    let opts = snapshotting(3, 20);
    let events = sim_events(400, 60, 31).await;
    let (bus, store) = market_with(3, &events).await;
    let health = run_live(
        &bus,
        Arc::new(Faulty {
            inner: store.clone(),
            fail_snapshot_writes: true,
            ..Faulty::default()
        }),
        &opts,
        events.len() as u64,
        "the matcher goes on without its snapshots",
    )
    .await;
    assert!(health.store_ok.load(Ordering::Relaxed), "the store is fine");
    assert_eq!(health.snapshots_written.load(Ordering::Relaxed), 0);
    assert!(store.scan_prefix("lw:snap:").await.unwrap().is_empty());
    check(&bus, &store, &opts).await;
    // The next owner finds no snapshot and replays in full.
    let h = next_owner(&bus, &store, opts.clone(), events.len(), 40, 32).await;
    assert_eq!(h.snapshots_restored.load(Ordering::Relaxed), 0);
    assert_eq!(h.replayed.load(Ordering::Relaxed), events.len() as u64);
    check(&bus, &store, &opts).await;
}

/// Done once `records` records were handled live and every partition's
/// snapshot stands at the partition's last record — the one a matcher
/// takes in its first quiet moment after them.
async fn snapshotted_at_ends(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_waits_for_a_quiet_moment_and_is_overdue_at_twice_the_interval() {
    let (bus, store) = (MemoryBus::new(), MemoryStore::new());
    let events = sim_events(300, 40, 41).await;
    let n = events.len() as u64;
    assert!(n > 300, "{n} records");
    let (first, rest) = events.split_at(60);
    bus.ensure_topic("lendwork.market.v1", 1).await.unwrap();
    let opts = snapshotting(1, 50);
    let key = Keys::new("lw").snapshot("lendwork.market.v1", 0);
    let offset = |bytes: Bytes| {
        let (state, _) =
            PartitionState::restore(&bytes, "lendwork.market.v1", 0, &opts.engine).unwrap();
        state.next_offset
    };
    // 60 records: more than 50, fewer than the 100 that would make a
    // snapshot overdue, so it is taken in the quiet moment after them.
    bus.publish_all("lendwork.market.v1", first).await.unwrap();
    let done = snapshotted_at_ends(&bus, &store, &opts, 60).await;
    let h = run_to(&bus, &store, opts.clone(), false, done).await;
    assert_eq!(h.snapshots_written.load(Ordering::Relaxed), 1);
    assert_eq!(offset(store.get(&key).await.unwrap().unwrap()), 60);
    // The rest in one go, stopped as soon as they are handled: the batches
    // follow each other with no quiet moment, so the snapshots taken are
    // the overdue ones (after 100 or more records each).
    bus.publish_all("lendwork.market.v1", rest).await.unwrap();
    let live = rest.len() as u64;
    let h = run_to(&bus, &store, opts.clone(), false, move |h: &Health| {
        h.records.load(Ordering::Relaxed) >= live
    })
    .await;
    assert_eq!(h.snapshots_restored.load(Ordering::Relaxed), 1);
    assert_eq!(
        h.replayed.load(Ordering::Relaxed),
        0,
        "the snapshot was at the commit"
    );
    let written = h.snapshots_written.load(Ordering::Relaxed);
    assert!(written >= 1 && written <= live / 100, "{written} snapshots");
    let at = offset(store.get(&key).await.unwrap().unwrap());
    assert!(at >= 60 + 100 && at <= n, "the last overdue one at {at}");
    check(&bus, &store, &opts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_cannot_be_read_is_refused_and_the_partition_replayed() {
    let opts = snapshotting(2, 20);
    let events = sim_events(300, 40, 51).await;
    let (bus, store) = market_with(2, &events).await;
    let n = events.len() as u64;
    let done = snapshotted_at_ends(&bus, &store, &opts, n).await;
    run_to(&bus, &store, opts.clone(), false, done).await;
    assert_eq!(store.scan_prefix("lw:snap:").await.unwrap().len(), 2);
    // The next owner cannot read them: it replays, without waiting for
    // the store to give them up.
    let more = sim_events(40, 10, 52).await;
    bus.publish_all(&opts.market_topic, &more).await.unwrap();
    let health = run_live(
        &bus,
        Arc::new(Faulty {
            inner: store.clone(),
            fail_snapshot_reads: true,
            ..Faulty::default()
        }),
        &opts,
        more.len() as u64,
        "the rebuild does not wait for the snapshot",
    )
    .await;
    assert_eq!(health.snapshots_refused.load(Ordering::Relaxed), 2);
    assert_eq!(health.snapshots_restored.load(Ordering::Relaxed), 0);
    assert_eq!(health.replayed.load(Ordering::Relaxed), n);
    check(&bus, &store, &opts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_replay_is_followed_by_a_snapshot_so_the_next_owner_need_not_repeat_it() {
    let events = sim_events(300, 40, 61).await;
    let (first, second) = events.split_at(events.len() - 5);
    let (bus, store) = market_with(1, first).await;
    // Handled and committed without snapshots.
    run_until(&bus, &store, snapshotting(1, 0), first.len() as u64, false).await;
    // The next owner replays them all, handles five records live, and in
    // its first quiet moment takes a snapshot: the replay counts.
    bus.publish_all("lendwork.market.v1", second).await.unwrap();
    let opts = snapshotting(1, 100);
    let done = snapshotted_at_ends(&bus, &store, &opts, 5).await;
    let h = run_to(&bus, &store, opts.clone(), false, done).await;
    assert_eq!(h.replayed.load(Ordering::Relaxed), first.len() as u64);
    assert_eq!(h.snapshots_written.load(Ordering::Relaxed), 1);
    // So the owner after it replays nothing.
    let more = sim_events(20, 5, 62).await;
    bus.publish_all("lendwork.market.v1", &more).await.unwrap();
    let live = more.len() as u64;
    let h = run_to(&bus, &store, opts.clone(), false, move |h: &Health| {
        h.records.load(Ordering::Relaxed) >= live
    })
    .await;
    assert_eq!(h.snapshots_restored.load(Ordering::Relaxed), 1);
    assert_eq!(h.replayed.load(Ordering::Relaxed), 0);
    check(&bus, &store, &opts).await;
}

/// A member whose consumer never delivers some records (as librdkafka on
/// Tansu was seen to do under load: a fetch answered from a later offset).
struct Skipping {
    inner: Box<dyn Subscription>,
    /// (partition, offset) of the records it drops.
    drop: BTreeSet<(u32, u64)>,
}

#[async_trait::async_trait]
impl Subscription for Skipping {
    async fn next(&mut self) -> Result<Record, BusError> {
        loop {
            let r = self.inner.next().await?;
            if !self.drop.remove(&(r.position.partition, r.position.offset)) {
                return Ok(r);
            }
        }
    }
    async fn commit(&mut self, r: &Record) -> Result<(), BusError> {
        self.inner.commit(r).await
    }
    async fn committed(&mut self, partition: u32) -> Result<Option<u64>, BusError> {
        self.inner.committed(partition).await
    }
}

/// A matcher on the memory bus and store, and its health.
fn matcher_on(
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
async fn handle_all(m: &mut Matcher, sub: &mut dyn Subscription, h: &Health, records: u64) {
    while h.records.load(Ordering::Relaxed) < records {
        let r = tokio::time::timeout(Duration::from_secs(60), sub.next())
            .await
            .expect("a record")
            .unwrap();
        m.handle(sub, vec![r]).await.unwrap();
    }
}

/// Records the consumer skipped in a partition this instance holds are
/// read from the partition and handled with their effects — not folded
/// into a rebuild as if another member had handled them, which would
/// leave their proposals unpublished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_consumer_skips_are_read_and_handled_with_their_effects() {
    let opts = options(2);
    let events = sim_events(300, 40, 21).await;
    let (bus, store) = market_with(2, &events).await;
    let (mut m, health) = matcher_on(&bus, &store, &opts);
    // Three runs of records dropped mid-partition, one at the very start.
    let drop: BTreeSet<(u32, u64)> = [(0, 0), (0, 40), (0, 41), (0, 42), (1, 77)]
        .into_iter()
        .chain((100..110).map(|o| (1, o)))
        .collect();
    let mut sub = Skipping {
        inner: m.start().await.unwrap(),
        drop: drop.clone(),
    };
    handle_all(&mut m, &mut sub, &health, events.len() as u64).await;
    assert_eq!(
        health.skipped_reads.load(Ordering::Relaxed),
        drop.len() as u64,
        "offset 0 too: nothing committed there, so nobody handled it"
    );
    assert_eq!(health.records.load(Ordering::Relaxed), events.len() as u64);
    assert_eq!(health.replayed.load(Ordering::Relaxed), 0);
    let report = check(&bus, &store, &opts).await;
    assert!(report.published_ids > 30, "{report:#?}");
}

/// Past the next offset because another member handled the records in
/// between and committed them: the partition is rebuilt without effects
/// (nothing published twice, nothing read as skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_another_member_handled_meanwhile_are_replayed_without_effects() {
    let opts = options(1);
    let events = sim_events(300, 40, 22).await;
    let (a, rest) = events.split_at(events.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let (bus, store) = market_with(1, a).await;
    let (mut first, health) = matcher_on(&bus, &store, &opts);
    let mut sub = first.start().await.unwrap();
    handle_all(&mut first, sub.as_mut(), &health, a.len() as u64).await;
    drop(sub);
    // The partition moves to another member, which handles `b`.
    bus.publish_all(&opts.market_topic, b).await.unwrap();
    run_until(
        &bus,
        &store,
        opts.clone(),
        (a.len() + b.len()) as u64,
        false,
    )
    .await;
    // And comes back to the first, which still holds its state after `a`.
    bus.publish_all(&opts.market_topic, c).await.unwrap();
    let mut sub = first.start().await.unwrap();
    handle_all(
        &mut first,
        sub.as_mut(),
        &health,
        (a.len() + c.len()) as u64,
    )
    .await;
    assert_eq!(health.skipped_reads.load(Ordering::Relaxed), 0);
    assert_eq!(health.rebuilds.load(Ordering::Relaxed), 2);
    assert_eq!(
        health.replayed.load(Ordering::Relaxed),
        (a.len() + b.len()) as u64
    );
    let report = check(&bus, &store, &opts).await;
    assert_eq!(report.duplicates, 0, "{report:#?}");
}
