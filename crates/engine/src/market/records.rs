//! The records a market keeps and the bookkeeping around them.
//!
//! A [`Proposal`] is what went out plus its [`Status`] and audit trail. A
//! worker's or a gap's record is its event body as it arrived plus what the
//! market derives from it: interned skills and certificates, standing
//! commitments and exclusions, held positions, its solver index. Records
//! live in slot vectors under a dense `u32` given at first sight of an id
//! and kept for the id's lifetime (a re-offer reuses it), so indexes and the
//! solver speak slots and ids appear only at the edges. Interning turns
//! skills, certificates and enterprises into small integers for the same
//! reason. Proposal ids ([`match_id`]) and history names are made here so
//! that every replay makes the same ones.

use std::collections::HashMap;

use lendwork_domain::*;
use lendwork_flow::bipartite::{GapIx, WorkerIx};

use super::snapshot::json_text;
use super::Market;
use crate::slots::Slots;
use crate::Ids;

/// Where a proposal stands (see [`crate::machine`] for the steps between).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Made; waiting for every required party's acceptance.
    Proposed,
    /// Accepted by every required party; waiting for the signatures.
    Agreed,
    /// Every required party signed the agreement; may start.
    Signed,
    /// The worker started.
    Started,
    /// Ended with an outcome.
    Ended(Outcome),
    /// Declined by a party.
    Declined,
    /// No full answer in time.
    Expired,
    /// The worker or the gap was withdrawn (or the headcount lowered, or
    /// the worker blocked) before it started.
    Cancelled,
}

impl Status {
    /// Whether the worker is still committed to the gap's window (rule 9).
    pub fn holds_worker(self) -> bool {
        matches!(
            self,
            Status::Proposed | Status::Agreed | Status::Signed | Status::Started
        )
    }

    /// Whether the position is still taken: by a standing proposal or
    /// assignment, or by one completed. Every other end frees it, and the
    /// market fills it again (back-fill).
    pub fn holds_position(self) -> bool {
        self.holds_worker() || self == Status::Ended(Outcome::Completed)
    }

    /// Whether the position counts as filled for the office's figures:
    /// agreed, signed, started or completed (a proposal alone does not
    /// fill a position).
    pub fn fills_position(self) -> bool {
        matches!(
            self,
            Status::Agreed | Status::Signed | Status::Started | Status::Ended(Outcome::Completed)
        )
    }

    /// Every status, in the order of the lifecycle.
    pub const ALL: [Status; 12] = [
        Status::Proposed,
        Status::Agreed,
        Status::Signed,
        Status::Started,
        Status::Ended(Outcome::Completed),
        Status::Ended(Outcome::Returned),
        Status::Ended(Outcome::NoShow),
        Status::Ended(Outcome::Cancelled),
        Status::Ended(Outcome::Terminated),
        Status::Declined,
        Status::Expired,
        Status::Cancelled,
    ];

    /// The status as one word, as the read models and the API spell it
    /// (an assignment the borrower called off is `ended_cancelled`, to
    /// tell it from a proposal cancelled by a withdrawal).
    pub fn name(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Agreed => "agreed",
            Status::Signed => "signed",
            Status::Started => "started",
            Status::Ended(Outcome::Completed) => "completed",
            Status::Ended(Outcome::Returned) => "returned",
            Status::Ended(Outcome::NoShow) => "no_show",
            Status::Ended(Outcome::Cancelled) => "ended_cancelled",
            Status::Ended(Outcome::Terminated) => "terminated",
            Status::Declined => "declined",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status a [`Status::name`] spells.
    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One step of a proposal's audit trail: the event, when, what it did, and
/// who acted and why when the event says.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Step {
    /// The event.
    pub event: EventId,
    /// When.
    pub at: Timestamp,
    /// What (the event's type, or [`HEADCOUNT_LOWERED`] / [`CONTRACT_ENDED`]).
    pub what: &'static str,
    /// Who acted, when the event names a party.
    pub by: Option<Party>,
    /// The reason given, if any.
    pub reason: Option<Reason>,
}

/// A step that did not apply, kept on the proposal for the audit (the
/// last [`REFUSED_KEPT`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    /// The event refused.
    pub event: EventId,
    /// Its time.
    pub at: Timestamp,
    /// Why.
    pub why: String,
}

