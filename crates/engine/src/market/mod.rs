//! One region's market: workers, gaps, proposals and the solver that keeps
//! the optimal assignment of free workers to open positions.
//!
//! The solver ([`AssignmentSolver`]) holds only what is still free: a gap's
//! capacity is its headcount minus the positions held by standing proposals
//! and assignments, only gaps with a free position are in it at all, and a
//! worker's arcs go only to those gaps it is eligible for under every rule
//! of DESIGN §3 — rule 9 included, against its standing commitments. A
//! *round* turns the solver's current assignment into proposals and commits
//! them ([`AssignmentSolver::commit`] takes the pair out of the problem
//! without a search); each committed worker is then re-added with its
//! remaining arcs, so it can be proposed again for a gap whose window does
//! not overlap.
//!
//! One job per file:
//!
//! * this file: the [`Market`] type and its main operations — offer and
//!   withdraw a worker, post and withdraw a gap, run a round;
//! * `records.rs`: the records it keeps (proposals, workers, gaps), the
//!   slots and interned ids they live under, proposal ids;
//! * `queries.rs`: read-only views (profiles, counts, free positions, a
//!   pair's cost, the solver's counters);
//! * `eligibility.rs`: eligibility and cost of a pair on the records;
//! * `entries.rs`: the grid entries, which decide most pairs without the
//!   records;
//! * `precheck.rs`: the entries' column summaries, the branch-free first
//!   filter of every candidate scan;
//! * `index.rs`: keeping the grids and the solver in step with the records,
//!   and the candidate scans that give a worker's or a gap's arcs;
//! * `lifecycle.rs`: a proposal from made to ended (accept, decline,
//!   expire, start, end, cancel) and the back-fill that follows;
//! * `why_not.rs`: why a worker was not proposed for a gap;
//! * `snapshot.rs`: what a snapshot needs beyond the derived encoding;
//! * `invariants.rs`: the market's self-check, for tests.
//!
//! The design — why the solver holds only what is free, how the three
//! layers of checks split the work, what keeps replays byte-identical — is
//! in `docs/design/engine.md`.

use std::collections::{BTreeSet, HashMap, HashSet};

use lendwork_domain::*;
use lendwork_flow::bipartite::{AssignmentSolver, GapIx, WorkerIx};

use crate::cost::{CostWeights, Terms, MAX_COST};
use crate::grid::{Fx, Grid};
use crate::slots::Slots;
use crate::Ids;

mod eligibility;
mod entries;
mod index;
mod invariants;
mod lifecycle;
mod precheck;
mod queries;
mod records;
mod snapshot;
#[cfg(test)]
mod tests;
mod timesheets;
mod why_not;

pub use lifecycle::Transition;
pub use queries::Positions;
pub use records::{
    match_id, Proposal, Refused, Reliability, Status, Step, CONTRACT_ENDED, HEADCOUNT_LOWERED,
    REFUSED_KEPT,
};
pub use why_not::WhyNot;

use entries::{GCand, WCand};
use records::{slot_for, take_live, GapRec, WorkerRec};

/// "No slot" / "no solver index" in the dense maps between them.
const NONE: u32 = u32::MAX;

