//! `lendwork solve`: a DIMACS minimum-cost flow problem in, one JSON line
//! out: `{"status": "optimal" | "infeasible", "cost": …, "flow": …}` where
//! `flow` is the total supply shipped. Timings go to stderr so that
//! benchmark scripts can compare solve time alone.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use lendwork_flow::{dimacs, solve, Solution};

/// Why a solve failed.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    /// Bad input, named `FILE:LINE: message`.
    #[error("{file}:{source}")]
    Input {
        /// The file.
        file: String,
        /// The error with its line.
        source: dimacs::DimacsError,
    },
    /// An I/O failure.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads `file` (`-` for stdin), solves, writes the JSON line to `out` and,
/// when asked, the DIMACS solution to `solution`.
pub fn run(
    file: &Path,
    solution: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Solution, SolveError> {
    let t0 = Instant::now();
    let (name, reader) = crate::cli::input(file)?;
    let net = dimacs::read(reader).map_err(|source| SolveError::Input {
        file: name.clone(),
        source,
    })?;
    let t1 = Instant::now();
    let (sol, method) = solve(&net);
    let t2 = Instant::now();
    let line = match &sol {
        Solution::Optimal { cost, .. } => {
            format!(
                r#"{{"status":"optimal","cost":{cost},"flow":{}}}"#,
                net.total_supply()
            )
        }
        Solution::Infeasible => r#"{"status":"infeasible","cost":null,"flow":null}"#.to_owned(),
    };
    writeln!(out, "{line}")?;
    eprintln!(
        "lendwork solve: {} nodes, {} arcs, {} path; read {:.3} s, solve {:.3} s",
        net.node_count(),
        net.arcs.len(),
        method.name(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64()
    );
    if let Some(p) = solution {
        let mut w = BufWriter::new(File::create(p)?);
        dimacs::write_solution(&net, &sol, &mut w)?;
        w.flush()?;
    }
    Ok(sol)
}
