//! Taking over a partition: a log missing its oldest records stops the
//! matcher; records the consumer skips are read and handled with their
//! effects; records another member handled are replayed without them.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lendwork_matcher::audit::drain;
use lendwork_matcher::{Health, Matcher};
use lendwork_ports::memory::MemoryBus;
use lendwork_ports::EventBus;

use common::{
    check, handle_all, market_with, matcher_on, options, run_until, sim_events, FaultySubscription,
    Truncated,
};

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
    let mut sub = FaultySubscription::skipping(m.start().await.unwrap(), drop.clone());
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
