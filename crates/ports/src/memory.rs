//! In-memory bus and store for the embedded default and for tests.
//!
//! Both are cheap to clone (shared state behind an `Arc`), so one process can
//! hand the same bus to its gateway and its matcher. The in-memory bus gives
//! every member of a group all partitions: one process has no one to share
//! them with.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Notify;

use crate::{
    check_name, partition_for, BusError, Decoded, EventBus, PartitionReader, Position, Record,
    StateStore, StoreError, Subscription,
};

/// One record in the log: key, payload, and the publisher's decoded value
/// until the first subscriber takes it.
type Entry = (Bytes, Bytes, Option<Decoded>);

#[derive(Default)]
struct BusState {
    topics: HashMap<String, Vec<Vec<Entry>>>,
    /// (topic, group) → next offset to read, per partition.
    committed: HashMap<(String, String), Vec<u64>>,
}

/// The in-memory log.
#[derive(Clone, Default)]
pub struct MemoryBus {
    state: Arc<Mutex<BusState>>,
    /// Woken on every publish, so waiting readers look again.
    published: Arc<Notify>,
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `records` (sharing their bytes) with `decoded[i]`, when
    /// given, beside record `i`.
    fn append(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
        decoded: Vec<Decoded>,
    ) -> Result<Vec<Position>, BusError> {
        let mut decoded = decoded.into_iter();
        let out = {
            let mut st = self.state.lock().unwrap();
            let parts = st
                .topics
                .get_mut(topic)
                .ok_or_else(|| BusError::Invalid(format!("unknown topic {topic:?}")))?;
            records
                .iter()
                .map(|(key, payload)| {
                    let partition = partition_for(key, parts.len() as u32);
                    let log = &mut parts[partition as usize];
                    log.push((key.clone(), payload.clone(), decoded.next()));
                    Position {
                        partition,
                        offset: log.len() as u64 - 1,
                    }
                })
                .collect()
        };
        self.published.notify_waiters();
        Ok(out)
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn ensure_topic(&self, topic: &str, partitions: u32) -> Result<(), BusError> {
        check_name("topic", topic)?;
        if partitions == 0 {
            return Err(BusError::Invalid(
                "a topic needs at least one partition".into(),
            ));
        }
        let mut st = self.state.lock().unwrap();
        st.topics
            .entry(topic.to_owned())
            .or_insert_with(|| vec![Vec::new(); partitions as usize]);
        Ok(())
    }

    async fn publish(&self, topic: &str, key: &[u8], payload: &[u8]) -> Result<Position, BusError> {
        let rec = (Bytes::copy_from_slice(key), Bytes::copy_from_slice(payload));
        Ok(self.append(topic, &[rec], Vec::new())?[0])
    }

    async fn publish_all(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
    ) -> Result<Vec<Position>, BusError> {
        self.append(topic, records, Vec::new())
    }

    /// Keeps each decoded value beside its record until the first
    /// subscriber reads the record (a later reader, another group or a
    /// rebuild decodes the payload).
    async fn publish_all_decoded(
        &self,
        topic: &str,
        records: &[(Bytes, Bytes)],
        decoded: Vec<Decoded>,
    ) -> Result<Vec<Position>, BusError> {
        self.append(topic, records, decoded)
    }

    async fn subscribe(&self, topic: &str, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        check_name("group", group)?;
        let st = self.state.lock().unwrap();
        let parts = st
            .topics
            .get(topic)
            .ok_or_else(|| BusError::Invalid(format!("unknown topic {topic:?}")))?;
        let next = st
            .committed
            .get(&(topic.to_owned(), group.to_owned()))
            .cloned()
            .unwrap_or_else(|| vec![0; parts.len()]);
        Ok(Box::new(MemorySubscription {
            bus: self.clone(),
            topic: topic.to_owned(),
            group: group.to_owned(),
            next,
            turn: 0,
        }))
    }

    async fn read_partition(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        until: u64,
    ) -> Result<Box<dyn PartitionReader>, BusError> {
        let st = self.state.lock().unwrap();
        let parts = st
            .topics
            .get(topic)
            .ok_or_else(|| BusError::Invalid(format!("unknown topic {topic:?}")))?;
        let log = parts.get(partition as usize).ok_or_else(|| {
            BusError::Invalid(format!("topic {topic:?} has no partition {partition}"))
        })?;
        let records: Vec<Record> = log
            .iter()
            .take(until as usize)
            .enumerate()
            .skip(from as usize)
            .map(|(i, (k, v, _))| Record {
                topic: topic.to_owned(),
                position: Position {
                    partition,
                    offset: i as u64,
                },
                key: k.clone(),
                payload: v.clone(),
                decoded: None,
            })
            .collect();
        Ok(Box::new(MemoryReader(records.into_iter())))
    }
}

struct MemoryReader(std::vec::IntoIter<Record>);

#[async_trait]
impl PartitionReader for MemoryReader {
    async fn next(&mut self) -> Result<Option<Record>, BusError> {
        Ok(self.0.next())
    }
}

struct MemorySubscription {
    bus: MemoryBus,
    topic: String,
    group: String,
    /// Next offset to read per partition (read position, not committed).
    next: Vec<u64>,
    /// Partition to look at first, so no partition starves the others.
    turn: usize,
}

impl MemorySubscription {
    fn poll(&mut self) -> Option<Record> {
        let mut st = self.bus.state.lock().unwrap();
        let parts = st
            .topics
            .get_mut(&self.topic)
            .expect("topics are never removed");
        let n = parts.len();
        for i in 0..n {
            let p = (self.turn + i) % n;
            let off = self.next[p];
            if let Some((k, v, decoded)) = parts[p].get_mut(off as usize) {
                self.next[p] += 1;
                self.turn = (p + 1) % n;
                return Some(Record {
                    topic: self.topic.clone(),
                    position: Position {
                        partition: p as u32,
                        offset: off,
                    },
                    key: k.clone(),
                    payload: v.clone(),
                    decoded: decoded.take(),
                });
            }
        }
        None
    }
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn next(&mut self) -> Result<Record, BusError> {
        loop {
            // A record already there is taken without touching the
            // notifier (a reader draining a backlog never registers).
            if let Some(r) = self.poll() {
                return Ok(r);
            }
            // Register interest, then look again, so a publish between the
            // look and the wait is not missed.
            let published = self.bus.published.clone();
            let notified = published.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = self.poll() {
                return Ok(r);
            }
            notified.await;
        }
    }

