//! The matcher service: market topic in, proposals out.
//!
//! A matcher is one member of a consumer group on the market topic. Market
//! events are keyed by region, so a region lives in one partition and the
//! group gives each partition to one matcher at a time. Per partition the
//! matcher keeps a [`PartitionState`]: an [`Engine`] holding the
//! partition's regions, and the counters of the read models.
//!
//! ## Effectively once, without transactions
//!
//! * **Deterministic state.** A partition's state is a pure function of the
//!   partition's records: [`PartitionState::process`] takes time only from
//!   the events, expires proposals by event time, and runs a matching round
//!   after every record, so the same records give the same proposals with
//!   the same ids on any instance.
//! * **Rebuild on arrival.** When a record arrives for a partition this
//!   instance has no state for, or whose offset is past the next one it
//!   expects, the matcher asks the group's committed offset there. The
//!   records below it were handled by a member (another instance while the
//!   partition was away), so the matcher first rebuilds the partition up
//!   to it — from its snapshot and the records after it ("Snapshots",
//!   below), or by replaying it from its start
//!   ([`EventBus::read_partition`]) — without effects: they were made by
//!   whoever handled those records before committing them. Records between
//!   there and the one that arrived were handled by nobody: see "Skipped
//!   records". A record below the expected offset is a redelivery of one
//!   whose effects are already durable, and is skipped.
//! * **Effects, then commit.** For each batch of records: reserve the
//!   proposed workers in the store (atomically per worker,
//!   [`Reservations`]), publish proposals and lifecycle events to the
//!   matches topic (idempotent producer, `acks=all`), write the read models
//!   (whole values, idempotent), and only then commit the offsets. A crash
//!   anywhere before the commit makes the batch run again with the same
//!   output ids, which consumers dedupe. While one batch is being made
//!   durable the next is handled ([`Matcher::run`]); effects are made
//!   durable batch after batch, in order.
//! * **No double booking.** If a worker's reservation is held by another
//!   proposal (the worker was re-offered in a region another matcher owns,
//!   or two matchers briefly both handle a partition during a rebalance),
//!   the proposal is not published; instead a `match_declined` (by
//!   `worker`, with the reason) is appended to the market topic with a
//!   deterministic id, so every replay of the partition sees the same
//!   decision and the gap is back-filled.
//!
//! * **Whole history or nothing.** A replay reads offsets 0, 1, 2, … (or
//!   n, n + 1, … after a snapshot at n) and stops the matcher with an
//!   error naming the partition if one is missing (a topic whose retention deleted its oldest records): a
//!   state rebuilt from part of the history is another market, whose
//!   proposals would differ from those already published. The bus creates
//!   its topics with retention off; an existing topic must be set so.
//!
//! ## Skipped records
//!
//! A consumer may deliver a partition's records with a hole: on Tansu
//! under load, librdkafka was seen to deliver offset 3445 of a partition
//! right after 3431 (`benches/streaming.sh`, 2026-11-28; the records were
//! in the log, and a replay read them). Kafka allows holes in offsets
//! (compaction, transaction markers), so a client passes them on. Taking
//! such a hole for another member's work, as the matcher did until then,
//! folded the skipped records into a rebuild without effects: their
//! proposals were never published, silently. Now the group's committed
//! offset decides: this instance commits only what it handled, so a hole
//! above the committed offset was handled by nobody. Its records are read
//! from the partition ([`EventBus::read_partition`]) and handled with their
//! effects, in order, before the record that arrived; each such read is
//! reported on stderr and counted in
//! `lendwork_matcher_skipped_reads_total`. If the log itself lacks them,
//! the matcher stops as a replay does ("Whole history or nothing").
//!
//! ## Snapshots
//!
//! A rebuild that replays a partition from offset 0 grows with the topic's
//! age (17–40 s per million records on the benchmark machine). So after
//! every `snapshot_every` records of a partition ([`MatcherOptions`]) the
//! matcher serializes the partition's whole state — the engine with its
//! solver, indexes, id counters and dedupe window ([`Engine::snapshot`]),
//! and the read models' counters — and writes it to the store under
//! [`Keys::snapshot`]. Serializing holds the matcher up (about 0.4 s
//! for a region of 100k workers), so it waits for a quiet moment
//! (no record for 100 ms, every batch committed); under a load that leaves
//! none it is taken at the end of the batch that reaches twice
//! `snapshot_every` and written once that batch is committed. Records
//! replayed in a rebuild count too, so a long replay is followed by a
//! snapshot. A snapshot at offset `n` therefore means: the state after
//! records `0..n`, whose effects are durable and committed.
//!
//! A rebuild up to a live record at offset `until` reads the snapshot and
//! uses it when it decodes, was taken of this topic and partition by an
//! engine in this format with the same settings, is not ahead of `until`
//! (an operator may have moved the group's offsets back), and the record
//! at offset `n − 1` is still the one it was taken after (a digest of its
//! key and payload: a topic deleted and created again has other records
//! there). Then only records `n..until` are replayed; otherwise the
//! snapshot is refused with the reason on stderr and in
//! `lendwork_matcher_snapshots_refused_total`, and the partition is
//! replayed from 0 as before. A restored engine goes on exactly as the one
//! it was taken from (the engine's property tests), so the guarantees
//! above hold either way. Writing a snapshot is best effort: one that
//! fails is reported and the next one is taken `snapshot_every` records
//! later.
//!
//! Proposals expire by event time: a region with no events keeps its
//! proposals standing until its next event arrives.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use lendwork_domain::*;
use lendwork_engine::{Applied, Engine, EngineConfig, Status};
use lendwork_ports::{BusError, EventBus, Record, StateStore, StoreError, Subscription};
use tokio::task::JoinHandle;

use crate::readmodel::{GapStatus, GapView, Keys, MatchView, RegionView, Slice};
use crate::reservations::{Answer, Origin, Reservations, Reserve, Step};
use crate::Ids;

/// What a matcher needs to know.
#[derive(Clone, Debug)]
pub struct MatcherOptions {
    /// Market events in.
    pub market_topic: String,
    /// Proposals and lifecycle events out.
    pub matches_topic: String,
    /// Partitions of the topics when this matcher creates them.
    pub partitions: u32,
    /// Consumer group.
    pub group: String,
    /// Store key prefix.
    pub prefix: String,
    /// Cost weights and time to live.
    pub engine: EngineConfig,
    /// Most records per batch of effects.
    pub max_batch: usize,
    /// How long a batch waits for more records after its first.
    pub linger: Duration,
    /// Records of a partition between its snapshots; 0 takes none and
    /// always rebuilds by a full replay (see "Snapshots" above).
    pub snapshot_every: u64,
}

impl MatcherOptions {
    /// The options a [`crate::config::Config`] gives (no snapshots on the
    /// embedded bus).
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            market_topic: c.topics.market.clone(),
            matches_topic: c.topics.matches.clone(),
            partitions: c.topics.partitions,
            group: c.matcher.group.clone(),
            prefix: c.redis.prefix.clone(),
            engine: c.engine.clone(),
            max_batch: c.matcher.batch as usize,
            linger: Duration::from_millis(u64::from(c.matcher.linger_ms)),
            // The embedded bus lives and dies with the process: nothing
            // ever rebuilds from it, so a snapshot would only cost.
            snapshot_every: if c.kafka.brokers.is_some() {
                c.matcher.snapshot_every
            } else {
                0
            },
        }
    }
}

