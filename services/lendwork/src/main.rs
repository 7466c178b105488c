//! The `lendwork` binary: parses flags and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: the gateway and the matcher
/// allocate many small, short-lived values (ids, JSON, events) from several
/// threads, and under write load glibc's malloc/free (with its arena
/// locks) took about a fifth of the gateway's CPU. Measured with
/// `benches/gateway_load.sh`: 27–28 µs of CPU per posted shortage instead
/// of 33–39, at the same peak memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match lendwork::cli::run(lendwork::cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lendwork: {e:#}");
            ExitCode::from(1)
        }
    }
}