/// One region's market.
///
/// Workers and gaps live in slot vectors indexed by a dense `u32` given at
/// first sight of their id (kept for the id's lifetime, so a re-offer reuses
/// it); the indexes and the solver speak slots and solver indices, and ids
/// appear only at the edges. That keeps string hashing and comparison out
/// of the hot loops.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Market {
    /// Work counters, for benchmarks and tuning.
    pub stats: MarketStats,
    region: Region,
    weights: CostWeights,
    wslot: HashMap<WorkerId, u32, Ids>,
    workers: Slots<Option<WorkerRec>>,
    gslot: HashMap<GapId, u32, Ids>,
    gaps: Slots<Option<GapRec>>,
    /// By id; hashed, since lookups are hot and ids share long prefixes
    /// (reports sort: [`crate::Engine::proposals`]).
    /// Boxed: a proposal is a few hundred bytes, and the map's growth
    /// moves only pointers.
    #[serde(with = "snapshot::proposals")]
    pub(crate) proposals: HashMap<MatchId, Box<Proposal>, Ids>,
    /// How often each pair was proposed, for deterministic new ids.
    attempts: HashMap<(u32, u32), u32, Ids>,
    solver: AssignmentSolver,
    /// Worker slot of each solver worker index, gap slot of each solver gap.
    worker_of: Vec<u32>,
    gap_of: Vec<u32>,
    /// Solver index of each worker slot (`NONE` outside the solver): the
    /// record's `ix`, kept dense so candidate scans need not read records.
    ix_of: Vec<u32>,
    /// Worker slots by skill (and `*` for all); gap slots by first required
    /// skill (and `*` for gaps without requirements).
    worker_grid: Grid<WCand>,
    gap_grid: Grid<GCand>,
    /// Dedupe stamps for candidate queries.
    gap_stamp: Vec<u32>,
    epoch: u32,
    lender_pool: HashMap<EnterpriseId, u32, Ids>,
    pool: u32,
    max_commute_km: f64,
    /// Exclusions of withdrawn workers, kept for a later re-offer: a
    /// declined pair stays declined.
    parked_exclusions: HashMap<u32, Vec<u32>, Ids>,
    /// Every (worker slot, gap slot) exclusion ever made — the records'
    /// `excluded` lists as one set, so a candidate scan can ask it without
    /// reading the worker's record. Slots outlive withdrawals, and so do
    /// exclusions.
    excluded_pairs: HashSet<(u32, u32), Fx>,
    /// Never let grid entries decide ([`crate::Engine::decide_on_records`]).
    pub(crate) records_only: bool,
    /// Interned enterprise ids (from 1).
    ent_ids: HashMap<EnterpriseId, u32, Ids>,
    /// Interned skills (from 1; 0 is "any") and certificates.
    skill_ids: HashMap<Skill, u16, Ids>,
    cert_ids: HashMap<Certificate, u16, Ids>,
    /// Proposals made or changed since [`Market::take_changed`] last ran.
    changed: Vec<MatchId>,
    /// Unanswered proposals by the time they were made, so expiry looks
    /// only at the ones due.
    unanswered: BTreeSet<(Timestamp, MatchId)>,
    /// The exclusions made by a decline, an expiry or an end (which a
    /// lifted block must not lift); `excluded_pairs` also holds the
    /// blocked pairs.
    declined: HashSet<(u32, u32), Fx>,
    /// Each borrower's (interned) blocked workers (rule 10), by slot.
    blocks: HashMap<u32, BTreeSet<u32>, Ids>,
    /// The (interned) borrower of every gap slot, kept after the gap is
    /// withdrawn (a block is lifted from its slots too).
    gap_enterprise: HashMap<u32, u32, Ids>,
    /// (worker slot, interned borrower) of each favourite mark: the pair
    /// pays no `not_favourite` term.
    favourites: HashSet<(u32, u32), Fx>,
    /// Each worker's record of ended assignments, by slot.
    reliability: HashMap<u32, Reliability, Ids>,
    /// Each borrower's (interned) late cancellations: declines after the
    /// agreement, assignments called off.
    late_cancellations: HashMap<u32, u32, Ids>,
    /// Started assignments whose worker's contract ends before their
    /// window, by the contract's last day.
    contract_ends: BTreeSet<(Date, MatchId)>,
    /// Submitted timesheet days waiting for an answer, by submission time
    /// (they confirm themselves after the confirmation period).
    confirm_due: BTreeSet<(Timestamp, MatchId, Date)>,
    /// Status changes since [`Market::take_transitions`] last ran.
    #[serde(skip)]
    transitions: Vec<Transition>,
    /// Events made by the market since [`Market::take_emitted`] last ran.
    #[serde(skip)]
    emitted: Vec<Event>,
}

/// Work counters of a market.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MarketStats {
    /// Candidate queries for a worker (offers, freed workers).
    pub worker_scans: u64,
    /// Candidate queries for a gap (posts, and gaps a freed position
    /// brings back into the solver).
    pub gap_scans: u64,
    /// Candidates checked over all queries.
    pub candidates_scanned: u64,
    /// Candidates admitted as arcs.
    pub arcs_added: u64,
}

