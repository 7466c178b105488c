//! The Kafka bus passes the same contract suite as the in-memory one,
//! against a real Kafka-protocol broker (Tansu, started by
//! `scripts/test-infra`, which exports its address as `LENDWORK_TEST_KAFKA`).
//! Topic and group names are fresh per run, so runs never share state.

use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_ports::contract::{bus_suite, fresh_namespace, test_infra};

fn brokers() -> String {
    test_infra("LENDWORK_TEST_KAFKA")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_bus_passes_the_contract() {
    let bus = KafkaBus::new(&KafkaConfig::new(brokers())).unwrap();
    let ns = fresh_namespace("lw");
    bus_suite(&bus, &ns).await;
}
