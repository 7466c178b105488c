//! Broker faults under a running matcher, with librdkafka's mock cluster
//! (real Kafka-protocol brokers on loopback ports with fault injection):
//! the broker going down and coming back, request errors and slow round
//! trips. The matcher waits, readiness reports the outage, and when the
//! broker is back it resumes by itself; the audit then finds nothing lost,
//! no differing duplicate and nobody double-booked.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lendwork_domain::Event;
use lendwork_engine::EngineConfig;
use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_matcher::audit::{audit, drain};
use lendwork_matcher::probe;
use lendwork_matcher::{Health, Matcher, MatcherOptions};
use lendwork_ports::memory::MemoryStore;
use lendwork_ports::{EventBus, StateStore};
use lendwork_sim::SimConfig;
use lendwork_state::routes::Router;
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

fn options() -> MatcherOptions {
    MatcherOptions {
        market_topic: "market".into(),
        matches_topic: "matches".into(),
        partitions: 2,
        group: "matchers".into(),
        prefix: "lw".into(),
        engine: EngineConfig::default(),
        max_batch: 200,
        linger: std::time::Duration::from_millis(5),
        snapshot_every: 0,
    }
}

async fn records(store: &MemoryStore, events: &[Event]) -> Vec<(Bytes, Bytes)> {
    let router = Router::new("lw");
    let mut out = Vec::new();
    for e in events {
        let r = router.region(store, e).await.unwrap();
        out.push((Bytes::from(r.to_string()), Bytes::from(e.to_json())));
    }
    out
}

fn events() -> Vec<Event> {
    lendwork_sim::events(&SimConfig {
        workers: 500,
        gaps: 70,
        regions: 2,
        seed: 9,
        ..Default::default()
    })
}

async fn wait_for(what: &str, secs: u64, f: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Running {
    health: Arc<Health>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start(bus: Arc<dyn EventBus>, store: MemoryStore) -> Running {
    let health = Arc::new(Health::default());
    let opts = options();
    let store: Arc<dyn StateStore> = Arc::new(store);
    tokio::spawn(probe(
        bus.clone(),
        store.clone(),
        opts.market_topic.clone(),
        opts.partitions,
        "lw:probe".into(),
        health.clone(),
    ));
    let (stop, rx) = tokio::sync::oneshot::channel();
    let mut m = Matcher::new(bus, store, opts, health.clone());
    let task = tokio::spawn(async move {
        m.run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Running { health, stop, task }
}

async fn check(bus: &dyn EventBus, store: &MemoryStore, n: usize, what: &str) {
    let (first, idle) = (Duration::from_secs(60), Duration::from_secs(2));
    let market = drain(bus, "market", "audit-m", first, idle).await.unwrap();
    let matches = drain(bus, "matches", "audit-x", first, idle).await.unwrap();
    assert_eq!(market.len(), n, "every acknowledged event is in the log");
    let report = audit(&market, &matches, store, "lw", &EngineConfig::default())
        .await
        .unwrap();
    assert!(report.clean(), "{report:#?}");
    assert!(report.published_ids > 20, "{report:#?}");
    println!(
        "reliability|{what}|-|{}|{}|{}|mock cluster",
        report.market_records,
        report.missing.len() + report.conflicting_duplicates.len(),
        report.double_booked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matcher_waits_through_a_broker_outage_and_resumes() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("market", 2, 1).unwrap();
    cluster.create_topic("matches", 2, 1).unwrap();
    let bus: Arc<dyn EventBus> =
        Arc::new(KafkaBus::new(&KafkaConfig::new(cluster.bootstrap_servers())).unwrap());
    let store = MemoryStore::new();
    let recs = records(&store, &events()).await;
    let (a, b) = recs.split_at(recs.len() / 2);
    bus.publish_all("market", a).await.unwrap();
    let run = start(bus.clone(), store.clone());
    let h = run.health.clone();
    wait_for("the first half", 120, || {
        h.records.load(Ordering::Relaxed) >= a.len() as u64 && h.batches.load(Ordering::Relaxed) > 0
    })
    .await;
    wait_for("ready", 30, || h.ready()).await;

    cluster.broker_down(1).unwrap();
    let sender = {
        let (bus, b) = (bus.clone(), b.to_vec());
        tokio::spawn(async move { bus.publish_all("market", &b).await })
    };
    wait_for("readiness to report the outage", 30, || {
        !h.ready() && !h.bus_ok.load(Ordering::Relaxed)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.broker_up(1).unwrap();
    sender
        .await
        .unwrap()
        .expect("publishing completes once the broker is back");
    wait_for("the second half", 120, || {
        h.records.load(Ordering::Relaxed) >= recs.len() as u64
    })
    .await;
    wait_for("ready again", 30, || h.ready()).await;
    check(
        bus.as_ref(),
        &store,
        recs.len(),
        "Kafka broker down and back",
    )
    .await;
    let _ = run.stop.send(());
    run.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_and_slow_round_trips_lose_nothing() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("market", 2, 1).unwrap();
    cluster.create_topic("matches", 2, 1).unwrap();
    cluster
        .broker_round_trip_time(1, Duration::from_millis(150))
        .unwrap();
    let bus: Arc<dyn EventBus> =
        Arc::new(KafkaBus::new(&KafkaConfig::new(cluster.bootstrap_servers())).unwrap());
    let store = MemoryStore::new();
    let recs = records(&store, &events()).await;
    bus.publish_all("market", &recs).await.unwrap();
    // Every third produce and commit fails once, retriably.
    let errs = [
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR,
    ]
    .repeat(10);
    cluster.request_errors(RDKafkaApiKey::Produce, &errs);
    cluster.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR,
        ]
        .repeat(5),
    );
    let run = start(bus.clone(), store.clone());
    let h = run.health.clone();
    wait_for("every record", 180, || {
        h.records.load(Ordering::Relaxed) >= recs.len() as u64
    })
    .await;
    check(
        bus.as_ref(),
        &store,
        recs.len(),
        "Kafka request errors and 150 ms round trips",
    )
    .await;
    let _ = run.stop.send(());
    run.task.await.unwrap();
}
