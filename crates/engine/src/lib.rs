//! # lendwork-engine
//!
//! Lendwork's heart: it turns the event stream into proposals that fill the
//! most positions at the least cost, within the rules of shared employment
//! (DESIGN §3–4). Pure: no I/O, no wall clock — time comes from events and
//! from the explicit `at` / `now` arguments, so a replay of the same events
//! gives the same proposals, byte for byte.
//!
//! * [`Engine`] routes events to one [`Market`] per region and dedupes them
//!   by id.
//! * A [`Market`] keeps workers, gaps and proposals; a spatial and skill
//!   index ([`grid`]) finds the candidates of a new worker or gap, the
//!   domain's eligibility rules decide, the [`cost`] model prices, and the
//!   incremental solver of `lendwork-flow` keeps the optimum as events
//!   arrive.
//! * [`Engine::round`] turns the current optimum into proposals (after every
//!   event, or every batch — the caller decides); proposals stand until
//!   accepted, declined or expired; declines, expiries, no-shows, returns
//!   and withdrawals free the worker and the position, and the market
//!   re-matches (back-fill).
//!
//! ```
//! use lendwork_domain::{Event, Timestamp};
//! use lendwork_engine::{Engine, EngineConfig};
//!
//! let mut engine = Engine::new(EngineConfig::default());
//! for line in [
//!     r#"{"type":"shortage_posted","id":"e1","at":"2026-03-01T08:00:00Z","gap_id":"g1","enterprise_id":"b","region":"620100","site":{"lat":36.06,"lon":103.83},"requirements":[],"certificates":[],"headcount":1,"window":{"start":"2026-03-10","end":"2026-03-20"},"hourly_wage_fen":3000}"#,
//!     r#"{"type":"worker_offered","id":"e2","at":"2026-03-01T08:01:00Z","worker_id":"w1","region":"620100","home":{"lat":36.07,"lon":103.84},"skills":[],"certificates":[],"available":{"start":"2026-03-01","end":"2026-04-30"},"max_commute_km":10,"min_hourly_wage_fen":2500,"consent":true}"#,
//! ] {
//!     engine.apply(&Event::from_json(line).unwrap());
//! }
//! let proposals = engine.round(Timestamp::parse("2026-03-01T08:02:00Z").unwrap());
//! assert_eq!(proposals.len(), 1);
//! ```

pub mod cost;
pub mod engine;
pub mod grid;
pub mod ledger;
pub mod machine;
pub mod market;
pub mod sheet;
pub mod slots;

pub use cost::{CostWeights, Terms};

/// The hasher of the maps keyed by clients' ids (workers, gaps, proposals,
/// enterprises, skills): foldhash, seeded per process like std's
/// `RandomState` (so a client cannot choose colliding ids offline) but a
/// few times faster than SipHash on short ids. Nothing iterates these maps
/// into output, so the seed never shows.
pub(crate) type Ids = foldhash::fast::RandomState;
pub use engine::{Applied, Engine, EngineConfig, SnapshotError, SNAPSHOT_FORMAT, SNAPSHOT_MAGIC};
pub use market::{
    match_id, Market, Positions, Proposal, Refused, Reliability, Status, Step, Transition, WhyNot,
};
