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

/// A region's records go to the partition a Java producer would pick for
/// the same key (murmur2, positive, modulo the partition count), so the
/// gateway and producers written with the Java clients agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_partitioned_as_the_java_clients_do() {
    // The hash itself is checked against Kafka's own test vectors in
    // lendwork-ports (`murmur2_agrees_with_kafkas_test_vectors`).
    let bus = KafkaBus::new(&KafkaConfig::new(brokers())).unwrap();
    let topic = fresh_namespace("lw-partitioner");
    bus.ensure_topic(&topic, 12).await.unwrap();
    let mut differs_from_crc32 = 0;
    for region in 620_100..620_124 {
        let key = region.to_string();
        let at = bus.publish(&topic, key.as_bytes(), b"{}").await.unwrap();
        let java = lendwork_ports::kafka_partition(key.as_bytes(), 12);
        assert_eq!(at.partition, java, "region {key}");
        differs_from_crc32 += u32::from(crc32(key.as_bytes()) % 12 != java);
    }
    assert!(differs_from_crc32 > 0, "the keys tell the two hashes apart");
}

/// CRC-32 (IEEE), librdkafka's default key hash (`consistent_random`).
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
