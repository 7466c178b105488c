//! The matcher over a real Kafka-protocol broker (Tansu, started by
//! `scripts/test-infra`): a region whose records arrive in two partitions
//! (a producer hashing keys another way, or partitions added to the topic)
//! stops the matcher with an error naming the region and both partitions,
//! before anything of the batch is made durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lendwork_domain::EventKind;
use lendwork_engine::EngineConfig;
use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_matcher::{Health, Matcher, MatcherOptions};
use lendwork_ports::contract::{fresh_namespace, test_infra};
use lendwork_ports::memory::MemoryStore;
use lendwork_ports::EventBus;
use lendwork_sim::SimConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_split_over_two_partitions_stops_the_matcher() {
    let brokers = test_infra("LENDWORK_TEST_KAFKA");
    let ns = fresh_namespace("lw-split");
    let opts = MatcherOptions {
        market_topic: format!("{ns}.market"),
        matches_topic: format!("{ns}.matches"),
        partitions: 2,
        group: format!("{ns}-matchers"),
        prefix: ns.clone(),
        engine: EngineConfig::default(),
        max_batch: 100,
        linger: Duration::from_millis(5),
        snapshot_every: 0,
    };
    let bus = Arc::new(KafkaBus::new(&KafkaConfig::new(brokers.clone())).unwrap());
    for t in [&opts.market_topic, &opts.matches_topic] {
        bus.ensure_topic(t, 2).await.unwrap();
    }
    let events = lendwork_sim::events(&SimConfig {
        workers: 60,
        gaps: 10,
        regions: 1,
        seed: 3,
        ..Default::default()
    });
    // The last offer or posting goes astray; the records before it go
    // where the bus puts them.
    let i = events
        .iter()
        .rposition(|e| {
            matches!(
                e.kind,
                EventKind::WorkerOffered(_) | EventKind::ShortagePosted(_)
            )
        })
        .expect("the market has offers");
    let (rest, last) = (&events[..i], &events[i]);
    let region = last.kind.region().unwrap().to_string();
    // The region's records, keyed by region, through the bus …
    let mut home = None;
    for e in rest {
        let at = bus
            .publish(
                &opts.market_topic,
                region.as_bytes(),
                e.to_json().as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(*home.get_or_insert(at.partition), at.partition);
    }
    // … and one more from a producer that put it in the other partition.
    let foreign: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let other = 1 - home.unwrap() as i32;
    let payload = last.to_json();
    foreign
        .send(
            FutureRecord::to(&opts.market_topic)
                .key(region.as_bytes())
                .partition(other)
                .payload(payload.as_bytes()),
            Duration::from_secs(30),
        )
        .await
        .unwrap();

    let health = Arc::new(Health::default());
    let store = MemoryStore::new();
    let mut m = Matcher::new(bus.clone(), Arc::new(store), opts.clone(), health.clone());
    let err = tokio::time::timeout(Duration::from_secs(120), m.run(std::future::pending()))
        .await
        .expect("the matcher stops by itself")
        .expect_err("a split region is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains(&format!("region {region} has records in partitions"))
            && text.contains(&opts.market_topic),
        "{text}"
    );
    assert!(!health.ready(), "a stopped matcher is not ready");
    assert_eq!(
        health.batches.load(Ordering::Relaxed),
        0,
        "no batch was made durable and committed"
    );
}
