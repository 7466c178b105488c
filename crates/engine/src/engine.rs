//! The engine: every region's market, fed by events in order, idempotent by
//! event id, with time taken only from events and explicit clock arguments.

use std::collections::{BTreeMap, HashMap};

use crate::Ids;

use lendwork_domain::*;

use crate::cost::CostWeights;
use crate::machine::Step;
use crate::market::{Market, Proposal, Transition, WhyNot};

/// Engine settings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Cost weights.
    pub weights: CostWeights,
    /// A proposal unanswered this long expires ([`Engine::expire`]).
    pub proposal_ttl_secs: i64,
    /// Event ids are remembered for deduplication this long, in event
    /// time: an id seen again within the window is a duplicate; after it,
    /// the id is forgotten and an event carrying it is applied like a new
    /// one. Seven days by default — far beyond any client's retry of a
    /// request (the gateway derives event ids from `Idempotency-Key`s) or
    /// a broker's redelivery, while keeping a long-running matcher's
    /// memory bounded by a week of events instead of growing forever.
    pub dedupe_window_secs: i64,
    /// Timesheets and the ledger: pay period, overtime limit, days to
    /// confirm by lapse, days before an unpaid amount is late.
    pub pay: crate::sheet::PayConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            weights: CostWeights::default(),
            proposal_ttl_secs: 48 * 3600,
            dedupe_window_secs: 7 * 24 * 3600,
            pay: crate::sheet::PayConfig::default(),
        }
    }
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The event changed the state.
    Applied,
    /// The id was seen before: nothing changed.
    Duplicate,
    /// Valid, but it does not fit the state (an unknown match, a decision
    /// on a finished proposal, a foreign proposal that is not eligible);
    /// nothing changed. The text says why.
    Ignored(String),
}

/// The version of [`Engine::snapshot`]'s format (and of the engine's
/// serialized form inside other snapshots); a snapshot of another version
/// is refused, and its owner rebuilds by replay.
pub const SNAPSHOT_FORMAT: u32 = 3;

/// The first bytes of an [`Engine::snapshot`].
pub const SNAPSHOT_MAGIC: &[u8; 4] = b"LWEN";

/// Why a snapshot was not restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot of this format version.
    #[error("snapshot format {found}, this engine reads format {SNAPSHOT_FORMAT}")]
    Format {
        /// The version found.
        found: u32,
    },
    /// Taken by an engine with other settings, whose later proposals would
    /// differ from this one's.
    #[error("snapshot taken with other engine settings")]
    Config,
    /// The bytes do not decode.
    #[error("snapshot does not decode: {0}")]
    Decode(String),
}

/// Every region's market.
///
/// Serializable whole ([`Engine::snapshot`]): every index, the solver's
/// assignment, potentials and arc order, and the counters that make ids,
/// so that a restored engine makes the same proposals with the same ids as
/// the engine it was taken from, event for event. The hash maps are keyed
/// by ids and never iterated into output (their hasher is seeded per
/// process, and replays agree across processes), so their
/// order, which a round trip does not keep, does not matter.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Engine {
    config: EngineConfig,
    markets: BTreeMap<Region, Market>,
    /// Ids seen within the dedupe window, with their events' times.
    seen: HashMap<EventId, i64, Ids>,
    /// The latest event time seen, and when (in event time) the ids older
    /// than the window are next swept out: every eighth of a window, so
    /// the sweep's cost is spread thin and an id is kept at most 9/8 of
    /// the window. Both follow from the records alone, so every replay
    /// of a partition forgets the same ids at the same record.
    latest: i64,
    next_sweep: i64,
    worker_region: HashMap<WorkerId, Region, Ids>,
    gap_region: HashMap<GapId, Region, Ids>,
    match_region: HashMap<MatchId, Region, Ids>,
    records_only: bool,
}

