//! The embedded default's data directory: `lendwork export` (its market
//! log as JSON lines, the path from one machine to Kafka), `lendwork
//! backup` and `lendwork restore`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use lendwork_domain::{Event, EventKind, MatchId};
use lendwork_ports::EventBus;

use crate::flags::ServerFlags;

/// `lendwork export`: every record of the market topic, partition by
/// partition, each partition in offset order. Published again (to any
/// number of partitions with Lendwork's partitioner), each region's records
/// keep their order, so a matcher makes the same proposals.
pub fn run_export(
    flags: &ServerFlags,
    dir: &Path,
    out: Option<&Path>,
    routes: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let c = flags.load()?;
    // Opening makes a missing directory: an export of a mistyped path
    // would answer "0 events" and leave a new directory behind.
    if !dir.join("lendwork.db").is_file() {
        anyhow::bail!(
            "--data {}: not a Lendwork data directory (no lendwork.db)",
            dir.display()
        );
    }
    let data = crate::connect::open_data(dir)?;
    let bus = data.bus();
    let rt = tokio::runtime::Runtime::new()?;
    let mut w: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = rt.block_on(async {
        let ends = bus.end_offsets(&c.topics.market).map_err(|e| {
            anyhow::anyhow!(
                "topics.market {:?} in {}: {e} (a market that never started has no topic)",
                c.topics.market,
                dir.display()
            )
        })?;
        let mut n = 0u64;
        let mut seen = std::collections::BTreeMap::new();
        for (p, &end) in ends.iter().enumerate() {
            if end == 0 {
                continue;
            }
            let mut reader = bus
                .read_partition(&c.topics.market, p as u32, 0, end)
                .await?;
            while let Some(rec) = reader.next().await? {
                // The record's key is its region: what the events naming a
                // proposal need to be routed elsewhere.
                if routes.is_some() {
                    if let Ok(e) = Event::from_json(&String::from_utf8_lossy(&rec.payload)) {
                        if let Some(m) = match_of(&e.kind) {
                            seen.entry(m.to_string())
                                .or_insert_with(|| String::from_utf8_lossy(&rec.key).into_owned());
                        }
                    }
                }
                w.write_all(&rec.payload)?;
                w.write_all(b"\n")?;
                n += 1;
            }
        }
        w.flush()?;
        if let Some(p) = routes {
            let mut r = std::io::BufWriter::new(
                std::fs::File::create(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            );
            for (m, region) in &seen {
                serde_json::to_writer(
                    &mut r,
                    &serde_json::json!({"match_id": m, "region": region}),
                )?;
                r.write_all(b"\n")?;
            }
            r.flush()?;
        }
        anyhow::Ok(n)
    })?;
    eprintln!("lendwork export: {n} events from {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `lendwork backup`.
pub fn run_backup(dir: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let bytes = lendwork_sqlite::backup(dir, out)?;
    eprintln!(
        "lendwork backup: {} → {} ({bytes} bytes)",
        dir.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `lendwork restore`.
pub fn run_restore(file: &Path, dir: &Path) -> anyhow::Result<ExitCode> {
    lendwork_sqlite::restore(file, dir)?;
    eprintln!(
        "lendwork restore: {} → {} (start it with `lendwork serve --data {}`)",
        file.display(),
        dir.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The proposal an event names, if it names one.
fn match_of(k: &EventKind) -> Option<&MatchId> {
    match k {
        EventKind::MatchAccepted(d) | EventKind::MatchDeclined(d) => Some(&d.match_id),
        EventKind::MatchExpired(x) | EventKind::AssignmentStarted(x) => Some(&x.match_id),
        EventKind::AssignmentEnded(x) => Some(&x.match_id),
        EventKind::MatchProposed(p) => Some(&p.match_id),
        _ => None,
    }
}
