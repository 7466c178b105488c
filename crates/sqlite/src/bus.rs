//! [`SqliteBus`]: the event bus on the database, with the in-memory bus's
//! semantics.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use lendwork_ports::{
    check_name, BusError, Decoded, EventBus, PartitionReader, Position, Record, Subscription,
};

use crate::db::Db;
use crate::hub::TopicState;
use crate::schema;

/// Records read from the database at once per partition.
const FETCH: u64 = 512;

/// The durable log: topics, records and consumer groups' committed offsets
/// in the data directory's database (see the crate documentation).
///
/// Like the in-memory bus, every member of a group gets all partitions (one
/// process has no one to share them with), and a value given to
/// [`EventBus::publish_all_decoded`] is handed to the first subscriber to
/// read the record ([`Record::decoded`]); other readers decode the payload.
pub struct SqliteBus {
    db: Arc<Db>,
}

impl SqliteBus {
    pub(crate) fn new(db: Arc<Db>) -> Self {
        Self { db }
    }

    fn topic(&self, name: &str) -> Result<Arc<TopicState>, BusError> {
        self.db
            .hub
            .topic(name)
            .ok_or_else(|| BusError::Invalid(format!("unknown topic {name:?}")))
    }

    /// Per partition of `topic`, the offset after its last record: the log's
    /// end (what Kafka calls the high watermark). With
    /// [`EventBus::read_partition`] up to these, a reader (an export, a
    /// check after a crash) reads everything published so far.
    pub fn end_offsets(&self, topic: &str) -> Result<Vec<u64>, BusError> {
        let t = self.topic(topic)?;
        Ok((0..t.partitions()).map(|p| t.end(p)).collect())
    }

    async fn append(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
        decoded: Vec<Decoded>,
    ) -> Result<Vec<Position>, BusError> {
        let topic = self.topic(topic)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let records = records.to_vec();
        self.db
            .write(move |tx, batch| Ok(Ok(batch.append(tx, &topic, &records, decoded)?)))
            .await
    }
}

#[async_trait]
impl EventBus for SqliteBus {
    async fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<(), BusError> {
        check_name("topic", topic)?;
        if partitions == 0 {
            return Err(BusError::Invalid(
                "a topic needs at least one partition".into(),
            ));
        }
        if self.db.hub.topic(topic).is_some() {
            // Answered from memory, so the health probes (which call this)
            // would never see a failing disk: report the writer's state.
            if self
                .db
                .hub
                .counters
                .failing
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                return Err(BusError::Unavailable(
                    "the data directory's last write failed (disk full or failing)".into(),
                ));
            }
            return Ok(());
        }
        let name = topic.to_owned();
        self.db
            .write(move |tx, batch| Ok(Ok(batch.create_topic(tx, &name, partitions)?)))
            .await
    }

    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<Position, BusError> {
        let rec = (Bytes::copy_from_slice(key), Bytes::copy_from_slice(payload));
        Ok(self.append(topic, &[rec], Vec::new()).await?[0])
    }

    /// All or nothing: the records go into one transaction.
    async fn publish_all(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
    ) -> Result<Vec<Position>, BusError> {
        self.append(topic, records, Vec::new()).await
    }

    /// Keeps each decoded value beside its record until the first
    /// subscriber in this process reads the record (a later reader, another
    /// group, a rebuild or the next process decodes the payload).
    async fn publish_all_decoded(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
        decoded: Vec<Decoded>,
    ) -> Result<Vec<Position>, BusError> {
        self.append(topic, records, decoded).await
    }

    async fn subscribe(&self, topic: &str, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        check_name("group", group)?;
        let topic = self.topic(topic)?;
        let (id, name) = (topic.id, group.to_owned());
        let committed = self
            .db
            .read(move |conn| schema::committed_offsets(conn, id, &name))
            .await?;
        let mut next = vec![0; topic.partitions() as usize];
        for (p, offset) in committed {
            if let Some(n) = next.get_mut(p as usize) {
                *n = offset;
            }
        }
        Ok(Box::new(SqliteSubscription {
            db: self.db.clone(),
            buffers: vec![VecDeque::new(); next.len()],
            fetched: next,
            topic,
            group: group.to_owned(),
            turn: 0,
        }))
    }

    /// Waits for offsets below `until` that are not published yet, as the
    /// trait asks.
    async fn read_partition(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        until: u64,
    ) -> Result<Box<dyn PartitionReader>, BusError> {
        let topic = self.topic(topic)?;
        if partition >= topic.partitions() {
            return Err(BusError::Invalid(format!(
                "topic {:?} has no partition {partition}",
                topic.name
            )));
        }
        Ok(Box::new(SqliteReader {
            db: self.db.clone(),
            topic,
            partition,
            next: from,
            until,
            buffer: VecDeque::new(),
        }))
    }
}