impl Market {
    /// An empty market.
    pub fn new(region: Region, weights: CostWeights) -> Self {
        let unassigned = AssignmentSolver::lexicographic_unassigned_cost(MAX_COST as i64, 1 << 25);
        Self {
            stats: MarketStats::default(),
            changed: Vec::new(),
            declined: HashSet::default(),
            blocks: HashMap::default(),
            gap_enterprise: HashMap::default(),
            favourites: HashSet::default(),
            reliability: HashMap::default(),
            late_cancellations: HashMap::default(),
            contract_ends: BTreeSet::new(),
            confirm_due: BTreeSet::new(),
            transitions: Vec::new(),
            emitted: Vec::new(),
            unanswered: BTreeSet::new(),
            region,
            weights,
            wslot: HashMap::default(),
            workers: Slots::new(),
            gslot: HashMap::default(),
            gaps: Slots::new(),
            proposals: HashMap::default(),
            attempts: HashMap::default(),
            solver: AssignmentSolver::new(unassigned, MAX_COST as i64),
            worker_of: Vec::new(),
            ix_of: Vec::new(),
            gap_of: Vec::new(),
            worker_grid: Grid::default(),
            gap_grid: Grid::default(),
            gap_stamp: Vec::new(),
            epoch: 0,
            lender_pool: HashMap::default(),
            pool: 0,
            max_commute_km: 0.0,
            skill_ids: HashMap::default(),
            cert_ids: HashMap::default(),
            parked_exclusions: HashMap::default(),
            excluded_pairs: HashSet::default(),
            records_only: false,
            ent_ids: HashMap::default(),
        }
    }

    // ----- workers -------------------------------------------------------

    /// Adds or replaces a worker's profile. Standing proposals stay,
    /// unless the new profile breaks rule 3 for them (see
    /// `recheck_commitments`).
    pub fn offer(&mut self, w: WorkerOffered, event: &EventId, at: Timestamp) {
        let slot = slot_for(&mut self.wslot, &mut self.workers, &w.worker_id);
        let (busy, excluded) = match self.workers[slot as usize].take() {
            Some(old) => {
                self.unindex_worker(slot, &old);
                (old.busy, old.excluded)
            }
            None => (
                Vec::new(),
                self.parked_exclusions.remove(&slot).unwrap_or_default(),
            ),
        };
        let share_permille = match &w.employer_id {
            Some(e) => {
                *self.lender_pool.entry(e.clone()).or_default() += 1;
                self.pool += 1;
                (u64::from(self.lender_pool[e]) * 1000 / u64::from(self.pool)) as u32
            }
            None => {
                self.pool += 1;
                0
            }
        };
        self.max_commute_km = self.max_commute_km.max(w.max_commute_km.get());
        let skills: Vec<(u16, u8)> = w
            .skills
            .iter()
            .map(|s| (self.skill_id(&s.skill), s.level.get()))
            .collect();
        let mut certs: Vec<u16> = w.certificates.iter().map(|c| self.cert_id(c)).collect();
        certs.sort_unstable();
        let employer = match &w.employer_id {
            Some(e) => self.ent_id(e),
            None => 0,
        };
        let no_show_permille = self
            .reliability
            .get(&slot)
            .map_or(0, Reliability::no_show_permille);
        self.workers[slot as usize] = Some(WorkerRec {
            no_show_permille,
            profile: w,
            ix: None,
            share_permille,
            busy,
            skills,
            certs,
            excluded,
            employer,
        });
        self.index_worker(slot, true);
        self.place_worker(slot);
        self.recheck_commitments(slot, event, at);
    }

    /// After a re-offer: a commitment that rule 3 no longer allows (the
    /// consent withdrawn, or the contract now ending before the window)
    /// is cancelled when it has not started; a started one is watched and
    /// terminated when the contract ends (at once when consent is gone).
    fn recheck_commitments(&mut self, slot: u32, event: &EventId, at: Timestamp) {
        let rec = self.workers[slot as usize].as_ref().expect("live");
        let Some(_) = rec.profile.employer_id else {
            return;
        };
        let (consent, end) = (rec.profile.consent, rec.profile.contract_end);
        let broken: Vec<MatchId> = rec
            .busy
            .iter()
            .filter(|(_, w)| !consent || end.is_some_and(|e| e < w.end))
            .map(|(m, _)| m.clone())
            .collect();
        for m in broken {
            if self.proposals[&m].status == Status::Started {
                if consent {
                    self.watch_contract(&m);
                } else {
                    self.terminate(&m, at, "worker_offered", "the worker withdrew consent");
                }
            } else {
                self.finish(
                    &m,
                    Status::Cancelled,
                    event,
                    at,
                    "worker_offered",
                    None,
                    None,
                );
            }
        }
    }

