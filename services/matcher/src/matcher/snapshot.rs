//! Partition snapshots: a partition's whole state, written to the store
//! every `snapshot_every` records so that a rebuild replays only the records
//! after it (`docs/design/matcher.md`, "Snapshots").

use std::sync::atomic::Ordering;

use lendwork_engine::EngineConfig;
use lendwork_ports::Record;

use super::metrics::Stage;
use super::partition::PartitionState;
use super::Matcher;

/// The first bytes of a partition snapshot.
const SNAPSHOT_MAGIC: &[u8; 4] = b"LWPS";
/// The version of the partition snapshot's format (the engine's own
/// version, [`lendwork_engine::SNAPSHOT_FORMAT`], is checked beside it).
const SNAPSHOT_FORMAT: u32 = 1;

/// What a partition snapshot says of itself.
#[derive(serde::Serialize, serde::Deserialize)]
struct SnapshotMeta {
    engine_format: u32,
    topic: String,
    partition: u32,
    /// The record at `next_offset - 1`: the last one in the snapshot.
    last_digest: u64,
}

/// FNV-1a over a record's key and payload: the identity of the record a
/// snapshot was taken after.
pub(crate) fn digest(rec: &Record) -> u64 {
    rec.key
        .iter()
        .chain(&[0xff])
        .chain(rec.payload.iter())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

impl PartitionState {
    /// The state as a snapshot of partition `partition` of `topic`, taken
    /// after `last` (the record at `next_offset - 1`): `LWPS`,
    /// the format version (`u32`, little-endian), then MessagePack (structs
    /// by position, as the engine's own).
    pub fn snapshot(&self, topic: &str, partition: u32, last: &Record) -> Vec<u8> {
        debug_assert_eq!(last.position.offset + 1, self.next_offset);
        let meta = SnapshotMeta {
            engine_format: lendwork_engine::SNAPSHOT_FORMAT,
            topic: topic.to_owned(),
            partition,
            last_digest: digest(last),
        };
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
        rmp_serde::encode::write(&mut out, &(meta, self))
            .expect("a partition's state always serializes");
        out
    }

    /// A state from [`PartitionState::snapshot`]'s bytes, with the digest
    /// of the record it was taken after; refused (with the reason) unless
    /// it is a snapshot of partition `partition` of `topic`, in this
    /// format, by an engine with `config`.
    pub fn restore(
        bytes: &[u8],
        topic: &str,
        partition: u32,
        config: &EngineConfig,
    ) -> Result<(PartitionState, u64), String> {
        let body = bytes
            .strip_prefix(SNAPSHOT_MAGIC)
            .ok_or("not a partition snapshot")?;
        let (format, body) = body.split_first_chunk::<4>().ok_or("cut short")?;
        let format = u32::from_le_bytes(*format);
        if format != SNAPSHOT_FORMAT {
            return Err(format!(
                "snapshot format {format}, this matcher reads format {SNAPSHOT_FORMAT}"
            ));
        }
        let (meta, state): (SnapshotMeta, PartitionState) =
            rmp_serde::from_slice(body).map_err(|e| format!("does not decode: {e}"))?;
        if meta.engine_format != lendwork_engine::SNAPSHOT_FORMAT {
            return Err(format!(
                "engine format {}, this engine reads format {}",
                meta.engine_format,
                lendwork_engine::SNAPSHOT_FORMAT
            ));
        }
        if (meta.topic.as_str(), meta.partition) != (topic, partition) {
            return Err(format!(
                "taken of partition {} of topic {}",
                meta.partition, meta.topic
            ));
        }
        if state.engine.config() != config {
            return Err("taken with other engine settings".into());
        }
        if state.next_offset == 0 {
            return Err("taken before any record".into());
        }
        Ok((state, meta.last_digest))
    }
}

impl Matcher {
    /// Writes partition `p`'s snapshot. Best effort, one try: a snapshot
    /// only shortens a later rebuild, and an outage must not hold up the
    /// matcher here (the next one comes `snapshot_every` records later).
    pub(crate) async fn write_snapshot(&self, p: u32, bytes: &[u8]) {
        let key = self.keys.snapshot(&self.opts.market_topic, p);
        match self.store.set(&key, bytes).await {
            Ok(()) => {
                self.health
                    .snapshots_written
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(
                partition = p,
                error = %e,
                "writing the snapshot failed; the next one is taken {} records later",
                self.opts.snapshot_every
            ),
        }
    }

    /// Whether a partition has handled `snapshot_every` records since its
    /// last snapshot.
    pub(crate) fn snapshots_due(&self) -> bool {
        let every = self.opts.snapshot_every;
        every > 0 && self.since_snapshot.values().any(|&n| n >= every)
    }

    /// Takes and writes the snapshots due, while the matcher is idle and
    /// every batch it handled is committed.
    pub(crate) async fn snapshot_idle(&mut self) {
        let every = self.opts.snapshot_every;
        if every == 0 {
            return;
        }
        let t = std::time::Instant::now();
        let due: Vec<u32> = self
            .since_snapshot
            .iter()
            .filter(|(_, &n)| n >= every)
            .map(|(&p, _)| p)
            .collect();
        for p in due {
            // Counted as taken even if the write fails, so a store that
            // refuses snapshots is not asked again every 100 ms.
            self.since_snapshot.insert(p, 0);
            let (Some(state), Some(rec)) = (self.parts.get(&p), self.last_handled.get(&p)) else {
                continue;
            };
            if rec.position.offset + 1 != state.next_offset {
                continue;
            }
            let bytes = state.snapshot(&self.opts.market_topic, p, rec);
            self.write_snapshot(p, &bytes).await;
        }
        self.health.spent(Stage::Snapshot, t);
    }

    /// The partition's snapshot, if there is one this rebuild may start
    /// from (see "Snapshots" above), with the digest of the record it was
    /// taken after. A refusal is reported and counted. One try: a
    /// snapshot that cannot be read now (the store down, or a value too
    /// large for the client's response timeout over a slow link) is
    /// refused, and the replay from offset 0 needs no store.
    pub(crate) async fn read_snapshot(&self, p: u32, until: u64) -> Option<(PartitionState, u64)> {
        if self.opts.snapshot_every == 0 {
            return None;
        }
        let key = self.keys.snapshot(&self.opts.market_topic, p);
        let bytes = match self.store.get(&key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(e) => {
                self.refuse_snapshot(p, &format!("it could not be read: {e}"));
                return None;
            }
        };
        let restored =
            PartitionState::restore(&bytes, &self.opts.market_topic, p, &self.opts.engine)
                .and_then(|(state, d)| {
                    if state.next_offset > until {
                        Err(format!(
                            "taken at offset {}, past the first record to handle ({until}): \
                             the group's offsets were moved back",
                            state.next_offset
                        ))
                    } else {
                        Ok((state, d))
                    }
                });
        match restored {
            Ok(found) => Some(found),
            Err(why) => {
                self.refuse_snapshot(p, &why);
                None
            }
        }
    }

    pub(crate) fn refuse_snapshot(&self, p: u32, why: &str) {
        self.health
            .snapshots_refused
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            partition = p,
            topic = %self.opts.market_topic,
            "snapshot not used ({why}); replaying the partition from offset 0"
        );
    }
}
