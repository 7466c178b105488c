//! The matching path: an incremental solver for bipartite networks where
//! each worker supplies one unit and each gap takes up to its capacity.
//!
//! Workers `w` and gaps `g`; an arc `(w, g)` with an integer cost says that
//! `w` may fill one position of `g`. Every worker is either assigned to one
//! gap it has an arc to, or left unassigned at a fixed `unassigned_cost`.
//! [`AssignmentSolver`] keeps an assignment of least total cost. With
//! `unassigned_cost` larger than any alternating path can save (see
//! [`AssignmentSolver::lexicographic_unassigned_cost`]), least cost means:
//! the most positions filled and, among those, the cheapest — the
//! maximum-flow minimum-cost problem of DESIGN.md §4. With a smaller one it
//! is exactly the DIMACS problem "source → worker → gap → sink plus a
//! source → sink bypass arc of that cost".
//!
//! It is successive shortest paths specialised to the structure: node
//! potentials keep every residual arc's reduced cost non-negative, and each
//! Dijkstra search stops at the first target it settles and re-prices only
//! what it settled, so a search costs what it touches, not O(n). A
//! *forward* search places a worker that needs a place; a *backward* search
//! fills a gap that gained a free position. Every update starts from the
//! previous optimum and its potentials and runs a few such searches; the
//! result equals a fresh solve's optimal cost (the property tests in
//! `crates/flow/tests/properties.rs` check exactly that).
//!
//! One job per file:
//!
//! * this file: the [`AssignmentSolver`] type, its constructor and queries,
//!   the index and error types, argument checks;
//! * `updates.rs`: the updates — add or remove workers and gaps, change a
//!   capacity, add, re-cost or remove an arc, commit an assignment, bulk
//!   loading ([`AssignmentSolver::place_all`]);
//! * `forward.rs`: the forward search that places a worker;
//! * `backward.rs`: the backward search that fills a gap;
//! * `search.rs`: the Dijkstra machinery both share — node ids, per-node
//!   marks, the heap;
//! * `potentials.rs`: re-pricing after a search and for a worker about to
//!   be placed;
//! * `assignment.rs`: moving a worker on and off a gap or the pool;
//! * `arcs.rs`: the arc lists — per worker, and per gap sorted by cost;
//! * `invariants.rs`: the optimality certificate check, for tests.
//!
//! With the `serde` feature the whole solver (search scratch included)
//! serializes, for the engine's snapshots. The design — the residual graph,
//! the two searches and their shortcuts, the arc lists, bulk loading — is
//! in `docs/design/solver.md`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use search::{Mark, Node, FRESH};

mod arcs;
mod assignment;
mod backward;
mod forward;
mod invariants;
mod potentials;
mod search;
mod updates;

/// Index of a worker in an [`AssignmentSolver`].
pub type WorkerIx = u32;
/// Index of a gap in an [`AssignmentSolver`].
pub type GapIx = u32;

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The worker index is unknown or removed.
    #[error("no worker {0}")]
    NoWorker(WorkerIx),
    /// The gap index is unknown or removed.
    #[error("no gap {0}")]
    NoGap(GapIx),
    /// The worker holds no position to commit.
    #[error("worker {0} is not assigned")]
    NotAssigned(WorkerIx),
    /// An arc's cost is outside ±`max_abs_cost`.
    #[error("arc cost {cost} is outside ±{max}")]
    CostOutOfRange {
        /// The cost given.
        cost: i64,
        /// The configured bound.
        max: i64,
    },
}

/// `at[w]`: on the pool U (unassigned).
const UNASSIGNED: u32 = u32::MAX;
/// `at[w]`: removed.
const DEAD: u32 = u32::MAX - 1;
/// `at[w]`: holding its unit outside any node, waiting to be placed (only
/// inside an update, or between bulk loading and
/// [`AssignmentSolver::place_all`]).
const FREE: u32 = u32::MAX - 2;

