//! The SQLite bus and store pass the contract suites, unchanged, and keep
//! the in-memory bus's extras (refusals, decoded values).

mod common;

use bytes::Bytes;
use common::TempDir;
use lendwork_ports::contract::{bus_suite, store_suite};
use lendwork_ports::{BusError, Decoded, EventBus, Record};
use lendwork_sqlite::SqliteData;
use std::sync::Arc;

#[tokio::test]
async fn sqlite_bus_passes_the_contract() {
    let dir = TempDir::new("bus-contract");
    let data = SqliteData::open(dir.path()).unwrap();
    let bus = data.bus();
    bus_suite(&*bus, "t1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_bus_passes_the_contract_on_a_multi_threaded_runtime() {
    let dir = TempDir::new("bus-contract-mt");
    let data = SqliteData::open(dir.path()).unwrap();
    bus_suite(&*data.bus(), "t1").await;
}

#[tokio::test]
async fn sqlite_store_passes_the_contract() {
    let dir = TempDir::new("store-contract");
    let data = SqliteData::open(dir.path()).unwrap();
    let store = data.store();
    store_suite(&*store, "t1").await;
}

/// A reopened directory passes the suites again beside what it kept.
#[tokio::test]
async fn a_reopened_directory_passes_the_contract_again() {
    let dir = TempDir::new("contract-reopen");
    {
        let data = SqliteData::open(dir.path()).unwrap();
        bus_suite(&*data.bus(), "t1").await;
        store_suite(&*data.store(), "t1").await;
    }
    let data = SqliteData::open(dir.path()).unwrap();
    bus_suite(&*data.bus(), "t2").await;
    store_suite(&*data.store(), "t2").await;
}

#[tokio::test]
async fn unknown_topics_and_bad_names_are_refused() {
    let dir = TempDir::new("refusals");
    let data = SqliteData::open(dir.path()).unwrap();
    let bus = data.bus();
    assert!(matches!(
        bus.publish("nope", b"k", b"v").await,
        Err(BusError::Invalid(_))
    ));
    assert!(matches!(
        bus.ensure_topic("bad name", 1).await,
        Err(BusError::Invalid(_))
    ));
    assert!(matches!(
        bus.ensure_topic("ok", 0).await,
        Err(BusError::Invalid(_))
    ));
    assert!(matches!(
        bus.subscribe("nope", "g").await,
        Err(BusError::Invalid(_))
    ));
    bus.ensure_topic("ok", 2).await.unwrap();
    assert!(matches!(
        bus.subscribe("ok", "bad group").await,
        Err(BusError::Invalid(_))
    ));
    assert!(matches!(
        bus.read_partition("ok", 2, 0, 1).await,
        Err(BusError::Invalid(_))
    ));
    assert_eq!(
        bus.publish_all("ok", &[]).await.unwrap(),
        vec![],
        "an empty batch"
    );
}

/// As the in-memory bus: a publisher's decoded value goes to the first
/// reader of the record only; another group, a rebuild and a plain publish
/// get the bytes alone.
#[tokio::test]
async fn sqlite_bus_hands_decoded_values_to_the_first_reader() {
    let dir = TempDir::new("decoded");
    let data = SqliteData::open(dir.path()).unwrap();
    let bus = data.bus();
    bus.ensure_topic("t", 1).await.unwrap();
    let recs = [
        (Bytes::from_static(b"k"), Bytes::from_static(b"1")),
        (Bytes::from_static(b"k"), Bytes::from_static(b"2")),
    ];
    let decoded: Vec<Decoded> = vec![Arc::new(1u32), Arc::new(2u32)];
    bus.publish_all_decoded("t", &recs, decoded).await.unwrap();
    bus.publish("t", b"k", b"3").await.unwrap();
    let value = |r: &Record| {
        r.decoded
            .as_ref()
            .map(|d| *d.downcast_ref::<u32>().expect("a u32"))
    };
    let mut first = bus.subscribe("t", "a").await.unwrap();
    for (payload, want) in [(&b"1"[..], Some(1)), (b"2", Some(2)), (b"3", None)] {
        let r = first.next().await.unwrap();
        assert_eq!(&r.payload[..], payload);
        assert_eq!(value(&r), want);
    }
    let mut other = bus.subscribe("t", "b").await.unwrap();
    assert_eq!(value(&other.next().await.unwrap()), None);
    let mut rebuild = bus.read_partition("t", 0, 0, 1).await.unwrap();
    assert_eq!(value(&rebuild.next().await.unwrap().unwrap()), None);
}

/// A subscriber waiting when the decoded batch is published gets the
/// values too (the hand-over is made visible before the records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_subscriber_gets_decoded_values() {
    let dir = TempDir::new("decoded-live");
    let data = SqliteData::open(dir.path()).unwrap();
    let bus = data.bus();
    bus.ensure_topic("t", 3).await.unwrap();
    let mut sub = bus.subscribe("t", "a").await.unwrap();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..30 {
            let r = sub.next().await.unwrap();
            let d = r
                .decoded
                .as_ref()
                .map(|d| *d.downcast_ref::<u32>().unwrap());
            got.push((
                std::str::from_utf8(&r.payload)
                    .unwrap()
                    .parse::<u32>()
                    .unwrap(),
                d,
            ));
        }
        got
    });
    for chunk in 0..3u32 {
        let recs: Vec<(Bytes, Bytes)> = (chunk * 10..chunk * 10 + 10)
            .map(|i| (Bytes::from(format!("k{i}")), Bytes::from(i.to_string())))
            .collect();
        let decoded: Vec<Decoded> = (chunk * 10..chunk * 10 + 10)
            .map(|i| Arc::new(i) as Decoded)
            .collect();
        bus.publish_all_decoded("t", &recs, decoded).await.unwrap();
    }
    let got = tokio::time::timeout(std::time::Duration::from_secs(60), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(got.iter().all(|(n, d)| *d == Some(*n)), "{got:?}");
}
