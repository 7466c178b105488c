//! # lendwork-ports
//!
//! The two edges the engine talks through, as small async traits:
//!
//! * [`EventBus`] — the log (Kafka in production): keyed records in
//!   partitioned topics, consumer groups with committed offsets,
//!   at-least-once delivery.
//! * [`StateStore`] — hot state (Redis in production): bytes by key with the
//!   few atomic operations the matcher needs (set-if-absent for dedupe,
//!   compare-and-swap for worker reservations, counters).
//!
//! Each has an in-memory implementation here ([`memory::MemoryBus`],
//! [`memory::MemoryStore`]) for the embedded default and for tests, and a
//! contract suite (`contract`, with the `testing` feature) that every implementation — these and the
//! Kafka and Redis ones — must pass unchanged.
//!
//! ```
//! use lendwork_ports::{memory::MemoryBus, EventBus};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let bus = MemoryBus::new();
//! bus.ensure_topic("lendwork.market.v1", 4).await.unwrap();
//! bus.publish("lendwork.market.v1", b"620100", b"{}").await.unwrap();
//! let mut sub = bus.subscribe("lendwork.market.v1", "matchers").await.unwrap();
//! let rec = sub.next().await.unwrap();
//! assert_eq!(&rec.key[..], b"620100");
//! sub.commit(&rec).await.unwrap();
//! # });
//! ```

use async_trait::async_trait;
use bytes::Bytes;

#[cfg(feature = "testing")]
pub mod contract;
pub mod health;
pub mod memory;

/// Where a record sits in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Partition number.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
}

/// A value decoded from a payload, handed from publisher to reader inside
/// one process (see [`EventBus::publish_all_decoded`]).
pub type Decoded = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// A record read from a topic.
#[derive(Clone)]
pub struct Record {
    /// Topic name.
    pub topic: String,
    /// Where it sits.
    pub position: Position,
    /// Partitioning key (the region for market events).
    pub key: Bytes,
    /// The payload (one JSON event).
    pub payload: Bytes,
    /// What the publisher decoded the payload from, when the bus is in the
    /// publisher's process and this is the first read of the record; a
    /// reader may use it instead of decoding `payload` (and must decode
    /// when it is `None`). Not part of the record's identity: equality and
    /// `Debug` ignore it.
    pub decoded: Option<Decoded>,
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        (&self.topic, self.position, &self.key, &self.payload)
            == (&other.topic, other.position, &other.key, &other.payload)
    }
}

impl Eq for Record {}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("topic", &self.topic)
            .field("position", &self.position)
            .field("key", &self.key)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

/// A bus failure.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker cannot be reached or did not answer; retrying may succeed.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
    /// The request itself is wrong (unknown topic, bad name, …).
    #[error("event bus refused the request: {0}")]
    Invalid(String),
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached; retrying may succeed.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// The request itself is wrong (e.g. a counter key holding text).
    #[error("state store refused the request: {0}")]
    Invalid(String),
}

/// The log: partitioned topics of keyed records.
///
/// Records with the same key go to the same partition and are read back in
/// the order they were published. A successful [`EventBus::publish`] means
/// the record is durable in the log (acks=all on Kafka).
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Creates the topic with `partitions` partitions when it does not exist;
    /// an existing topic is left as it is.
    async fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<(), BusError>;

    /// Appends one record and waits until it is durable.
    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<Position, BusError>;

    /// Appends `records` (key, payload) in order and waits until every one
    /// is durable. Implementations pipeline them; records with one key keep
    /// their order. On an error some may be in the log and some not:
    /// publishing again is safe when consumers dedupe by event id.
    async fn publish_all(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
    ) -> Result<Vec<Position>, BusError> {
        let mut out = Vec::with_capacity(records.len());
        for (k, v) in records {
            out.push(self.publish(topic, k, v).await?);
        }
        Ok(out)
    }

    /// [`publish_all`](Self::publish_all), with the value each payload was
    /// encoded from (`decoded[i]` for `records[i]`). A bus in the
    /// publisher's process may hand it to the first reader of the record
    /// ([`Record::decoded`]) so that it need not decode the bytes again;
    /// the publisher guarantees that decoding the payload gives that value.
    /// Buses across a network ignore it (this default).
    async fn publish_all_decoded(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
        decoded: Vec<Decoded>,
    ) -> Result<Vec<Position>, BusError> {
        let _ = decoded;
        self.publish_all(topic, records).await
    }

    /// Joins consumer group `group` on `topic`. Reading starts after the
    /// group's last committed offset in each partition (or at the beginning).
    async fn subscribe(&self, topic: &str, group: &str) -> Result<Box<dyn Subscription>, BusError>;

    /// Reads one partition from offset `from` up to, not including,
    /// offset `until`, outside any consumer group (commits nothing). A
    /// matcher rebuilds a region's state this way before it goes live
    /// (from 0, or from just before its snapshot's offset); it knows
    /// `until` exactly (the offset of its first live record). Every offset
    /// below `until` must exist: the read waits for them (brokers' high
    /// watermarks are not trusted for the end: Tansu 0.x under-reports them
    /// right after a multi-record batch). A log that has lost records
    /// before `from` or after it (a Kafka topic's retention) starts with
    /// what is left: the reader does not hide the jump in offsets, and a
    /// caller that needs every record checks them (the matcher does).
    async fn read_partition(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        until: u64,
    ) -> Result<Box<dyn PartitionReader>, BusError>;
}