/// The incremental bipartite assignment solver. See the module docs.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AssignmentSolver {
    unassigned_cost: i64,
    max_abs_cost: i64,
    /// Arcs out of each worker: (gap, cost).
    /// Costs are stored as `i32` (half the memory per arc); the API
    /// takes `i64` and refuses costs beyond `max_abs_cost` ≤ `i32::MAX`.
    w_arcs: Vec<Vec<(GapIx, i32)>>,
    /// Arcs into each gap: (worker, cost), sorted by cost. Mirrors `w_arcs`.
    g_arcs: Vec<Vec<(WorkerIx, i32)>>,
    /// The gap a worker is assigned to, `UNASSIGNED`, or `DEAD` (removed).
    at: Vec<u32>,
    /// Cost of the worker's current arc (meaningless when unassigned).
    at_cost: Vec<i64>,
    /// Index of the worker in its gap's `members` list, for O(1) removal.
    slot: Vec<u32>,
    /// Workers assigned to each gap.
    members: Vec<Vec<WorkerIx>>,
    /// Capacity of each gap; `DEAD` marks a removed gap.
    cap: Vec<u32>,
    /// Potentials. Invariant between calls: every residual arc has a
    /// non-negative reduced cost `c(u,v) + π(u) − π(v)`.
    pi_w: Vec<i64>,
    pi_g: Vec<i64>,
    pi_u: i64,
    pi_t: i64,
    /// A lower bound on every worker potential; with `g_arcs` sorted by
    /// cost it lets a search stop scanning a gap's arcs early.
    pi_w_floor: i64,
    /// Per gap: how long the sorted prefix of `g_arcs` is (new arcs are
    /// appended unsorted and the list is re-sorted once the tail grows),
    /// and how many entries belong to removed workers (dropped lazily: a
    /// removed worker's arcs are skipped by `at[w] == DEAD`, and the list
    /// is compacted when they are half of it). Both keep updates O(degree
    /// of the worker) instead of O(degree of its gaps).
    g_sorted: Vec<u32>,
    g_dead: Vec<u32>,
    /// Scratch space for [`AssignmentSolver::normalise`]'s merge.
    scratch: Vec<(WorkerIx, i32)>,
    unassigned: usize,
    live_workers: usize,
    total_cost: i128,
    // Search scratch.
    mark_w: Vec<Mark>,
    mark_g: Vec<Mark>,
    mark_u: Mark,
    mark_t: Mark,
    touched: Vec<Node>,
    settled: Vec<Node>,
    heap: BinaryHeap<Reverse<(i64, u64)>>,
    /// Gaps that gained a member since
    /// [`AssignmentSolver::take_touched_gaps`] was last called, and a flag
    /// per gap so each is listed once.
    touched_gaps: Vec<GapIx>,
    gap_touched: Vec<bool>,
    /// Searches run and nodes they settled, for benchmarks and tuning.
    pub stats: Stats,
}

/// Work counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// Searches run.
    pub searches: u64,
    /// Nodes settled over all searches.
    pub settled: u64,
}