/// How many refused steps a proposal keeps.
pub const REFUSED_KEPT: usize = 16;

/// A proposal with its audit trail.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Proposal {
    /// The proposal as it went out (ids, region, cost, explanation).
    #[serde(flatten)]
    pub proposed: MatchProposed,
    /// Where it stands.
    pub status: Status,
    /// The window of the gap (for rule 9).
    #[serde(skip)]
    pub window: Window,
    /// The worker's lender when the proposal was made; `None` for a
    /// flexible worker (then only the borrower and the worker accept and
    /// sign).
    pub lender: Option<EnterpriseId>,
    /// Parties that accepted, in order.
    pub accepted: Vec<Party>,
    /// The agreement, frozen when the proposal became agreed.
    pub agreement: Option<Box<AgreementTerms>>,
    /// Its SHA-256, which every signature must name.
    pub agreement_sha256: Option<Sha256Hex>,
    /// Parties that signed, in order.
    pub signed: Vec<Party>,
    /// Every event that touched it.
    pub history: Vec<Step>,
    /// Steps that did not apply (the last few).
    pub refused: Vec<Refused>,
    /// The timesheet and the payments, once started.
    pub sheet: crate::sheet::Sheet,
}

impl Proposal {
    /// What [`crate::machine::decide`] needs to know of it.
    pub fn facts(&self) -> crate::machine::Facts<'_> {
        crate::machine::Facts {
            status: self.status,
            has_lender: self.lender.is_some(),
            accepted: &self.accepted,
            signed: &self.signed,
            agreement: self.agreement_sha256.as_ref(),
            window: self.window,
            started_on: self
                .history
                .iter()
                .rev()
                .find(|s| s.what == "assignment_started")
                .map(|s| s.at.market_date()),
        }
    }

    /// When it was made.
    pub fn made_at(&self) -> Timestamp {
        self.history[0].at
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct WorkerRec {
    #[serde(with = "json_text")]
    pub(super) profile: WorkerOffered,
    pub(super) ix: Option<WorkerIx>,
    /// The lender's share of the pool at offer time, per mille.
    pub(super) share_permille: u32,
    /// Standing commitments (proposed, accepted, started): rule 9.
    pub(super) busy: Vec<(MatchId, Window)>,
    /// Skills and certificates as interned ids, for the fast pre-check.
    pub(super) skills: Vec<(u16, u8)>,
    pub(super) certs: Vec<u16>,
    /// Gap slots this worker is no longer proposed for: a proposal of the
    /// pair was declined, expired or ended in a no-show.
    pub(super) excluded: Vec<u32>,
    /// Interned employer, 0 for a flexible worker.
    pub(super) employer: u32,
    /// The worker's smoothed no-show rate, per mille (from the market's
    /// reliability record of the worker, which outlives re-offers).
    pub(super) no_show_permille: u32,
}

/// A worker's record of ended assignments (DESIGN §5, reliability). It
/// adds a bounded cost term (`no_show_risk`) and never makes a worker
/// ineligible by itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reliability {
    /// Assignments completed.
    pub completed: u32,
    /// Returned early by the worker.
    pub returned_by_worker: u32,
    /// Returned early by the lender.
    pub returned_by_lender: u32,
    /// No-shows.
    pub no_show: u32,
    /// Called off by the borrower.
    pub cancelled: u32,
    /// Terminated (contract ended, withdrawn).
    pub terminated: u32,
}

impl Reliability {
    /// Assignments ended, however.
    pub fn ended(&self) -> u32 {
        self.completed
            + self.returned_by_worker
            + self.returned_by_lender
            + self.no_show
            + self.cancelled
            + self.terminated
    }

    /// The no-show rate, smoothed towards zero by two notional good
    /// assignments (one no-show in a first assignment is a third, not
    /// all), per mille.
    pub fn no_show_permille(&self) -> u32 {
        1000 * self.no_show / (self.ended() + 2)
    }

