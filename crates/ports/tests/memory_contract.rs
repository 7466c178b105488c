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