impl AssignmentSolver {
    /// A solver in which leaving a worker unassigned costs `unassigned_cost`
    /// and arc costs lie within ±`max_abs_cost`.
    pub fn new(unassigned_cost: i64, max_abs_cost: i64) -> Self {
        assert!(
            (0..=i64::from(i32::MAX)).contains(&max_abs_cost),
            "max_abs_cost out of range"
        );
        assert!(
            unassigned_cost.abs() < (1 << 58),
            "unassigned_cost out of range"
        );
        Self {
            unassigned_cost,
            max_abs_cost,
            w_arcs: Vec::new(),
            g_arcs: Vec::new(),
            at: Vec::new(),
            at_cost: Vec::new(),
            slot: Vec::new(),
            members: Vec::new(),
            cap: Vec::new(),
            pi_w: Vec::new(),
            pi_g: Vec::new(),
            pi_u: 0,
            pi_t: 0,
            pi_w_floor: 0,
            g_sorted: Vec::new(),
            g_dead: Vec::new(),
            scratch: Vec::new(),
            unassigned: 0,
            live_workers: 0,
            total_cost: 0,
            mark_w: Vec::new(),
            mark_g: Vec::new(),
            mark_u: FRESH,
            mark_t: FRESH,
            touched: Vec::new(),
            settled: Vec::new(),
            heap: BinaryHeap::new(),
            touched_gaps: Vec::new(),
            gap_touched: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// An unassigned cost that makes least cost mean "most positions filled,
    /// then cheapest" for arc costs within ±`max_abs_cost` and up to
    /// `max_nodes` workers plus gaps: larger than any alternating path of
    /// at most `max_nodes` arcs can save.
    pub fn lexicographic_unassigned_cost(max_abs_cost: i64, max_nodes: u64) -> i64 {
        let c = (i128::from(max_abs_cost) * 2 + 1) * (i128::from(max_nodes) + 1) + 1;
        assert!(c < (1 << 58), "instance too large for i64 costs");
        c as i64
    }

    /// The cost of leaving a worker unassigned.
    pub fn unassigned_cost(&self) -> i64 {
        self.unassigned_cost
    }

    /// The gap worker `w` is assigned to.
    pub fn assignment(&self, w: WorkerIx) -> Option<GapIx> {
        match self.at.get(w as usize) {
            Some(&g) if g != UNASSIGNED && g != DEAD => Some(g),
            _ => None,
        }
    }

    /// The workers assigned to gap `g`.
    pub fn members(&self, g: GapIx) -> &[WorkerIx] {
        self.members.get(g as usize).map_or(&[], Vec::as_slice)
    }

    /// Positions filled.
    pub fn assigned_count(&self) -> usize {
        self.live_workers - self.unassigned
    }

    /// Workers left unassigned.
    pub fn unassigned_count(&self) -> usize {
        self.unassigned
    }

    /// Sum of the costs of the assigned arcs (without unassigned costs).
    pub fn assigned_cost(&self) -> i128 {
        self.total_cost
    }

    /// The objective: assigned cost plus `unassigned_cost` per unassigned
    /// worker.
    pub fn objective(&self) -> i128 {
        self.total_cost + i128::from(self.unassigned_cost) * self.unassigned as i128
    }

    /// The arcs out of worker `w`.
    pub fn worker_arcs(&self, w: WorkerIx) -> impl Iterator<Item = (GapIx, i64)> + '_ {
        self.w_arcs
            .get(w as usize)
            .into_iter()
            .flatten()
            .map(|&(g, c)| (g, i64::from(c)))
    }

    /// The arcs into gap `g` (in no particular order).
    pub fn gap_arcs(&self, g: GapIx) -> impl Iterator<Item = (WorkerIx, i64)> + '_ {
        self.g_arcs
            .get(g as usize)
            .into_iter()
            .flatten()
            .filter(|a| self.at[a.0 as usize] != DEAD)
            .map(|&(w, c)| (w, i64::from(c)))
    }

    /// Number of worker slots ever created (live or removed).
    pub fn worker_slots(&self) -> usize {
        self.at.len()
    }

    /// Number of gap slots ever created (live or removed).
    pub fn gap_slots(&self) -> usize {
        self.cap.len()
    }

    /// Whether worker `w` exists and was not removed.
    pub fn is_live_worker(&self, w: WorkerIx) -> bool {
        self.at.get(w as usize).is_some_and(|&a| a != DEAD)
    }

    /// Whether gap `g` exists and was not removed.
    pub fn is_live_gap(&self, g: GapIx) -> bool {
        self.cap.get(g as usize).is_some_and(|&c| c != DEAD)
    }

    /// Capacity of gap `g`.
    pub fn capacity(&self, g: GapIx) -> u32 {
        match self.cap.get(g as usize) {
            Some(&c) if c != DEAD => c,
            _ => 0,
        }
    }

    fn check_worker(&self, w: WorkerIx) -> Result<(), MatchError> {
        match self.at.get(w as usize) {
            Some(&a) if a != DEAD => Ok(()),
            _ => Err(MatchError::NoWorker(w)),
        }
    }

    fn check_gap(&self, g: GapIx) -> Result<(), MatchError> {
        match self.cap.get(g as usize) {
            Some(&c) if c != DEAD => Ok(()),
            _ => Err(MatchError::NoGap(g)),
        }
    }

    fn check_cost(&self, c: i64) -> Result<(), MatchError> {
        if c.abs() > self.max_abs_cost {
            Err(MatchError::CostOutOfRange {
                cost: c,
                max: self.max_abs_cost,
            })
        } else {
            Ok(())
        }
    }
}
