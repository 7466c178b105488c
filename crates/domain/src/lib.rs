//! # lendwork-domain
//!
//! The contract every part of Lendwork shares (DESIGN.md §2–3): the market's
//! events as Rust types with their JSON shape, value types that cannot hold an
//! invalid value, validation errors that name the field and the rule, the
//! eligibility rules as pure functions, and haversine distance.
//!
//! It is pure: no I/O, no wall clock (chrono is built without its `clock`
//! feature, so `Utc::now()` does not even compile here).
//!
//! ```
//! use lendwork_domain::{Event, EventKind};
//!
//! let line = r#"{"type":"worker_withdrawn","id":"evt-1","at":"2026-03-01T08:00:00Z",
//!                "worker_id":"w-1","reason":"found a job"}"#;
//! let event = Event::from_json(line).unwrap();
//! assert!(matches!(event.kind, EventKind::WorkerWithdrawn(_)));
//!
//! let bad = r#"{"type":"worker_withdrawn","id":"evt 1","at":"2026-03-01T08:00:00Z",
//!               "worker_id":"w-1","reason":"x"}"#;
//! let err = Event::from_json(bad).unwrap_err();
//! assert_eq!(err.field, "id");
//! ```

pub mod agreement;
pub mod eligibility;
pub mod error;
pub mod event;
pub mod geo;
pub mod values;
pub mod vocab;

pub use agreement::AgreementTerms;
pub use eligibility::{audit, check, Rule};
pub use error::{RuleError, ValidationError};
pub use event::*;
pub use geo::{haversine_deg_cos, haversine_km};
pub use values::*;
