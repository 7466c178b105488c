//! What survives a close, a crash image with a torn log, and what the data
//! directory refuses.

mod common;

use std::path::Path;

use common::{all_records, TempDir};
use lendwork_ports::{EventBus, StateStore};
use lendwork_sqlite::{OpenError, SqliteData, FORMAT_VERSION};

#[tokio::test]
async fn reopen_keeps_records_offsets_commits_and_store_values() {
    let dir = TempDir::new("reopen");
    let positions;
    let mut committed = std::collections::BTreeMap::new();
    {
        let data = SqliteData::open(dir.path()).unwrap();
        let bus = data.bus();
        bus.ensure_topic("t", 3).await.unwrap();
        let recs: Vec<(bytes::Bytes, bytes::Bytes)> = (0..30)
            .map(|i| {
                (
                    bytes::Bytes::from(format!("k{}", i % 7)),
                    bytes::Bytes::from(i.to_string()),
                )
            })
            .collect();
        positions = bus.publish_all("t", &recs).await.unwrap();
        let mut sub = bus.subscribe("t", "g").await.unwrap();
        let mut last = std::collections::BTreeMap::new();
        for _ in 0..12 {
            let r = sub.next().await.unwrap();
            last.insert(r.position.partition, r);
        }
        let done: Vec<_> = last.into_values().collect();
        sub.commit_all(&done).await.unwrap();
        for r in &done {
            committed.insert(r.position.partition, r.position.offset + 1);
        }
        let store = data.store();
        store.set("a", b"1").await.unwrap();
        store.incr_by("n", 41).await.unwrap();
        store
            .add_to_sets(&[("s".into(), "y".into()), ("s".into(), "x".into())])
            .await
            .unwrap();
    }
    assert!(
        !dir.path().join("lendwork.db-wal").exists(),
        "a clean close folds the log into the database"
    );
    let data = SqliteData::open(dir.path()).unwrap();
    let bus = data.bus();
    let records = all_records(&bus, "t").await;
    assert_eq!(records.len(), 30, "every record is back");
    for r in &records {
        let i: usize = std::str::from_utf8(&r.payload).unwrap().parse().unwrap();
        assert_eq!(r.position, positions[i], "record {i} keeps its position");
        assert_eq!(&r.key[..], format!("k{}", i % 7).as_bytes());
    }
    // The offsets go on from where they were.
    let p = bus.publish("t", b"k0", b"30").await.unwrap();
    let before = positions
        .iter()
        .filter(|q| q.partition == p.partition)
        .count() as u64;
    assert_eq!(p.offset, before, "the next offset follows the last");
    // The group's commits are kept, and it resumes after them: it gets
    // the 18 records it had not committed, then the new one.
    let mut sub = bus.subscribe("t", "g").await.unwrap();
    for p in 0..3 {
        assert_eq!(
            sub.committed(p).await.unwrap(),
            committed.get(&p).copied(),
            "partition {p}'s committed offset"
        );
    }
    for _ in 0..19 {
        let r = tokio::time::timeout(std::time::Duration::from_secs(30), sub.next())
            .await
            .unwrap()
            .unwrap();
        let c = committed.get(&r.position.partition).copied().unwrap_or(0);
        assert!(r.position.offset >= c, "a committed record comes back");
    }
    let store = data.store();
    assert_eq!(store.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(store.incr_by("n", 1).await.unwrap(), 42);
    assert_eq!(
        store.members_many(&["s".into()]).await.unwrap(),
        vec![vec!["x".to_owned(), "y".to_owned()]]
    );
}

#[tokio::test]
async fn a_second_open_is_refused_while_the_first_holds_the_directory() {
    let dir = TempDir::new("locked");
    let first = SqliteData::open(dir.path()).unwrap();
    let bus = first.bus();
    match SqliteData::open(dir.path()) {
        Err(e @ OpenError::Locked { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&dir.path().display().to_string()),
                "the message names the directory: {msg}"
            );
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a second open of a held directory succeeded"),
    }
    drop(first);
    assert!(
        matches!(SqliteData::open(dir.path()), Err(OpenError::Locked { .. })),
        "a bus taken from it still holds the directory"
    );
    drop(bus);
    SqliteData::open(dir.path()).expect("free again once everything is dropped");
}

#[test]
fn an_unknown_format_is_refused_naming_both_versions() {
    let dir = TempDir::new("format");
    drop(SqliteData::open(dir.path()).unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("FORMAT"))
            .unwrap()
            .trim(),
        FORMAT_VERSION.to_string()
    );
    std::fs::write(dir.path().join("FORMAT"), "7\n").unwrap();
    let err = SqliteData::open(dir.path()).err().expect("refused");
    assert!(matches!(err, OpenError::UnknownFormat { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"7\""), "names the version found: {msg}");
    assert!(
        msg.contains(&format!("reads format version {FORMAT_VERSION}")),
        "names the version it reads: {msg}"
    );
    // A database without its FORMAT file is refused too, not adopted.
    std::fs::remove_file(dir.path().join("FORMAT")).unwrap();
    let err = SqliteData::open(dir.path()).err().expect("refused");
    assert!(matches!(err, OpenError::NoFormat { .. }), "{err}");
}

#[test]
fn a_foreign_file_in_place_of_the_database_is_an_error_not_a_panic() {
    let dir = TempDir::new("foreign");
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join("FORMAT"), "1\n").unwrap();
    std::fs::write(dir.path().join("lendwork.db"), vec![0x5a; 10_000]).unwrap();
    let err = SqliteData::open(dir.path()).err().expect("refused");
    assert!(matches!(err, OpenError::Database { .. }), "{err}");
}

