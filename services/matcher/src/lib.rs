//! # lendwork-matcher
//!
//! The matcher service: one member of a consumer group on the market topic.
//! For each partition it owns it keeps the regions' engine, runs a matching
//! round after every record, makes each batch's effects durable —
//! reservations, proposals on the matches topic, read models — and only
//! then commits the batch's offsets. [`audit`] checks a running deployment
//! against a replay of its market topic.
//!
//! The run loop and its rooms are in [`matcher`]; the design and its
//! guarantees in `docs/design/matcher.md`.
//!
//! ```
//! use std::sync::Arc;
//! use lendwork_matcher::{Health, Matcher, MatcherOptions};
//! use lendwork_ports::memory::{MemoryBus, MemoryStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let health = Arc::new(Health::default());
//! let mut m = Matcher::new(
//!     Arc::new(MemoryBus::new()),
//!     Arc::new(MemoryStore::new()),
//!     MatcherOptions::for_tests("doc"),
//!     health.clone(),
//! );
//! // Runs until the future resolves: here, at once.
//! m.run(async {}).await.unwrap();
//! assert!(!health.ready());
//! # });
//! ```

pub mod audit;
pub mod matcher;

pub use matcher::{
    probe, Effects, Health, Matcher, MatcherError, MatcherOptions, PartitionState, Stage, STAGES,
};

/// The hasher of maps keyed by clients' ids: seeded foldhash, as in the
/// engine — seeded per process, so ids cannot be chosen offline to collide.
pub(crate) type Ids = foldhash::fast::RandomState;
