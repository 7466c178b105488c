//! Why a matcher stops. Each is a state an operator must see and act on;
//! outages are not here — they are waited out
//! ([`Retryable`](super::Retryable)).

use lendwork_ports::{BusError, StoreError};

/// A fatal state of a matcher.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    /// A region has records in two partitions of the market topic.
    #[error(
        "region {region} has records in partitions {home} and {other} of topic {topic}: a \
         region's market must live in one partition. Either partitions were added to \
         the topic, or a producer partitions keys differently from Lendwork (set \
         librdkafka's `partitioner`, or key every market record by its region with \
         the same partitioner; docs/operations.md, \"Topics\"). Stopped rather than \
         match one region in two places."
    )]
    RegionSplit {
        /// The region.
        region: String,
        /// The partition recorded as its home.
        home: u32,
        /// The partition it was met in as well.
        other: u32,
        /// The market topic.
        topic: String,
    },
    /// A replay found records missing from a partition.
    #[error(
        "partition {partition} of topic {topic}: replaying it, found {found} where \
         offset {expected} was due — records were deleted (the topic's retention, or \
         DeleteRecords). A matcher rebuilds a partition from every record in it, so the \
         market topic must keep them all (retention.ms=-1, retention.bytes=-1; see \
         docs/operations.md, \"Topics\"). Stopped rather than match on a partial history."
    )]
    MissingRecords {
        /// The market topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset due.
        expected: u64,
        /// What was found instead: `offset N`, or `the end`.
        found: String,
    },
    /// A stored value the matcher owns does not read back.
    #[error("{key}: {what}")]
    Corrupt {
        /// The store key.
        key: String,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The bus refused a request (not an outage).
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The store refused a request (not an outage).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The task making a batch durable panicked or was cancelled.
    #[error("making a batch durable: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl MatcherError {
    /// The error of a replay of `topic`'s partition `p` that found `found`
    /// (an offset, or the end) where `expected` was due.
    pub fn missing_records(topic: &str, p: u32, expected: u64, found: Option<u64>) -> Self {
        MatcherError::MissingRecords {
            topic: topic.to_owned(),
            partition: p,
            expected,
            found: found.map_or_else(|| "the end".to_owned(), |o| format!("offset {o}")),
        }
    }
}
