//! One region's market: workers, gaps, proposals and the solver that keeps
//! the optimal assignment of free workers to open positions.
//!
//! The solver ([`Matcher`]) holds only what is still free: a gap's capacity
//! is its headcount minus the positions held by standing proposals and
//! assignments, only gaps with a free position are in it at all (a full gap
//! leaves and comes back with a fresh scan when a position is freed; see
//! `Market::sync_gap`), and a worker's arcs go only to those gaps it is
//! eligible for under every rule of DESIGN §3 — rule 9 included, against its
//! standing commitments. A *round* turns the solver's current assignment into
//! proposals and commits them ([`Matcher::commit`] takes the pair out of
//! the problem without a search); each committed worker is then re-added
//! with its remaining arcs, so it can be proposed again for a gap whose
//! window does not overlap.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::slots::Slots;
use crate::Ids;

use lendwork_domain::*;
use lendwork_flow::bipartite::{GapIx, Matcher, WorkerIx};

use crate::cost::{CostWeights, Terms, MAX_COST};
use crate::grid::{Columns, Fx, Grid, Slotted};

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Made, not yet answered.
    Proposed,
    /// Accepted by a party.
    Accepted,
    /// The worker started.
    Started,
    /// Ended with an outcome.
    Ended(Outcome),
    /// Declined by a party.
    Declined,
    /// No answer in time.
    Expired,
    /// The worker or the gap was withdrawn while it stood.
    Cancelled,
}

impl Status {
    /// Whether the worker is still committed to the gap's window (rule 9).
    pub fn holds_worker(self) -> bool {
        matches!(self, Status::Proposed | Status::Accepted | Status::Started)
    }

    /// Whether the position is still taken.
    pub fn holds_position(self) -> bool {
        self.holds_worker()
            || matches!(self, Status::Ended(Outcome::Completed | Outcome::Cancelled))
    }
}

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
    /// Every event that touched it: (event id, time, what).
    pub history: Vec<(EventId, Timestamp, &'static str)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct WorkerRec {
    #[serde(with = "json_text")]
    profile: WorkerOffered,
    ix: Option<WorkerIx>,
    /// The lender's share of the pool at offer time, per mille.
    share_permille: u32,
    /// Standing commitments (proposed, accepted, started): rule 9.
    busy: Vec<(MatchId, Window)>,
    /// Skills and certificates as interned ids, for the fast pre-check.
    skills: Vec<(u16, u8)>,
    certs: Vec<u16>,
    /// Gap slots this worker is no longer proposed for: a proposal of the
    /// pair was declined, expired or ended in a no-show.
    excluded: Vec<u32>,
    /// Interned employer, 0 for a flexible worker.
    employer: u32,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct GapRec {
    #[serde(with = "json_text")]
    posting: ShortagePosted,
    /// The gap's solver index while it has a free position; `None` while
    /// every position is held (see [`Market::sync_gap`]).
    ix: Option<GapIx>,
    /// Positions held by proposals and finished assignments.
    taken: u32,
    /// Every proposal ever made for it.
    proposals: Vec<MatchId>,
    /// Requirements and certificates as interned ids.
    reqs: Vec<(u16, u8)>,
    certs: Vec<u16>,
    /// Its own slot (for the workers' exclusion lists).
    slot: u32,
    /// Interned borrowing enterprise.
    enterprise: u32,
}

/// Why a worker was not proposed for a gap.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum WhyNot {
    /// One of them is unknown here.
    Unknown,
    /// An eligibility rule fails (the first, in the order of §3).
    Rule {
        /// The rule.
        rule: Rule,
    },
    /// A proposal of this pair was declined, expired or ended in a no-show;
    /// the pair is not proposed again.
    Excluded,
    /// They are matched: a proposal stands.
    Proposed {
        /// The proposal.
        match_id: MatchId,
    },
    /// Eligible, but the optimum used them otherwise: the gap's free
    /// positions went to cheaper or higher-precedence workers, or the
    /// worker serves another gap at lower total cost.
    Outcompeted {
        /// Free positions left in the gap.
        open: u32,
        /// The gap the worker is tentatively matched to, if any.
        worker_matched_to: Option<GapId>,
    },
}

const NONE: u32 = u32::MAX;
/// Standing commitments a grid entry carries itself (rule 9).
const BUSY_INLINE: usize = 3;
/// Grid key of "any skill".
const ALL: u32 = 0;
/// Commute classes of the worker grid: class c holds workers whose commute
/// limit is at most 5·2^c km (the last class holds the rest).
const CLASSES: u32 = 6;

fn commute_class(km: f64) -> u32 {
    (0..CLASSES - 1)
        .find(|&c| km <= 5.0 * f64::from(1u32 << c))
        .unwrap_or(CLASSES - 1)
}

fn class_reach(class: u32, max_km: f64) -> f64 {
    if class == CLASSES - 1 {
        max_km
    } else {
        5.0 * f64::from(1u32 << class)
    }
}

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
    #[serde(with = "proposals_snapshot")]
    pub(crate) proposals: HashMap<MatchId, Box<Proposal>, Ids>,
    /// How often each pair was proposed, for deterministic new ids.
    attempts: HashMap<(u32, u32), u32, Ids>,
    matcher: Matcher,
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
}

/// A worker as the grid stores it: its slot and the few numbers that
/// reject most gaps without touching the worker's record. Every test here
/// is a necessary condition of eligibility (skill bits are taken modulo 64,
/// which can only let more through; distance has a 1 % margin over the
/// haversine), so the index never hides an eligible pair.
///
/// While a market has interned at most 64 skills and 64 certificates the
/// bits are exact, and then the entry also decides eligibility and cost on
/// its own ([`WCand::cost`]) for a worker with at most one commitment and
/// no exclusions — the common case, and the one that keeps candidate scans
/// inside the grid's memory instead of chasing every worker's record.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct WCand {
    slot: u32,
    from: i32,
    to: i32,
    min_wage: i64,
    /// `has[l-1]`: bits of the skills held at level ≥ l.
    has: [u64; 5],
    /// Bits of the certificates held.
    certs: u64,
    lat: f64,
    lon: f64,
    commute: f64,
    /// Last day the worker may be lent to (rule 3): `i32::MIN` without
    /// consent, the contract's end, or `i32::MAX`.
    lend_until: i32,
    /// Interned employer (0: a flexible worker), for rule 2.
    employer: u32,
    /// The worker's standing commitments (rule 9) as day ranges, when it
    /// has at most [`BUSY_INLINE`]; `busy_n` counts them, and above that
    /// the record decides.
    busy_n: u8,
    busy: [(i32, i32); BUSY_INLINE],
    /// Whether some gap is excluded for this worker (then the market's
    /// exclusion set is asked).
    excl: bool,
    /// Cosine of the latitude, for the distance pre-check.
    coslat: f64,
    /// In one of the policy's priority groups.
    priority: bool,
    /// The lender's share of the pool at offer time, per mille.
    share: u32,
}

