//! # lendwork (the command)
//!
//! One binary with subcommands, because the deployables share most code:
//!
//! * `lendwork validate FILE.jsonl` — checks an event file against the
//!   contract ([`validate`]);
//! * `lendwork simulate` — writes a synthetic market (`lendwork-sim`);
//! * `lendwork solve FILE.min` — solves a DIMACS minimum-cost flow problem;
//! * `lendwork match --events FILE.jsonl` — one optimal matching round over
//!   the state the events build ([`matching`]).
//!
//! `main` only parses flags and calls into this library, so tests drive the
//! same code in-process.
//!
//! ```
//! use lendwork_sim::{simulate, SimConfig};
//! use lendwork::validate::validate;
//!
//! let mut jsonl = Vec::new();
//! simulate(&SimConfig { workers: 50, gaps: 5, ..Default::default() }, &mut jsonl, &mut |_| {}).unwrap();
//! let summary = validate("sim", &jsonl[..], std::io::sink()).unwrap();
//! assert_eq!(summary.errors, 0);
//! ```

pub mod audit;
pub mod cli;
pub mod config;
pub mod connect;
pub mod gateway;
pub mod matcher;
pub mod matching;
pub mod openapi;
pub mod readmodel;
pub mod reservations;
pub mod route;
pub mod service;
pub mod solve;
pub mod validate;

/// The hasher of maps keyed by clients' ids (gaps, regions, routes):
/// seeded foldhash, as in the engine — seeded per process, so ids cannot
/// be chosen offline to collide, and a few times faster than SipHash.
pub(crate) type Ids = foldhash::fast::RandomState;