/// Liveness, readiness and counters, shared with the health endpoint.
#[derive(Debug, Default)]
pub struct Health {
    /// The last bus operation succeeded.
    pub bus_ok: AtomicBool,
    /// The last store operation succeeded.
    pub store_ok: AtomicBool,
    /// The consumer has joined its group.
    pub running: AtomicBool,
    /// Market records handled live.
    pub records: AtomicU64,
    /// Records replayed while rebuilding.
    pub replayed: AtomicU64,
    /// Partition rebuilds.
    pub rebuilds: AtomicU64,
    /// Records the consumer skipped, read from the partition and handled
    /// (see "Skipped records").
    pub skipped_reads: AtomicU64,
    /// Records that broke the event contract (skipped).
    pub invalid: AtomicU64,
    /// Proposals published.
    pub proposals: AtomicU64,
    /// Proposals withheld because the worker was reserved elsewhere.
    pub conflicts: AtomicU64,
    /// Batches made durable and committed.
    pub batches: AtomicU64,
    /// Commits that failed (the records will be delivered again).
    pub commit_failures: AtomicU64,
    /// Partition snapshots written.
    pub snapshots_written: AtomicU64,
    /// Rebuilds that started from a snapshot.
    pub snapshots_restored: AtomicU64,
    /// Snapshots found but not used (the reason goes to stderr).
    pub snapshots_refused: AtomicU64,
    /// Microseconds spent per stage: applying and matching, reservations,
    /// publishing, read models, committing, taking and writing snapshots.
    pub stage_micros: [AtomicU64; 6],
}

/// Names of [`Health::stage_micros`].
pub const STAGES: [&str; 6] = ["match", "reserve", "publish", "views", "commit", "snapshot"];

impl Health {
    /// Ready to do work: joined, and both servers answering.
    pub fn ready(&self) -> bool {
        self.running.load(Ordering::Relaxed)
            && self.bus_ok.load(Ordering::Relaxed)
            && self.store_ok.load(Ordering::Relaxed)
    }

    /// The counters in Prometheus' text format.
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        let g = |b: &AtomicBool| u8::from(b.load(Ordering::Relaxed));
        for (name, help, v) in [
            (
                "lendwork_matcher_ready",
                "1 when ready",
                g(&self.running) & g(&self.bus_ok) & g(&self.store_ok),
            ),
            (
                "lendwork_matcher_kafka_up",
                "1 when the bus answers",
                g(&self.bus_ok),
            ),
            (
                "lendwork_matcher_redis_up",
                "1 when the store answers",
                g(&self.store_ok),
            ),
        ] {
            prometheus(&mut out, "gauge", name, help, v);
        }
        for (name, help, v) in [
            (
                "lendwork_matcher_records_total",
                "market records handled live",
                &self.records,
            ),
            (
                "lendwork_matcher_replayed_total",
                "records replayed while rebuilding",
                &self.replayed,
            ),
            (
                "lendwork_matcher_rebuilds_total",
                "partition rebuilds",
                &self.rebuilds,
            ),
            (
                "lendwork_matcher_skipped_reads_total",
                "records the consumer skipped, read from the partition and handled",
                &self.skipped_reads,
            ),
            (
                "lendwork_matcher_invalid_total",
                "records that broke the event contract",
                &self.invalid,
            ),
            (
                "lendwork_matcher_proposals_total",
                "proposals published",
                &self.proposals,
            ),
            (
                "lendwork_matcher_conflicts_total",
                "proposals withheld: worker reserved elsewhere",
                &self.conflicts,
            ),
            (
                "lendwork_matcher_batches_total",
                "batches made durable and committed",
                &self.batches,
            ),
            (
                "lendwork_matcher_commit_failures_total",
                "failed offset commits",
                &self.commit_failures,
            ),
            (
                "lendwork_matcher_snapshots_written_total",
                "partition snapshots written",
                &self.snapshots_written,
            ),
            (
                "lendwork_matcher_snapshots_restored_total",
                "rebuilds started from a snapshot",
                &self.snapshots_restored,
            ),
            (
                "lendwork_matcher_snapshots_refused_total",
                "snapshots found but not used",
                &self.snapshots_refused,
            ),
        ] {
            prometheus(&mut out, "counter", name, help, v.load(Ordering::Relaxed));
        }
        for (i, stage) in STAGES.iter().enumerate() {
            out.push_str(&format!(
                "lendwork_matcher_stage_seconds_total{{stage=\"{stage}\"}} {}\n",
                self.stage_micros[i].load(Ordering::Relaxed) as f64 / 1e6
            ));
        }
        out
    }

    fn spent(&self, stage: usize, since: std::time::Instant) -> std::time::Instant {
        let now = std::time::Instant::now();
        self.stage_micros[stage].fetch_add((now - since).as_micros() as u64, Ordering::Relaxed);
        now
    }
}

/// Appends one metric in Prometheus' text format (`kind`: `counter` or
/// `gauge`); shared by the matcher's and the gateway's `/metrics`.
pub fn prometheus(
    out: &mut String,
    kind: &str,
    name: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    out.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    ));
}

/// A reservation step, in the order the records asked for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Book the worker for a new proposal.
    Reserve {
        /// The worker.
        worker: WorkerId,
        /// The proposal.
        match_id: MatchId,
        /// Its window.
        window: Window,
        /// Its region (the key of a conflict's decline).
        region: Region,
        /// Time of the record that made it.
        at: Timestamp,
        /// Offset of the record that made it (orders a region's requests).
        offset: u64,
    },
    /// Free the worker from a proposal that no longer holds them.
    Release {
        /// The worker.
        worker: WorkerId,
        /// The proposal.
        match_id: MatchId,
    },
}

/// What a batch must make durable before its offsets are committed.
#[derive(Debug, Default)]
pub struct Effects {
    /// Events for the matches topic, in order, keyed by region.
    pub outputs: Vec<(Region, Event)>,
    /// Reservation steps.
    pub holds: Vec<Hold>,
    /// Proposals whose views changed.
    pub matches: BTreeSet<MatchId>,
    /// Proposals made (or taken in) by this batch: their index-set entries
    /// are written once, with their first view.
    pub new_matches: BTreeSet<MatchId>,
    /// Gaps whose views changed.
    pub gaps: BTreeSet<GapId>,
    /// Regions whose views changed.
    pub regions: BTreeSet<Region>,
    /// Records that broke the contract: (position, error).
    pub invalid: Vec<String>,
    /// Final views of gaps withdrawn.
    pub withdrawn: Vec<GapView>,
}

impl Effects {
    fn clear(&mut self) {
        *self = Effects::default();
    }
}

/// Read-model writes of a batch: values (a proposal's tagged with its id)
/// and index-set entries (tagged likewise).
#[derive(Debug, Default)]
pub struct Views {
    /// (proposal, key, value).
    pub values: Vec<(Option<MatchId>, String, Vec<u8>)>,
    /// (proposal, set, member).
    pub sets: Vec<(MatchId, String, String)>,
}