impl WCand {
    fn of(slot: u32, rec: &WorkerRec) -> Self {
        let (w, skills, certs) = (&rec.profile, &rec.skills, &rec.certs);
        let lend_until = match (&w.employer_id, w.consent, w.contract_end) {
            (None, _, _) => i32::MAX,
            (Some(_), false, _) => i32::MIN,
            (Some(_), true, end) => end.map_or(i32::MAX, |d| d.day_number()),
        };
        let mut busy = [(0, 0); BUSY_INLINE];
        for (slot, b) in busy.iter_mut().zip(&rec.busy) {
            *slot = (b.1.start.day_number(), b.1.end.day_number());
        }
        let mut has = [0u64; 5];
        for &(s, l) in skills.iter() {
            for h in has.iter_mut().take(l as usize) {
                *h |= 1 << (s % 64);
            }
        }
        Self {
            slot,
            from: w.available.start.day_number(),
            to: w.available.end.day_number(),
            min_wage: w.min_hourly_wage_fen.get(),
            has,
            certs: bits(certs.iter().copied()),
            lat: w.home.lat(),
            lon: w.home.lon(),
            commute: w.max_commute_km.get(),
            lend_until,
            employer: rec.employer,
            busy_n: rec.busy.len().min(BUSY_INLINE + 1) as u8,
            busy,
            excl: !rec.excluded.is_empty(),
            coslat: w.home.lat().to_radians().cos(),
            priority: w.priority_group.is_some(),
            share: rec.share_permille,
        }
    }

    /// Whether [`WCand::cost`] may decide for this worker: the market's
    /// bits are `exact` and the worker's commitments and exclusions are
    /// all in the entry.
    fn decides(&self, exact: bool) -> bool {
        exact && usize::from(self.busy_n) <= BUSY_INLINE
    }

    /// For a pair that [`WCand::fits`], when [`WCand::decides`]: the exact
    /// commute check (rule 7, the haversine as the domain computes it) and
    /// the pair's cost, priced by the same [`CostWeights::terms_raw`] as
    /// the record path. With exact bits, `fits` has decided rules 2–6, 8
    /// and 9 exactly, and over-qualification is counted on the level bits:
    /// a requirement of skill s at level l held at level L has s in
    /// `has[l..L]`, that is L − l bits above the requirement's level.
    fn cost(&self, weights: &CostWeights, g: &GCand) -> Option<i64> {
        let km = haversine_deg_cos(self.lat, self.lon, self.coslat, g.lat, g.lon, g.coslat);
        if !(km <= self.commute && km <= g.max_commute) {
            return None;
        }
        let mut over = 0u64;
        for l in 0..5 {
            for above in &self.has[l + 1..] {
                over += u64::from((g.req[l] & above).count_ones());
            }
        }
        let terms = weights.terms_raw(km, g.wage, self.min_wage, over, self.priority, self.share);
        Some(terms.total() as i64)
    }

    /// Could this worker take this gap?
    fn fits(&self, g: &GCand) -> bool {
        self.from <= g.start
            && g.end <= self.to
            && g.wage >= self.min_wage
            && (0..5).all(|l| g.req[l] & !self.has[l] == 0)
            && g.certs & !self.certs == 0
            && g.end <= self.lend_until
            && (self.employer == 0 || self.employer != g.enterprise)
            && !self.busy[..usize::from(self.busy_n).min(BUSY_INLINE)]
                .iter()
                .any(|b| b.0 <= g.end && g.start <= b.1)
            && {
                // Equirectangular distance, good to far better than 1 % at
                // commuting range; the smaller of the two cosines (never
                // above the midpoint's, on one side of the equator) only
                // shortens it, so the test stays a necessary condition.
                let dy = (self.lat - g.lat) * 111.195;
                let dx = (self.lon - g.lon) * 111.195 * self.coslat.min(g.coslat);
                let limit = self.commute.min(g.max_commute) * 1.01 + 0.05;
                dx * dx + dy * dy <= limit * limit
            }
    }
}

/// A gap as the grid stores it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct GCand {
    slot: u32,
    start: i32,
    end: i32,
    wage: i64,
    /// `req[l-1]`: bits of the skills required at minimum level l.
    req: [u64; 5],
    /// Bits of the certificates required.
    certs: u64,
    lat: f64,
    lon: f64,
    /// Infinite when the gap sets no limit.
    max_commute: f64,
    /// Cosine of the latitude, for the distance pre-check.
    coslat: f64,
    /// Interned borrowing enterprise, for rule 2.
    enterprise: u32,
    /// The gap's solver index.
    ix: GapIx,
}

impl GCand {
    /// Bits of every skill required, at any level.
    fn required(&self) -> u64 {
        self.req.iter().fold(0, |a, r| a | r)
    }

