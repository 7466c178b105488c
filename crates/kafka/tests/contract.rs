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

/// Kafka's `Utils.murmur2`, the Java clients' key hash.
fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// A region's records go to the partition a Java producer would pick for
/// the same key (murmur2, positive, modulo the partition count), so the
/// gateway and producers written with the Java clients agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_partitioned_as_the_java_clients_do() {
    // Kafka's own test vectors for the hash.
    for (key, want) in [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ] {
        assert_eq!(murmur2(key.as_bytes()), want, "{key}");
    }
    let bus = KafkaBus::new(&KafkaConfig::new(brokers())).unwrap();
    let topic = fresh_namespace("lw-partitioner");
    bus.ensure_topic(&topic, 12).await.unwrap();
    let mut differs_from_crc32 = 0;
    for region in 620_100..620_124 {
        let key = region.to_string();
        let at = bus.publish(&topic, key.as_bytes(), b"{}").await.unwrap();
        let java = (murmur2(key.as_bytes()) & 0x7fff_ffff) as u32 % 12;
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