    /// Counts an assignment ended with `o`, by `by`.
    pub fn count(&mut self, o: Outcome, by: Option<Party>) {
        match o {
            Outcome::Completed => self.completed += 1,
            Outcome::Returned if by == Some(Party::Lender) => self.returned_by_lender += 1,
            Outcome::Returned => self.returned_by_worker += 1,
            Outcome::NoShow => self.no_show += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::Terminated => self.terminated += 1,
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct GapRec {
    #[serde(with = "json_text")]
    pub(super) posting: ShortagePosted,
    /// The gap's solver index while it has a free position; `None` while
    /// every position is held (see [`Market::sync_gap`]).
    pub(super) ix: Option<GapIx>,
    /// Positions held by proposals and finished assignments.
    pub(super) taken: u32,
    /// Every proposal ever made for it.
    pub(super) proposals: Vec<MatchId>,
    /// Requirements and certificates as interned ids.
    pub(super) reqs: Vec<(u16, u8)>,
    pub(super) certs: Vec<u16>,
    /// Its own slot (for the workers' exclusion lists).
    pub(super) slot: u32,
    /// Interned borrowing enterprise.
    pub(super) enterprise: u32,
}

impl Market {
    pub(super) fn skill_id(&mut self, s: &Skill) -> u16 {
        intern(&mut self.skill_ids, s, |n| {
            u16::try_from(n + 1).unwrap_or(u16::MAX)
        })
    }

    pub(super) fn ent_id(&mut self, e: &EnterpriseId) -> u32 {
        intern(&mut self.ent_ids, e, |n| n as u32 + 1)
    }

    pub(super) fn cert_id(&mut self, c: &Certificate) -> u16 {
        intern(&mut self.cert_ids, c, |n| {
            u16::try_from(n).unwrap_or(u16::MAX)
        })
    }

    pub(super) fn w(&self, id: &WorkerId) -> Option<&WorkerRec> {
        self.wslot
            .get(id)
            .and_then(|&s| self.workers[s as usize].as_ref())
    }

    pub(super) fn g(&self, id: &GapId) -> Option<&GapRec> {
        self.gslot
            .get(id)
            .and_then(|&s| self.gaps[s as usize].as_ref())
    }
}

/// The value of `key` in `map`, made by `make(map.len())` at first sight.
/// Looked up before inserting: `entry` would clone the key (an allocation)
/// for every name and id of every event.
fn intern<K: Clone + Eq + std::hash::Hash, V: Copy>(
    map: &mut HashMap<K, V, Ids>,
    key: &K,
    make: impl FnOnce(usize) -> V,
) -> V {
    if let Some(&v) = map.get(key) {
        return v;
    }
    let v = make(map.len());
    map.insert(key.clone(), v);
    v
}

/// The slot of `id`, made (empty) at first sight; a slot is kept for the
/// id's lifetime.
pub(super) fn slot_for<K: Clone + Eq + std::hash::Hash, V>(
    index: &mut HashMap<K, u32, Ids>,
    items: &mut Slots<Option<V>>,
    id: &K,
) -> u32 {
    intern(index, id, |_| {
        items.push(None);
        items.len() as u32 - 1
    })
}

/// Takes the live record of `id` out of its slot.
pub(super) fn take_live<K: Eq + std::hash::Hash, V>(
    index: &HashMap<K, u32, Ids>,
    items: &mut Slots<Option<V>>,
    id: &K,
) -> Option<(u32, V)> {
    let slot = *index.get(id)?;
    items[slot as usize].take().map(|v| (slot, v))
}

/// A proposal's history names what touched it by the event type's tag
/// ([`EVENT_TYPES`]), or by this: a shortage re-posted with fewer
/// positions than its proposals hold.
pub const HEADCOUNT_LOWERED: &str = "headcount_lowered";

/// … or this: the worker's contract with the lender ended during the
/// assignment (the engine terminates it).
pub const CONTRACT_ENDED: &str = "contract_ended";

/// The `&'static str` a history entry's name stands for (a snapshot
/// restores them by name).
pub(super) fn history_name(what: &str) -> Option<&'static str> {
    EVENT_TYPES
        .iter()
        .copied()
        .chain([HEADCOUNT_LOWERED, CONTRACT_ENDED])
        .find(|w| *w == what)
}

/// A proposal's id: `m-` and 16 hex digits of FNV-1a over region, gap,
/// worker and attempt number — the same on every replay and every
/// instance, so consumers can dedupe redelivered proposals by id.
pub fn match_id(region: &Region, g: &GapId, w: &WorkerId, attempt: u32) -> MatchId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [
        region.as_str(),
        g.as_str(),
        w.as_str(),
        &attempt.to_string(),
    ] {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    MatchId::new(format!("m-{h:016x}")).expect("valid id")
}
