//! Broker faults, with librdkafka's mock cluster (real brokers on loopback
//! ports inside the client library, with fault injection): the bus waits
//! through a broker outage and request errors and resumes by itself,
//! losing nothing that it acknowledged.

use std::time::Duration;

use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_ports::EventBus;
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

async fn read_all(bus: &KafkaBus, topic: &str, group: &str, n: usize) -> Vec<String> {
    let mut sub = bus.subscribe(topic, group).await.unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        let r = tokio::time::timeout(Duration::from_secs(60), sub.next())
            .await
            .expect("records arrive")
            .unwrap();
        out.push(String::from_utf8(r.payload.to_vec()).unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_waits_through_a_broker_outage_and_loses_nothing() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("market", 2, 1).unwrap();
    let bus = KafkaBus::new(&KafkaConfig::new(cluster.bootstrap_servers())).unwrap();
    bus.publish("market", b"r1", b"before").await.unwrap();

    cluster.broker_down(1).unwrap();
    let during = tokio::spawn({
        let bus = KafkaBus::new(&KafkaConfig::new(cluster.bootstrap_servers())).unwrap();
        async move { bus.publish("market", b"r1", b"during").await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !during.is_finished(),
        "a publish waits while the broker is down"
    );
    cluster.broker_up(1).unwrap();
    during
        .await
        .unwrap()
        .expect("the publish completes once the broker is back");
    bus.publish("market", b"r1", b"after").await.unwrap();

    let got = read_all(&bus, "market", "g-outage", 3).await;
    assert_eq!(
        got,
        ["before", "during", "after"],
        "same key, same order, nothing lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_and_slow_round_trips_are_retried() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("slow", 1, 1).unwrap();
    cluster
        .broker_round_trip_time(1, Duration::from_millis(300))
        .unwrap();
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        ],
    );
    let bus = KafkaBus::new(&KafkaConfig::new(cluster.bootstrap_servers())).unwrap();
    for i in 0..3 {
        bus.publish("slow", b"k", format!("{i}").as_bytes())
            .await
            .expect("retried until accepted");
    }
    let got = read_all(&bus, "slow", "g-slow", 3).await;
    assert_eq!(
        got,
        ["0", "1", "2"],
        "retries neither lose nor duplicate (idempotent producer)"
    );
}
