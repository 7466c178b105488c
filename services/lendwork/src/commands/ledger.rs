//! `lendwork ledger --events FILE.jsonl [--format json|csv] [--as-of TIME]`:
//! the settlement ledger computed offline from a log, so that an auditor
//! can recompute every figure from the data alone.
//!
//! The log is replayed as a matcher replays it — each event's time first
//! expires what is due and confirms the timesheet days nobody answered,
//! then the event applies — but without matching rounds: the proposals
//! are the log's own (`match_proposed`), whoever made them. Every report
//! goes through the same rules as on the live path, so a refused one
//! counts nowhere. `late` is judged as of `--as-of` (default: the last
//! event's time).
//!
//! JSON: `{"assignments": [{"match_id", "period": {"start", "end"},
//! "minutes", "owed_fen", "paid_by_borrower_fen", "paid_to_worker_fen",
//! "flags"}]}`, by proposal then period. CSV: the same columns (the period
//! as `period_start`, `period_end`; flags joined by `;`), UTF-8 with a BOM
//! so that Excel opens it as UTF-8.

use std::io::{self, BufRead, Write};

use lendwork_domain::{Event, Timestamp};
use lendwork_engine::ledger::Row;
use lendwork_engine::{Engine, EngineConfig};

use crate::commands::validate::{for_each_event, Summary};

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON document.
    Json,
    /// CSV with a header row, UTF-8 with a BOM.
    Csv,
}

/// The ledger of every assignment in `engine`, as of `as_of`.
pub fn ledger_of(engine: &Engine, as_of: Timestamp) -> Vec<Row> {
    let pay = &engine.config().pay;
    engine
        .proposals()
        .flat_map(|p| p.ledger(pay, as_of.market_date()))
        .collect()
}

/// Writes `rows` as CSV (with the BOM).
pub fn write_csv(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    out.write_all("\u{feff}".as_bytes())?;
    writeln!(
        out,
        "match_id,period_start,period_end,minutes,owed_fen,paid_by_borrower_fen,paid_to_worker_fen,flags"
    )?;
    for r in rows {
        let flags: Vec<&str> = r.flags.iter().map(|f| f.slug()).collect();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            r.match_id,
            r.period.start,
            r.period.end,
            r.minutes,
            r.owed_fen,
            r.paid_by_borrower_fen,
            r.paid_to_worker_fen,
            flags.join(";")
        )?;
    }
    Ok(())
}

/// Runs the command: `Ok(true)` when the log was valid and the ledger was
/// written, `Ok(false)` when errors were written instead.
pub fn run(
    name: &str,
    input: impl BufRead,
    format: Format,
    as_of: Option<Timestamp>,
    out: &mut dyn Write,
    errors: &mut dyn Write,
) -> io::Result<bool> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut summary = Summary::default();
    let mut last: Option<Timestamp> = None;
    for_each_event(name, input, errors, &mut summary, |_, e: Event| {
        last = Some(last.map_or(e.at, |l| l.max(e.at)));
        engine.expire(e.at);
        engine.apply(&e);
        Ok(())
    })?;
    if summary.errors > 0 {
        writeln!(
            errors,
            "lendwork ledger: {} of {} lines invalid; no ledger",
            summary.errors, summary.lines
        )?;
        return Ok(false);
    }
    let as_of = as_of
        .or(last)
        .unwrap_or_else(|| Timestamp::from_unix_seconds(0).expect("epoch"));
    engine.expire(as_of);
    let rows = ledger_of(&engine, as_of);
    match format {
        Format::Json => {
            serde_json::to_writer(&mut *out, &serde_json::json!({ "assignments": rows }))?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&rows, out)?,
    }
    Ok(true)
}
