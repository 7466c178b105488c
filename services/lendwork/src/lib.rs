//! # lendwork (the command)
//!
//! One binary with subcommands; each deployable is its own library crate
//! (`lendwork-matcher`, `lendwork-gateway`) that a command calls:
//!
//! * [`cli`] — the flags and the dispatch;
//! * [`config`] — the one typed configuration, layered (defaults → file →
//!   `LENDWORK_*` → flags), and the services' options it gives;
//! * [`connect`] — the bus and the store the configuration names;
//! * [`commands`] — one file per command: `serve` and `gateway`,
//!   `matcher`, `publish`, `audit`, `validate`, `match`, `solve`;
//! * [`demo`] — the simulated province behind `serve --demo`;
//! * [`logging`] — `tracing` to stderr, filtered by `RUST_LOG`, JSON by a
//!   flag.
//!
//! `main` only parses flags and calls into this library, so tests drive the
//! same code in-process.
//!
//! ```
//! use lendwork_sim::{simulate, SimConfig};
//! use lendwork::commands::validate::validate;
//!
//! let mut jsonl = Vec::new();
//! simulate(&SimConfig { workers: 50, gaps: 5, ..Default::default() }, &mut jsonl, &mut |_| {}).unwrap();
//! let summary = validate("sim", &jsonl[..], std::io::sink()).unwrap();
//! assert_eq!(summary.errors, 0);
//! ```

pub mod cli;
pub mod commands;
pub mod config;
pub mod connect;
pub mod demo;
pub mod flags;
pub mod logging;