/// A bounded read of one partition ([`EventBus::read_partition`]).
#[async_trait]
pub trait PartitionReader: Send {
    /// The next record in offset order, or `None` once offset `until` is
    /// reached.
    async fn next(&mut self) -> Result<Option<Record>, BusError>;
}

/// A member of a consumer group.
#[async_trait]
pub trait Subscription: Send {
    /// The next record, waiting for one if none is there.
    async fn next(&mut self) -> Result<Record, BusError>;

    /// Marks `record` and everything before it in its partition as done for
    /// the group. Records read but not committed are delivered again to the
    /// next member after a restart: delivery is at least once.
    async fn commit(&mut self, record: &Record) -> Result<(), BusError>;

    /// The group's committed offset in `partition` of the subscribed topic
    /// (the next offset the group will read there), or `None` when the
    /// group has committed nothing there. Read from the broker: it includes
    /// other members' commits.
    async fn committed(&mut self, partition: u32) -> Result<Option<u64>, BusError>;

    /// Commits several records at once (typically the last one done of each
    /// partition), with [`Subscription::commit`]'s meaning for each.
    async fn commit_all(&mut self, records: &[Record]) -> Result<(), BusError> {
        for r in records {
            self.commit(r).await?;
        }
        Ok(())
    }
}

/// One compare-and-swap of [`StateStore::compare_and_swap_many`]: the key,
/// the value expected (None: absent) and the new value (None: delete).
pub type Swap = (String, Option<Vec<u8>>, Option<Vec<u8>>);

/// Hot state: bytes by key, with the atomic operations the matcher needs.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The value at `key`.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
    /// Sets `key` to `value`.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// The values at `keys`, in order, in one round trip where the store
    /// allows.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await?);
        }
        Ok(out)
    }
    /// Sets every key to its value, in one round trip where the store
    /// allows (read models are written this way, a batch at a time). Not
    /// atomic: on an error some may be set and some not.
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        for (k, v) in pairs {
            self.set(k, v).await?;
        }
        Ok(())
    }
    /// Sets `key` only when it is absent; true when it was set. Dedupe keys
    /// use this: the first writer of an event id wins.
    async fn set_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError>;
    /// Removes `key`; true when it existed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Atomically replaces the value at `key` with `new` (None deletes) when
    /// the current value equals `expected` (None: absent); true when it did.
    /// Worker reservations use this, so two matchers can never both book
    /// the same worker.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError>;
    /// [`StateStore::compare_and_swap`] on many keys in one round trip where
    /// the store allows: each `(key, expected, new)` is swapped or not on
    /// its own (keys must be distinct), and the answers come back in order.
    /// Matchers book a whole batch of workers this way.
    async fn compare_and_swap_many(&self, ops: &[Swap]) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(ops.len());
        for (k, expected, new) in ops {
            out.push(
                self.compare_and_swap(k, expected.as_deref(), new.as_deref())
                    .await?,
            );
        }
        Ok(out)
    }
    /// Adds `delta` to the integer counter at `key` (absent counts as 0) and
    /// returns the new value.
    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Every key starting with `prefix` with its value, sorted by key.
    /// On Redis this walks the whole keyspace (`SCAN MATCH`): for
    /// operators' aggregates and audits, never for one client's listing
    /// (those read sets, below).
    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Bytes)>, StoreError>;
    /// Adds each `(set, member)`: a set is created by its first member and
    /// adding a member twice changes nothing (`SADD`, pipelined on Redis).
    /// Set keys live beside value keys and must not reuse their names.
    /// Per-client indexes (a borrower's proposals, an agency's workers)
    /// are sets, so a listing costs what the client owns, not the size of
    /// the store. Not atomic across sets.
    async fn add_to_sets(&self, adds: &[(String, String)]) -> Result<(), StoreError>;
    /// The members of each set in `keys`, each sorted (an absent set is
    /// empty), in order, in one round trip where the store allows.
    async fn members_many(&self, keys: &[String]) -> Result<Vec<Vec<String>>, StoreError>;
}

/// Checks a topic or group name (`kind` says which) by Kafka's rule: 1–249
/// characters of `A-Z a-z 0-9 . _ -`. Every bus refuses other names alike.
pub fn check_name(kind: &str, name: &str) -> Result<(), BusError> {
    if name.is_empty()
        || name.len() > 249
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(BusError::Invalid(format!(
            "{kind} name {name:?} must be 1–249 characters of A-Z a-z 0-9 . _ -"
        )));
    }
    Ok(())
}

/// The partition a key goes to on the in-memory bus: FNV-1a of the key
/// modulo the partition count. Only stability matters there: an in-memory
/// market is never moved elsewhere.
pub fn partition_for(key: &[u8], partitions: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % partitions.max(1)
}

/// The partition a key goes to as Kafka's Java clients and Lendwork's
/// Kafka bus (librdkafka's `murmur2_random`) choose it: the positive part
/// of the key's murmur2 hash modulo the partition count. The durable
/// embedded bus uses it, so a market exported from a data directory and
/// published to a topic with as many partitions groups its regions the
/// same way (a region's neighbours in its partition share its expiry
/// clock, so the grouping decides the proposals).
pub fn kafka_partition(key: &[u8], partitions: u32) -> u32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
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
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_agrees_with_kafkas_test_vectors() {
        for (key, want) in [
            ("21", -973_932_308_i32),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ] {
            assert_eq!(murmur2(key.as_bytes()) as i32, want, "{key}");
        }
    }
}
