//! # lendwork-kafka
//!
//! The Kafka implementation of [`EventBus`] (through `rdkafka`, which builds
//! librdkafka from source). It runs the same contract suite as the
//! in-memory bus (`lendwork_ports::contract::bus_suite`), against a real
//! Kafka-protocol broker (Tansu in the test suite).
//!
//! * Publishing uses an idempotent producer with `acks=all`: a successful
//!   [`EventBus::publish`] means the broker has the record, and retries
//!   inside the client never duplicate it.
//! * A [`Subscription`] is one member of a consumer group with automatic
//!   offset commits switched off: [`Subscription::commit`] commits the
//!   record's offset + 1 synchronously, after its effects are durable, so
//!   delivery is at least once and nothing read-but-unfinished is lost.
//! * Records are partitioned by their key's murmur2 hash, as Java clients
//!   do (librdkafka's default would be CRC32), so producers in either
//!   agree on a key's partition.
//! * Topics it creates keep every record (`retention.ms=-1`,
//!   `retention.bytes=-1`): a matcher rebuilds a partition from its first
//!   record. Existing topics are left as they are.
//! * Any client setting can be passed through [`KafkaConfig::extra`]
//!   (`security.protocol`, `sasl.*`, `ssl.*`, …) to reach a real cluster.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lendwork_ports::BusError> {
//! use lendwork_kafka::{KafkaBus, KafkaConfig};
//! use lendwork_ports::EventBus;
//! let bus = KafkaBus::new(&KafkaConfig::new("127.0.0.1:9092"))?;
//! bus.ensure_topic("lendwork.market.v1", 12).await?;
//! bus.publish("lendwork.market.v1", b"620100", b"{}").await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use lendwork_ports::{BusError, EventBus, PartitionReader, Position, Record, Subscription};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

/// How to reach the brokers.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `host:port[,host:port…]`.
    pub brokers: String,
    /// Replication factor for topics this bus creates.
    pub replication: i32,
    /// How long a publish may take before it fails.
    pub publish_timeout: Duration,
    /// Extra librdkafka settings, applied last (SASL/TLS pass-through).
    pub extra: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Defaults for the given brokers: replication 1, 30 s publish timeout.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            replication: 1,
            publish_timeout: Duration::from_secs(30),
            extra: BTreeMap::new(),
        }
    }

    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }
}

/// The log on Kafka.
pub struct KafkaBus {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
}

fn map_err(e: KafkaError) -> BusError {
    match e.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::InvalidPartitions
            | RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidConfig
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::GroupAuthorizationFailed,
        ) => BusError::Invalid(e.to_string()),
        _ => BusError::Unavailable(e.to_string()),
    }
}

