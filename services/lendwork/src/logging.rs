//! Logging: `tracing` events to stderr, filtered by `RUST_LOG` (default
//! `info`), as text or — with `--log-json` / `LENDWORK_LOG_JSON=1` — as
//! one JSON object a line for a log collector. Services log ids of
//! partitions and routes, never personal data.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber once per process; later calls do nothing.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