/// Reads `[from, until)` of each `(partition, from, until)` in one
/// snapshot, as records. Every offset asked for is below the partition's
/// end, so a short answer means the database lost records.
async fn fetch(
    db: &Arc<Db>,
    topic: &Arc<TopicState>,
    wants: Vec<(u32, u64, u64)>,
) -> Result<Vec<(u32, Vec<Record>)>, BusError> {
    let id = topic.id;
    let rows = db
        .read(move |conn| {
            let tx = conn.transaction()?;
            let mut out = Vec::with_capacity(wants.len());
            for (p, from, until) in wants {
                let rows = schema::records(&tx, id, p, from, until)?;
                out.push((p, from, until, rows));
            }
            Ok(out)
        })
        .await?;
    rows.into_iter()
        .map(|(p, from, until, rows)| {
            if rows.len() as u64 != until - from {
                return Err(BusError::Unavailable(format!(
                    "topic {:?} partition {p}: records {from}..{until} are not all in the database",
                    topic.name
                )));
            }
            let records = rows
                .into_iter()
                .map(|(offset, key, payload)| Record {
                    topic: topic.name.clone(),
                    position: Position {
                        partition: p,
                        offset,
                    },
                    key: Bytes::from(key),
                    payload: Bytes::from(payload),
                    decoded: None,
                })
                .collect();
            Ok((p, records))
        })
        .collect()
}

struct SqliteSubscription {
    db: Arc<Db>,
    topic: Arc<TopicState>,
    group: String,
    /// Next offset to fetch from the database, per partition; what is
    /// fetched but not delivered waits in `buffers`.
    fetched: Vec<u64>,
    buffers: Vec<VecDeque<Record>>,
    /// Partition to look at first, so no partition starves the others.
    turn: usize,
}

impl SqliteSubscription {
    /// The next fetched record, taking turns among partitions.
    fn take(&mut self) -> Option<Record> {
        let n = self.buffers.len();
        for i in 0..n {
            let p = (self.turn + i) % n;
            if let Some(mut r) = self.buffers[p].pop_front() {
                self.turn = (p + 1) % n;
                r.decoded = self
                    .db
                    .hub
                    .take_decoded((self.topic.id, p as u32, r.position.offset));
                return Some(r);
            }
        }
        None
    }

    /// Partitions with records in the log beyond what was fetched.
    fn behind(&self) -> Vec<(u32, u64, u64)> {
        (0..self.topic.partitions())
            .filter_map(|p| {
                let from = self.fetched[p as usize];
                let end = self.topic.end(p);
                (from < end).then(|| (p, from, end.min(from + FETCH)))
            })
            .collect()
    }

    /// Fetches the next records of every partition that has some; false
    /// when none has.
    async fn fill(&mut self) -> Result<bool, BusError> {
        let wants = self.behind();
        if wants.is_empty() {
            return Ok(false);
        }
        for (p, records) in fetch(&self.db, &self.topic, wants).await? {
            if let Some(last) = records.last() {
                self.fetched[p as usize] = last.position.offset + 1;
            }
            self.buffers[p as usize].extend(records);
        }
        Ok(true)
    }
}

#[async_trait]
impl Subscription for SqliteSubscription {
    async fn next(&mut self) -> Result<Record, BusError> {
        loop {
            if let Some(r) = self.take() {
                return Ok(r);
            }
            if self.fill().await? {
                continue;
            }
            // Register interest, then look again, so a publish between the
            // look and the wait is not missed.
            let hub = self.db.hub.clone();
            let published = hub.published.notified();
            tokio::pin!(published);
            published.as_mut().enable();
            if !self.behind().is_empty() {
                continue;
            }
            published.await;
        }
    }

    async fn commit(&mut self, record: &Record) -> Result<(), BusError> {
        self.commit_all(std::slice::from_ref(record)).await
    }

    /// One durable write for all of them.
    async fn commit_all(&mut self, records: &[Record]) -> Result<(), BusError> {
        let mut next: BTreeMap<u32, u64> = BTreeMap::new();
        for r in records {
            let p = r.position.partition;
            if r.topic != self.topic.name || p >= self.topic.partitions() {
                return Err(BusError::Invalid(format!(
                    "record of topic {:?} partition {p} is not from this subscription to {:?}",
                    r.topic, self.topic.name
                )));
            }
            let n = next.entry(p).or_default();
            *n = (*n).max(r.position.offset + 1);
        }
        if next.is_empty() {
            return Ok(());
        }
        let (id, group) = (self.topic.id, self.group.clone());
        self.db
            .write(move |tx, _| {
                for (p, offset) in next {
                    schema::commit_offset(tx, id, &group, p, offset)?;
                }
                Ok(Ok(()))
            })
            .await
    }

    async fn committed(&mut self, partition: u32) -> Result<Option<u64>, BusError> {
        let (id, group) = (self.topic.id, self.group.clone());
        let c = self
            .db
            .read(move |conn| schema::committed_offset(conn, id, &group, partition))
            .await?;
        Ok(c.filter(|&c| c > 0))
    }
}

struct SqliteReader {
    db: Arc<Db>,
    topic: Arc<TopicState>,
    partition: u32,
    /// Next offset to deliver or fetch.
    next: u64,
    until: u64,
    buffer: VecDeque<Record>,
}

#[async_trait]
impl PartitionReader for SqliteReader {
    async fn next(&mut self) -> Result<Option<Record>, BusError> {
        loop {
            if let Some(r) = self.buffer.pop_front() {
                return Ok(Some(r));
            }
            if self.next >= self.until {
                return Ok(None);
            }
            let end = self.topic.end(self.partition).min(self.until);
            if self.next < end {
                let want = (self.partition, self.next, end.min(self.next + FETCH));
                for (_, records) in fetch(&self.db, &self.topic, vec![want]).await? {
                    self.next = want.2;
                    self.buffer.extend(records);
                }
                continue;
            }
            let hub = self.db.hub.clone();
            let published = hub.published.notified();
            tokio::pin!(published);
            published.as_mut().enable();
            if self.topic.end(self.partition) > self.next {
                continue;
            }
            published.await;
        }
    }
}