impl KafkaBus {
    /// Builds the producer and admin client (no connection is made yet).
    pub fn new(config: &KafkaConfig) -> Result<Self, BusError> {
        let mut p = config.client();
        // Extra settings win, but idempotence and acks=all are the contract.
        p.set("enable.idempotence", "true").set("acks", "all");
        p.set(
            "message.timeout.ms",
            config.publish_timeout.as_millis().to_string(),
        );
        // Callers publish whole batches and wait for them (the matcher's
        // effects, the gateway's acknowledged writes), so librdkafka's
        // default 5 ms linger only delays each batch's acknowledgement; 1 ms
        // still lets concurrent single-record publishes share a request.
        // A setting given in the extras wins.
        if !["linger.ms", "queue.buffering.max.ms"]
            .iter()
            .any(|k| config.extra.contains_key(*k))
        {
            p.set("linger.ms", "1");
        }
        // Keys are hashed as the Java clients hash them (murmur2), so a
        // region's records land in one partition whether Lendwork or a Java
        // producer wrote them; librdkafka's own default (CRC32) would send
        // them elsewhere. A `partitioner` given in the extras wins.
        if !config.extra.contains_key("partitioner") {
            p.set("partitioner", "murmur2_random");
        }
        let producer: FutureProducer = p
            .create()
            .map_err(|e| BusError::Invalid(format!("producer: {e}")))?;
        let admin = config
            .client()
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|e| BusError::Invalid(format!("admin client: {e}")))?;
        Ok(Self {
            config: config.clone(),
            producer,
            admin,
        })
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<(), BusError> {
        if partitions == 0 || partitions > i32::MAX as u32 {
            return Err(BusError::Invalid(
                "a topic needs at least one partition".into(),
            ));
        }
        // An existing topic is left as it is; looking first also spares
        // brokers that refuse or do not implement CreateTopics (managed
        // clusters with ACLs, librdkafka's mock cluster).
        let client = self.admin.inner();
        let md = tokio::task::block_in_place(|| {
            client.fetch_metadata(Some(topic), Duration::from_secs(10))
        })
        .map_err(map_err)?;
        if md
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        {
            return Ok(());
        }
        // Retention off: Lendwork's topics are logs of record. A matcher
        // rebuilds a partition by replaying it from offset 0 (and stops if
        // records are missing), and the matches topic is the proposals'
        // audit trail. A broker's default (7 days on Apache Kafka) would
        // delete both a week later.
        let new = NewTopic::new(
            topic,
            partitions as i32,
            TopicReplication::Fixed(self.config.replication),
        )
        .set("retention.ms", "-1")
        .set("retention.bytes", "-1");
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self
            .admin
            .create_topics([&new], &opts)
            .await
            .map_err(map_err)?;
        for r in results {
            match r {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => {
                    let e = KafkaError::AdminOp(code);
                    return Err(match map_err(e) {
                        BusError::Invalid(m) => BusError::Invalid(format!("topic {t}: {m}")),
                        BusError::Unavailable(m) => {
                            BusError::Unavailable(format!("topic {t}: {m}"))
                        }
                    });
                }
            }
        }
        Ok(())
    }

    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<Position, BusError> {
        let rec = FutureRecord::to(topic).key(key).payload(payload);
        match self.producer.send(rec, self.config.publish_timeout).await {
            Ok(d) => Ok(Position {
                partition: d.partition as u32,
                offset: d.offset as u64,
            }),
            Err((e, _)) => Err(map_err(e)),
        }
    }

    async fn publish_all(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
    ) -> Result<Vec<Position>, BusError> {
        // Enqueue everything first (the idempotent producer keeps each
        // partition's order with several requests in flight), then wait.
        let mut pending = Vec::with_capacity(records.len());
        for (k, v) in records {
            let mut rec = FutureRecord::to(topic).key(&k[..]).payload(&v[..]);
            loop {
                match self.producer.send_result(rec) {
                    Ok(f) => {
                        pending.push(f);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        rec = r;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => return Err(map_err(e)),
                }
            }
        }
        let mut first_err = None;
        let mut out = Vec::with_capacity(pending.len());
        for f in pending {
            let res = match f.await {
                Ok(Ok(d)) => {
                    out.push(Position {
                        partition: d.partition as u32,
                        offset: d.offset as u64,
                    });
                    continue;
                }
                Ok(Err((e, _))) => map_err(e),
                Err(_) => BusError::Unavailable("the producer went away".into()),
            };
            first_err.get_or_insert(res);
        }
        first_err.map_or(Ok(out), Err)
    }

    async fn read_partition(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        until: u64,
    ) -> Result<Box<dyn PartitionReader>, BusError> {
        let consumer: StreamConsumer = {
            let mut c = self.config.client();
            // librdkafka wants a group id even for assign(); partitions are
            // assigned by hand, so no group is joined and nothing committed.
            c.set("group.id", "lendwork-partition-reader")
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", "false")
                .set("auto.offset.reset", "earliest");
            for (k, v) in &self.config.extra {
                c.set(k, v);
            }
            c.create()
                .map_err(|e| BusError::Invalid(format!("consumer: {e}")))?
        };
        // Read from `from` to the bound, which the caller knows exists (the
        // trait's contract); the broker's high watermark is not consulted
        // (Tansu under-reports it right after a batch). An offset the log
        // no longer has starts the read at its earliest record
        // (`auto.offset.reset`), and the caller sees the jump.
        let (low, end) = (from, until);
        let start = i64::try_from(from)
            .map_err(|_| BusError::Invalid(format!("offset {from} is out of range")))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition as i32, Offset::Offset(start))
            .map_err(map_err)?;
        if low < end {
            consumer.assign(&tpl).map_err(map_err)?;
        }
        Ok(Box::new(KafkaReader {
            consumer,
            next: low,
            end,
        }))
    }

