//! The matcher over the in-memory bus and store: what it publishes equals a
//! replay of the market topic, read models follow, a restart (with or
//! without the last commit) loses nothing and changes no id, a worker
//! offered in two regions owned by different partitions is never
//! double-booked, and batches are pipelined without committing early.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lendwork_matcher::audit::drain;
use lendwork_matcher::{Health, Matcher};
use lendwork_ports::memory::{MemoryBus, MemoryStore};
use lendwork_ports::{EventBus, StateStore};
use lendwork_state::keys::Keys;
use lendwork_state::views::{GapView, RegionView};

use common::{check, market_with, next_owner, offer, options, post, run_until, sim_events, Faulty};

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