    /// Removes a worker; its standing proposals are cancelled and a
    /// started assignment is terminated (the position is filled again).
    pub fn withdraw_worker(&mut self, w: &WorkerId, event: &EventId, at: Timestamp) {
        let Some((slot, old)) = take_live(&self.wslot, &mut self.workers, w) else {
            return;
        };
        self.unindex_worker(slot, &old);
        if !old.excluded.is_empty() {
            self.parked_exclusions.insert(slot, old.excluded);
        }
        for (m, _) in old.busy {
            if self.proposals[&m].status == Status::Started {
                self.terminate(&m, at, "worker_withdrawn", "the worker was withdrawn");
            } else {
                self.finish(
                    &m,
                    Status::Cancelled,
                    event,
                    at,
                    "worker_withdrawn",
                    None,
                    None,
                );
            }
        }
    }

    // ----- preferences (rule 10) -------------------------------------------

    /// Whether the borrower (interned) `ent` marked worker slot `ws` as a
    /// favourite.
    pub(super) fn is_favourite(&self, ws: u32, ent: u32) -> bool {
        !self.favourites.is_empty() && self.favourites.contains(&(ws, ent))
    }

    /// Whether the borrower (interned) `ent` blocked worker slot `ws`.
    pub(super) fn is_blocked(&self, ws: u32, ent: u32) -> bool {
        self.blocks.get(&ent).is_some_and(|b| b.contains(&ws))
    }

    /// A borrower's mark on a worker. `blocked` excludes the worker from
    /// the borrower's gaps, now and later, and cancels the pair's
    /// proposals that are not yet agreed (an agreed or started one stands:
    /// the borrower declines or ends it); `cleared` lifts the block (pairs
    /// declined or ended stay excluded) or the favourite mark; `favourite`
    /// lifts a block and spares the pair the `not_favourite` cost term.
    /// Each re-prices the worker's arcs. A mark that is already so is
    /// refused (nothing changes).
    pub fn set_preference(
        &mut self,
        x: &PreferenceSet,
        event: &EventId,
        at: Timestamp,
    ) -> Result<(), String> {
        let Some(&ws) = self.wslot.get(&x.worker_id) else {
            return Err(format!("unknown worker {}", x.worker_id));
        };
        let ent = self.ent_id(&x.enterprise_id);
        let gaps: Vec<u32> = self
            .gaps
            .iter()
            .flatten()
            .filter(|g| g.enterprise == ent)
            .map(|g| g.slot)
            .collect();
        let live = self.workers[ws as usize].is_some();
        let was_favourite = self.favourites.contains(&(ws, ent));
        match x.kind {
            PreferenceKind::Favourite if was_favourite => {
                return Err(format!("worker {} is already a favourite", x.worker_id));
            }
            PreferenceKind::Cleared if was_favourite => {
                self.favourites.remove(&(ws, ent));
                if live {
                    self.place_worker(ws);
                }
                return Ok(());
            }
            _ => {}
        }
        match x.kind {
            PreferenceKind::Blocked => {
                if !self.blocks.entry(ent).or_default().insert(ws) {
                    return Err(format!("worker {} is already blocked", x.worker_id));
                }
                self.favourites.remove(&(ws, ent));
                for &gs in &gaps {
                    self.exclude_pair(ws, gs);
                }
                if live {
                    let victims: Vec<MatchId> = self.workers[ws as usize]
                        .as_ref()
                        .expect("live")
                        .busy
                        .iter()
                        .filter(|(m, _)| {
                            let p = &self.proposals[m];
                            p.status == Status::Proposed
                                && self
                                    .g(&p.proposed.gap_id)
                                    .is_some_and(|g| g.enterprise == ent)
                        })
                        .map(|(m, _)| m.clone())
                        .collect();
                    for m in victims {
                        self.finish(
                            &m,
                            Status::Cancelled,
                            event,
                            at,
                            "preference_set",
                            Some(Party::Borrower),
                            None,
                        );
                    }
                    self.place_worker(ws);
                }
            }
            PreferenceKind::Cleared | PreferenceKind::Favourite => {
                let was = self.blocks.get_mut(&ent).is_some_and(|b| b.remove(&ws));
                if x.kind == PreferenceKind::Favourite {
                    self.favourites.insert((ws, ent));
                }
                if !was {
                    if x.kind == PreferenceKind::Cleared {
                        return Err(format!("worker {} is not marked", x.worker_id));
                    }
                    if live {
                        self.place_worker(ws);
                    }
                    return Ok(());
                }
                // Every gap slot the borrower ever posted in, withdrawn ones
                // too: a slot is reused when the gap is posted again, and
                // the lifted block must not stay behind on it.
                let slots: Vec<u32> = self
                    .excluded_pairs
                    .iter()
                    .filter(|(w, g)| *w == ws && self.gap_enterprise.get(g) == Some(&ent))
                    .map(|(_, g)| *g)
                    .collect();
                for gs in slots {
                    if self.declined.contains(&(ws, gs)) {
                        continue;
                    }
                    self.excluded_pairs.remove(&(ws, gs));
                    if live {
                        self.update_worker(ws, |r| r.excluded.retain(|g| *g != gs));
                    } else if let Some(p) = self.parked_exclusions.get_mut(&ws) {
                        p.retain(|g| *g != gs);
                    }
                }
                if live {
                    self.place_worker(ws);
                }
            }
        }
        Ok(())
    }

