//! # lendwork-state
//!
//! The one place that knows how Lendwork lays out its state in a
//! [`StateStore`](lendwork_ports::StateStore) (Redis, or the embedded
//! store):
//!
//! * [`keys`] — every store key, built by functions, never spelled out at a
//!   call site;
//! * [`views`] — the read models the matchers write and the gateway serves
//!   (gaps, proposals, region statistics);
//! * [`reservations`] — worker reservations, the atomic guard that no worker
//!   is double-booked, even across a rebalance;
//! * [`routes`] — which region (and so which partition) an event belongs to.
//!
//! ```
//! use lendwork_state::keys::Keys;
//!
//! let keys = Keys::new("lendwork");
//! assert_eq!(keys.gap("g-1"), "lendwork:rm:gap:g-1");
//! assert_eq!(keys.route("worker", "w-1"), "lendwork:route:worker:w-1");
//! ```

pub mod keys;
pub mod reservations;
pub mod routes;
pub mod views;

/// The hasher of maps keyed by clients' ids: seeded foldhash, as in the
/// engine — seeded per process, so ids cannot be chosen offline to collide,
/// and a few times faster than SipHash.
pub(crate) type Ids = foldhash::fast::RandomState;