impl Views {
    /// Leaves out the views and entries of the proposals in `withheld`,
    /// and returns what remains as (values, set entries).
    #[allow(clippy::type_complexity)]
    fn withhold(
        self,
        withheld: &BTreeSet<MatchId>,
    ) -> (Vec<(String, Vec<u8>)>, Vec<(String, String)>) {
        let kept = |m: Option<&MatchId>| !matches!(m, Some(m) if withheld.contains(m));
        let values = self
            .values
            .into_iter()
            .filter(|(m, ..)| kept(m.as_ref()))
            .map(|(_, k, v)| (k, v))
            .collect();
        let sets = self
            .sets
            .into_iter()
            .filter(|(m, ..)| kept(Some(m)))
            .map(|(_, set, member)| (set, member))
            .collect();
        (values, sets)
    }
}

/// One handled batch's effects, owned, so that they can be made durable
/// while the next batch is handled.
struct Batch {
    fx: BTreeMap<u32, Effects>,
    views: Views,
}

/// Where a batch's effects go: cloned into the task that makes a batch
/// durable.
#[derive(Clone)]
struct Sink {
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    keys: Keys,
    health: Arc<Health>,
    market_topic: String,
    matches_topic: String,
}

/// Folded counters of one region (the parts of [`RegionView`] that are
/// not read off the market itself).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Counters {
    view: RegionView,
    accepted_by_industry: BTreeMap<String, u64>,
    accepted_by_skill: BTreeMap<String, u64>,
}

/// Positions and open positions of live gaps, with how many gaps count
/// towards them (an entry with no gaps left is dropped).
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Supply {
    gaps: u64,
    positions: u64,
    open: u64,
}

impl Supply {
    /// Adds (`sign` 1) or takes away (`sign` -1) one gap's contribution.
    fn add(&mut self, sign: i64, positions: u64, open: u64) {
        let f = |x: u64, d: u64| x.checked_add_signed(sign * d as i64).expect("balanced");
        self.gaps = f(self.gaps, 1);
        self.positions = f(self.positions, positions);
        self.open = f(self.open, open);
    }
}

/// A region's supply, kept up to date gap by gap so the region statistics
/// cost as much as the number of industries and skills, not of gaps.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct RegionSupply {
    all: Supply,
    by_industry: BTreeMap<String, Supply>,
    by_skill: BTreeMap<String, Supply>,
}

/// What one live gap adds to its region's supply, its names interned
/// (a live gap costs a few words here, not three strings).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct GapSupply {
    region: u32,
    industry: u32,
    skills: Box<[u32]>,
    positions: u64,
    open: u64,
}

/// Region, industry and skill names by a dense id.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Names {
    ids: HashMap<String, u32, Ids>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).expect("fewer than 2^32 names");
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), i);
        i
    }

    fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
}

/// One partition's state: its regions' engine and counters. A pure
/// function of the partition's records (see the module docs); serialized
/// whole in a snapshot.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PartitionState {
    engine: Engine,
    /// The next offset expected.
    pub next_offset: u64,
    counters: BTreeMap<Region, Counters>,
    /// Each live gap's contribution to `supply`, as last added.
    gap_supply: HashMap<GapId, GapSupply, Ids>,
    /// Each region's supply, by the region's interned id.
    supply: HashMap<u32, RegionSupply, Ids>,
    names: Names,
    /// Each gap's first posting time and borrower (kept after withdrawal,
    /// for the views of its proposals).
    posted: HashMap<GapId, (Timestamp, EnterpriseId), Ids>,
}

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
fn digest(rec: &Record) -> u64 {
    rec.key
        .iter()
        .chain(&[0xff])
        .chain(rec.payload.iter())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

fn industry_of(g: &ShortagePosted) -> String {
    industry_name(g).to_owned()
}

fn industry_name(g: &ShortagePosted) -> &str {
    g.industry.as_ref().map_or("unknown", |i| i.as_str())
}

/// A read model as JSON, into a buffer sized for one view (growing from
/// empty reallocated it five or six times per view).
fn json(v: &impl serde::Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, v).expect("read models always serialize");
    out
}