    /// Excludes the pair (worker slot, gap slot) from matching.
    fn exclude_pair(&mut self, ws: u32, gs: u32) {
        if !self.excluded_pairs.insert((ws, gs)) {
            return;
        }
        if self.workers[ws as usize].is_some() {
            self.update_worker(ws, |r| r.excluded.push(gs));
        } else {
            self.parked_exclusions.entry(ws).or_default().push(gs);
        }
    }

    // ----- gaps ------------------------------------------------------------

    /// Adds or replaces a gap. Standing proposals stay and keep their
    /// positions.
    ///
    /// A re-post that lowers the headcount below the positions already held
    /// cancels the excess proposals, unanswered ones first and the newest
    /// first, then accepted ones; assignments already started stand.
    pub fn post(&mut self, g: ShortagePosted, event: &EventId, at: Timestamp) {
        let slot = slot_for(&mut self.gslot, &mut self.gaps, &g.gap_id);
        self.gap_stamp.resize(self.gaps.len(), 0);
        let (taken, proposals) = match self.gaps[slot as usize].take() {
            Some(old) => {
                self.unindex_gap(slot, &old);
                (old.taken, old.proposals)
            }
            None => (0, Vec::new()),
        };
        let reqs: Vec<(u16, u8)> = g
            .requirements
            .iter()
            .map(|r| (self.skill_id(&r.skill), r.min_level.get()))
            .collect();
        let mut certs: Vec<u16> = g.certificates.iter().map(|c| self.cert_id(c)).collect();
        certs.sort_unstable();
        let enterprise = self.ent_id(&g.enterprise_id);
        self.gap_enterprise.insert(slot, enterprise);
        let blocked: Vec<u32> = self
            .blocks
            .get(&enterprise)
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        for ws in blocked {
            self.exclude_pair(ws, slot);
        }
        self.gaps[slot as usize] = Some(GapRec {
            posting: g,
            ix: None,
            taken,
            proposals,
            reqs,
            certs,
            slot,
            enterprise,
        });
        self.sync_gap(slot);
        self.trim_to_headcount(slot, event, at);
    }