    async fn committed(&mut self, partition: u32) -> Result<Option<u64>, BusError> {
        let st = self.bus.state.lock().unwrap();
        Ok(st
            .committed
            .get(&(self.topic.clone(), self.group.clone()))
            .and_then(|c| c.get(partition as usize).copied())
            .filter(|&c| c > 0))
    }

    async fn commit(&mut self, record: &Record) -> Result<(), BusError> {
        let mut st = self.bus.state.lock().unwrap();
        let n = st.topics[&self.topic].len();
        let c = st
            .committed
            .entry((self.topic.clone(), self.group.clone()))
            .or_insert_with(|| vec![0; n]);
        let p = record.position.partition as usize;
        c[p] = c[p].max(record.position.offset + 1);
        Ok(())
    }
}

/// The in-memory store.
#[derive(Clone, Default)]
pub struct MemoryStore {
    map: Arc<Mutex<BTreeMap<String, Bytes>>>,
    sets: Arc<Mutex<HashMap<String, BTreeSet<String>>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.map.lock().unwrap().get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.map
            .lock()
            .unwrap()
            .insert(key.to_owned(), Bytes::copy_from_slice(value));
        Ok(())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let m = self.map.lock().unwrap();
        Ok(keys.iter().map(|k| m.get(k).cloned()).collect())
    }

    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut m = self.map.lock().unwrap();
        for (k, v) in pairs {
            m.insert(k.clone(), Bytes::copy_from_slice(v));
        }
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        // One search down the map, not a lookup and then an insert.
        match self.map.lock().unwrap().entry(key.to_owned()) {
            std::collections::btree_map::Entry::Occupied(_) => Ok(false),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(Bytes::copy_from_slice(value));
                Ok(true)
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        // Like Redis's DEL: whatever the key holds.
        let set = self.sets.lock().unwrap().remove(key).is_some();
        Ok(self.map.lock().unwrap().remove(key).is_some() || set)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let mut m = self.map.lock().unwrap();
        if m.get(key).map(|b| &b[..]) != expected {
            return Ok(false);
        }
        match new {
            Some(v) => m.insert(key.to_owned(), Bytes::copy_from_slice(v)),
            None => m.remove(key),
        };
        Ok(true)
    }

    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let mut m = self.map.lock().unwrap();
        let cur = match m.get(key) {
            None => 0,
            Some(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| StoreError::Invalid(format!("{key:?} does not hold an integer")))?,
        };
        let new = cur
            .checked_add(delta)
            .ok_or_else(|| StoreError::Invalid(format!("counter {key:?} would overflow")))?;
        m.insert(key.to_owned(), Bytes::from(new.to_string()));
        Ok(new)
    }

    async fn add_to_sets(&self, adds: &[(String, String)]) -> Result<(), StoreError> {
        let mut sets = self.sets.lock().unwrap();
        for (k, m) in adds {
            match sets.get_mut(k) {
                Some(set) => {
                    if !set.contains(m) {
                        set.insert(m.clone());
                    }
                }
                None => {
                    sets.insert(k.clone(), BTreeSet::from([m.clone()]));
                }
            }
        }
        Ok(())
    }

    async fn members_many(&self, keys: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
        let sets = self.sets.lock().unwrap();
        Ok(keys
            .iter()
            .map(|k| {
                sets.get(k)
                    .map_or_else(Vec::new, |s| s.iter().cloned().collect())
            })
            .collect())
    }

    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Bytes)>, StoreError> {
        let m = self.map.lock().unwrap();
        Ok(m.range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
