//! What to generate.

use lendwork_domain::Timestamp;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of regions.
    pub regions: u32,
    /// Number of workers offered.
    pub workers: u64,
    /// Number of shortages posted.
    pub gaps: u64,
    /// Seed of the one random stream.
    pub seed: u64,
    /// First instant of the timeline.
    pub start: Timestamp,
    /// Days over which offers and shortages arrive.
    pub days: u32,
    /// Also simulate work and pay for the assignments that start:
    /// timesheets (a few disputed and resettled), confirmations, monthly
    /// payments, and a few planted breaches (see
    /// [`crate::events_with_breaches`]).
    pub work: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            regions: 3,
            workers: 1000,
            gaps: 100,
            seed: 1,
            start: Timestamp::parse("2026-03-01T00:00:00Z").unwrap(),
            days: 30,
            work: false,
        }
    }
}
