//! `lendwork publish`: a JSONL file of events onto the market topic.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use bytes::Bytes;
use lendwork_domain::Event;
use lendwork_domain::{MatchId, Region};
use lendwork_state::keys::Keys;
use lendwork_state::routes::Router;

use crate::flags::ServerFlags;

/// `lendwork publish`: validates a JSONL file and appends its events to the
/// market topic, keyed by region. Nothing is published when any line is
/// invalid or cannot be routed (exit 2, errors as FILE:LINE: field: message).
pub fn run_publish(
    flags: &ServerFlags,
    file: &Path,
    routes: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let c = flags.load()?;
    let routes = match routes {
        Some(p) => match read_routes(p)? {
            Ok(r) => r,
            Err(code) => return Ok(code),
        },
        None => Vec::new(),
    };
    let (name, reader) = crate::cli::input(file)?;
    let mut events = Vec::new();
    let mut errors = 0u64;
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        match Event::from_json(&line) {
            Ok(e) => events.push(e),
            Err(e) => {
                errors += 1;
                eprintln!("{name}:{}: {e}", i + 1);
            }
        }
    }
    if errors > 0 {
        eprintln!("lendwork publish: {errors} invalid lines; nothing published");
        return Ok(ExitCode::from(2));
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let bus = crate::connect::bus(&c)?;
        let store = crate::connect::store(&c).await?;
        bus.ensure_topic(&c.topics.market, c.topics.partitions)
            .await?;
        // Proposals an exported market refers to: their regions, as the
        // router records the ones it routes.
        let keys = Keys::new(c.redis.prefix.clone());
        let writes: Vec<(String, Vec<u8>)> = routes
            .iter()
            .map(|(m, r)| (keys.route("match", m), r.as_bytes().to_vec()))
            .collect();
        for chunk in writes.chunks(10_000) {
            store.set_many(chunk).await?;
        }
        let router = Router::new(c.redis.prefix.clone());
        let mut records = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            match router.region(store.as_ref(), e).await {
                Ok(r) => records.push((Bytes::from(r.to_string()), Bytes::from(e.to_json()))),
                Err(err) => {
                    eprintln!("{name}:{}: {err}", i + 1);
                    return Ok(ExitCode::from(2));
                }
            }
        }
        for chunk in records.chunks(10_000) {
            bus.publish_all(&c.topics.market, chunk).await?;
        }
        eprintln!(
            "lendwork publish: {} events to {}",
            records.len(),
            c.topics.market
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// One line of a routes file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    match_id: MatchId,
    region: Region,
}

/// Reads a routes file: `Ok(Err(2))` (after printing FILE:LINE: message for
/// each bad line) when any line is bad.
#[allow(clippy::type_complexity)]
fn read_routes(p: &Path) -> anyhow::Result<Result<Vec<(String, String)>, ExitCode>> {
    let (name, reader) = crate::cli::input(p)?;
    let mut out = Vec::new();
    let mut bad = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Route>(&line) {
            Ok(r) => out.push((r.match_id.to_string(), r.region.to_string())),
            Err(e) => {
                bad += 1;
                eprintln!("{name}:{}: {e}", i + 1);
            }
        }
    }
    if bad > 0 {
        eprintln!("lendwork publish: {bad} invalid route lines; nothing published");
        return Ok(Err(ExitCode::from(2)));
    }
    Ok(Ok(out))
}