/// A change made to a copy of the write-ahead log.
type Damage = Box<dyn FnOnce(&mut Vec<u8>)>;

/// Copies what a crash would leave of `from` (the database and its
/// write-ahead log, not the shared-memory index) to `to`, with the log
/// changed by `damage`.
fn crash_image(from: &Path, to: &Path, damage: impl FnOnce(&mut Vec<u8>)) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["FORMAT", "lendwork.db"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    let mut wal = std::fs::read(from.join("lendwork.db-wal")).unwrap();
    damage(&mut wal);
    std::fs::write(to.join("lendwork.db-wal"), wal).unwrap();
}

/// A torn or garbage tail of the write-ahead log never becomes visible:
/// the database opens and holds a prefix of the committed transactions.
/// (A clean close folds the log into the database and removes it, so the
/// log is taken as a crash leaves it: copied while the database is open,
/// after the commits were acknowledged.)
#[tokio::test]
async fn a_torn_write_ahead_log_reopens_to_a_prefix_of_what_was_committed() {
    const N: u64 = 100;
    let dir = TempDir::new("torn");
    let live = dir.path().join("live");
    let data = SqliteData::open(&live).unwrap();
    let (bus, store) = (data.bus(), data.store());
    bus.ensure_topic("t", 1).await.unwrap();
    // One transaction each, in this order: record i, then "last" = i.
    for i in 0..N {
        bus.publish("t", b"k", i.to_string().as_bytes())
            .await
            .unwrap();
        store.set("last", i.to_string().as_bytes()).await.unwrap();
    }
    let wal_len = std::fs::metadata(live.join("lendwork.db-wal"))
        .unwrap()
        .len() as usize;
    assert!(
        wal_len > 100 * 4096,
        "the log holds the commits ({wal_len} bytes)"
    );
    let mut cuts: Vec<(String, Damage)> = Vec::new();
    for at in [
        10,
        32,
        wal_len / 4,
        wal_len / 2,
        wal_len * 3 / 4,
        wal_len - 100,
        wal_len,
    ] {
        cuts.push((format!("cut at {at}"), Box::new(move |w| w.truncate(at))));
    }
    cuts.push((
        "garbage in the middle".into(),
        Box::new(move |w| w[wal_len / 2..wal_len / 2 + 3000].fill(0xab)),
    ));
    cuts.push((
        "garbage at the end".into(),
        Box::new(move |w| w[wal_len - 3000..].fill(0x5c)),
    ));
    let mut counts = Vec::new();
    for (i, (what, damage)) in cuts.into_iter().enumerate() {
        let image = dir.path().join(format!("image-{i}"));
        crash_image(&live, &image, damage);
        let reopened =
            SqliteData::open(&image).unwrap_or_else(|e| panic!("{what}: the database opens: {e}"));
        let bus = reopened.bus();
        let records = match bus.end_offsets("t") {
            Ok(_) => all_records(&bus, "t").await,
            Err(_) => Vec::new(), // cut before the topic was created
        };
        let got: Vec<u64> = records
            .iter()
            .map(|r| std::str::from_utf8(&r.payload).unwrap().parse().unwrap())
            .collect();
        let count = got.len() as u64;
        assert_eq!(got, (0..count).collect::<Vec<_>>(), "{what}: a prefix");
        let last: Option<u64> = reopened
            .store()
            .get("last")
            .await
            .unwrap()
            .map(|v| std::str::from_utf8(&v).unwrap().parse().unwrap());
        let last = last.map_or(-1, |l| l as i64);
        assert!(
            last == count as i64 - 1 || last == count as i64 - 2,
            "{what}: the store is at the same point as the log ({count} records, last {last})"
        );
        // Transactions found: the records, and the store's writes.
        counts.push((what, count + (last + 1) as u64));
    }
    let found: Vec<u64> = counts.iter().map(|(_, c)| *c).collect();
    assert_eq!(
        found[6],
        2 * N,
        "the whole log gives everything: {counts:?}"
    );
    assert!(
        found[..7].windows(2).all(|w| w[0] <= w[1]),
        "a longer log never gives less: {counts:?}"
    );
    assert!(found[5] < 2 * N, "a torn last frame is dropped: {counts:?}");
    assert!(
        found[7] < found[8] && found[8] < 2 * N,
        "garbage drops what follows it: {counts:?}"
    );
}

/// Concurrent writes share commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_are_group_committed() {
    let dir = TempDir::new("group-commit");
    let data = SqliteData::open(dir.path()).unwrap();
    let bus = data.bus();
    bus.ensure_topic("t", 4).await.unwrap();
    let before = data.writer_stats();
    let publishes = (0..400).map(|i| {
        let bus = bus.clone();
        tokio::spawn(async move {
            bus.publish("t", format!("k{i}").as_bytes(), b"x")
                .await
                .unwrap()
        })
    });
    let positions = futures::future::join_all(publishes).await;
    assert_eq!(positions.len(), 400);
    let after = data.writer_stats();
    let (txs, writes) = (
        after.transactions - before.transactions,
        after.writes - before.writes,
    );
    assert_eq!(writes, 400);
    assert!(txs < writes, "{writes} writes took {txs} transactions");
    let mut offsets: Vec<_> = positions.into_iter().map(|p| p.unwrap()).collect();
    offsets.sort();
    offsets.dedup();
    assert_eq!(offsets.len(), 400, "every record has its own position");
}