    async fn subscribe(&self, topic: &str, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        let mut c = self.config.client();
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            // A broker that does not wake parked fetches when data arrives
            // (Tansu) would otherwise add up to librdkafka's 500 ms to every
            // hop; overridable through `extra`.
            .set("fetch.wait.max.ms", "20")
            .set("heartbeat.interval.ms", "1000");
        for (k, v) in &self.config.extra {
            c.set(k, v);
        }
        let consumer: StreamConsumer = c
            .create()
            .map_err(|e| BusError::Invalid(format!("consumer: {e}")))?;
        consumer.subscribe(&[topic]).map_err(map_err)?;
        Ok(Box::new(KafkaSubscription {
            consumer,
            topic: topic.to_owned(),
        }))
    }
}

struct KafkaSubscription {
    consumer: StreamConsumer,
    topic: String,
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self) -> Result<Record, BusError> {
        loop {
            match self.consumer.recv().await {
                Ok(m) => return Ok(record_of(&m)),
                // End of partition and transient broker hiccups: keep waiting.
                Err(KafkaError::PartitionEOF(_)) => continue,
                Err(e) => match map_err(e) {
                    BusError::Unavailable(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    invalid => return Err(invalid),
                },
            }
        }
    }

    async fn committed(&mut self, partition: u32) -> Result<Option<u64>, BusError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.topic, partition as i32);
        let got = tokio::task::block_in_place(|| {
            self.consumer
                .committed_offsets(tpl, Duration::from_secs(10))
        })
        .map_err(map_err)?;
        Ok(
            match got
                .find_partition(&self.topic, partition as i32)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(n)) if n >= 0 => Some(n as u64),
                _ => None,
            },
        )
    }

    async fn commit(&mut self, record: &Record) -> Result<(), BusError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(
            &record.topic,
            record.position.partition as i32,
            Offset::Offset(record.position.offset as i64 + 1),
        )
        .map_err(map_err)?;
        self.commit_list(&tpl)
    }

    async fn commit_all(&mut self, records: &[Record]) -> Result<(), BusError> {
        let mut tpl = TopicPartitionList::new();
        for r in records {
            tpl.add_partition_offset(
                &r.topic,
                r.position.partition as i32,
                Offset::Offset(r.position.offset as i64 + 1),
            )
            .map_err(map_err)?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        self.commit_list(&tpl)
    }
}

impl KafkaSubscription {
    /// Synchronous: when this returns, the group's offsets are stored.
    fn commit_list(&self, tpl: &TopicPartitionList) -> Result<(), BusError> {
        tokio::task::block_in_place(|| self.consumer.commit(tpl, CommitMode::Sync)).map_err(map_err)
    }
}

/// A bounded, group-less read of one partition.
struct KafkaReader {
    consumer: StreamConsumer,
    /// The next offset expected.
    next: u64,
    /// Stop here.
    end: u64,
}

#[async_trait]
impl PartitionReader for KafkaReader {
    async fn next(&mut self) -> Result<Option<Record>, BusError> {
        while self.next < self.end {
            match self.consumer.recv().await {
                Ok(m) => {
                    let offset = m.offset() as u64;
                    self.next = offset + 1;
                    if offset >= self.end {
                        break;
                    }
                    return Ok(Some(record_of(&m)));
                }
                Err(KafkaError::PartitionEOF(_)) => continue,
                Err(e) => match map_err(e) {
                    BusError::Unavailable(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    invalid => return Err(invalid),
                },
            }
        }
        self.next = self.end;
        Ok(None)
    }
}

fn record_of(m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
    Record {
        topic: m.topic().to_owned(),
        position: Position {
            partition: m.partition() as u32,
            offset: m.offset() as u64,
        },
        key: Bytes::copy_from_slice(m.key().unwrap_or_default()),
        payload: Bytes::copy_from_slice(m.payload().unwrap_or_default()),
        decoded: None,
    }
}
