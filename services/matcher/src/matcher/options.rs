//! What a matcher needs to know.

use std::time::Duration;

use lendwork_engine::EngineConfig;

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
    /// Options for tests: the default topics and settings under store
    /// prefix `prefix`, one record per batch, no linger, no snapshots.
    pub fn for_tests(prefix: &str) -> Self {
        Self {
            market_topic: "lendwork.market.v1".into(),
            matches_topic: "lendwork.matches.v1".into(),
            partitions: 4,
            group: "lendwork-matchers".into(),
            prefix: prefix.into(),
            engine: EngineConfig::default(),
            max_batch: 1,
            linger: Duration::ZERO,
            snapshot_every: 0,
        }
    }
}