impl Engine {
    /// An empty engine.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The whole state as bytes: [`SNAPSHOT_MAGIC`], the format version
    /// (`u32`, little-endian), then the engine in MessagePack, structs by
    /// position; [`Engine::restore`] reads it back. (On a market of 100k
    /// workers and 20k gaps: 122 MB, a few tenths of a second each way.)
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
        rmp_serde::encode::write(&mut out, self).expect("an engine always serializes");
        out
    }

    /// An engine from [`Engine::snapshot`]'s bytes, refused unless it was
    /// taken in this format by an engine with `config`.
    pub fn restore(bytes: &[u8], config: &EngineConfig) -> Result<Engine, SnapshotError> {
        let body = bytes
            .strip_prefix(SNAPSHOT_MAGIC)
            .ok_or_else(|| SnapshotError::Decode("not an engine snapshot".into()))?;
        let (format, body) = body
            .split_first_chunk::<4>()
            .ok_or_else(|| SnapshotError::Decode("cut short".into()))?;
        let found = u32::from_le_bytes(*format);
        if found != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Format { found });
        }
        let engine: Engine =
            rmp_serde::from_slice(body).map_err(|e| SnapshotError::Decode(e.to_string()))?;
        if engine.config != *config {
            return Err(SnapshotError::Config);
        }
        Ok(engine)
    }

    /// The markets, by region.
    pub fn markets(&self) -> impl Iterator<Item = &Market> {
        self.markets.values()
    }

    /// One region's market.
    pub fn market(&self, r: &Region) -> Option<&Market> {
        self.markets.get(r)
    }

    fn market_mut(&mut self, r: &Region) -> &mut Market {
        // Looked up before `entry`, which would clone the region (and the
        // weights) on every event.
        if !self.markets.contains_key(r) {
            let mut m = Market::new(r.clone(), self.config.weights.clone());
            m.records_only = self.records_only;
            self.markets.insert(r.clone(), m);
        }
        self.markets.get_mut(r).expect("just made")
    }

    /// For tests: decide every candidate pair on the workers' and gaps'
    /// records, never on the grid entries alone — the path markets take
    /// once they have interned more than 64 skills or certificates. The
    /// output must not change (the property tests compare both).
    #[doc(hidden)]
    pub fn decide_on_records(&mut self) {
        self.records_only = true;
        for m in self.markets.values_mut() {
            m.records_only = true;
        }
    }

    /// Applies one event. Processing the same id twice changes nothing.
    pub fn apply(&mut self, e: &Event) -> Applied {
        if !self.remember(&e.id, e.at) {
            return Applied::Duplicate;
        }
        let (id, at) = (&e.id, e.at);
        let result = match &e.kind {
            EventKind::WorkerOffered(w) => {
                if let Some(old) = self.worker_region.get(&w.worker_id).cloned() {
                    if old != w.region {
                        self.market_mut(&old).withdraw_worker(&w.worker_id, id, at);
                    }
                }
                self.worker_region
                    .insert(w.worker_id.clone(), w.region.clone());
                self.market_mut(&w.region).offer(w.clone(), id, at);
                Ok(())
            }
            EventKind::WorkerWithdrawn(x) => match self.worker_region.remove(&x.worker_id) {
                Some(r) => {
                    self.market_mut(&r).withdraw_worker(&x.worker_id, id, at);
                    Ok(())
                }
                None => Err(format!("unknown worker {}", x.worker_id)),
            },
            // A gap stays in the region it was first posted in: its
            // proposals, their routes and its partition are that region's.
            // A re-post naming another region is refused (the gateway
            // answers 409 before it reaches the log); the borrower
            // withdraws the gap and posts a new one.
            EventKind::ShortagePosted(g) => match self.gap_region.get(&g.gap_id) {
                Some(old) if *old != g.region => Err(format!(
                    "region: gap {} is posted in region {old}; a gap's region cannot change \
                     (withdraw it and post a new gap)",
                    g.gap_id
                )),
                _ => {
                    self.gap_region.insert(g.gap_id.clone(), g.region.clone());
                    self.market_mut(&g.region).post(g.clone(), id, at);
                    Ok(())
                }
            },
            EventKind::ShortageWithdrawn(x) => match self.gap_region.remove(&x.gap_id) {
                Some(r) => {
                    self.market_mut(&r).withdraw_gap(&x.gap_id, id, at);
                    Ok(())
                }
                None => Err(format!("unknown gap {}", x.gap_id)),
            },
            EventKind::MatchProposed(p) => {
                let r = self.market_mut(&p.region).proposed(p, id, at);
                if r.is_ok() {
                    self.match_region
                        .insert(p.match_id.clone(), p.region.clone());
                }
                r
            }
            EventKind::MatchAccepted(d) => self.step(
                &d.match_id,
                Step::Accept(d.by),
                id,
                at,
                "match_accepted",
                d.reason.as_ref(),
            ),
            EventKind::MatchDeclined(d) => self.step(
                &d.match_id,
                Step::Decline(d.by),
                id,
                at,
                "match_declined",
                d.reason.as_ref(),
            ),
            EventKind::MatchExpired(x) => {
                self.step(&x.match_id, Step::Expire, id, at, "match_expired", None)
            }
            EventKind::AgreementSigned(x) => self.step(
                &x.match_id,
                Step::Sign(x.by, &x.document_sha256),
                id,
                at,
                "agreement_signed",
                None,
            ),
            EventKind::AssignmentStarted(x) => {
                self.step(&x.match_id, Step::Start, id, at, "assignment_started", None)
            }
            EventKind::AssignmentEnded(x) => self.step(
                &x.match_id,
                Step::End(x.outcome, x.by),
                id,
                at,
                "assignment_ended",
                x.reason.as_ref(),
            ),
            EventKind::TimesheetSubmitted(TimesheetSubmitted { match_id, .. })
            | EventKind::TimesheetConfirmed(TimesheetConfirmed { match_id, .. })
            | EventKind::TimesheetDisputed(TimesheetDisputed { match_id, .. })
            | EventKind::PaymentRecorded(PaymentRecorded { match_id, .. }) => {
                match self.match_region.get(match_id).cloned() {
                    Some(r) => {
                        let pay = self.config.pay.clone();
                        self.market_mut(&r).report(match_id, &e.kind, id, at, &pay)
                    }
                    None => Err(format!("unknown match {match_id}")),
                }
            }
            EventKind::PreferenceSet(x) => match self.worker_region.get(&x.worker_id).cloned() {
                Some(r) => self.market_mut(&r).set_preference(x, id, at),
                None => Err(format!("unknown worker {}", x.worker_id)),
            },
        };
        match result {
            Ok(()) => Applied::Applied,
            Err(why) => Applied::Ignored(why),
        }
    }

    fn step(
        &mut self,
        m: &MatchId,
        step: Step<'_>,
        id: &EventId,
        at: Timestamp,
        what: &'static str,
        reason: Option<&Reason>,
    ) -> Result<(), String> {
        let Some(r) = self.match_region.get(m).cloned() else {
            return Err(format!("unknown match {m}"));
        };
        self.market_mut(&r).step(m, step, id, at, what, reason)
    }

    /// Records `id` (of an event at `at`) as seen; false when it was seen
    /// within the dedupe window. Sweeps out the ids older than the window
    /// when due.
    fn remember(&mut self, id: &EventId, at: Timestamp) -> bool {
        let t = at.unix_seconds();
        if t > self.latest {
            self.latest = t;
            if t >= self.next_sweep {
                let window = self.config.dedupe_window_secs.max(1);
                if self.next_sweep != 0 {
                    let cutoff = t.saturating_sub(window);
                    self.seen.retain(|_, seen_at| *seen_at >= cutoff);
                }
                self.next_sweep = t.saturating_add((window / 8).max(1));
            }
        }
        match self.seen.entry(id.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(t);
                true
            }
        }
    }

    /// How many event ids are remembered for deduplication.
    pub fn remembered_ids(&self) -> usize {
        self.seen.len()
    }

    /// One matching round in every region: the optimal assignment of free
    /// workers to open positions becomes proposals, stamped `at`. The
    /// events are returned in region, gap, worker order; their ids are
    /// deterministic and marked seen, so reading them back is a no-op.
    pub fn round(&mut self, at: Timestamp) -> Vec<Event> {
        let mut out = Vec::new();
        for (r, m) in &mut self.markets {
            if m.pending_pairs() == 0 {
                continue;
            }
            for p in m.round(at) {
                let id = EventId::new(format!("evt-{}", p.match_id)).expect("valid id");
                self.match_region.insert(p.match_id.clone(), r.clone());
                out.push(Event {
                    id,
                    at,
                    kind: EventKind::MatchProposed(p),
                });
            }
        }
        for e in &out {
            self.remember(&e.id, e.at);
        }
        out
    }

    /// What time alone does at `now`: expires proposals unanswered for
    /// longer than the configured time to live, terminates started
    /// assignments whose worker's contract has ended, and confirms
    /// timesheet days nobody answered in the confirmation period; returns
    /// the `match_expired`, `assignment_ended` and `timesheet_confirmed`
    /// events (already applied).
    pub fn expire(&mut self, now: Timestamp) -> Vec<Event> {
        let mut out = self.expire_proposals(now);
        let pay = self.config.pay.clone();
        for m in self.markets.values_mut() {
            m.contracts_ended(now);
            m.confirm_lapsed(now, &pay);
        }
        out.extend(self.take_emitted());
        out
    }

    /// The events the markets made on their own account since the last
    /// call (terminations), marked seen so that reading them back is a
    /// no-op.
    pub fn take_emitted(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        for m in self.markets.values_mut() {
            out.append(&mut m.take_emitted());
        }
        for e in &out {
            self.remember(&e.id, e.at);
        }
        out
    }

    /// The status changes in every region since the last call.
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        let mut out = Vec::new();
        for m in self.markets.values_mut() {
            out.append(&mut m.take_transitions());
        }
        out
    }

    fn expire_proposals(&mut self, now: Timestamp) -> Vec<Event> {
        let cutoff =
            Timestamp::from_unix_seconds(now.unix_seconds() - self.config.proposal_ttl_secs)
                .unwrap_or(now);
        let stale: Vec<MatchId> = self
            .markets
            .values()
            .flat_map(|m| m.stale(cutoff))
            .collect();
        let mut out = Vec::new();
        for m in stale {
            let e = Event {
                id: EventId::new(format!("evt-exp-{m}")).expect("valid id"),
                at: now,
                kind: EventKind::MatchExpired(MatchRef { match_id: m }),
            };
            if self.apply(&e) == Applied::Applied {
                out.push(e);
            }
        }
        out
    }

    /// The proposals made or changed in every region since the last call
    /// (see [`Market::take_changed`]).
    pub fn take_changed(&mut self) -> Vec<MatchId> {
        let mut out = Vec::new();
        for m in self.markets.values_mut() {
            out.append(&mut m.take_changed());
        }
        out
    }

    /// A live gap's posting.
    pub fn gap(&self, g: &GapId) -> Option<&ShortagePosted> {
        self.gap_region
            .get(g)
            .and_then(|r| self.markets.get(r))
            .and_then(|m| m.gap(g))
    }

    /// A live worker's profile.
    pub fn worker(&self, w: &WorkerId) -> Option<&WorkerOffered> {
        self.worker_region
            .get(w)
            .and_then(|r| self.markets.get(r))
            .and_then(|m| m.worker(w))
    }

    /// A proposal and its audit trail.
    pub fn proposal(&self, m: &MatchId) -> Option<&Proposal> {
        self.match_region
            .get(m)
            .and_then(|r| self.markets.get(r))
            .and_then(|mk| mk.proposals.get(m))
            .map(|p| &**p)
    }

    /// Every proposal of every region, in region and id order.
    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> {
        self.markets.values().flat_map(|m| {
            let mut v: Vec<&Proposal> = m.proposals.values().map(|p| &**p).collect();
            v.sort_unstable_by(|a, b| a.proposed.match_id.cmp(&b.proposed.match_id));
            v
        })
    }

    /// Why worker `w` was not proposed for gap `g`.
    pub fn why_not(&self, w: &WorkerId, g: &GapId) -> WhyNot {
        match (self.worker_region.get(w), self.gap_region.get(g)) {
            (Some(rw), Some(rg)) if rw != rg => WhyNot::Rule {
                rule: Rule::SameRegion,
            },
            (Some(r), Some(_)) => self.markets[r].why_not(w, g),
            _ => WhyNot::Unknown,
        }
    }

    /// Checks every market's invariants (for tests).
    pub fn check_invariants(&self) -> Result<(), String> {
        for m in self.markets.values() {
            m.check_invariants()
                .map_err(|e| format!("region {}: {e}", m.region()))?;
        }
        Ok(())
    }
}
