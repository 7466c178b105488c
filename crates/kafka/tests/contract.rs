//! The Kafka bus passes the same contract suite as the in-memory one,
//! against a real Kafka-protocol broker (Tansu, started by
//! `scripts/test-infra`, which exports its address as `LENDWORK_TEST_KAFKA`).
//! Topic and group names are fresh per run, so runs never share state.

use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_ports::contract::{bus_suite, fresh_namespace, test_infra};
use lendwork_ports::EventBus;

fn brokers() -> String {
    test_infra("LENDWORK_TEST_KAFKA")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_bus_passes_the_contract() {
    let bus = KafkaBus::new(&KafkaConfig::new(brokers())).unwrap();
    let ns = fresh_namespace("lw");
    bus_suite(&bus, &ns).await;
}

/// Topics the bus creates keep every record: the broker reports retention
/// off for both time and size (a matcher replays partitions from offset 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_topics_keep_every_record() {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;

    let bus = KafkaBus::new(&KafkaConfig::new(brokers())).unwrap();
    let topic = fresh_namespace("lw-retention");
    bus.ensure_topic(&topic, 2).await.unwrap();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(30)));
    let described = admin
        .describe_configs([&ResourceSpecifier::Topic(&topic)], &opts)
        .await
        .unwrap();
    let config = described[0].as_ref().expect("the topic's configuration");
    for key in ["retention.ms", "retention.bytes"] {
        assert_eq!(
            config.get(key).and_then(|e| e.value.as_deref()),
            Some("-1"),
            "{key} of {topic}"
        );
    }
}
