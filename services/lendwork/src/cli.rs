//! Flags and subcommands.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lendwork_domain::Timestamp;

use lendwork_sim::{simulate, SimConfig};

/// Lendwork: a shared-employment (共享用工) matching engine.
#[derive(Debug, Parser)]
#[command(name = "lendwork", version, about)]
pub struct Cli {
    /// Logs as JSON lines (one object per event) instead of text; the
    /// level filter is `RUST_LOG` (default `info`).
    #[arg(long, global = true, env = "LENDWORK_LOG_JSON")]
    pub log_json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a JSONL event file against the event contract (`-` for stdin).
    /// Errors go to stderr as FILE:LINE: field: message; exit 2 when any.
    Validate {
        /// The file, or `-` for standard input.
        file: PathBuf,
    },
    /// Write a synthetic shared-employment market as JSONL events.
    Simulate {
        /// Number of regions (labour markets).
        #[arg(long, default_value_t = 3)]
        regions: u32,
        /// Number of workers offered.
        #[arg(long, default_value_t = 1000)]
        workers: u64,
        /// Number of shortages posted.
        #[arg(long, default_value_t = 100)]
        gaps: u64,
        /// Random seed: the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First instant of the simulated timeline (RFC 3339).
        #[arg(long, default_value = "2026-03-01T00:00:00Z", value_parser = parse_time)]
        start: Timestamp,
        /// Days over which offers and shortages arrive.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Also simulate timesheets and payments (with a few planted
        /// breaches: deductions, underpayments, overpayments, late pay).
        #[arg(long)]
        work: bool,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Apply every event of a JSONL file, then make one optimal matching
    /// round and print {"filled", "total_cost", "matches", "unfilled"}.
    Match {
        /// The event file, or `-` for standard input.
        #[arg(long)]
        events: PathBuf,
    },
    /// The settlement ledger of a log, offline: per assignment and pay
    /// period, confirmed minutes, what they are worth, what was paid, and
    /// the rules broken (underpaid, overpaid, deduction, late, disputed).
    Ledger {
        /// The event file, or `-` for standard input.
        #[arg(long)]
        events: PathBuf,
        /// json (one document) or csv (UTF-8 with a BOM, for Excel).
        #[arg(long, value_enum, default_value = "json")]
        format: crate::commands::ledger::Format,
        /// Judge `late` as of this time (RFC 3339); default the last event's.
        #[arg(long, value_parser = parse_time)]
        as_of: Option<lendwork_domain::Timestamp>,
    },
    /// Solve a DIMACS minimum-cost flow problem (`p min`); prints
    /// {"status", "cost", "flow"} as JSON. With --gen-market, write a
    /// labour-market instance instead.
    Solve {
        /// The problem file, or `-` for standard input.
        #[arg(required_unless_present = "gen_market")]
        file: Option<PathBuf>,
        /// Write the DIMACS solution (`s COST`, then `f SRC DST FLOW`) here.
        #[arg(long)]
        solution: Option<PathBuf>,
        /// Generate a labour-market instance (see --workers, --gaps, --seed, --out).
        #[arg(long, conflicts_with = "file")]
        gen_market: bool,
        /// Workers in the generated instance.
        #[arg(long, default_value_t = 10_000, requires = "gen_market")]
        workers: u32,
        /// Gaps in the generated instance (default: workers / 10).
        #[arg(long, requires = "gen_market")]
        gaps: Option<u32>,
        /// Seed of the generated instance.
        #[arg(long, default_value_t = 1, requires = "gen_market")]
        seed: u64,
        /// Where to write the generated instance (default: stdout).
        #[arg(long, requires = "gen_market")]
        out: Option<PathBuf>,
    },
    /// Run one matcher: a member of the matchers' consumer group on the
    /// market topic, publishing proposals to the matches topic and read
    /// models to Redis. Health on --listen: /healthz, /readyz, /metrics.
    Matcher {
        /// Where the servers are.
        #[command(flatten)]
        servers: ServerFlags,
        /// Consumer group; overrides matcher.group.
        #[arg(long)]
        group: Option<String>,
        /// Address of the health and metrics endpoint.
        #[arg(long, default_value = "127.0.0.1:9464")]
        listen: std::net::SocketAddr,
    },
    /// Run gateway and matcher in one process: the HTTP API, the operator
    /// dashboard at /dashboard, and matching. Embedded bus and store unless
    /// --kafka and --redis are given.
    Serve {
        /// Where the servers are.
        #[command(flatten)]
        servers: ServerFlags,
        /// Listening address, tokens, rate limit.
        #[command(flatten)]
        gateway: crate::flags::GatewayFlags,
        /// Feed a simulated market at --demo-rate events per second and
        /// print the dashboard URL with demo tokens.
        #[arg(long)]
        demo: bool,
        /// Events per second of the demo feed.
        #[arg(long, default_value_t = 200)]
        demo_rate: u64,
        /// Where the embedded default keeps its log and state (a SQLite
        /// database, durable: an acknowledged write survives a crash).
        /// Default `./lendwork-data`; with --demo and no --data, memory.
        #[arg(long, conflicts_with = "memory")]
        data: Option<PathBuf>,
        /// Keep the embedded log and state in memory: gone when the process
        /// ends.
        #[arg(long)]
        memory: bool,
    },
    /// Run the gateway alone against Kafka and Redis.
    Gateway {
        /// Where the servers are.
        #[command(flatten)]
        servers: ServerFlags,
        /// Listening address, tokens, rate limit.
        #[command(flatten)]
        gateway: crate::flags::GatewayFlags,
    },
    /// Validate a JSONL event file and append its events to the market
    /// topic, keyed by region (all or nothing).
    Publish {
        /// Where the servers are.
        #[command(flatten)]
        servers: ServerFlags,
        /// The event file, or `-` for standard input.
        #[arg(long)]
        events: PathBuf,
        /// The regions of the proposals the events refer to, from `lendwork
        /// export --routes` (an exported market refers to proposals whose
        /// `match_proposed` is on the matches topic, not in the file).
        #[arg(long)]
        routes: Option<PathBuf>,
    },
    /// Write an embedded market's log (the market topic of a data
    /// directory) as JSON lines, partition by partition in log order:
    /// `lendwork validate` reads them, `lendwork publish` moves them to
    /// Kafka. The directory must not be in use (stop `serve`, or export a
    /// restored backup).
    Export {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Where to write; standard output when not given.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the region of every proposal the log refers to, as
        /// JSON lines `{"match_id", "region"}`, for `lendwork publish
        /// --routes`.
        #[arg(long)]
        routes: Option<PathBuf>,
        /// Configuration (for the topic names).
        #[command(flatten)]
        servers: ServerFlags,
    },
    /// Copy a data directory's database to a new file, consistently, while
    /// `serve` may be running on it.
    Backup {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The backup file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a new data directory from a backup file.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to create (must hold no database).
        #[arg(long)]
        data: PathBuf,
    },
    /// Replay the market topic and check the matches topic and the read
    /// models against it: nothing lost, nothing differing, nobody
    /// double-booked. Prints a JSON report; exit 3 when not clean.
    Audit {
        /// Where the servers are.
        #[command(flatten)]
        servers: ServerFlags,
        /// Stop reading a topic after this many milliseconds without a record.
        #[arg(long, default_value_t = 3000)]
        idle_ms: u64,
    },
}

/// Flags of the commands that talk to servers.
pub use crate::flags::ServerFlags;

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| e.to_string())
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::logging::init(cli.log_json);
    match cli.command {
        Command::Validate { file } => run_validate(&file),
        Command::Matcher {
            servers,
            group,
            listen,
        } => crate::commands::matcher::run_matcher(&servers, group, listen),
        Command::Serve {
            servers,
            gateway,
            demo,
            demo_rate,
            data,
            memory,
        } => {
            let place = crate::connect::Embedded::choose(data, memory, demo);
            crate::commands::serve::run_gateway(
                &servers,
                &gateway,
                Some(place),
                demo.then_some(demo_rate),
            )
        }
        Command::Gateway { servers, gateway } => {
            crate::commands::serve::run_gateway(&servers, &gateway, None, None)
        }
        Command::Publish {
            servers,
            events,
            routes,
        } => crate::commands::publish::run_publish(&servers, &events, routes.as_deref()),
        Command::Export {
            data,
            out,
            routes,
            servers,
        } => crate::commands::data::run_export(&servers, &data, out.as_deref(), routes.as_deref()),
        Command::Backup { data, out } => crate::commands::data::run_backup(&data, &out),
        Command::Restore { from, data } => crate::commands::data::run_restore(&from, &data),
        Command::Audit { servers, idle_ms } => {
            crate::commands::audit::run_audit(&servers, std::time::Duration::from_millis(idle_ms))
        }
        Command::Simulate {
            regions,
            workers,
            gaps,
            seed,
            start,
            days,
            work,
            out,
        } => {
            if regions == 0 {
                anyhow::bail!("--regions must be at least 1");
            }
            let cfg = SimConfig {
                regions,
                workers,
                gaps,
                seed,
                start,
                days,
                work,
            };
            let mut sink = output(out.as_deref())?;
            let mut w = BufWriter::with_capacity(1 << 16, &mut sink);
            let bar = progress_bar(workers + gaps);
            let n = simulate(&cfg, &mut w, &mut |i| bar.set_position(i)).map_err(broken_pipe_ok)?;
            w.flush().map_err(broken_pipe_ok)?;
            bar.finish_and_clear();
            if out.is_some() || !io::stdout().is_terminal() {
                eprintln!("lendwork simulate: {n} events");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Match { events } => {
            let (name, reader) = input(&events)?;
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let stderr = io::stderr();
            let mut errors = BufWriter::new(stderr.lock());
            let ok = crate::commands::match_round::run(&name, reader, &mut out, &mut errors)?;
            out.flush()?;
            errors.flush()?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Ledger {
            events,
            format,
            as_of,
        } => {
            let (name, reader) = input(&events)?;
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let stderr = io::stderr();
            let mut errors = BufWriter::new(stderr.lock());
            let ok =
                crate::commands::ledger::run(&name, reader, format, as_of, &mut out, &mut errors)?;
            out.flush()?;
            errors.flush()?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Solve {
            file,
            solution,
            gen_market,
            workers,
            gaps,
            seed,
            out,
        } => {
            if gen_market {
                let gaps = gaps.unwrap_or((workers / 10).max(1));
                if workers == 0 || gaps == 0 {
                    anyhow::bail!("--workers and --gaps must be at least 1");
                }
                let mut sink = output(out.as_deref())?;
                let (net, layout) = lendwork_flow::instances::generate(workers, gaps, seed);
                let mut w = BufWriter::with_capacity(1 << 20, &mut sink);
                writeln!(w, "c Lendwork labour-market instance: {workers} workers, {gaps} gaps, seed {seed}")?;
                writeln!(
                    w,
                    "c nodes: source 1, workers 2..={}, gaps {}..={}, sink {}",
                    workers + 1,
                    workers + 2,
                    workers + gaps + 1,
                    net.node_count()
                )?;
                writeln!(
                    w,
                    "c bypass cost {} exceeds any alternating path: optimum = max flow at min cost",
                    layout.bypass_cost
                )?;
                lendwork_flow::dimacs::write(&net, &mut w)?;
                w.flush()?;
                let pairs = net.arcs.len() - workers as usize - gaps as usize - 1;
                eprintln!(
                    "lendwork solve --gen-market: {workers} workers, {gaps} gaps, {pairs} eligible pairs ({:.1} per worker)",
                    pairs as f64 / f64::from(workers)
                );
                return Ok(ExitCode::SUCCESS);
            }
            let file = file.expect("clap requires FILE without --gen-market");
            let stdout = io::stdout();
            match crate::commands::solve::run(&file, solution.as_deref(), &mut stdout.lock()) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e @ crate::commands::solve::SolveError::Input { .. }) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn broken_pipe_ok(e: io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("writing events")
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    if io::stderr().is_terminal() && total >= 100_000 {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bar:40} {pos}/{len} offers and shortages ({eta})",
            )
            .unwrap(),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Opens `path` for reading, `-` meaning standard input; returns the name
/// to use in messages with the reader.
pub fn input(path: &Path) -> io::Result<(String, Box<dyn BufRead>)> {
    let name = path.display().to_string();
    if name == "-" {
        return Ok((name, Box::new(io::stdin().lock())));
    }
    let f =
        File::open(path).map_err(|e| io::Error::new(e.kind(), format!("opening {name}: {e}")))?;
    Ok((name, Box::new(BufReader::with_capacity(1 << 20, f))))
}

/// Opens `path` for writing, or standard output when there is none.
fn output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(io::stdout().lock()),
    })
}

fn run_validate(file: &Path) -> anyhow::Result<ExitCode> {
    let (name, reader) = input(file)?;
    let stderr = io::stderr();
    let mut errors = BufWriter::new(stderr.lock());
    let summary = crate::commands::validate::validate(&name, reader, &mut errors)?;
    writeln!(
        errors,
        "lendwork validate: {} lines, {} invalid",
        summary.lines, summary.errors
    )?;
    errors.flush()?;
    Ok(if summary.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
