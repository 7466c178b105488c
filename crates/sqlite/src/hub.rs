//! What the writer thread tells readers in this process: the topics, where
//! each partition ends, the publishers' decoded values, and a signal on
//! every publish. Data only ever comes from this process (the directory is
//! locked), so readers never poll the database for news.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use lendwork_ports::{kafka_partition, Decoded, Position};
use rusqlite::Connection;
use tokio::sync::Notify;

use crate::schema;
use crate::writer::Counters;

/// A record's identity: topic id, partition, offset.
pub(crate) type RecordId = (i64, u32, u64);

/// Decoded values kept for subscribers at most; beyond this the oldest
/// are dropped and their readers decode the payload (a reader far behind
/// the publisher loses only the shortcut).
const STASH_CAP: usize = 1 << 14;

/// A topic and, per partition, the offset after its last committed record.
pub(crate) struct TopicState {
    pub(crate) id: i64,
    pub(crate) name: String,
    /// Written by the writer thread only, after the commit that made the
    /// records durable and before it answers the publisher (`Release`), so
    /// a reader that sees an end (`Acquire`) finds every record below it.
    ends: Box<[AtomicU64]>,
}

impl TopicState {
    fn new(id: i64, name: String, ends: Vec<u64>) -> Self {
        Self {
            id,
            name,
            ends: ends.into_iter().map(AtomicU64::new).collect(),
        }
    }

    /// Partition count.
    pub(crate) fn partitions(&self) -> u32 {
        self.ends.len() as u32
    }

    /// The offset after the last committed record of `partition`.
    pub(crate) fn end(&self, partition: u32) -> u64 {
        self.ends[partition as usize].load(Ordering::Acquire)
    }
}

/// Decoded values by record, until the first subscriber takes them.
#[derive(Default)]
struct Stash {
    values: HashMap<RecordId, Decoded>,
    /// Insertion order, for dropping the oldest (may name values already
    /// taken).
    order: VecDeque<RecordId>,
}

/// Shared by the writer thread and every reader of the database in this
/// process.
pub(crate) struct Hub {
    topics: RwLock<HashMap<String, Arc<TopicState>>>,
    stash: Mutex<Stash>,
    /// Woken after every commit that appended records.
    pub(crate) published: Notify,
    pub(crate) counters: Counters,
}

impl Hub {
    /// The topics and partition ends stored in the database.
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Hub> {
        let mut topics = HashMap::new();
        for (id, name, partitions) in schema::topics(conn)? {
            let ends = (0..partitions)
                .map(|p| schema::end_offset(conn, id, p))
                .collect::<rusqlite::Result<Vec<u64>>>()?;
            topics.insert(name.clone(), Arc::new(TopicState::new(id, name, ends)));
        }
        Ok(Hub {
            topics: RwLock::new(topics),
            stash: Mutex::default(),
            published: Notify::new(),
            counters: Counters::default(),
        })
    }

    /// The topic named `name`, once its creation is committed.
    pub(crate) fn topic(&self, name: &str) -> Option<Arc<TopicState>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The publisher's decoded value of a record, for its first taker.
    pub(crate) fn take_decoded(&self, id: RecordId) -> Option<Decoded> {
        let mut stash = self.stash.lock().unwrap_or_else(|e| e.into_inner());
        if stash.values.is_empty() {
            return None;
        }
        let value = stash.values.remove(&id);
        if stash.values.is_empty() {
            stash.order.clear();
        }
        value
    }
}

/// What one transaction of the writer adds, kept aside until it commits.
#[derive(Default)]
pub(crate) struct Batch {
    /// Partitions appended to, with their end as this batch leaves it.
    ends: HashMap<(i64, u32), (Arc<TopicState>, u64)>,
    decoded: Vec<(RecordId, Decoded)>,
    new_topics: Vec<Arc<TopicState>>,
}

impl Batch {
    /// Stores topic `name` with `partitions` partitions unless it exists.
    pub(crate) fn create_topic(
        &mut self,
        conn: &Connection,
        name: &str,
        partitions: u32,
    ) -> rusqlite::Result<()> {
        if schema::find_topic(conn, name)?.is_none() {
            let id = schema::insert_topic(conn, name, partitions)?;
            self.new_topics.push(Arc::new(TopicState::new(
                id,
                name.to_owned(),
                vec![0; partitions as usize],
            )));
        }
        Ok(())
    }

    /// Appends `records` to `topic` in order, each to its key's partition,
    /// `decoded[i]` (when given) kept beside record `i`.
    pub(crate) fn append(
        &mut self,
        conn: &Connection,
        topic: &Arc<TopicState>,
        records: &[(Bytes, Bytes)],
        decoded: Vec<Decoded>,
    ) -> rusqlite::Result<Vec<Position>> {
        let mut decoded = decoded.into_iter();
        let mut out = Vec::with_capacity(records.len());
        for (key, payload) in records {
            let partition = kafka_partition(key, topic.partitions());
            let end = &mut self
                .ends
                .entry((topic.id, partition))
                .or_insert_with(|| (topic.clone(), topic.end(partition)))
                .1;
            let offset = *end;
            schema::insert_record(conn, topic.id, partition, offset, key, payload)?;
            *end += 1;
            if let Some(d) = decoded.next() {
                self.decoded.push(((topic.id, partition, offset), d));
            }
            out.push(Position { partition, offset });
        }
        Ok(out)
    }

    /// After the commit: the new topics, decoded values and partition ends
    /// become visible, in that order, and waiting readers are woken.
    pub(crate) fn make_visible(self, hub: &Hub) {
        if !self.new_topics.is_empty() {
            let mut topics = hub.topics.write().unwrap_or_else(|e| e.into_inner());
            for t in self.new_topics {
                topics.entry(t.name.clone()).or_insert(t);
            }
        }
        if !self.decoded.is_empty() {
            let mut stash = hub.stash.lock().unwrap_or_else(|e| e.into_inner());
            for (id, value) in self.decoded {
                stash.values.insert(id, value);
                stash.order.push_back(id);
            }
            while stash.order.len() > STASH_CAP {
                if let Some(old) = stash.order.pop_front() {
                    stash.values.remove(&old);
                }
            }
        }
        if !self.ends.is_empty() {
            for ((_, partition), (topic, end)) in self.ends {
                topic.ends[partition as usize].store(end, Ordering::Release);
            }
            hub.published.notify_waiters();
        }
    }
}