    /// Removes a gap; its proposals that have not started are cancelled.
    /// Started assignments stand until they are ended: withdrawing a
    /// shortage stops new matching, not the work of people already there.
    pub fn withdraw_gap(&mut self, g: &GapId, event: &EventId, at: Timestamp) {
        let Some((slot, old)) = take_live(&self.gslot, &mut self.gaps, g) else {
            return;
        };
        self.unindex_gap(slot, &old);
        for m in old.proposals {
            let s = self.proposals[&m].status;
            if s.holds_worker() && s != Status::Started {
                self.finish(
                    &m,
                    Status::Cancelled,
                    event,
                    at,
                    "shortage_withdrawn",
                    None,
                    None,
                );
            }
        }
    }

    // ----- rounds --------------------------------------------------------

    /// Turns the solver's current assignment into proposals, in a
    /// deterministic order (by gap, then worker), and commits them.
    pub fn round(&mut self, at: Timestamp) -> Vec<MatchProposed> {
        let mut pairs: Vec<(GapId, WorkerId, u32, u32, WorkerIx)> = Vec::new();
        for gix in self.solver.take_touched_gaps() {
            let gs = self.gap_of[gix as usize];
            if gs == NONE {
                continue;
            }
            let gid = &self.gaps[gs as usize]
                .as_ref()
                .expect("live")
                .posting
                .gap_id;
            for &wix in self.solver.members(gix) {
                let ws = self.worker_of[wix as usize];
                let wid = &self.workers[ws as usize]
                    .as_ref()
                    .expect("live")
                    .profile
                    .worker_id;
                pairs.push((gid.clone(), wid.clone(), gs, ws, wix));
            }
        }
        pairs.sort();
        let mut out = Vec::with_capacity(pairs.len());
        // Each committed worker's other arcs, to re-add it without a new
        // candidate query: its eligible set only loses the gaps whose
        // windows overlap the new commitment.
        let mut kept: Vec<(u32, Vec<(GapIx, i64)>)> = Vec::with_capacity(pairs.len());
        for (g, w, gs, ws, wix) in &pairs {
            kept.push((*ws, self.solver.worker_arcs(*wix).collect()));
            self.solver.commit(*wix).expect("assigned");
            self.worker_of[*wix as usize] = NONE;
            self.ix_of[*ws as usize] = NONE;
            let ent = self.gaps[*gs as usize].as_ref().expect("live").enterprise;
            let fav = self.is_favourite(*ws, ent);
            let rec = self.workers[*ws as usize].as_mut().expect("live");
            rec.ix = None;
            let gap = self.gaps[*gs as usize].as_ref().expect("live");
            let terms: Terms = Self::terms(&self.weights, rec, gap, fav);
            let n = self.attempts.entry((*gs, *ws)).or_default();
            *n += 1;
            let match_id = match_id(&self.region, g, w, *n);
            let p = MatchProposed {
                match_id: match_id.clone(),
                gap_id: g.clone(),
                worker_id: w.clone(),
                region: self.region.clone(),
                cost: terms.total(),
                explanation: Explanation {
                    terms: terms.to_map(),
                    rules_passed: Rule::ALL.to_vec(),
                },
            };
            let event = EventId::new(format!("evt-{match_id}")).expect("valid id");
            self.record(&p, *gs, *ws, &event, at);
            out.push(p);
        }
        // Gaps whose last position was just taken leave the solver (see
        // `sync_gap`) before the committed workers come back, so that no
        // arc to them is kept.
        let mut last = NONE;
        for &(_, _, gs, _, _) in &pairs {
            if gs != last {
                self.sync_gap(gs);
                last = gs;
            }
        }
        // Committed workers come back with their arcs to gaps that are
        // still live and whose windows do not overlap the new commitment.
        for (ws, arcs) in kept {
            let rec = self.workers[ws as usize].as_ref().expect("live");
            let window = rec.busy.last().expect("just committed").1;
            let arcs: Vec<(GapIx, i64)> = arcs
                .into_iter()
                .filter(|&(gix, _)| {
                    let gs = self.gap_of[gix as usize];
                    gs != NONE
                        && !self.gaps[gs as usize]
                            .as_ref()
                            .expect("live")
                            .posting
                            .window
                            .overlaps(&window)
                })
                .collect();
            let ix = self.solver.add_worker(&arcs).expect("arcs to live gaps");
            self.set_ix(ws, ix);
        }
        out
    }
}