impl PartitionState {
    /// An empty partition.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            engine: Engine::new(config),
            next_offset: 0,
            counters: BTreeMap::new(),
            gap_supply: HashMap::default(),
            supply: HashMap::default(),
            names: Names::default(),
            posted: HashMap::default(),
        }
    }

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

    /// Takes gap `g`'s old contribution out of its region's supply and
    /// adds its current one (none once it is withdrawn). A gap whose
    /// contribution did not change (the common case: touched, still as
    /// open) costs a comparison and no allocation.
    fn refresh_supply(&mut self, g: &GapId) {
        fn apply(
            supply: &mut HashMap<u32, RegionSupply, Ids>,
            names: &Names,
            s: &GapSupply,
            sign: i64,
        ) {
            fn slice(map: &mut BTreeMap<String, Supply>, key: &str, sign: i64, s: &GapSupply) {
                let e = match map.get_mut(key) {
                    Some(e) => e,
                    None => map.entry(key.to_owned()).or_default(),
                };
                e.add(sign, s.positions, s.open);
                if e.gaps == 0 {
                    map.remove(key);
                }
            }
            let r = supply.entry(s.region).or_default();
            r.all.add(sign, s.positions, s.open);
            slice(&mut r.by_industry, names.name(s.industry), sign, s);
            for &k in s.skills.iter() {
                slice(&mut r.by_skill, names.name(k), sign, s);
            }
        }
        let Self {
            engine,
            names,
            gap_supply,
            supply,
            ..
        } = self;
        let new = engine.gap(g).map(|post| GapSupply {
            region: names.id(post.region.as_str()),
            industry: names.id(industry_name(post)),
            skills: post
                .requirements
                .iter()
                .map(|r| names.id(r.skill.as_str()))
                .collect(),
            positions: u64::from(post.headcount.get()),
            open: u64::from(engine.market(&post.region).map_or(0, |mk| mk.open(g))),
        });
        if gap_supply.get(g) == new.as_ref() {
            return;
        }
        if let Some(old) = gap_supply.remove(g) {
            apply(supply, names, &old, -1);
        }
        if let Some(new) = new {
            apply(supply, names, &new, 1);
            gap_supply.insert(g.clone(), new);
        }
    }

    /// The engine (for tests and reports).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Handles one record: expiries by the event's time, the event, a
    /// matching round; adds what must be made durable to `fx`.
    pub fn process(&mut self, rec: &Record, fx: &mut Effects) {
        self.next_offset = rec.position.offset + 1;
        // An in-process publisher (the embedded gateway) may have handed
        // over the event the payload encodes; otherwise parse it.
        let parsed;
        let ev: &Event = match rec.decoded.as_deref().and_then(|d| d.downcast_ref()) {
            Some(ev) => ev,
            None => match std::str::from_utf8(&rec.payload)
                .map_err(|_| "payload: must be UTF-8".to_owned())
                .and_then(|t| Event::from_json(t).map_err(|e| e.to_string()))
            {
                Ok(ev) => {
                    parsed = ev;
                    &parsed
                }
                Err(e) => {
                    fx.invalid.push(format!(
                        "partition {} offset {}: {e}",
                        rec.position.partition, rec.position.offset
                    ));
                    return;
                }
            },
        };
        let at = ev.at;
        let expired = self.engine.expire(at);
        for e in expired {
            if let EventKind::MatchExpired(x) = &e.kind {
                if let Some(r) = self.region_of_match(&x.match_id) {
                    self.counters.entry(r.clone()).or_default().view.expired += 1;
                    fx.outputs.push((r, e));
                }
            }
        }
        if let EventKind::ShortagePosted(g) = &ev.kind {
            self.posted
                .entry(g.gap_id.clone())
                .or_insert((at, g.enterprise_id.clone()));
        }
        if let EventKind::ShortageWithdrawn(x) = &ev.kind {
            if let Some(g) = self.engine.gap(&x.gap_id) {
                fx.regions.insert(g.region.clone());
                let mut view = self.gap_view(g, 0);
                view.status = GapStatus::Withdrawn;
                fx.withdrawn.push(view);
            }
        }
        if let EventKind::WorkerWithdrawn(x) = &ev.kind {
            if let Some(w) = self.engine.worker(&x.worker_id) {
                fx.regions.insert(w.region.clone());
            }
        }
        let applied = self.engine.apply(ev);
        if let Some(r) = ev.kind.region() {
            fx.regions.insert(r.clone());
        }
        if let EventKind::ShortagePosted(g) = &ev.kind {
            fx.gaps.insert(g.gap_id.clone());
        }
        let mut new: BTreeSet<MatchId> = BTreeSet::new();
        if applied == Applied::Applied {
            self.fold(ev, fx, &mut new);
        }
        for p in self.engine.round(at) {
            if let EventKind::MatchProposed(m) = &p.kind {
                new.insert(m.match_id.clone());
                self.counters
                    .entry(m.region.clone())
                    .or_default()
                    .view
                    .proposed += 1;
                fx.outputs.push((m.region.clone(), p));
            }
        }
        fx.new_matches.extend(new.iter().cloned());
        let mut seen = BTreeSet::new();
        let mut touched: BTreeSet<GapId> = match &ev.kind {
            EventKind::ShortagePosted(g) => [g.gap_id.clone()].into(),
            EventKind::ShortageWithdrawn(x) => [x.gap_id.clone()].into(),
            _ => BTreeSet::new(),
        };
        for m in self.engine.take_changed() {
            if !seen.insert(m.clone()) {
                continue;
            }
            let Some(p) = self.engine.proposal(&m) else {
                continue;
            };
            touched.insert(p.proposed.gap_id.clone());
            fx.gaps.insert(p.proposed.gap_id.clone());
            fx.regions.insert(p.proposed.region.clone());
            let worker = p.proposed.worker_id.clone();
            if new.contains(&m) {
                if p.status == Status::Proposed {
                    fx.holds.push(Hold::Reserve {
                        worker,
                        match_id: m.clone(),
                        window: p.window,
                        region: p.proposed.region.clone(),
                        at,
                        offset: rec.position.offset,
                    });
                }
            } else if !p.status.holds_worker() {
                if p.status == Status::Cancelled {
                    let r = p.proposed.region.clone();
                    self.counters.entry(r).or_default().view.cancelled += 1;
                }
                fx.holds.push(Hold::Release {
                    worker,
                    match_id: m.clone(),
                });
            }
            fx.matches.insert(m);
        }
        for g in &touched {
            self.refresh_supply(g);
        }
        for r in &fx.regions {
            self.counters.entry(r.clone()).or_default().view.updated_at = Some(at);
        }
    }

    fn region_of_match(&self, m: &MatchId) -> Option<Region> {
        self.engine.proposal(m).map(|p| p.proposed.region.clone())
    }

    /// Counts an applied input event and echoes lifecycle events.
    fn fold(&mut self, ev: &Event, fx: &mut Effects, new: &mut BTreeSet<MatchId>) {
        let m = match &ev.kind {
            EventKind::MatchProposed(p) => {
                // A proposal from elsewhere, taken as a commitment.
                new.insert(p.match_id.clone());
                self.counters
                    .entry(p.region.clone())
                    .or_default()
                    .view
                    .proposed += 1;
                fx.outputs.push((p.region.clone(), ev.clone()));
                return;
            }
            EventKind::MatchAccepted(d) | EventKind::MatchDeclined(d) => &d.match_id,
            EventKind::MatchExpired(x) | EventKind::AssignmentStarted(x) => &x.match_id,
            EventKind::AssignmentEnded(x) => &x.match_id,
            _ => return,
        };
        let Some(p) = self.engine.proposal(m) else {
            return;
        };
        let (region, gap, worker) = (
            p.proposed.region.clone(),
            p.proposed.gap_id.clone(),
            p.proposed.worker_id.clone(),
        );
        let posting = self.engine.gap(&gap).cloned();
        let group = self
            .engine
            .worker(&worker)
            .and_then(|w| w.priority_group)
            .map_or("none", |g| match g {
                PriorityGroup::Unemployed => "unemployed",
                PriorityGroup::Graduate => "graduate",
                PriorityGroup::MigrantWorker => "migrant_worker",
                PriorityGroup::HardToEmploy => "hard_to_employ",
            });
        let posted = self.posted.get(&gap).map(|x| x.0);
        let c = self.counters.entry(region.clone()).or_default();
        match &ev.kind {
            EventKind::MatchAccepted(_) => {
                c.view.accepted += 1;
                *c.view.priority_served.entry(group.to_owned()).or_default() += 1;
                if let Some(t0) = posted {
                    let secs = ev.at.unix_seconds() - t0.unix_seconds();
                    c.view.time_to_fill_secs_sum += secs.max(0) as u64;
                    c.view.time_to_fill_count += 1;
                }
                if let Some(g) = &posting {
                    *c.accepted_by_industry.entry(industry_of(g)).or_default() += 1;
                    for r in &g.requirements {
                        *c.accepted_by_skill
                            .entry(r.skill.as_str().to_owned())
                            .or_default() += 1;
                    }
                }
            }
            EventKind::MatchDeclined(_) => c.view.declined += 1,
            EventKind::MatchExpired(_) => c.view.expired += 1,
            EventKind::AssignmentStarted(_) => c.view.started += 1,
            EventKind::AssignmentEnded(x) => match x.outcome {
                Outcome::Completed => c.view.completed += 1,
                Outcome::NoShow => c.view.no_show += 1,
                Outcome::Returned | Outcome::Cancelled => {}
            },
            _ => {}
        }
        fx.outputs.push((region, ev.clone()));
    }

    /// The read-model values for what `fx` touched, and the index-set
    /// entries of the proposals it made (borrower, lender, worker). A
    /// proposal's view and entries carry its id, so that the ones whose
    /// reservation fails can be left out.
    pub fn views(&self, keys: &Keys, fx: &Effects, out: &mut Views) {
        out.values
            .reserve(fx.matches.len() + fx.withdrawn.len() + fx.gaps.len());
        let Views { values, sets } = out;
        for m in &fx.matches {
            let Some(p) = self.engine.proposal(m) else {
                continue;
            };
            let Some((_, ent)) = self.posted.get(&p.proposed.gap_id) else {
                continue;
            };
            let lender = self
                .engine
                .worker(&p.proposed.worker_id)
                .and_then(|w| w.employer_id.clone());
            let view = MatchView::of(p, ent.clone(), lender.clone());
            values.push((Some(m.clone()), keys.proposal(m.as_str()), json(&view)));
            if fx.new_matches.contains(m) {
                sets.push((m.clone(), keys.borrower_set(ent.as_str()), m.to_string()));
                // A lender's workers are listed through its set; a flexible
                // worker (no employer) through the agency's workers.
                let set = match &lender {
                    Some(l) => keys.lender_set(l.as_str()),
                    None => keys.worker_set(p.proposed.worker_id.as_str()),
                };
                sets.push((m.clone(), set, m.to_string()));
            }
        }
        for v in &fx.withdrawn {
            values.push((None, keys.gap(v.gap_id.as_str()), json(v)));
        }
        for g in &fx.gaps {
            let Some(post) = self.engine.gap(g) else {
                continue;
            };
            let open = self.engine.market(&post.region).map_or(0, |mk| mk.open(g));
            values.push((None, keys.gap(g.as_str()), json(&self.gap_view(post, open))));
        }
    }

    fn gap_view(&self, post: &ShortagePosted, open: u32) -> GapView {
        GapView {
            gap_id: post.gap_id.clone(),
            enterprise_id: post.enterprise_id.clone(),
            region: post.region.clone(),
            headcount: post.headcount.get(),
            open,
            status: if open == 0 {
                GapStatus::Filled
            } else {
                GapStatus::Open
            },
            industry: post.industry.clone(),
            requirements: post.requirements.clone(),
            window: post.window,
            hourly_wage_fen: post.hourly_wage_fen,
            posted_at: self
                .posted
                .get(&post.gap_id)
                .map_or_else(|| Timestamp::from_unix_seconds(0).expect("epoch"), |x| x.0),
        }
    }

    /// The parts of a region's statistics that are counted as events are
    /// folded, with the market's sizes.
    fn region_counted(&self, r: &Region) -> RegionView {
        let mut view = self
            .counters
            .get(r)
            .map(|c| c.view.clone())
            .unwrap_or_default();
        view.region = r.as_str().to_owned();
        if let Some(mk) = self.engine.market(r) {
            view.workers = mk.worker_count() as u64;
            view.gaps = mk.gap_count() as u64;
        }
        view
    }

    /// Adds the accepted counts by industry and skill to `view`.
    fn with_accepted(&self, r: &Region, mut view: RegionView) -> RegionView {
        if let Some(c) = self.counters.get(r) {
            for (k, v) in &c.accepted_by_industry {
                view.by_industry.entry(k.clone()).or_default().accepted = *v;
            }
            for (k, v) in &c.accepted_by_skill {
                view.by_skill.entry(k.clone()).or_default().accepted = *v;
            }
        }
        view
    }

    /// A region's statistics now.
    pub fn region_view(&self, r: &Region) -> RegionView {
        let mut view = self.region_counted(r);
        let supply = self
            .names
            .get(r.as_str())
            .and_then(|i| self.supply.get(&i))
            .cloned()
            .unwrap_or_default();
        view.positions = supply.all.positions;
        view.open_positions = supply.all.open;
        let slice = |s: &Supply| Slice {
            positions: s.positions,
            open: s.open,
            accepted: 0,
        };
        view.by_industry = supply
            .by_industry
            .iter()
            .map(|(k, s)| (k.clone(), slice(s)))
            .collect();
        view.by_skill = supply
            .by_skill
            .iter()
            .map(|(k, s)| (k.clone(), slice(s)))
            .collect();
        self.with_accepted(r, view)
    }

    /// [`PartitionState::region_view`] computed from scratch over every
    /// live gap (for tests: the two must agree).
    #[cfg(test)]
    fn region_view_recounted(&self, r: &Region) -> RegionView {
        let mut view = self.region_counted(r);
        view.positions = 0;
        view.open_positions = 0;
        view.by_industry.clear();
        view.by_skill.clear();
        if let Some(mk) = self.engine.market(r) {
            for (g, open) in mk.gaps_with_open() {
                let (n, open) = (u64::from(g.headcount.get()), u64::from(open));
                view.positions += n;
                view.open_positions += open;
                let s = view.by_industry.entry(industry_of(g)).or_default();
                s.positions += n;
                s.open += open;
                for req in &g.requirements {
                    let s = view
                        .by_skill
                        .entry(req.skill.as_str().to_owned())
                        .or_default();
                    s.positions += n;
                    s.open += open;
                }
            }
        }
        self.with_accepted(r, view)
    }
}

