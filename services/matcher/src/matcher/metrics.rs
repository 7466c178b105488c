//! The matcher's health: liveness, readiness and counters, read by the
//! health endpoints and `/metrics`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lendwork_ports::health::{prometheus, Probe};

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

/// The stages a batch goes through, each timed into
/// [`Health::stage_micros`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Applying records and matching.
    Match = 0,
    /// Reserving workers.
    Reserve = 1,
    /// Publishing proposals and lifecycle events.
    Publish = 2,
    /// Writing read models.
    Views = 3,
    /// Committing offsets.
    Commit = 4,
    /// Taking and writing snapshots.
    Snapshot = 5,
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

    /// Adds the time since `since` to `stage`; returns now.
    pub(crate) fn spent(&self, stage: Stage, since: std::time::Instant) -> std::time::Instant {
        let now = std::time::Instant::now();
        self.stage_micros[stage as usize]
            .fetch_add((now - since).as_micros() as u64, Ordering::Relaxed);
        now
    }
}

impl Probe for Health {
    fn ready(&self) -> bool {
        Health::ready(self)
    }

    fn checks(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("joined", self.running.load(Ordering::Relaxed)),
            ("kafka", self.bus_ok.load(Ordering::Relaxed)),
            ("redis", self.store_ok.load(Ordering::Relaxed)),
        ]
    }

    fn metrics(&self) -> String {
        Health::metrics(self)
    }
}

/// Checks both servers every second, so readiness shows an outage even
/// while no records flow.
pub async fn probe(
    bus: std::sync::Arc<dyn lendwork_ports::EventBus>,
    store: std::sync::Arc<dyn lendwork_ports::StateStore>,
    topic: String,
    partitions: u32,
    key: String,
    health: std::sync::Arc<Health>,
) {
    use std::time::Duration;
    loop {
        let s = tokio::time::timeout(Duration::from_secs(2), store.get(&key)).await;
        health
            .store_ok
            .store(matches!(s, Ok(Ok(_))), Ordering::Relaxed);
        let b = tokio::time::timeout(Duration::from_secs(3), bus.ensure_topic(&topic, partitions))
            .await;
        health
            .bus_ok
            .store(matches!(b, Ok(Ok(()))), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
