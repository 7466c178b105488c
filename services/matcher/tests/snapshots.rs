//! Partition snapshots: a takeover starts from one and publishes what a
//! full replay would; one that does not fit, cannot be read or written, or
//! is ahead of the group's offsets is refused or skipped without holding
//! anything up; snapshots wait for a quiet moment.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use lendwork_matcher::{Health, MatcherOptions, PartitionState};
use lendwork_ports::memory::{MemoryBus, MemoryStore};
use lendwork_ports::{EventBus, StateStore};
use lendwork_state::keys::Keys;

use common::{
    check, market_with, next_owner, run_live, run_to, run_until, sim_events, snapshots_of,
    snapshotted_at_ends, snapshotting, Faulty,
};

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
    // A snapshot after every quiet moment: both partitions are then
    // snapshotted at their ends whatever their lengths.
    let opts = snapshotting(2, 1);
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
