//! `lendwork match --events FILE.jsonl`: applies every event, then makes one
//! optimal round over the final state, and prints one JSON document:
//!
//! ```json
//! {"filled": N, "total_cost": C, "matches": [{"match_id", "gap_id", "worker_id", "region", "cost", "explanation"}],
//!  "unfilled": [{"gap_id", "open"}], "ignored": K}
//! ```
//!
//! `matches` are the round's new proposals (standing proposals read from
//! the file are not repeated); `filled` is their number; `unfilled` lists
//! the gaps with positions still open after the round; `ignored` counts
//! valid events that did not fit the state (e.g. a decision on an unknown
//! proposal). The round is stamped with the last event's time, so the
//! output depends on the file alone. If any line breaks the contract, the
//! errors are reported as `lendwork validate` does and nothing is matched.

use std::io::{self, BufRead, Write};

use lendwork_domain::{Event, GapId, Timestamp};
use lendwork_engine::{Applied, Engine, EngineConfig};
use serde::Serialize;

use crate::commands::validate::{for_each_event, Summary};

#[derive(Serialize)]
struct Report<'a> {
    filled: usize,
    total_cost: u64,
    matches: Vec<&'a lendwork_domain::MatchProposed>,
    unfilled: Vec<Unfilled>,
    ignored: u64,
}

#[derive(Serialize)]
struct Unfilled {
    gap_id: GapId,
    open: u32,
}

/// Runs the command: `Ok(true)` when the events were valid and the report
/// was written, `Ok(false)` when errors were written instead.
pub fn run(
    name: &str,
    input: impl BufRead,
    out: &mut dyn Write,
    errors: &mut dyn Write,
) -> io::Result<bool> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut summary = Summary::default();
    let mut last: Option<Timestamp> = None;
    let mut ignored = 0u64;
    for_each_event(name, input, errors, &mut summary, |_, e: Event| {
        last = Some(last.map_or(e.at, |l| l.max(e.at)));
        if let Applied::Ignored(_) = engine.apply(&e) {
            ignored += 1;
        }
        Ok(())
    })?;
    if summary.errors > 0 {
        writeln!(
            errors,
            "lendwork match: {} of {} lines invalid; nothing matched",
            summary.errors, summary.lines
        )?;
        return Ok(false);
    }
    let at = last.unwrap_or_else(|| Timestamp::from_unix_seconds(0).expect("epoch"));
    let round = engine.round(at);
    let matches: Vec<_> = round
        .iter()
        .filter_map(|e| match &e.kind {
            lendwork_domain::EventKind::MatchProposed(p) => Some(p),
            _ => None,
        })
        .collect();
    let unfilled = engine
        .markets()
        .flat_map(|m| m.open_positions())
        .filter(|(_, open)| *open > 0)
        .map(|(gap_id, open)| Unfilled { gap_id, open })
        .collect();
    let report = Report {
        filled: matches.len(),
        total_cost: matches.iter().map(|p| p.cost).sum(),
        matches,
        unfilled,
        ignored,
    };
    serde_json::to_writer(&mut *out, &report)?;
    writeln!(out)?;
    Ok(true)
}
