//! The in-memory implementations pass the contract suites.

use lendwork_ports::contract::{bus_suite, store_suite};
use lendwork_ports::memory::{MemoryBus, MemoryStore};

#[tokio::test]
async fn memory_bus_passes_the_contract() {
    bus_suite(&MemoryBus::new(), "t1").await;
}

#[tokio::test]
async fn memory_store_passes_the_contract() {
    store_suite(&MemoryStore::new(), "t1").await;
}

#[tokio::test]
async fn unknown_topics_and_bad_names_are_refused() {
    use lendwork_ports::{BusError, EventBus};
    let bus = MemoryBus::new();
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
}

/// The in-memory bus hands a publisher's decoded value to the first reader
/// of the record only: another group, a rebuild and a plain publish get
/// the bytes alone.
#[tokio::test]
async fn memory_bus_hands_decoded_values_to_the_first_reader() {
    use bytes::Bytes;
    use lendwork_ports::{Decoded, EventBus};
    use std::sync::Arc;
    let bus = MemoryBus::new();
    bus.ensure_topic("t", 1).await.unwrap();
    let recs = [
        (Bytes::from_static(b"k"), Bytes::from_static(b"1")),
        (Bytes::from_static(b"k"), Bytes::from_static(b"2")),
    ];
    let decoded: Vec<Decoded> = vec![Arc::new(1u32), Arc::new(2u32)];
    bus.publish_all_decoded("t", &recs, decoded).await.unwrap();
    bus.publish("t", b"k", b"3").await.unwrap();
    let value = |r: &lendwork_ports::Record| {
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
