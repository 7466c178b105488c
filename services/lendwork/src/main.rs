//! The `lendwork` binary: parses flags and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match lendwork::cli::run(lendwork::cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lendwork: {e:#}");
            ExitCode::from(1)
        }
    }
}