/// Waits and retries a store or bus operation while its server is
/// unavailable, keeping `flag` in step; a refused request is returned.
async fn persist<T, E, F, Fut>(flag: &AtomicBool, what: &str, mut f: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Retryable + std::fmt::Display,
{
    let mut delay = Duration::from_millis(50);
    let mut said = false;
    loop {
        match f().await {
            Ok(v) => {
                flag.store(true, Ordering::Relaxed);
                return Ok(v);
            }
            Err(e) if e.retryable() => {
                flag.store(false, Ordering::Relaxed);
                if !said {
                    eprintln!("lendwork matcher: {what}: {e}; retrying until it answers");
                    said = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether an error may go away by itself.
pub trait Retryable {
    /// True for an unreachable server.
    fn retryable(&self) -> bool;
}

impl Retryable for StoreError {
    fn retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl Retryable for BusError {
    fn retryable(&self) -> bool {
        matches!(self, BusError::Unavailable(_))
    }
}

/// A running matcher.
pub struct Matcher {
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    opts: MatcherOptions,
    keys: Keys,
    health: Arc<Health>,
    parts: HashMap<u32, PartitionState>,
    /// Regions whose statistics changed since they were last written.
    dirty: BTreeSet<(u32, Region)>,
    regions_written: std::time::Instant,
    /// Regions checked to live in one partition only: the partition.
    homes: HashMap<Region, u32>,
    /// Records handled per partition since its last snapshot (or rebuild).
    since_snapshot: HashMap<u32, u64>,
    /// The last record handled live per partition (a snapshot names it).
    last_handled: HashMap<u32, Record>,
}

/// A handled batch's records to commit once its effects are durable, and
/// the snapshots to write once they are committed.
struct Done {
    /// The last record of each partition.
    records: Vec<Record>,
    /// (partition, snapshot).
    snapshots: Vec<(u32, Vec<u8>)>,
}

/// Region statistics are written at most this often (and whenever the
/// matcher goes idle): recounting a region is linear in its gaps, and an
/// operator's board does not need them fresher.
const REGION_VIEW_EVERY: Duration = Duration::from_millis(500);

impl Matcher {
    /// A matcher over `bus` and `store`.
    pub fn new(
        bus: Arc<dyn EventBus>,
        store: Arc<dyn StateStore>,
        opts: MatcherOptions,
        health: Arc<Health>,
    ) -> Self {
        let keys = Keys::new(opts.prefix.clone());
        Self {
            bus,
            store,
            opts,
            keys,
            health,
            parts: HashMap::new(),
            dirty: BTreeSet::new(),
            regions_written: std::time::Instant::now(),
            homes: HashMap::new(),
            since_snapshot: HashMap::new(),
            last_handled: HashMap::new(),
        }
    }

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
    async fn check_home(&mut self, r: &Region, p: u32) -> anyhow::Result<()> {
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
                        .ok_or_else(|| anyhow::anyhow!("{key}: not a partition number"))?
                };
                self.homes.insert(r.clone(), q);
                q
            }
        };
        if home != p {
            anyhow::bail!(
                "region {r} has records in partitions {home} and {p} of topic {topic}: a \
                 region's market must live in one partition. Either partitions were added to \
                 the topic, or a producer partitions keys differently from Lendwork (set \
                 librdkafka's `partitioner`, or key every market record by its region with \
                 the same partitioner; docs/operations.md, \"Topics\"). Stopped rather than \
                 match one region in two places.",
                topic = self.opts.market_topic
            );
        }
        Ok(())
    }

    /// Creates the topics when missing and joins the group.
    pub async fn start(&self) -> anyhow::Result<Box<dyn Subscription>> {
        let h = &self.health;
        for t in [&self.opts.market_topic, &self.opts.matches_topic] {
            persist(&h.bus_ok, "creating topics", || {
                self.bus.ensure_topic(t, self.opts.partitions)
            })
            .await?;
        }
        let sub = persist(&h.bus_ok, "joining the group", || {
            self.bus
                .subscribe(&self.opts.market_topic, &self.opts.group)
        })
        .await?;
        h.running.store(true, Ordering::Relaxed);
        Ok(sub)
    }

    /// Runs until `stop` resolves (or a refused request, which is a
    /// configuration or data error for an operator to see).
    ///
    /// Batches are pipelined: while one batch's effects are being made
    /// durable (reservations, publication, read models — mostly waiting on
    /// the store and the broker), the next batch is read and handled; its
    /// effects are made durable only after the previous batch's, and every
    /// batch's offsets are committed only after its effects are durable, so
    /// the guarantees above are those of handling batch by batch. (Region
    /// statistics, written now and then from the partitions' state, may
    /// count the batch still being made durable; its replay after a crash
    /// makes the same proposals with the same ids.)
    ///
    /// When it returns, for whatever reason, the matcher is no longer
    /// [`Health::ready`]: `lendwork serve`'s `/readyz` then reports the
    /// matcher down instead of accepting writes nobody will match.
    pub async fn run(&mut self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let r = self.run_until(stop).await;
        self.health.running.store(false, Ordering::Relaxed);
        r
    }

    async fn run_until(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let mut sub = self.start().await?;
        tokio::pin!(stop);
        // The batch being made durable, and its records to commit after.
        let mut inflight: Option<(JoinHandle<anyhow::Result<()>>, Done)> = None;
        loop {
            let first = tokio::select! {
                r = sub.next() => r,
                res = async { (&mut inflight.as_mut().expect("guarded").0).await },
                    if inflight.is_some() =>
                {
                    let (_, done) = inflight.take().expect("guarded");
                    res??;
                    self.settle(sub.as_mut(), done).await?;
                    continue;
                }
                () = &mut stop => {
                    if let Some((durable, done)) = inflight.take() {
                        durable.await??;
                        self.settle(sub.as_mut(), done).await?;
                    }
                    if !self.dirty.is_empty() {
                        self.write_regions().await?;
                    }
                    return Ok(());
                }
                // Idle for a moment, every batch committed: bring the
                // region statistics up to date, take the snapshots due.
                () = tokio::time::sleep(Duration::from_millis(100)),
                    if inflight.is_none() && (!self.dirty.is_empty() || self.snapshots_due()) =>
                {
                    if !self.dirty.is_empty() {
                        self.write_regions().await?;
                    }
                    self.snapshot_idle().await;
                    continue;
                }
            };
            // Sized at once (up to a bound, as the batch size may be set
            // large): grown record by record, a batch of the default 500
            // was reallocated and copied seven times.
            let mut batch = Vec::with_capacity(self.opts.max_batch.min(1024));
            batch.push(persist_first(&self.health.bus_ok, first)?);
            // Linger: when nothing more is there at once, sleep out the
            // linger once and then take what arrived meanwhile (up to
            // the batch size). Waiting record by record instead would
            // wake this thread for every record published in the linger —
            // on the embedded bus, one cross-thread wake-up per posting.
            let deadline = tokio::time::Instant::now() + self.opts.linger;
            let mut lingered = self.opts.linger.is_zero();
            while batch.len() < self.opts.max_batch {
                match sub.next().now_or_never() {
                    Some(Ok(r)) => batch.push(r),
                    Some(Err(e)) if !e.retryable() => return Err(e.into()),
                    Some(Err(_)) => break,
                    None if lingered => break,
                    None => {
                        tokio::time::sleep_until(deadline).await;
                        lingered = true;
                    }
                }
            }
            let (b, done) = self.prepare(sub.as_mut(), batch).await?;
            if let Some((durable, prev)) = inflight.take() {
                durable.await??;
                self.settle(sub.as_mut(), prev).await?;
            }
            let sink = self.sink();
            inflight = Some((tokio::spawn(sink.make_durable(b)), done));
        }
    }

    /// Handles one batch: state, effects, commit (without pipelining).
    pub async fn handle(
        &mut self,
        sub: &mut dyn Subscription,
        batch: Vec<Record>,
    ) -> anyhow::Result<()> {
        let (b, done) = self.prepare(sub, batch).await?;
        self.sink().make_durable(b).await?;
        self.settle(sub, done).await
    }

    /// Applies a batch to the partitions' state and computes its effects;
    /// returns them with the last record of each partition (to commit once
    /// the effects are durable) and the partitions' snapshots that are due.
    async fn prepare(
        &mut self,
        sub: &mut dyn Subscription,
        batch: Vec<Record>,
    ) -> anyhow::Result<(Batch, Done)> {
        let t = std::time::Instant::now();
        let mut fx: BTreeMap<u32, Effects> = BTreeMap::new();
        let mut last: BTreeMap<u32, Record> = BTreeMap::new();
        for rec in batch {
            let p = rec.position.partition;
            let expected = self.parts.get(&p).map(|s| s.next_offset);
            match expected {
                Some(next) if rec.position.offset < next => {
                    // Handled before by this instance, effects durable.
                    last.insert(p, rec);
                    continue;
                }
                Some(next) if rec.position.offset == next => {}
                _ => {
                    let until = rec.position.offset;
                    self.catch_up(sub, p, expected, until, &mut fx, &mut last)
                        .await?
                }
            }
            self.handle_one(rec, &mut fx, &mut last);
        }
        for (p, e) in &fx {
            for r in &e.regions {
                self.check_home(r, *p).await?;
            }
        }
        let t = self.health.spent(0, t);
        let mut views = Views::default();
        for (p, e) in &fx {
            if let Some(state) = self.parts.get(p) {
                state.views(&self.keys, e, &mut views);
            }
            for r in &e.regions {
                self.dirty.insert((*p, r.clone()));
            }
        }
        let t = self.health.spent(3, t);
        let mut snapshots = Vec::new();
        let every = self.opts.snapshot_every;
        for p in fx.keys().filter(|_| every > 0) {
            let Some(rec) = last.get(p) else { continue };
            self.last_handled.insert(*p, rec.clone());
            // Overdue: the load left no quiet moment (see "Snapshots").
            let since = self.since_snapshot.entry(*p).or_default();
            if *since < every.saturating_mul(2) {
                continue;
            }
            if let Some(state) = self.parts.get(p) {
                *since = 0;
                let bytes = state.snapshot(&self.opts.market_topic, *p, rec);
                snapshots.push((*p, bytes));
            }
        }
        if !snapshots.is_empty() {
            self.health.spent(5, t);
        }
        let records = last.into_values().collect();
        Ok((Batch { fx, views }, Done { records, snapshots }))
    }

    /// Applies one record, the next of its partition, to the partition's
    /// state; its effects join the batch's.
    fn handle_one(
        &mut self,
        rec: Record,
        fx: &mut BTreeMap<u32, Effects>,
        last: &mut BTreeMap<u32, Record>,
    ) {
        let p = rec.position.partition;
        let state = self.parts.get_mut(&p).expect("rebuilt");
        state.process(&rec, fx.entry(p).or_default());
        self.health.records.fetch_add(1, Ordering::Relaxed);
        if self.opts.snapshot_every > 0 {
            *self.since_snapshot.entry(p).or_default() += 1;
        }
        last.insert(p, rec);
    }

    /// Brings partition `p` up to offset `until`, the first record the
    /// consumer delivered past what this instance holds (`expected`: the
    /// next offset of its state, if it has one). The records below the
    /// group's committed offset were handled by a member, their effects
    /// durable: they are replayed without effects ([`Matcher::rebuild`]).
    /// The records from there (or from `expected`) to `until` were handled
    /// by nobody — the consumer skipped them — and are read from the
    /// partition and handled with their effects. See "Skipped records".
    async fn catch_up(
        &mut self,
        sub: &mut dyn Subscription,
        p: u32,
        expected: Option<u64>,
        until: u64,
        fx: &mut BTreeMap<u32, Effects>,
        last: &mut BTreeMap<u32, Record>,
    ) -> anyhow::Result<()> {
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
    async fn committed(&self, sub: &mut dyn Subscription, p: u32) -> anyhow::Result<Option<u64>> {
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
    async fn skipped(&self, p: u32, from: u64, until: u64) -> anyhow::Result<Vec<Record>> {
        eprintln!(
            "lendwork matcher: partition {p} of {}: the consumer delivered offset {until} \
             where {from} was due; reading offsets {from}..{until} from the partition",
            self.opts.market_topic
        );
        self.health
            .skipped_reads
            .fetch_add(until - from, Ordering::Relaxed);
        let mut reader = self.read_from(p, from, until).await?;
        let mut out = Vec::with_capacity((until - from) as usize);
        while let Some(rec) = self.replayed(reader.as_mut()).await? {
            let due = from + out.len() as u64;
            if rec.position.offset != due {
                return Err(missing_records(
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
            return Err(missing_records(&self.opts.market_topic, p, due, None));
        }
        Ok(out)
    }

    /// After a batch's effects are durable: region statistics when due,
    /// then the commit, then the batch's snapshots.
    async fn settle(&mut self, sub: &mut dyn Subscription, done: Done) -> anyhow::Result<()> {
        if self.regions_written.elapsed() >= REGION_VIEW_EVERY {
            self.write_regions().await?;
        }
        let t = std::time::Instant::now();
        match sub.commit_all(&done.records).await {
            Ok(()) => {
                self.health.batches.fetch_add(1, Ordering::Relaxed);
                let t = self.health.spent(4, t);
                for (p, bytes) in &done.snapshots {
                    self.write_snapshot(*p, bytes).await;
                }
                if !done.snapshots.is_empty() {
                    self.health.spent(5, t);
                }
            }
            Err(e) => {
                // Not fatal: the next commit covers these offsets, and if
                // the partition moved, its new owner handles them again.
                self.health.commit_failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("lendwork matcher: commit failed ({e}); the records will be delivered again if no later commit covers them");
            }
        }
        Ok(())
    }

    /// Writes partition `p`'s snapshot. Best effort, one try: a snapshot
    /// only shortens a later rebuild, and an outage must not hold up the
    /// matcher here (the next one comes `snapshot_every` records later).
    async fn write_snapshot(&self, p: u32, bytes: &[u8]) {
        let key = self.keys.snapshot(&self.opts.market_topic, p);
        match self.store.set(&key, bytes).await {
            Ok(()) => {
                self.health
                    .snapshots_written
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => eprintln!(
                "lendwork matcher: writing the snapshot of partition {p} failed ({e}); the next \
                 one is taken {} records later",
                self.opts.snapshot_every
            ),
        }
    }

    /// Whether a partition has handled `snapshot_every` records since its
    /// last snapshot.
    fn snapshots_due(&self) -> bool {
        let every = self.opts.snapshot_every;
        every > 0 && self.since_snapshot.values().any(|&n| n >= every)
    }

    /// Takes and writes the snapshots due, while the matcher is idle and
    /// every batch it handled is committed.
    async fn snapshot_idle(&mut self) {
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
        self.health.spent(5, t);
    }

    fn sink(&self) -> Sink {
        Sink {
            bus: self.bus.clone(),
            store: self.store.clone(),
            keys: self.keys.clone(),
            health: self.health.clone(),
            market_topic: self.opts.market_topic.clone(),
            matches_topic: self.opts.matches_topic.clone(),
        }
    }

    /// Writes the statistics of the regions that changed.
    pub async fn write_regions(&mut self) -> anyhow::Result<()> {
        let t = std::time::Instant::now();
        let mut writes = Vec::new();
        for (p, r) in &self.dirty {
            if let Some(state) = self.parts.get(p) {
                let view = state.region_view(r);
                writes.push((self.keys.region(r.as_str()), json(&view)));
            }
        }
        if !writes.is_empty() {
            persist(&self.health.store_ok, "writing region statistics", || {
                self.store.set_many(&writes)
            })
            .await?;
            self.health.spent(3, t);
        }
        self.dirty.clear();
        self.regions_written = std::time::Instant::now();
        Ok(())
    }

    /// The partition's snapshot, if there is one this rebuild may start
    /// from (see "Snapshots" above), with the digest of the record it was
    /// taken after. A refusal is reported and counted. One try: a
    /// snapshot that cannot be read now (the store down, or a value too
    /// large for the client's response timeout over a slow link) is
    /// refused, and the replay from offset 0 needs no store.
    async fn read_snapshot(&self, p: u32, until: u64) -> Option<(PartitionState, u64)> {
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

    fn refuse_snapshot(&self, p: u32, why: &str) {
        self.health
            .snapshots_refused
            .fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "lendwork matcher: partition {p} of topic {}: snapshot not used ({why}); replaying \
             the partition from offset 0",
            self.opts.market_topic
        );
    }

    async fn read_from(
        &self,
        p: u32,
        from: u64,
        until: u64,
    ) -> anyhow::Result<Box<dyn lendwork_ports::PartitionReader>> {
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
    ) -> anyhow::Result<Option<Record>> {
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
    async fn rebuild(&mut self, p: u32, until: u64) -> anyhow::Result<()> {
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
        self.health.spent(5, t);
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
                return Err(missing_records(
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
            return Err(missing_records(&self.opts.market_topic, p, expected, None));
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

/// The error of a replay that found records missing from a partition.
fn missing_records(topic: &str, p: u32, expected: u64, found: Option<u64>) -> anyhow::Error {
    let found = found.map_or_else(|| "the end".to_owned(), |o| format!("offset {o}"));
    anyhow::anyhow!(
        "partition {p} of topic {topic}: replaying it, found {found} where \
         offset {expected} was due — records were deleted (the topic's retention, or \
         DeleteRecords). A matcher rebuilds a partition from every record in it, so the \
         market topic must keep them all (retention.ms=-1, retention.bytes=-1; see \
         docs/operations.md, \"Topics\"). Stopped rather than match on a partial history."
    )
}

impl Sink {
    /// Reservations, declines for conflicts, outputs, read models.
    async fn make_durable(self, b: Batch) -> anyhow::Result<()> {
        let fx = &b.fx;
        let h = &self.health;
        for e in fx.values() {
            for line in &e.invalid {
                h.invalid.fetch_add(1, Ordering::Relaxed);
                eprintln!("lendwork matcher: skipped an invalid record: {line}");
            }
        }
        let t = std::time::Instant::now();
        // 1. Reservations: each worker's steps in order, workers at once.
        let mut per_worker: BTreeMap<&WorkerId, Vec<&Hold>> = BTreeMap::new();
        for e in fx.values() {
            for hold in &e.holds {
                let w = match hold {
                    Hold::Reserve { worker, .. } | Hold::Release { worker, .. } => worker,
                };
                per_worker.entry(w).or_default().push(hold);
            }
        }
        let resv = Reservations::new(self.store.as_ref(), self.keys.reservations());
        // Every worker's steps in three round trips (read all, decide,
        // swap all), whatever the batch size.
        let chains: Vec<(&WorkerId, Vec<Step<'_>>)> = per_worker
            .iter()
            .map(|(w, holds)| {
                let steps = holds
                    .iter()
                    .map(|hold| match hold {
                        Hold::Reserve {
                            match_id,
                            window,
                            region,
                            offset,
                            ..
                        } => Step::Reserve {
                            m: match_id,
                            window: *window,
                            origin: Some(Origin {
                                scope: region.to_string(),
                                seq: *offset,
                            }),
                        },
                        Hold::Release { match_id, .. } => Step::Release { m: match_id },
                    })
                    .collect();
                (*w, steps)
            })
            .collect();
        let outcomes = persist(&h.store_ok, "reserving workers", || resv.apply(&chains)).await?;
        let mut withheld = BTreeSet::new();
        let mut declines = Vec::new();
        for (holds, outs) in per_worker.values().zip(&outcomes) {
            for (hold, out) in holds.iter().zip(outs) {
                let (
                    Hold::Reserve {
                        match_id: m,
                        region,
                        at,
                        ..
                    },
                    Answer::Reserve(Reserve::Conflict(other)),
                ) = (hold, out)
                else {
                    continue;
                };
                h.conflicts.fetch_add(1, Ordering::Relaxed);
                let ev = Event {
                    id: EventId::new(format!("evt-x-{m}")).expect("valid id"),
                    at: *at,
                    kind: EventKind::MatchDeclined(MatchDecision {
                        match_id: m.clone(),
                        by: Party::Worker,
                        reason: Some(
                            Reason::new(format!("worker already reserved by proposal {other}"))
                                .expect("valid reason"),
                        ),
                    }),
                };
                declines.push((
                    Bytes::copy_from_slice(region.as_str().as_bytes()),
                    Bytes::from(ev.to_json()),
                ));
                withheld.insert(m.clone());
            }
        }
        let t = h.spent(1, t);
        // 2. Declines for conflicts, back into the market.
        if !declines.is_empty() {
            persist(&h.bus_ok, "publishing declines", || {
                self.bus.publish_all(&self.market_topic, &declines)
            })
            .await?;
        }
        // 3. Proposals and lifecycle events out.
        let mut out = Vec::new();
        let mut proposals = 0u64;
        for e in fx.values() {
            for (region, ev) in &e.outputs {
                if let EventKind::MatchProposed(p) = &ev.kind {
                    if withheld.contains(&p.match_id) {
                        continue;
                    }
                    proposals += 1;
                }
                out.push((
                    Bytes::copy_from_slice(region.as_str().as_bytes()),
                    Bytes::from(ev.to_json()),
                ));
            }
        }
        if !out.is_empty() {
            persist(&h.bus_ok, "publishing proposals", || {
                self.bus.publish_all(&self.matches_topic, &out)
            })
            .await?;
        }
        h.proposals.fetch_add(proposals, Ordering::Relaxed);
        let t = h.spent(2, t);
        // 4. Read models.
        let (writes, mut sets) = b.views.withhold(&withheld);
        if !writes.is_empty() {
            // One multi-key write (MSET in chunks on Redis), not one command
            // per key: a batch writes thousands of views.
            persist(&h.store_ok, "writing read models", || {
                self.store.set_many(&writes)
            })
            .await?;
        }
        if !sets.is_empty() {
            // The index sets after the views, so a listed id has a view.
            sets.sort_unstable();
            sets.dedup();
            persist(&h.store_ok, "writing read-model indexes", || {
                self.store.add_to_sets(&sets)
            })
            .await?;
        }
        h.spent(3, t);
        Ok(())
    }
}

fn persist_first(flag: &AtomicBool, r: Result<Record, BusError>) -> Result<Record, BusError> {
    match r {
        Ok(rec) => {
            flag.store(true, Ordering::Relaxed);
            Ok(rec)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lendwork_ports::{Decoded, Position};
    use lendwork_sim::SimConfig;

    /// Record `offset` of partition 0 of topic `t`.
    fn record(offset: usize, payload: Bytes, decoded: Option<Decoded>) -> Record {
        Record {
            topic: "t".into(),
            position: Position {
                partition: 0,
                offset: offset as u64,
            },
            key: Bytes::new(),
            payload,
            decoded,
        }
    }

    /// The region statistics kept gap by gap equal a recount over every
    /// live gap, all along a simulated stream (posts, re-posts, withdrawals,
    /// proposals, expiries, decisions).
    #[test]
    fn region_supply_kept_gap_by_gap_equals_a_recount() {
        let events = lendwork_sim::events(&SimConfig {
            regions: 2,
            workers: 3_000,
            gaps: 600,
            seed: 7,
            ..Default::default()
        });
        let mut st = PartitionState::new(EngineConfig::default());
        let mut checked = 0;
        for (i, e) in events.iter().enumerate() {
            st.process(
                &record(i, Bytes::from(e.to_json()), None),
                &mut Effects::default(),
            );
            if i % 97 == 0 || i + 1 == events.len() {
                let regions: Vec<Region> =
                    st.engine().markets().map(|m| m.region().clone()).collect();
                for r in regions {
                    assert_eq!(
                        st.region_view(&r),
                        st.region_view_recounted(&r),
                        "after event {i}"
                    );
                    checked += 1;
                }
            }
        }
        let r = st.engine().markets().next().unwrap().region().clone();
        let v = st.region_view(&r);
        assert!(
            v.positions > v.open_positions && v.open_positions > 0,
            "{v:?}"
        );
        assert!(checked > 20);
    }

    /// An event handed over by an in-process publisher is applied as if
    /// its payload had been parsed (here the payload is not even JSON, so
    /// the matcher cannot have read it).
    #[test]
    fn a_handed_over_event_is_applied_like_its_payload() {
        let events = lendwork_sim::events(&SimConfig {
            regions: 2,
            workers: 800,
            gaps: 200,
            seed: 11,
            ..Default::default()
        });
        let (mut parsed, mut handed) = (
            PartitionState::new(EngineConfig::default()),
            PartitionState::new(EngineConfig::default()),
        );
        let mut proposals = 0;
        for (i, e) in events.iter().enumerate() {
            let (mut a, mut b) = (Effects::default(), Effects::default());
            parsed.process(&record(i, Bytes::from(e.to_json()), None), &mut a);
            let whole: Decoded = std::sync::Arc::new(e.clone());
            handed.process(
                &record(i, Bytes::from_static(b"not json"), Some(whole)),
                &mut b,
            );
            assert!(b.invalid.is_empty(), "{:?}", b.invalid);
            assert_eq!(a.outputs, b.outputs, "after event {i}");
            proposals += a.outputs.len();
        }
        assert!(proposals > 50, "{proposals}");
    }
}
