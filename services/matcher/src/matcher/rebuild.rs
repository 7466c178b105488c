//! Bringing a partition's state up to a live record: replaying what other
//! members handled (from a snapshot when there is one), and reading what
//! the consumer skipped (`docs/design/matcher.md`, "Rebuild on arrival" and
//! "Skipped records").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use lendwork_domain::Region;
use lendwork_ports::{Record, Subscription};

use super::effects::Effects;
use super::error::MatcherError;
use super::metrics::Stage;
use super::partition::PartitionState;
use super::retry::{persist, Retryable};
use super::snapshot::digest;
use super::Matcher;

impl Matcher {
    /// Checks that region `r`, met in partition `p`, lives in no other
    /// partition: the first matcher to meet a region records its partition
    /// in the store; any later meeting elsewhere stops the matcher.
    ///
    /// A region's market must be one engine. Its records land in one
    /// partition only while every producer partitions its key the same way
    /// and the topic keeps its partition count; partitions added to the
    /// topic, or a producer with another partitioner (Java clients hash
    /// keys with murmur2; librdkafka's default is CRC32), would split it
    /// into two markets that each propose the other's workers and gaps
    /// nothing. Stopping is the safe answer: nothing of the batch is made
    /// durable, and the operator gets the region and both partitions.
    pub(crate) async fn check_home(&mut self, r: &Region, p: u32) -> Result<(), MatcherError> {
        let home = match self.homes.get(r) {
            Some(&q) => q,
            None => {
                let key = self.keys.region_home(&self.opts.market_topic, r.as_str());
                let mine = p.to_string();
                let store = &self.store;
                let set = persist(
                    &self.health.store_ok,
                    "recording a region's partition",
                    || store.set_if_absent(&key, mine.as_bytes()),
                )
                .await?;
                let q = if set {
                    p
                } else {
                    let cur = persist(
                        &self.health.store_ok,
                        "reading a region's partition",
                        || store.get(&key),
                    )
                    .await?;
                    cur.as_deref()
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| s.parse().ok())
                        .ok_or(MatcherError::Corrupt {
                            key: key.clone(),
                            what: "not a partition number",
                        })?
                };
                self.homes.insert(r.clone(), q);
                q
            }
        };
        if home != p {
            return Err(MatcherError::RegionSplit {
                region: r.to_string(),
                home,
                other: p,
                topic: self.opts.market_topic.clone(),
            });
        }
        Ok(())
    }

    /// Brings partition `p` up to offset `until`, the first record the
    /// consumer delivered past what this instance holds (`expected`: the
    /// next offset of its state, if it has one). The records below the
    /// group's committed offset were handled by a member, their effects
    /// durable: they are replayed without effects ([`Matcher::rebuild`]).
    /// The records from there (or from `expected`) to `until` were handled
    /// by nobody — the consumer skipped them — and are read from the
    /// partition and handled with their effects. See "Skipped records".
    pub(crate) async fn catch_up(
        &mut self,
        sub: &mut dyn Subscription,
        p: u32,
        expected: Option<u64>,
        until: u64,
        fx: &mut BTreeMap<u32, Effects>,
        last: &mut BTreeMap<u32, Record>,
    ) -> Result<(), MatcherError> {
        let committed = self.committed(sub, p).await?.unwrap_or(0).min(until);
        let from = match expected {
            // This instance's own commits never pass what it handled.
            Some(next) if committed <= next => next,
            _ => {
                self.rebuild(p, committed).await?;
                committed
            }
        };
        if from < until {
            for missed in self.skipped(p, from, until).await? {
                self.handle_one(missed, fx, last);
            }
        }
        Ok(())
    }

    /// The group's committed offset in partition `p` (what the group has
    /// handled below it), waiting out outages.
    async fn committed(
        &self,
        sub: &mut dyn Subscription,
        p: u32,
    ) -> Result<Option<u64>, MatcherError> {
        loop {
            match sub.committed(p).await {
                Ok(c) => {
                    self.health.bus_ok.store(true, Ordering::Relaxed);
                    return Ok(c);
                }
                Err(e) if e.retryable() => {
                    self.health.bus_ok.store(false, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Records `from..until` of partition `p`, which the consumer skipped:
    /// read from the partition, every one of them, or an error (records
    /// missing from the log) — see "Skipped records".
    async fn skipped(&self, p: u32, from: u64, until: u64) -> Result<Vec<Record>, MatcherError> {
        tracing::warn!(
            partition = p,
            topic = %self.opts.market_topic,
            "the consumer delivered offset {until} where {from} was due; reading offsets \
             {from}..{until} from the partition"
        );
        self.health
            .skipped_reads
            .fetch_add(until - from, Ordering::Relaxed);
        let mut reader = self.read_from(p, from, until).await?;
        let mut out = Vec::with_capacity((until - from) as usize);
        while let Some(rec) = self.replayed(reader.as_mut()).await? {
            let due = from + out.len() as u64;
            if rec.position.offset != due {
                return Err(MatcherError::missing_records(
                    &self.opts.market_topic,
                    p,
                    due,
                    Some(rec.position.offset),
                ));
            }
            out.push(rec);
        }
        let due = from + out.len() as u64;
        if due != until {
            return Err(MatcherError::missing_records(
                &self.opts.market_topic,
                p,
                due,
                None,
            ));
        }
        Ok(out)
    }

    async fn read_from(
        &self,
        p: u32,
        from: u64,
        until: u64,
    ) -> Result<Box<dyn lendwork_ports::PartitionReader>, MatcherError> {
        Ok(persist(&self.health.bus_ok, "replaying a partition", || {
            self.bus
                .read_partition(&self.opts.market_topic, p, from, until)
        })
        .await?)
    }

    /// The next record of a replay, waiting out outages.
    async fn replayed(
        &self,
        reader: &mut dyn lendwork_ports::PartitionReader,
    ) -> Result<Option<Record>, MatcherError> {
        loop {
            match reader.next().await {
                Err(e) if e.retryable() => {
                    self.health.bus_ok.store(false, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => return Ok(other?),
            }
        }
    }

    /// Rebuilds partition `p`'s state up to `until`: from its snapshot and
    /// the records after it when it has a usable one, otherwise by
    /// replaying it from offset 0.
    #[tracing::instrument(level = "info", skip(self), fields(topic = %self.opts.market_topic))]
    async fn rebuild(&mut self, p: u32, until: u64) -> Result<(), MatcherError> {
        self.health.rebuilds.fetch_add(1, Ordering::Relaxed);
        let t = std::time::Instant::now();
        let mut start = None;
        if let Some((state, last_digest)) = self.read_snapshot(p, until).await {
            // The replay starts one record early, at the record the
            // snapshot was taken after, to check that it is still that one.
            let n = state.next_offset;
            let mut reader = self.read_from(p, n - 1, until).await?;
            match self.replayed(reader.as_mut()).await? {
                Some(r) if r.position.offset == n - 1 && digest(&r) == last_digest => {
                    self.health
                        .snapshots_restored
                        .fetch_add(1, Ordering::Relaxed);
                    start = Some((state, reader));
                }
                Some(r) if r.position.offset == n - 1 => self.refuse_snapshot(
                    p,
                    &format!(
                        "offset {} holds another record than the one it was taken after \
                         (was the topic deleted and created again?)",
                        n - 1
                    ),
                ),
                _ => self.refuse_snapshot(p, &format!("the record at offset {} is gone", n - 1)),
            }
        }
        self.health.spent(Stage::Snapshot, t);
        let (mut state, mut reader) = match start {
            Some(found) => found,
            None => (
                PartitionState::new(self.opts.engine.clone()),
                self.read_from(p, 0, until).await?,
            ),
        };
        let mut scratch = Effects::default();
        // The state is a function of *every* record of the partition: a
        // replay that skips some (deleted by the topic's retention, or by
        // DeleteRecords) would rebuild another market and go on to make
        // other proposals than the instance before — so it stops here.
        let from = state.next_offset;
        let mut expected = from;
        let mut regions = BTreeSet::new();
        loop {
            let Some(rec) = self.replayed(reader.as_mut()).await? else {
                break;
            };
            if rec.position.offset != expected {
                return Err(MatcherError::missing_records(
                    &self.opts.market_topic,
                    p,
                    expected,
                    Some(rec.position.offset),
                ));
            }
            expected += 1;
            state.process(&rec, &mut scratch);
            regions.append(&mut scratch.regions);
            scratch.clear();
            self.health.replayed.fetch_add(1, Ordering::Relaxed);
        }
        if expected != until {
            return Err(MatcherError::missing_records(
                &self.opts.market_topic,
                p,
                expected,
                None,
            ));
        }
        for r in &regions {
            self.check_home(r, p).await?;
        }
        // The records replayed count towards the next snapshot: a long
        // replay (no snapshot yet, or one refused after an upgrade) is
        // followed by a snapshot at the first quiet moment, so the next
        // owner need not repeat it.
        self.since_snapshot.insert(p, until - from);
        state.next_offset = until;
        self.parts.insert(p, state);
        Ok(())
    }
}