    fn of(slot: u32, rec: &GapRec) -> Self {
        let (g, reqs, certs) = (&rec.posting, &rec.reqs, &rec.certs);
        let mut req = [0u64; 5];
        for &(s, l) in reqs.iter() {
            req[(l as usize).clamp(1, 5) - 1] |= 1 << (s % 64);
        }
        Self {
            slot,
            start: g.window.start.day_number(),
            end: g.window.end.day_number(),
            wage: g.hourly_wage_fen.get(),
            req,
            certs: bits(certs.iter().copied()),
            lat: g.site.lat(),
            lon: g.site.lon(),
            max_commute: g.max_commute_km.map_or(f64::INFINITY, |k| k.get()),
            coslat: g.site.lat().to_radians().cos(),
            enterprise: rec.enterprise,
            ix: rec.ix.unwrap_or(NONE),
        }
    }
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
        let unassigned = Matcher::lexicographic_unassigned_cost(MAX_COST as i64, 1 << 25);
        Self {
            stats: MarketStats::default(),
            changed: Vec::new(),
            unanswered: BTreeSet::new(),
            region,
            weights,
            wslot: HashMap::default(),
            workers: Slots::new(),
            gslot: HashMap::default(),
            gaps: Slots::new(),
            proposals: HashMap::default(),
            attempts: HashMap::default(),
            matcher: Matcher::new(unassigned, MAX_COST as i64),
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

    /// Whether the grid entries' skill and certificate bits are exact: at
    /// most 64 skills (ids 1–64) and 64 certificates (ids 0–63) interned.
    /// Ids are never freed, so once false it stays false.
    fn exact_bits(&self) -> bool {
        !self.records_only && self.skill_ids.len() <= 64 && self.cert_ids.len() <= 64
    }

    fn skill_id(&mut self, s: &Skill) -> u16 {
        intern(&mut self.skill_ids, s, |n| {
            u16::try_from(n + 1).unwrap_or(u16::MAX)
        })
    }

    fn ent_id(&mut self, e: &EnterpriseId) -> u32 {
        intern(&mut self.ent_ids, e, |n| n as u32 + 1)
    }

    fn cert_id(&mut self, c: &Certificate) -> u16 {
        intern(&mut self.cert_ids, c, |n| {
            u16::try_from(n).unwrap_or(u16::MAX)
        })
    }

    /// The region.
    pub fn region(&self) -> &Region {
        &self.region
    }

    fn w(&self, id: &WorkerId) -> Option<&WorkerRec> {
        self.wslot
            .get(id)
            .and_then(|&s| self.workers[s as usize].as_ref())
    }

    fn g(&self, id: &GapId) -> Option<&GapRec> {
        self.gslot
            .get(id)
            .and_then(|&s| self.gaps[s as usize].as_ref())
    }

    /// Whether the worker is offered here.
    pub fn has_worker(&self, w: &WorkerId) -> bool {
        self.w(w).is_some()
    }

    /// Whether the gap is posted here.
    pub fn has_gap(&self, g: &GapId) -> bool {
        self.g(g).is_some()
    }

    /// Live workers.
    pub fn worker_count(&self) -> usize {
        self.workers.iter().filter(|w| w.is_some()).count()
    }

    /// Live gaps.
    pub fn gap_count(&self) -> usize {
        self.gaps.iter().filter(|g| g.is_some()).count()
    }

    /// The profile of a worker.
    pub fn worker(&self, w: &WorkerId) -> Option<&WorkerOffered> {
        self.w(w).map(|r| &r.profile)
    }

    /// The posting of a gap.
    pub fn gap(&self, g: &GapId) -> Option<&ShortagePosted> {
        self.g(g).map(|r| &r.posting)
    }

    /// Free positions of a gap.
    pub fn open(&self, g: &GapId) -> u32 {
        self.g(g)
            .map_or(0, |r| r.posting.headcount.get().saturating_sub(r.taken))
    }

    /// Every gap with its free positions, sorted by id.
    pub fn open_positions(&self) -> Vec<(GapId, u32)> {
        let mut v: Vec<_> = self
            .gaps
            .iter()
            .flatten()
            .map(|r| {
                (
                    r.posting.gap_id.clone(),
                    r.posting.headcount.get().saturating_sub(r.taken),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Every live gap with its open positions, in no particular order
    /// (for statistics; nothing is cloned).
    pub fn gaps_with_open(&self) -> impl Iterator<Item = (&ShortagePosted, u32)> + '_ {
        self.gaps.iter().flatten().map(|r| {
            (
                &r.posting,
                r.posting.headcount.get().saturating_sub(r.taken),
            )
        })
    }

    /// The cost of worker `w` in gap `g` — the sum of the terms a proposal
    /// of the pair would carry — whether or not the pair is eligible;
    /// `None` when either is unknown here. The property tests check each
    /// round's total against an independent solver with it.
    pub fn pair_cost(&self, w: &WorkerId, g: &GapId) -> Option<u64> {
        Some(Self::terms(&self.weights, self.w(w)?, self.g(g)?).total())
    }

    /// Windows the worker is committed to (rule 9).
    pub fn busy(&self, w: &WorkerId) -> Vec<Window> {
        self.w(w)
            .map_or_else(Vec::new, |r| r.busy.iter().map(|b| b.1).collect())
    }

    /// The solver's work counters.
    pub fn solver_stats(&self) -> lendwork_flow::bipartite::Stats {
        self.matcher.stats
    }

    /// Pairs the solver currently assigns (what the next round proposes).
    pub fn pending_pairs(&self) -> usize {
        self.matcher.assigned_count()
    }

    /// Eligibility: a pre-check on integers (wage, dates, interned skills
    /// and certificates, rule 9) rejects most candidates cheaply; a pair
    /// that passes is confirmed by the domain's own rules, in the order of
    /// DESIGN §3, which alone decide. (Interning is exact, so the pre-check
    /// never rejects an eligible pair; the property tests compare with the
    /// domain rules on every pair.)
    fn eligible(w: &WorkerRec, g: &GapRec) -> Result<(), Rule> {
        if Self::quick(w, g) {
            if let Some(r) = Rule::ALL
                .into_iter()
                .find(|&r| r != Rule::NoOverlap && !r.holds(&w.profile, &g.posting, &[]))
            {
                return Err(r);
            }
            return Ok(());
        }
        Err(Self::first_failure(w, &g.posting))
    }

    /// Candidate filter, called after the grid entry's `fits` (which
    /// decides rules 2 and 3 exactly on interned data): [`Market::quick`]
    /// decides rules 4–9 exactly on the records; rule 1 holds by
    /// construction (a market holds one region). The property tests check
    /// every proposal against the domain's own rules.
    /// Returns the pair's cost when it is admitted.
    fn admits(weights: &CostWeights, w: &WorkerRec, g: &GapRec) -> Option<i64> {
        let km = Self::quick_km(w, g)?;
        if w.excluded.contains(&g.slot) {
            return None;
        }
        Some(Self::terms_km(weights, w, g, km).total() as i64)
    }

    /// The pair's cost terms, over-qualification counted on interned skills.
    fn terms(weights: &CostWeights, w: &WorkerRec, g: &GapRec) -> Terms {
        Self::terms_km(
            weights,
            w,
            g,
            haversine_km(&w.profile.home, &g.posting.site),
        )
    }

    fn terms_km(weights: &CostWeights, w: &WorkerRec, g: &GapRec, km: f64) -> Terms {
        let over: u64 = g
            .reqs
            .iter()
            .filter_map(|&(s, l)| {
                w.skills
                    .iter()
                    .find(|x| x.0 == s)
                    .map(|x| u64::from(x.1.saturating_sub(l)))
            })
            .sum();
        weights.terms_with(&w.profile, &g.posting, w.share_permille, over, km)
    }

    fn quick(w: &WorkerRec, g: &GapRec) -> bool {
        Self::quick_km(w, g).is_some()
    }

    /// Rules 4–9 on the records; the distance when they hold.
    fn quick_km(w: &WorkerRec, g: &GapRec) -> Option<f64> {
        let (wp, gp) = (&w.profile, &g.posting);
        let ok = gp.hourly_wage_fen >= wp.min_hourly_wage_fen
            && wp.available.contains(&gp.window)
            && g.reqs
                .iter()
                .all(|&(s, l)| w.skills.iter().any(|&(ws, wl)| ws == s && wl >= l))
            && g.certs.iter().all(|c| w.certs.binary_search(c).is_ok())
            && !w.busy.iter().any(|b| b.1.overlaps(&gp.window));
        if !ok {
            return None;
        }
        let km = haversine_km(&wp.home, &gp.site);
        (km <= wp.max_commute_km.get() && gp.max_commute_km.map_or(true, |m| km <= m.get()))
            .then_some(km)
    }

    fn first_failure(w: &WorkerRec, g: &ShortagePosted) -> Rule {
        Rule::ALL
            .into_iter()
            .find(|&r| {
                if r == Rule::NoOverlap {
                    w.busy.iter().any(|b| b.1.overlaps(&g.window))
                } else {
                    !r.holds(&w.profile, g, &[])
                }
            })
            .unwrap_or(Rule::NoOverlap)
    }

    // ----- workers -------------------------------------------------------

    /// Adds or replaces a worker's profile. Standing proposals stay.
    pub fn offer(&mut self, w: WorkerOffered) {
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
        self.workers[slot as usize] = Some(WorkerRec {
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
    }

    /// Removes a worker; its standing proposals are cancelled.
    pub fn withdraw_worker(&mut self, w: &WorkerId, event: &EventId, at: Timestamp) {
        let Some((slot, old)) = take_live(&self.wslot, &mut self.workers, w) else {
            return;
        };
        self.unindex_worker(slot, &old);
        if !old.excluded.is_empty() {
            self.parked_exclusions.insert(slot, old.excluded);
        }
        for (m, _) in old.busy {
            self.finish(&m, Status::Cancelled, event, at, "worker_withdrawn");
        }
    }

    /// Adds (or removes) worker `slot`'s entries in the worker grid.
    fn grid_worker(&mut self, slot: u32, rec: &WorkerRec, add: bool) {
        let p = &rec.profile;
        let class = commute_class(p.max_commute_km.get());
        let cand = WCand::of(slot, rec);
        let keys = std::iter::once(ALL).chain(rec.skills.iter().map(|s| u32::from(s.0)));
        for key in keys {
            if add {
                self.worker_grid
                    .insert(key * CLASSES + class, &p.home, cand);
            } else {
                self.worker_grid
                    .remove(key * CLASSES + class, &p.home, cand);
            }
        }
    }

    fn index_worker(&mut self, slot: u32, add: bool) {
        let rec = self.workers[slot as usize].take().expect("live");
        self.grid_worker(slot, &rec, add);
        self.workers[slot as usize] = Some(rec);
    }

    /// Changes a worker's record in a way its grid entries reflect (its
    /// commitments), keeping the grid in step.
    ///
    /// The change leaves the worker's place, skills and commute as they
    /// are, so its entries stay where they are filed and are overwritten
    /// in place.
    fn update_worker(&mut self, slot: u32, f: impl FnOnce(&mut WorkerRec)) {
        let rec = self.workers[slot as usize].as_mut().expect("live");
        let old = WCand::of(slot, rec);
        f(rec);
        let new = WCand::of(slot, rec);
        if old == new {
            return;
        }
        let class = commute_class(rec.profile.max_commute_km.get());
        let keys = std::iter::once(ALL).chain(rec.skills.iter().map(|s| u32::from(s.0)));
        for key in keys {
            self.worker_grid
                .replace(key * CLASSES + class, &rec.profile.home, old, new);
        }
    }

    /// Takes the worker out of the solver, the indexes and the pool counts.
    fn unindex_worker(&mut self, slot: u32, rec: &WorkerRec) {
        let p = &rec.profile;
        if let Some(ix) = rec.ix {
            self.matcher.remove_worker(ix).expect("live worker");
            self.worker_of[ix as usize] = NONE;
            self.ix_of[slot as usize] = NONE;
        }
        self.grid_worker(slot, rec, false);
        if let Some(e) = &p.employer_id {
            if let Some(n) = self.lender_pool.get_mut(e) {
                *n -= 1;
            }
        }
        self.pool -= 1;
    }

    /// (Re-)enters a worker into the solver with arcs to every gap it is
    /// eligible for now.
    fn place_worker(&mut self, slot: u32) {
        let rec = self.workers[slot as usize].as_mut().expect("live worker");
        if let Some(ix) = rec.ix.take() {
            self.matcher.remove_worker(ix).expect("live worker");
            self.worker_of[ix as usize] = NONE;
            self.ix_of[slot as usize] = NONE;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.gap_stamp.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
        let rec = self.workers[slot as usize].as_ref().expect("live worker");
        let w = &rec.profile;
        let mut arcs = Vec::new();
        let keys =
            std::iter::once((ALL, 5)).chain(rec.skills.iter().map(|s| (u32::from(s.0), s.1)));
        let decides = WCand::of(slot, rec).decides(self.exact_bits());
        let min_wage = fen32(w.min_hourly_wage_fen.get());
        let (gaps, stamps, epoch, weights, excluded) = (
            &self.gaps,
            &mut self.gap_stamp,
            self.epoch,
            &self.weights,
            &self.excluded_pairs,
        );
        let mut scanned = 0u64;
        let me = WCand::of(slot, rec);
        for (key, level) in keys {
            self.gap_grid.near(
                key,
                &w.home,
                w.max_commute_km.get(),
                |h: &GCols, out: &mut Vec<u32>| h.may_fit(&me, min_wage, level, out),
                |c: &GCand| {
                    if !me.fits(c) {
                        return;
                    }
                    let gs = c.slot;
                    if stamps[gs as usize] == epoch {
                        return;
                    }
                    stamps[gs as usize] = epoch;
                    scanned += 1;
                    let cost = if decides {
                        if me.excl && excluded.contains(&(slot, gs)) {
                            return;
                        }
                        me.cost(weights, c)
                    } else {
                        let gr = gaps[gs as usize].as_ref().expect("indexed gaps are live");
                        Self::admits(weights, rec, gr)
                    };
                    if let Some(cost) = cost {
                        arcs.push((c.ix, cost));
                    }
                },
            );
        }
        self.stats.worker_scans += 1;
        self.stats.candidates_scanned += scanned;
        self.stats.arcs_added += arcs.len() as u64;
        let ix = self
            .matcher
            .add_worker(&arcs)
            .expect("arcs to live gaps within the cost bound");
        self.set_ix(slot, ix);
    }

    /// Records that worker `slot` is solver worker `ix`.
    fn set_ix(&mut self, slot: u32, ix: WorkerIx) {
        if self.worker_of.len() <= ix as usize {
            self.worker_of.resize(ix as usize + 1, NONE);
        }
        self.worker_of[ix as usize] = slot;
        if self.ix_of.len() <= slot as usize {
            self.ix_of.resize(slot as usize + 1, NONE);
        }
        self.ix_of[slot as usize] = ix;
        self.workers[slot as usize].as_mut().expect("live").ix = Some(ix);
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

    fn trim_to_headcount(&mut self, slot: u32, event: &EventId, at: Timestamp) {
        for wanted in [Status::Proposed, Status::Accepted] {
            let gap = self.gaps[slot as usize].as_ref().expect("live");
            let mut excess = gap.taken.saturating_sub(gap.posting.headcount.get());
            if excess == 0 {
                return;
            }
            let victims: Vec<MatchId> = gap
                .proposals
                .iter()
                .rev()
                .filter(|m| self.proposals[*m].status == wanted)
                .take(excess as usize)
                .cloned()
                .collect();
            for m in victims {
                self.finish(&m, Status::Cancelled, event, at, HEADCOUNT_LOWERED);
                excess -= 1;
            }
        }
    }

    /// Removes a gap; its standing proposals are cancelled.
    pub fn withdraw_gap(&mut self, g: &GapId, event: &EventId, at: Timestamp) {
        let Some((slot, old)) = take_live(&self.gslot, &mut self.gaps, g) else {
            return;
        };
        self.unindex_gap(slot, &old);
        for m in old.proposals {
            if self.proposals[&m].status.holds_worker() {
                self.finish(&m, Status::Cancelled, event, at, "shortage_withdrawn");
            }
        }
    }

    fn unindex_gap(&mut self, slot: u32, rec: &GapRec) {
        if let Some(ix) = rec.ix {
            self.gap_grid
                .remove(Self::gap_key(rec), &rec.posting.site, GCand::of(slot, rec));
            self.matcher.remove_gap(ix).expect("live gap");
            self.gap_of[ix as usize] = NONE;
        }
    }

    /// The grid key a gap is filed under: its first requirement's skill.
    fn gap_key(rec: &GapRec) -> u32 {
        rec.reqs.first().map_or(ALL, |r| u32::from(r.0))
    }

    /// Brings gap `slot`'s place in the solver and the gap grid in line
    /// with its free positions (headcount minus the positions held).
    ///
    /// Only a gap with a free position is in the solver and the gap grid,
    /// with an arc from every eligible worker; a gap whose positions are
    /// all held has neither. Such a gap could carry no flow — its arc to
    /// the sink has no capacity and it has no members — so its arcs change
    /// no optimum, yet they were most of the market's arcs: on a market
    /// with more workers than positions, nearly every gap is full a round
    /// after it is posted, and each offered worker used to scan and keep
    /// arcs to the hundreds of full gaps in its reach. So a gap leaves the
    /// solver when its last position is taken and comes back, with a fresh
    /// scan of the workers, when a position is freed (a decline, expiry,
    /// no-show, cancellation or a raised headcount).
    fn sync_gap(&mut self, slot: u32) {
        let rec = self.gaps[slot as usize].as_ref().expect("live");
        let free = rec.posting.headcount.get().saturating_sub(rec.taken);
        match (rec.ix, free) {
            (None, 0) => {}
            (Some(_), 0) => {
                let rec = self.gaps[slot as usize].take().expect("live");
                self.unindex_gap(slot, &rec);
                self.gaps[slot as usize] = Some(GapRec { ix: None, ..rec });
            }
            (Some(ix), free) => self.matcher.set_capacity(ix, free).expect("live gap"),
            (None, free) => {
                let (arcs, scanned) = self.gap_arcs(rec);
                self.stats.gap_scans += 1;
                self.stats.candidates_scanned += scanned;
                self.stats.arcs_added += arcs.len() as u64;
                let ix = self
                    .matcher
                    .add_gap_with_arcs(free, &arcs)
                    .expect("arcs from live workers");
                if self.gap_of.len() <= ix as usize {
                    self.gap_of.resize(ix as usize + 1, NONE);
                }
                self.gap_of[ix as usize] = slot;
                let rec = self.gaps[slot as usize].as_mut().expect("live");
                rec.ix = Some(ix);
                let rec = self.gaps[slot as usize].as_ref().expect("live");
                self.gap_grid
                    .insert(Self::gap_key(rec), &rec.posting.site, GCand::of(slot, rec));
            }
        }
    }

    /// The arcs into gap `rec` from every worker in the solver that is
    /// eligible for it, found through the worker grid, and the number of
    /// candidates checked.
    fn gap_arcs(&self, rec: &GapRec) -> (Vec<(WorkerIx, i64)>, u64) {
        let slot = rec.slot;
        let key = Self::gap_key(rec);
        let radius = rec
            .posting
            .max_commute_km
            .map_or(self.max_commute_km, |k| k.get().min(self.max_commute_km));
        let mut arcs = Vec::new();
        let (workers, weights, ix_of, excluded) = (
            &self.workers,
            &self.weights,
            &self.ix_of,
            &self.excluded_pairs,
        );
        let exact = self.exact_bits();
        // Workers are bucketed by commute class: a class is searched only as
        // far as its workers are willing to travel.
        let mut scanned = 0u64;
        let me = GCand::of(slot, rec);
        let (wage, need) = (fen32(me.wage), rec.reqs.first().map_or(0, |r| r.1));
        let required = me.required();
        for class in 0..CLASSES {
            let reach = radius.min(class_reach(class, self.max_commute_km));
            self.worker_grid.near(
                key * CLASSES + class,
                &rec.posting.site,
                reach,
                |h: &WCols, out: &mut Vec<u32>| h.may_fit(&me, wage, need, required, out),
                |c: &WCand| {
                    if !c.fits(&me) {
                        return;
                    }
                    let ws = c.slot;
                    scanned += 1;
                    let ix = ix_of.get(ws as usize).copied().unwrap_or(NONE);
                    if ix == NONE {
                        return;
                    }
                    let cost = if c.decides(exact) {
                        if c.excl && excluded.contains(&(ws, slot)) {
                            return;
                        }
                        c.cost(weights, &me)
                    } else {
                        let wr = workers[ws as usize]
                            .as_ref()
                            .expect("indexed workers are live");
                        Self::admits(weights, wr, rec)
                    };
                    if let Some(cost) = cost {
                        arcs.push((ix, cost));
                    }
                },
            );
        }
        (arcs, scanned)
    }

    // ----- proposals -----------------------------------------------------

    /// Turns the solver's current assignment into proposals, in a
    /// deterministic order (by gap, then worker), and commits them.
    pub fn round(&mut self, at: Timestamp) -> Vec<MatchProposed> {
        let mut pairs: Vec<(GapId, WorkerId, u32, u32, WorkerIx)> = Vec::new();
        for gix in self.matcher.take_touched_gaps() {
            let gs = self.gap_of[gix as usize];
            if gs == NONE {
                continue;
            }
            let gid = &self.gaps[gs as usize]
                .as_ref()
                .expect("live")
                .posting
                .gap_id;
            for &wix in self.matcher.members(gix) {
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
            kept.push((*ws, self.matcher.worker_arcs(*wix).collect()));
            self.matcher.commit(*wix).expect("assigned");
            self.worker_of[*wix as usize] = NONE;
            self.ix_of[*ws as usize] = NONE;
            let rec = self.workers[*ws as usize].as_mut().expect("live");
            rec.ix = None;
            let gap = self.gaps[*gs as usize].as_ref().expect("live");
            let terms: Terms = Self::terms(&self.weights, rec, gap);
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
            let ix = self.matcher.add_worker(&arcs).expect("arcs to live gaps");
            self.set_ix(ws, ix);
        }
        out
    }

    fn record(&mut self, p: &MatchProposed, gs: u32, ws: u32, event: &EventId, at: Timestamp) {
        let gap = self.gaps[gs as usize].as_mut().expect("live");
        let window = gap.posting.window;
        gap.taken += 1;
        gap.proposals.push(p.match_id.clone());
        let m = p.match_id.clone();
        self.update_worker(ws, |r| r.busy.push((m, window)));
        self.changed.push(p.match_id.clone());
        self.unanswered.insert((at, p.match_id.clone()));
        self.proposals.insert(
            p.match_id.clone(),
            Box::new(Proposal {
                proposed: p.clone(),
                status: Status::Proposed,
                window,
                history: vec![(event.clone(), at, "match_proposed")],
            }),
        );
    }

    /// The proposals made or changed (in status) since the last call, in
    /// the order it happened; a proposal may appear more than once. The
    /// matcher uses this to keep reservations and read models in step.
    pub fn take_changed(&mut self) -> Vec<MatchId> {
        std::mem::take(&mut self.changed)
    }

    /// A `match_proposed` read from the log. Our own (same id) changes
    /// nothing; a foreign one is taken as a commitment when both sides are
    /// here, the pair is eligible and the gap has a free position.
    pub fn proposed(
        &mut self,
        p: &MatchProposed,
        event: &EventId,
        at: Timestamp,
    ) -> Result<(), String> {
        if self.proposals.contains_key(&p.match_id) {
            return Ok(());
        }
        let (Some(&ws), Some(&gs)) = (self.wslot.get(&p.worker_id), self.gslot.get(&p.gap_id))
        else {
            return Err("worker or gap unknown in this region".into());
        };
        let (Some(w), Some(g)) = (
            self.workers[ws as usize].as_ref(),
            self.gaps[gs as usize].as_ref(),
        ) else {
            return Err("worker or gap withdrawn".into());
        };
        if let Err(rule) = Self::eligible(w, g) {
            return Err(format!(
                "not eligible: rule {} ({rule}) fails",
                rule.number()
            ));
        }
        if w.excluded.contains(&gs) {
            return Err("the pair was declined, expired or did not show before".into());
        }
        if g.posting.headcount.get() <= g.taken {
            return Err("the gap has no free position".into());
        }
        self.record(p, gs, ws, event, at);
        self.sync_gap(gs);
        self.place_worker(ws);
        Ok(())
    }

    /// A decision, start or end for a standing proposal.
    pub fn transition(
        &mut self,
        m: &MatchId,
        to: Status,
        event: &EventId,
        at: Timestamp,
        what: &'static str,
    ) -> Result<(), String> {
        let Some(p) = self.proposals.get(m) else {
            return Err(format!("unknown match {m}"));
        };
        let allowed = match (p.status, to) {
            (Status::Proposed, Status::Accepted | Status::Declined | Status::Expired) => true,
            (Status::Accepted, Status::Declined | Status::Started) => true,
            (Status::Proposed, Status::Started) => true,
            (Status::Started, Status::Ended(_)) => true,
            (a, b) if a == b => return Ok(()),
            _ => false,
        };
        if !allowed {
            return Err(format!(
                "match {m} is {:?}; {what} does not apply",
                p.status
            ));
        }
        self.finish(m, to, event, at, what);
        Ok(())
    }

    /// Moves a proposal to `to`, freeing the worker and the position as
    /// the new status says, and re-optimising (back-fill).
    fn finish(
        &mut self,
        m: &MatchId,
        to: Status,
        event: &EventId,
        at: Timestamp,
        what: &'static str,
    ) {
        let p = self.proposals.get_mut(m).expect("known");
        let before = p.status;
        p.status = to;
        self.changed.push(m.clone());
        if before == Status::Proposed && to != Status::Proposed {
            self.unanswered.remove(&(p.history[0].1, m.clone()));
        }
        debug_assert!(history_name(what).is_some(), "{what}: not a history name");
        p.history.push((event.clone(), at, what));
        let (g, w) = (p.proposed.gap_id.clone(), p.proposed.worker_id.clone());
        if before.holds_position() && !to.holds_position() {
            if let Some(&gs) = self.gslot.get(&g) {
                if let Some(gap) = self.gaps[gs as usize].as_mut() {
                    gap.taken -= 1;
                    self.sync_gap(gs);
                }
            }
        }
        let exclude = matches!(
            to,
            Status::Declined | Status::Expired | Status::Ended(Outcome::NoShow)
        );
        if before.holds_worker() && !to.holds_worker() {
            if let Some(&ws) = self.wslot.get(&w) {
                if self.workers[ws as usize].is_some() {
                    let gs = if exclude {
                        self.gslot.get(&g).copied()
                    } else {
                        None
                    };
                    self.excluded_pairs.extend(gs.map(|g| (ws, g)));
                    self.update_worker(ws, |rec| {
                        rec.busy.retain(|b| &b.0 != m);
                        rec.excluded.extend(gs);
                    });
                    self.place_worker(ws);
                }
            }
        }
    }

    /// Proposals made before `cutoff` and still unanswered.
    pub fn stale(&self, cutoff: Timestamp) -> Vec<MatchId> {
        self.unanswered
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Why `w` was not proposed for `g`.
    pub fn why_not(&self, w: &WorkerId, g: &GapId) -> WhyNot {
        let (Some(wr), Some(gr)) = (self.w(w), self.g(g)) else {
            return WhyNot::Unknown;
        };
        if let Some((m, _)) = wr
            .busy
            .iter()
            .find(|(m, _)| &self.proposals[m].proposed.gap_id == g)
        {
            return WhyNot::Proposed {
                match_id: m.clone(),
            };
        }
        if let Err(rule) = Self::eligible(wr, gr) {
            return WhyNot::Rule { rule };
        }
        if wr.excluded.contains(&gr.slot) {
            return WhyNot::Excluded;
        }
        let worker_matched_to = wr.ix.and_then(|ix| self.matcher.assignment(ix)).map(|gix| {
            let gs = self.gap_of[gix as usize];
            self.gaps[gs as usize]
                .as_ref()
                .expect("live")
                .posting
                .gap_id
                .clone()
        });
        WhyNot::Outcompeted {
            open: self.open(g),
            worker_matched_to,
        }
    }

    /// Checks the market's own invariants (tests): positions within
    /// headcounts, no worker in overlapping commitments, every standing
    /// proposal eligible apart from itself, the solver's certificate.
    pub fn check_invariants(&self) -> Result<(), String> {
        let unanswered: BTreeSet<(Timestamp, MatchId)> = self
            .proposals
            .values()
            .filter(|p| p.status == Status::Proposed)
            .map(|p| (p.history[0].1, p.proposed.match_id.clone()))
            .collect();
        if unanswered != self.unanswered {
            return Err("the expiry queue differs from the unanswered proposals".into());
        }
        for rec in self.gaps.iter().flatten() {
            let held = rec
                .proposals
                .iter()
                .filter(|m| self.proposals[*m].status.holds_position())
                .count();
            // Started and finished assignments stand even when the
            // headcount was lowered below them.
            let fixed = rec
                .proposals
                .iter()
                .filter(|m| {
                    matches!(
                        self.proposals[*m].status,
                        Status::Started | Status::Ended(_)
                    )
                })
                .filter(|m| self.proposals[*m].status.holds_position())
                .count();
            if held as u32 != rec.taken || rec.taken > rec.posting.headcount.get().max(fixed as u32)
            {
                return Err(format!(
                    "gap {}: {held} held, {} counted, headcount {}",
                    rec.posting.gap_id,
                    rec.taken,
                    rec.posting.headcount.get()
                ));
            }
        }
        for rec in self.workers.iter().flatten() {
            let busy = &rec.busy;
            for (i, a) in busy.iter().enumerate() {
                if busy[i + 1..].iter().any(|b| a.1.overlaps(&b.1)) {
                    return Err(format!(
                        "worker {} holds overlapping commitments",
                        rec.profile.worker_id
                    ));
                }
                if !self.proposals[&a.0].status.holds_worker() {
                    return Err(format!(
                        "worker {} lists a finished proposal as busy",
                        rec.profile.worker_id
                    ));
                }
            }
        }
        self.matcher.check_invariants()
    }
}

/// A 64-bit set of interned ids, taken modulo 64: a superset test on such
/// sets is a necessary condition for the exact one.
fn bits(ids: impl Iterator<Item = u16>) -> u64 {
    ids.fold(0, |m, c| m | 1 << (c % 64))
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
fn slot_for<K: Clone + Eq + std::hash::Hash, V>(
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
fn take_live<K: Eq + std::hash::Hash, V>(
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
const HEADCOUNT_LOWERED: &str = "headcount_lowered";

/// The `&'static str` a history entry's name stands for (a snapshot
/// restores them by name).
fn history_name(what: &str) -> Option<&'static str> {
    EVENT_TYPES
        .iter()
        .copied()
        .chain([HEADCOUNT_LOWERED])
        .find(|w| *w == what)
}

/// An event body in a snapshot, as its JSON text. Snapshots encode structs
/// by position (a quarter smaller and faster than by field name), which a
/// body whose optional fields are left out when empty cannot survive; its
/// own JSON form, the one the event contract defines, can.
mod json_text {
    use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(v).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

/// A market's proposals in a snapshot: whole, window included (the
/// public [`Proposal`] serialization is the audit trail's, which leaves
/// the window out), as a sequence in the map's order.
mod proposals_snapshot {
    use super::*;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Out<'a> {
        proposed: &'a MatchProposed,
        status: Status,
        window: &'a Window,
        history: &'a [(EventId, Timestamp, &'static str)],
    }

    #[derive(Deserialize)]
    struct In {
        proposed: MatchProposed,
        status: Status,
        window: Window,
        history: Vec<(EventId, Timestamp, String)>,
    }

    pub fn serialize<S: Serializer>(
        map: &HashMap<MatchId, Box<Proposal>, Ids>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.values().map(|p| Out {
            proposed: &p.proposed,
            status: p.status,
            window: &p.window,
            history: &p.history,
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<MatchId, Box<Proposal>, Ids>, D::Error> {
        let all = Vec::<In>::deserialize(d)?;
        let mut map = HashMap::with_capacity_and_hasher(all.len(), Ids::default());
        for p in all {
            let mut history = Vec::with_capacity(p.history.len());
            for (e, at, what) in p.history {
                let what = history_name(&what).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown history entry {what:?}"))
                })?;
                history.push((e, at, what));
            }
            let id = p.proposed.match_id.clone();
            let proposal = Proposal {
                proposed: p.proposed,
                status: p.status,
                window: p.window,
                history,
            };
            if map.insert(id.clone(), Box::new(proposal)).is_some() {
                return Err(serde::de::Error::custom(format!("proposal {id} twice")));
            }
        }
        Ok(map)
    }
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

/// Fen as `i32`, saturating: monotone, so comparing the results is a
/// necessary condition of comparing the originals.
fn fen32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// A worker's pre-check summary: the tests that reject most gaps (window,
/// wage, contract, first commitment, level in the key's skill, skills).
///
/// Every column is 32 bits wide or less, so that the tests run as many
/// lanes at once as x86-64's baseline SSE2 allows (64-bit lanes have no
/// SSE2 compare): the last day the worker may serve is one column, the
/// earlier of its availability's end and its contract's (a gap must end by
/// both), and the skill bits are folded to 32 (a subset before folding is
/// a subset after, so the test stays a necessary condition).
#[derive(Clone, Copy, Debug)]
struct WHot {
    from: i32,
    /// `min(to, lend_until)` of the entry.
    until: i32,
    min_wage: i32,
    /// The first standing commitment, or an empty range.
    busy: (i32, i32),
    /// The worker's level in the key's skill (5 under "any skill").
    level: u8,
    /// Bits of every skill held, at any level, folded to 32 ([`fold32`]).
    skills: u32,
}

/// 64 skill bits folded to 32 (bit `s` lands on bit `s % 32`).
fn fold32(bits: u64) -> u32 {
    (bits as u32) | ((bits >> 32) as u32)
}

/// [`WHot`] by columns.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct WCols {
    from: Vec<i32>,
    until: Vec<i32>,
    min_wage: Vec<i32>,
    busy_from: Vec<i32>,
    busy_to: Vec<i32>,
    level: Vec<u8>,
    skills: Vec<u32>,
}

/// Implements [`Columns`] for a struct of column vectors named like the
/// row's fields (`(column, field expression on the row)` pairs).
macro_rules! columns {
    ($cols:ty, $row:ty, $($col:ident = $get:expr),+ $(,)?) => {
        impl Columns for $cols {
            type Row = $row;
            fn push(&mut self, r: $row) {
                $(self.$col.push($get(&r));)+
            }
            fn swap_remove(&mut self, i: usize) {
                $(self.$col.swap_remove(i);)+
            }
            fn set(&mut self, i: usize, r: $row) {
                $(self.$col[i] = $get(&r);)+
            }
        }
    };
}

columns!(
    WCols,
    WHot,
    from = |r: &WHot| r.from,
    until = |r: &WHot| r.until,
    min_wage = |r: &WHot| r.min_wage,
    busy_from = |r: &WHot| r.busy.0,
    busy_to = |r: &WHot| r.busy.1,
    level = |r: &WHot| r.level,
    skills = |r: &WHot| r.skills,
);

/// Pushes the rows `i` in `0..n` for which `ok(i)` holds, testing 32 rows
/// at a time into a bit mask without branches (so the tests run several
/// lanes at once) and branching only on the rows that pass; the last
/// few rows one by one.
///
/// Each row's result selects its bit from a constant (`ok ? 1 << j : 0`)
/// in 32-bit lanes, which x86-64's baseline SSE2 runs four rows per
/// instruction (shifting each result into a `u64` ran two). Blocks are
/// short because most cells are: with blocks of 64 most rows fell to the
/// remainder. Callgrind on the 20k / 4k run, the worker scans' pre-check:
/// 217 M instructions with 64-row `u64` masks, 146 M with 32-row blocks
/// (151 M with 16, 185 M with 8; a 32-then-16 split through a helper
/// function lost the vectorisation: 242 M).
#[inline(always)]
fn passing(n: usize, out: &mut Vec<u32>, ok: impl Fn(usize) -> bool) {
    const BLOCK: usize = 32;
    let mut base = 0;
    while base + BLOCK <= n {
        let mut bits = 0u32;
        for j in 0..BLOCK {
            bits |= 0u32.wrapping_sub(u32::from(ok(base + j))) & (1 << j);
        }
        while bits != 0 {
            out.push((base + bits.trailing_zeros() as usize) as u32);
            bits &= bits - 1;
        }
        base += BLOCK;
    }
    for i in base..n {
        if ok(i) {
            out.push(i as u32);
        }
    }
}

impl WCols {
    /// The rows that may fit gap `g` whose requirement in the key's skill
    /// is level `need` and whose required skills have the bits `required`
    /// (a necessary condition of [`WCand::fits`]).
    fn may_fit(&self, g: &GCand, wage: i32, need: u8, required: u64, out: &mut Vec<u32>) {
        let n = self.from.len();
        let required = fold32(required);
        let (from, until, min_wage) = (&self.from[..n], &self.until[..n], &self.min_wage[..n]);
        let (bf, bt, level, skills) = (
            &self.busy_from[..n],
            &self.busy_to[..n],
            &self.level[..n],
            &self.skills[..n],
        );
        passing(n, out, |i| {
            (from[i] <= g.start)
                & (g.end <= until[i])
                & (wage >= min_wage[i])
                & !((bf[i] <= g.end) & (g.start <= bt[i]))
                & (level[i] >= need)
                & (required & !skills[i] == 0)
        });
    }
}

impl Slotted for WCand {
    type Hot = WCols;
    fn slot(&self) -> u32 {
        self.slot
    }
    fn hot(&self, key: u32) -> WHot {
        let skill = key / CLASSES;
        let level = if skill == ALL {
            5
        } else {
            let bit = 1u64 << (skill % 64);
            self.has.iter().filter(|h| *h & bit != 0).count() as u8
        };
        WHot {
            from: self.from,
            until: self.to.min(self.lend_until),
            min_wage: fen32(self.min_wage),
            busy: if self.busy_n > 0 {
                self.busy[0]
            } else {
                (i32::MAX, i32::MIN)
            },
            level,
            skills: fold32(self.has[0]),
        }
    }
}

/// A gap's pre-check summary.
#[derive(Clone, Copy, Debug)]
struct GHot {
    start: i32,
    end: i32,
    wage: i32,
    /// The level required in the key's skill (0 under "any skill").
    level: u8,
    /// Bits of every skill required, at any level.
    required: u64,
}

/// [`GHot`] by columns.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct GCols {
    start: Vec<i32>,
    end: Vec<i32>,
    wage: Vec<i32>,
    level: Vec<u8>,
    required: Vec<u64>,
}

columns!(
    GCols,
    GHot,
    start = |r: &GHot| r.start,
    end = |r: &GHot| r.end,
    wage = |r: &GHot| r.wage,
    level = |r: &GHot| r.level,
    required = |r: &GHot| r.required,
);

impl GCols {
    /// The rows that may fit worker `w` whose level in the key's skill is
    /// `level` (a necessary condition of [`WCand::fits`]).
    fn may_fit(&self, w: &WCand, min_wage: i32, level: u8, out: &mut Vec<u32>) {
        let n = self.start.len();
        let (start, end, wage, lv, req) = (
            &self.start[..n],
            &self.end[..n],
            &self.wage[..n],
            &self.level[..n],
            &self.required[..n],
        );
        let has = w.has[0];
        passing(n, out, |i| {
            (w.from <= start[i])
                & (end[i] <= w.to)
                & (wage[i] >= min_wage)
                & (end[i] <= w.lend_until)
                & (lv[i] <= level)
                & (req[i] & !has == 0)
        });
    }
}

impl Slotted for GCand {
    type Hot = GCols;
    fn slot(&self) -> u32 {
        self.slot
    }
    fn hot(&self, key: u32) -> GHot {
        let level = if key == ALL {
            0
        } else {
            // The lowest level at which the key's bit is required (with
            // colliding bits, the weakest: still a necessary condition).
            let bit = 1u64 << (key % 64);
            self.req
                .iter()
                .position(|r| r & bit != 0)
                .map_or(0, |l| l as u8 + 1)
        };
        GHot {
            start: self.start,
            end: self.end,
            wage: fen32(self.wage),
            level,
            required: self.required(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The grid entries' own verdict ([`WCand::fits`] + [`WCand::cost`])
    //! against the records' ([`Market::admits`], which the domain's rules
    //! back): for every pair, the same eligibility and the same cost.

    use super::*;
    use proptest::prelude::*;

    const SKILLS: [&str; 6] = [
        "forklift", "cashier", "welding", "cooking", "driving", "sewing",
    ];
    const CERTS: [&str; 4] = ["safety", "health", "electric", "crane"];

    fn day(n: u8) -> Date {
        Date::parse("2026-03-01").unwrap().plus_days(i64::from(n))
    }

    /// Distinct certificates by index.
    fn certificates(ix: Vec<u8>) -> Vec<Certificate> {
        ix.into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|c| Certificate::new(CERTS[c as usize]).unwrap())
            .collect()
    }

    fn span(start: u8, len: u8) -> Window {
        Window::new(day(start), day(start).plus_days(i64::from(len))).unwrap()
    }

    #[allow(clippy::type_complexity)]
    fn worker() -> impl Strategy<
        Value = (
            Vec<(u8, u8)>,
            Vec<u8>,
            (u8, u8),
            i64,
            f64,
            (i16, i16),
            bool,
            Option<(u8, bool)>,
            Vec<(u8, u8)>,
        ),
    > {
        (
            proptest::collection::vec((0u8..6, 1u8..=5), 0..5),
            proptest::collection::vec(0u8..4, 0..3),
            (0u8..30, 10u8..90),
            1500i64..3500,
            1.0f64..40.0,
            (-300i16..300, -300i16..300),
            any::<bool>(),
            proptest::option::of((0u8..3, any::<bool>())),
            proptest::collection::vec((0u8..90, 0u8..20), 0..5),
        )
    }

    #[allow(clippy::type_complexity)]
    fn gap() -> impl Strategy<
        Value = (
            Vec<(u8, u8)>,
            Vec<u8>,
            (u8, u8),
            i64,
            Option<f64>,
            (i16, i16),
            u8,
        ),
    > {
        (
            proptest::collection::vec((0u8..6, 1u8..=5), 0..4),
            proptest::collection::vec(0u8..4, 0..2),
            (0u8..40, 0u8..40),
            1500i64..3500,
            proptest::option::of(1.0f64..40.0),
            (-300i16..300, -300i16..300),
            0u8..3,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn grid_entries_decide_like_the_records(w in worker(), gs in proptest::collection::vec(gap(), 1..6)) {
            let region = Region::new("620100").unwrap();
            let mut m = Market::new(region.clone(), CostWeights::default());
            let (skills, certs, (start, len), min_wage, commute, (n, e), priority, lender, busy) = w;
            let mut seen = HashSet::new();
            let offered = WorkerOffered {
                worker_id: WorkerId::new("w").unwrap(),
                region: region.clone(),
                home: Place::new(36.06 + f64::from(n) / 1110.0, 103.83 + f64::from(e) / 900.0).unwrap(),
                skills: skills
                    .into_iter()
                    .filter(|s| seen.insert(s.0))
                    .map(|(s, l)| SkillLevel {
                        skill: Skill::new(SKILLS[s as usize]).unwrap(),
                        level: Level::new(i64::from(l)).unwrap(),
                    })
                    .collect(),
                certificates: certificates(certs),
                available: span(start, len),
                max_commute_km: Km::new(commute).unwrap(),
                min_hourly_wage_fen: Fen::new(min_wage).unwrap(),
                employer_id: lender.map(|(l, _)| EnterpriseId::new(format!("e{l}")).unwrap()),
                consent: lender.map_or(true, |(_, c)| c),
                contract_end: lender.map(|(l, _)| day(30 + 20 * l)),
                priority_group: priority.then_some(PriorityGroup::Graduate),
            };
            m.offer(offered);
            let ws = m.wslot[&WorkerId::new("w").unwrap()];
            for (i, (reqs, certs, (start, len), wage, max_commute, (n, e), ent)) in gs.into_iter().enumerate() {
                let mut seen = HashSet::new();
                let posting = ShortagePosted {
                    gap_id: GapId::new(format!("g{i}")).unwrap(),
                    enterprise_id: EnterpriseId::new(format!("e{ent}")).unwrap(),
                    region: region.clone(),
                    site: Place::new(36.06 + f64::from(n) / 1110.0, 103.83 + f64::from(e) / 900.0).unwrap(),
                    requirements: reqs
                        .into_iter()
                        .filter(|s| seen.insert(s.0))
                        .map(|(s, l)| Requirement {
                            skill: Skill::new(SKILLS[s as usize]).unwrap(),
                            min_level: Level::new(i64::from(l)).unwrap(),
                        })
                        .collect(),
                    certificates: certificates(certs),
                    headcount: Headcount::new(1).unwrap(),
                    window: span(start, len),
                    hourly_wage_fen: Fen::new(wage).unwrap(),
                    max_commute_km: max_commute.map(|k| Km::new(k).unwrap()),
                    industry: None,
                };
                m.post(posting, &EventId::new(format!("p{i}")).unwrap(), Timestamp::from_unix_seconds(0).unwrap());
            }
            // Commitments, straight into the record (the grid entry is
            // rebuilt from it below).
            let rec = m.workers[ws as usize].as_mut().unwrap();
            for (i, &(s, l)) in busy.iter().enumerate() {
                rec.busy.push((MatchId::new(format!("b{i}")).unwrap(), span(s, l)));
            }
            let rec = m.workers[ws as usize].as_ref().unwrap();
            let wc = WCand::of(ws, rec);
            prop_assert!(m.exact_bits());
            for g in m.gaps.iter().flatten() {
                let gc = GCand::of(g.slot, g);
                let by_records = Market::admits(&m.weights, rec, g)
                    .filter(|_| rec.profile.employer_id.as_ref() != Some(&g.posting.enterprise_id))
                    .filter(|_| Rule::ConsentAndContract.holds(&rec.profile, &g.posting, &[]));
                let by_entries = if wc.fits(&gc) && wc.decides(true) {
                    wc.cost(&m.weights, &gc)
                } else if wc.fits(&gc) {
                    // More commitments than the entry carries: the record decides.
                    Market::admits(&m.weights, rec, g)
                } else {
                    None
                };
                prop_assert_eq!(by_entries, by_records, "gap {}", g.posting.gap_id);
                // The summary passes every worker the entry takes.
                let mut cols = WCols::default();
                cols.push(wc.hot(Market::gap_key(g) * CLASSES));
                let mut rows = Vec::new();
                let need = g.reqs.first().map_or(0, |r| r.1);
                cols.may_fit(&gc, fen32(gc.wage), need, gc.required(), &mut rows);
                if wc.fits(&gc) {
                    prop_assert_eq!(rows, vec![0], "the summary rejects gap {}", g.posting.gap_id);
                }
                if let Some(cost) = by_records {
                    prop_assert_eq!(cost, Market::terms(&m.weights, rec, g).total() as i64);
                    prop_assert_eq!(Market::eligible(rec, g).is_ok() || !rec.busy.is_empty(), true);
                }
            }
        }

        /// The blocked, branch-free filter lists exactly the rows that
        /// pass, in order, for every length (whole blocks and remainders).
        #[test]
        fn passing_lists_exactly_the_rows_that_pass(keep in proptest::collection::vec(any::<bool>(), 0..200)) {
            let mut out = Vec::new();
            passing(keep.len(), &mut out, |i| keep[i]);
            let want: Vec<u32> = (0..keep.len() as u32).filter(|&i| keep[i as usize]).collect();
            prop_assert_eq!(out, want);
        }
    }
}
