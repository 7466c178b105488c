//! The Kafka bus passes the same contract suite as the in-memory one,
//! against a real Kafka-protocol broker (Tansu, started by
//! `scripts/test-infra`, which exports its address as `LENDWORK_TEST_KAFKA`).
//! Topic and group names are fresh per run, so runs never share state.

use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_ports::contract::bus_suite;

fn brokers() -> String {
    std::env::var("LENDWORK_TEST_KAFKA").expect(
        "LENDWORK_TEST_KAFKA is not set: these tests talk to a real Kafka-protocol broker; run them through scripts/test (or scripts/test-infra cargo test)",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_bus_passes_the_contract() {
    let bus = KafkaBus::new(&KafkaConfig::new(brokers())).unwrap();
    let ns = format!(
        "lw{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    bus_suite(&bus, &ns).await;
}
