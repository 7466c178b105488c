//! Checks of a running deployment's guarantees, from its topics and store:
//! nothing lost, no duplicate that differs, nobody double-booked.
//!
//! [`audit`] replays the market topic through fresh [`PartitionState`]s —
//! exactly what any matcher would do — and compares the result with what
//! the matchers published on the matches topic and wrote to the read
//! models. The end-to-end tests call it after killing matchers; an
//! operator can run it with `lendwork audit`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lendwork_domain::{Event, EventKind, MatchId};
use lendwork_engine::EngineConfig;
use lendwork_ports::{EventBus, Record, StateStore};
use serde::Serialize;

use crate::matcher::{Effects, PartitionState};
use lendwork_state::keys::Keys;
use lendwork_state::views::MatchView;

/// Why an audit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The bus did not answer or refused.
    #[error(transparent)]
    Bus(#[from] lendwork_ports::BusError),
    /// The store did not answer or refused.
    #[error(transparent)]
    Store(#[from] lendwork_ports::StoreError),
    /// What was read is not what a matcher writes.
    #[error("{0}")]
    Invalid(String),
}

/// Every record of `topic`, read by a fresh consumer group until nothing
/// arrives for `idle` (a topic being written to is read as far as it goes).
/// The first record may take up to `first` (joining a group takes a while
/// on some brokers); an empty topic costs that long.
pub async fn drain(
    bus: &dyn EventBus,
    topic: &str,
    group: &str,
    first: Duration,
    idle: Duration,
) -> Result<Vec<Record>, AuditError> {
    let mut sub = bus.subscribe(topic, group).await?;
    let mut out = Vec::new();
    let mut wait = first;
    while let Ok(r) = tokio::time::timeout(wait, sub.next()).await {
        out.push(r?);
        wait = idle;
    }
    out.sort_by_key(|r| r.position);
    Ok(out)
}

/// What [`audit`] found.
#[derive(Debug, Default, Serialize)]
pub struct AuditReport {
    /// Market records replayed.
    pub market_records: usize,
    /// Records on the matches topic (with duplicates).
    pub published_records: usize,
    /// Distinct event ids on the matches topic.
    pub published_ids: usize,
    /// Records published more than once (harmless: same id, same bytes).
    pub duplicates: usize,
    /// Ids published twice with different content.
    pub conflicting_duplicates: Vec<String>,
    /// Outputs the replay makes that were never published (lost).
    pub missing: Vec<String>,
    /// Published ids the replay does not make.
    pub unexpected: Vec<String>,
    /// Proposals withheld because the worker was reserved elsewhere.
    pub withheld: usize,
    /// Published proposals without a read-model view.
    pub missing_views: Vec<String>,
    /// Workers with two standing, overlapping proposals (in the views).
    pub double_booked: Vec<String>,
}

impl AuditReport {
    /// True when nothing was lost, nothing differs, nobody is double-booked.
    pub fn clean(&self) -> bool {
        self.conflicting_duplicates.is_empty()
            && self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.missing_views.is_empty()
            && self.double_booked.is_empty()
    }
}

/// The outputs a replay of `market` makes, by partition in offset order,
/// leaving out proposals that a conflict decline in the log withheld (those
/// whose decline `evt-x-…` applied while they stood).
pub fn expected_outputs(market: &[Record], engine: &EngineConfig) -> (Vec<Event>, usize) {
    let mut by_part: BTreeMap<u32, Vec<&Record>> = BTreeMap::new();
    for r in market {
        by_part.entry(r.position.partition).or_default().push(r);
    }
    let mut out = Vec::new();
    for (_, mut recs) in by_part {
        recs.sort_by_key(|r| r.position.offset);
        let mut state = PartitionState::new(engine.clone());
        let mut fx = Effects::default();
        for r in recs {
            state.process(r, &mut fx);
            out.extend(fx.outputs.drain(..).map(|(_, e)| e));
            fx = Effects::default();
        }
    }
    let withheld: BTreeSet<MatchId> = out
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MatchDeclined(d) if e.id.as_str() == format!("evt-x-{}", d.match_id) => {
                Some(d.match_id.clone())
            }
            _ => None,
        })
        .collect();
    out.retain(
        |e| !matches!(&e.kind, EventKind::MatchProposed(p) if withheld.contains(&p.match_id)),
    );
    (out, withheld.len())
}

/// Audits a deployment: `market` and `matches` are the topics' records
/// (see [`drain`]); views are read from `store` under `prefix`.
pub async fn audit(
    market: &[Record],
    matches: &[Record],
    store: &dyn StateStore,
    prefix: &str,
    engine: &EngineConfig,
) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport {
        market_records: market.len(),
        published_records: matches.len(),
        ..Default::default()
    };
    let (expected, withheld) = expected_outputs(market, engine);
    report.withheld = withheld;
    let mut published: BTreeMap<String, String> = BTreeMap::new();
    let mut proposals: BTreeSet<MatchId> = BTreeSet::new();
    for r in matches {
        let text = String::from_utf8_lossy(&r.payload).into_owned();
        let e = Event::from_json(&text).map_err(|e| {
            AuditError::Invalid(format!("matches topic holds an invalid event: {e}"))
        })?;
        if let EventKind::MatchProposed(p) = &e.kind {
            proposals.insert(p.match_id.clone());
        }
        match published.get(e.id.as_str()) {
            Some(prev) if *prev != text => {
                report.conflicting_duplicates.push(e.id.to_string());
            }
            Some(_) => report.duplicates += 1,
            None => {
                published.insert(e.id.to_string(), text);
            }
        }
    }
    report.published_ids = published.len();
    let expected_ids: BTreeSet<String> = expected.iter().map(|e| e.id.to_string()).collect();
    for id in &expected_ids {
        if !published.contains_key(id) {
            report.missing.push(id.clone());
        }
    }
    for id in published.keys() {
        if !expected_ids.contains(id) {
            report.unexpected.push(id.clone());
        }
    }
    // Views: every published proposal has one; standing ones never overlap
    // for one worker.
    let keys = Keys::new(prefix);
    let mut views: BTreeMap<String, MatchView> = BTreeMap::new();
    for (_, v) in store.scan_prefix(&keys.proposals()).await? {
        let view: MatchView = serde_json::from_slice(&v)
            .map_err(|e| AuditError::Invalid(format!("a proposal view does not decode: {e}")))?;
        views.insert(view.proposed.match_id.to_string(), view);
    }
    for m in &proposals {
        if !views.contains_key(m.as_str()) {
            report.missing_views.push(m.to_string());
        }
    }
    let mut standing: BTreeMap<String, Vec<&MatchView>> = BTreeMap::new();
    for v in views.values() {
        if v.status()
            .is_some_and(lendwork_engine::Status::holds_worker)
        {
            standing
                .entry(v.proposed.worker_id.to_string())
                .or_default()
                .push(v);
        }
    }
    for (w, vs) in standing {
        for (i, a) in vs.iter().enumerate() {
            for b in &vs[i + 1..] {
                if a.window.start <= b.window.end && b.window.start <= a.window.end {
                    report.double_booked.push(format!(
                        "{w}: {} and {}",
                        a.proposed.match_id, b.proposed.match_id
                    ));
                }
            }
        }
    }
    Ok(report)
}
