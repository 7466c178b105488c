//! The matching path: an incremental solver for bipartite networks where
//! each worker supplies one unit and each gap takes up to its capacity.
//!
//! ## The problem
//!
//! Workers `w` and gaps `g`; an arc `(w, g)` with an integer cost says that
//! `w` may fill one position of `g`. Every worker is either assigned to one
//! gap it has an arc to, or left unassigned at a fixed `unassigned_cost`.
//! The solver keeps an assignment of least total cost. With
//! `unassigned_cost` larger than any alternating path can save (see
//! [`Matcher::lexicographic_unassigned_cost`]), least cost means: the most
//! positions filled and, among those, the cheapest — the maximum-flow
//! minimum-cost problem of DESIGN.md §4. With a smaller one it is exactly
//! the DIMACS problem "source → worker → gap → sink plus a source → sink
//! bypass arc of that cost".
//!
//! ## How
//!
//! This is successive shortest paths specialised to the structure. The
//! residual graph has worker nodes, gap nodes, a pool node `U` for the
//! unassigned and the sink `T`. Node potentials keep every residual arc's
//! reduced cost non-negative, so Dijkstra finds shortest paths, and each
//! search stops at the first target it settles and re-prices only the
//! nodes it settled (the Jonker–Volgenant trick), so a search costs what it
//! touches, not O(n). Two searches do all the work:
//!
//! * **forward** from a worker that needs a place (new, or displaced): the
//!   cheapest chain of moves `w → g₁ → w₁ → g₂ → … → T` ending in a gap
//!   with a free position or in the pool `U`;
//! * **backward** into a gap that gained a free position (capacity raised,
//!   a worker left): the cheapest chain that fills it, i.e. a negative
//!   cycle through the new residual arc `g → T`, if one exists; the search
//!   is cut off as soon as no cycle can be negative.
//!
//! Every update (add or remove a worker or gap, change a capacity, add,
//! re-cost or remove an arc) is a few of these searches starting from the
//! previous optimum and its potentials; the result equals a fresh solve's
//! optimal cost (the property tests check exactly that).
//!
//! A static solve is the same thing: add the gaps, then the workers one by
//! one. Early workers take their cheapest free gap directly; as gaps fill,
//! the potentials learn which areas are saturated, so later searches stay
//! short.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Index of a worker in a [`Matcher`].
pub type WorkerIx = u32;
/// Index of a gap in a [`Matcher`].
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
/// inside an update, or between bulk loading and [`Matcher::place_all`]).
const FREE: u32 = u32::MAX - 2;
const INF: i64 = i64::MAX / 4;

/// Node ids inside searches: workers, then gaps (tagged), then U and T.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum Node {
    W(u32),
    G(u32),
    U,
    T,
}

impl Node {
    fn pack(self) -> u64 {
        match self {
            Node::W(w) => u64::from(w),
            Node::G(g) => (1 << 32) | u64::from(g),
            Node::U => 2 << 32,
            Node::T => 3 << 32,
        }
    }
    fn unpack(x: u64) -> Node {
        let v = (x & 0xffff_ffff) as u32;
        match x >> 32 {
            0 => Node::W(v),
            1 => Node::G(v),
            2 => Node::U,
            _ => Node::T,
        }
    }
}

/// Per-node search scratch, reset only where touched.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Mark {
    dist: i64,
    /// Previous node on the path (forward) or next node (backward).
    link: Node,
    done: bool,
}

const FRESH: Mark = Mark {
    dist: INF,
    link: Node::T,
    done: false,
};

/// The incremental bipartite solver. See the module docs.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Matcher {
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
    /// Scratch space for [`Matcher::normalise`]'s merge.
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
    /// Gaps that gained a member since [`Matcher::take_touched_gaps`] was
    /// last called, and a flag per gap so each is listed once.
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

impl Matcher {
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

    // ----- queries -------------------------------------------------------

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

    // ----- updates -------------------------------------------------------

    /// Adds a gap with `capacity` positions and no arcs yet; arcs come with
    /// workers ([`Matcher::add_worker`]) or through [`Matcher::set_arc`].
    pub fn add_gap(&mut self, capacity: u32) -> GapIx {
        assert!(capacity < DEAD, "capacity too large");
        let g = self.cap.len() as GapIx;
        self.cap.push(capacity);
        self.g_arcs.push(Vec::new());
        self.g_sorted.push(0);
        self.g_dead.push(0);
        self.members.push(Vec::new());
        // No arcs in; its arc to T has reduced cost π(g) − π(T) = 0.
        self.pi_g.push(self.pi_t);
        self.mark_g.push(FRESH);
        self.gap_touched.push(false);
        g
    }

    /// The gaps that gained a member since the last call (each once, in
    /// the order they were first touched). Their members include every
    /// assignment made since then, so a caller that commits all
    /// assignments after each call finds them here without scanning every
    /// gap.
    pub fn take_touched_gaps(&mut self) -> Vec<GapIx> {
        for &g in &self.touched_gaps {
            self.gap_touched[g as usize] = false;
        }
        std::mem::take(&mut self.touched_gaps)
    }

    /// Adds a gap together with its arcs from existing workers, then
    /// re-optimises (the new positions pull in whoever they serve best).
    pub fn add_gap_with_arcs(
        &mut self,
        capacity: u32,
        arcs: &[(WorkerIx, i64)],
    ) -> Result<GapIx, MatchError> {
        for &(w, c) in arcs {
            self.check_worker(w)?;
            self.check_cost(c)?;
        }
        let g = self.add_gap(capacity);
        // Price the gap so that every arc into it has reduced cost ≥ 0.
        let mut p = self.pi_t;
        for &(w, c) in arcs {
            p = p.min(c + self.pi_w[w as usize]);
        }
        self.pi_g[g as usize] = p;
        // The gap's list sorted by cost. The gap is new, so the only
        // parallel arcs are within `arcs`: in cost order a worker's first
        // arc is its cheapest, and a later one finds the gap already at
        // the end of the worker's own list — which spares a second sort.
        let mut gl: Vec<(WorkerIx, i32)> = arcs.iter().map(|&(w, c)| (w, c as i32)).collect();
        gl.sort_unstable_by_key(|&(w, c)| (c, w));
        let w_arcs = &mut self.w_arcs;
        gl.retain(|&(w, c)| {
            let list = &mut w_arcs[w as usize];
            if list.last().is_some_and(|a| a.0 == g) {
                return false;
            }
            list.push((g, c));
            true
        });
        self.g_sorted[g as usize] = gl.len() as u32;
        self.g_arcs[g as usize] = gl;
        self.fill(g);
        Ok(g)
    }

    /// Adds a worker with its arcs and re-optimises.
    pub fn add_worker(&mut self, arcs: &[(GapIx, i64)]) -> Result<WorkerIx, MatchError> {
        for &(g, c) in arcs {
            self.check_gap(g)?;
            self.check_cost(c)?;
        }
        let w = self.new_worker_slot();
        // Parallel arcs: keep the cheapest (sort, then keep each gap's first).
        let mut list: Vec<(GapIx, i64)> = arcs.to_vec();
        list.sort_unstable();
        list.dedup_by_key(|a| a.0);
        self.w_arcs[w as usize] = list.iter().map(|&(g, c)| (g, c as i32)).collect();
        for (g, c) in list {
            self.g_arc_insert(g, w, c);
        }
        self.place(w);
        Ok(w)
    }

    /// Adds a worker with its arcs without placing it; call
    /// [`Matcher::place_all`] once all are in. Bulk loading uses this, so
    /// that arcs are stored before any search runs.
    pub fn add_worker_unplaced(&mut self, arcs: &[(GapIx, i64)]) -> Result<WorkerIx, MatchError> {
        for &(g, c) in arcs {
            self.check_gap(g)?;
            self.check_cost(c)?;
        }
        let w = self.new_worker_slot();
        // Appended unsorted; `place_all` sorts each gap's list once.
        self.w_arcs[w as usize].reserve_exact(arcs.len());
        for &(g, c) in arcs {
            if self.w_arcs[w as usize].iter().any(|a| a.0 == g) {
                self.insert_arc(w, g, c);
            } else {
                self.w_arcs[w as usize].push((g, c as i32));
                self.g_arcs[g as usize].push((w, c as i32));
            }
        }
        Ok(w)
    }

    fn new_worker_slot(&mut self) -> WorkerIx {
        let w = self.at.len() as WorkerIx;
        self.w_arcs.push(Vec::new());
        self.at.push(UNASSIGNED);
        self.at_cost.push(0);
        self.slot.push(0);
        self.pi_w.push(0);
        self.mark_w.push(FRESH);
        self.at[w as usize] = FREE;
        self.live_workers += 1;
        w
    }

    /// Removes worker `w` (its assignment and arcs) and re-optimises.
    pub fn remove_worker(&mut self, w: WorkerIx) -> Result<(), MatchError> {
        self.check_worker(w)?;
        let freed = self.detach(w);
        self.bury(w);
        if let Some(g) = freed {
            self.fill(g);
        }
        Ok(())
    }

    /// Removes gap `g`; its workers look for other places.
    pub fn remove_gap(&mut self, g: GapIx) -> Result<(), MatchError> {
        self.check_gap(g)?;
        let displaced: Vec<WorkerIx> = self.members[g as usize].clone();
        for &w in &displaced {
            self.detach(w);
        }
        for (w, _) in std::mem::take(&mut self.g_arcs[g as usize]) {
            if self.at[w as usize] == DEAD {
                continue;
            }
            let list = &mut self.w_arcs[w as usize];
            if let Some(i) = list.iter().position(|a| a.0 == g) {
                list.swap_remove(i);
            }
        }
        self.g_sorted[g as usize] = 0;
        self.g_dead[g as usize] = 0;
        self.cap[g as usize] = DEAD;
        for w in displaced {
            self.reprice_free_worker(w);
            self.place(w);
        }
        Ok(())
    }

    /// Takes worker `w`'s assignment out of the problem: the worker and the
    /// position it holds both leave (the engine does this when a proposal
    /// is made — proposals stand, so they no longer take part). Returns the
    /// gap. Removing a matched pair keeps every remaining reduced cost as it
    /// was, so this needs no search at all.
    pub fn commit(&mut self, w: WorkerIx) -> Result<GapIx, MatchError> {
        self.check_worker(w)?;
        let Some(g) = self.assignment(w) else {
            return Err(MatchError::NotAssigned(w));
        };
        self.detach(w);
        self.cap[g as usize] -= 1;
        self.bury(w);
        Ok(g)
    }

    /// Changes the capacity of gap `g` and re-optimises.
    pub fn set_capacity(&mut self, g: GapIx, capacity: u32) -> Result<(), MatchError> {
        self.check_gap(g)?;
        assert!(capacity < DEAD, "capacity too large");
        let old = self.cap[g as usize];
        self.cap[g as usize] = capacity;
        if capacity > old {
            self.fill(g);
        } else {
            // Displace the most expensive members until it fits; the forward
            // searches may swap them back against cheaper ones.
            let mut displaced = Vec::new();
            while self.members[g as usize].len() > capacity as usize {
                let &w = self.members[g as usize]
                    .iter()
                    .max_by_key(|&&w| (self.at_cost[w as usize], w))
                    .expect("non-empty");
                self.detach(w);
                displaced.push(w);
            }
            for w in displaced {
                self.reprice_free_worker(w);
                self.place(w);
            }
        }
        Ok(())
    }

    /// Adds the arc `(w, g)`, changes its cost, or (with `None`) removes it,
    /// and re-optimises.
    pub fn set_arc(&mut self, w: WorkerIx, g: GapIx, cost: Option<i64>) -> Result<(), MatchError> {
        self.check_worker(w)?;
        self.check_gap(g)?;
        if let Some(c) = cost {
            self.check_cost(c)?;
        }
        let holds = self.at[w as usize] == g;
        let wl = &mut self.w_arcs[w as usize];
        let existing = wl.iter().position(|a| a.0 == g);
        match (existing, cost) {
            (None, None) => return Ok(()),
            (Some(i), None) => {
                wl.swap_remove(i);
                self.g_arc_remove(g, w);
            }
            (Some(i), Some(c)) => {
                wl[i].1 = c as i32;
                self.g_arc_remove(g, w);
                self.g_arc_insert(g, w, c);
            }
            (None, Some(c)) => self.insert_arc(w, g, c),
        }
        // Does the change break the reduced-cost invariant? If the worker
        // holds this arc, its cost changed (or the arc is gone): re-place
        // the worker. Otherwise only a new or cheaper arc can matter.
        let needs =
            holds || cost.is_some_and(|c| c + self.pi_w[w as usize] - self.pi_g[g as usize] < 0);
        if needs {
            let freed = self.detach(w);
            self.reprice_free_worker(w);
            if let Some(h) = freed {
                self.fill(h);
            }
            self.reprice_free_worker(w);
            self.place(w);
        }
        Ok(())
    }

    /// Places every worker that is waiting (see
    /// [`Matcher::add_worker_unplaced`]).
    ///
    /// On a fresh load where positions are scarcer than workers, the work
    /// is done from the gap side: every waiting worker starts in the pool U
    /// and each gap pulls in its cheapest chains ([`Matcher::fill`]), so each
    /// search starts from the scarce side and stops at the first free
    /// worker it meets. Otherwise workers are placed one by one.
    pub fn place_all(&mut self) {
        for g in 0..self.g_arcs.len() {
            if self.g_sorted[g] as usize != self.g_arcs[g].len() || self.g_dead[g] > 0 {
                self.normalise(g as GapIx);
            }
        }
        let fresh = self.live_workers == self.unassigned + self.count_free()
            && self.total_cost == 0
            && self.members.iter().all(Vec::is_empty);
        let positions: u64 = self
            .cap
            .iter()
            .filter(|&&c| c != DEAD)
            .map(|&c| u64::from(c))
            .sum();
        if fresh && positions < self.count_free() as u64 {
            let pw = self.pi_u - self.unassigned_cost;
            for w in 0..self.at.len() {
                if self.at[w] == FREE {
                    self.pi_w[w] = pw;
                    self.pi_w_floor = self.pi_w_floor.min(pw);
                    self.at[w] = UNASSIGNED;
                    self.unassigned += 1;
                }
            }
            for g in 0..self.cap.len() {
                if self.cap[g] == DEAD {
                    continue;
                }
                let mut p = self.pi_g[g].min(self.pi_t);
                for &(w, c) in &self.g_arcs[g] {
                    if self.at[w as usize] != DEAD {
                        p = p.min(i64::from(c) + self.pi_w[w as usize]);
                    }
                }
                self.pi_g[g] = p;
            }
            for g in 0..self.cap.len() as u32 {
                self.fill(g);
            }
        }
        for w in 0..self.at.len() as u32 {
            if self.at[w as usize] == FREE {
                self.place(w);
            }
        }
    }

    fn count_free(&self) -> usize {
        self.at.iter().filter(|&&a| a == FREE).count()
    }

    // ----- internals -----------------------------------------------------

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

    fn insert_arc(&mut self, w: WorkerIx, g: GapIx, c: i64) {
        let wl = &mut self.w_arcs[w as usize];
        if let Some(i) = wl.iter().position(|a| a.0 == g) {
            // A parallel arc: only the cheaper one can ever be used.
            if c < i64::from(wl[i].1) {
                wl[i].1 = c as i32;
                self.g_arc_remove(g, w);
                self.g_arc_insert(g, w, c);
            }
            return;
        }
        wl.push((g, c as i32));
        self.g_arc_insert(g, w, c);
    }

    fn g_arc_insert(&mut self, g: GapIx, w: WorkerIx, c: i64) {
        let list = &mut self.g_arcs[g as usize];
        list.push((w, c as i32));
        let sorted = self.g_sorted[g as usize] as usize;
        if list.len() - sorted > 32 + sorted / 8 {
            self.normalise(g);
        }
    }

    /// Drops the arcs of removed workers from gap `g`'s list and sorts it
    /// by cost.
    ///
    /// The list is a sorted prefix and an unsorted tail; only the tail is
    /// sorted, then merged into the prefix — the same order a full sort
    /// gives (keys are distinct), at the cost of the tail.
    fn normalise(&mut self, g: GapIx) {
        let key = |a: &(WorkerIx, i32)| (a.1, a.0);
        let list = &mut self.g_arcs[g as usize];
        let mut head = (self.g_sorted[g as usize] as usize).min(list.len());
        if self.g_dead[g as usize] > 0 {
            let at = &self.at;
            let (mut kept, mut kept_head) = (0, 0);
            for i in 0..list.len() {
                let a = list[i];
                if at[a.0 as usize] != DEAD {
                    list[kept] = a;
                    kept += 1;
                    if i < head {
                        kept_head += 1;
                    }
                }
            }
            list.truncate(kept);
            head = kept_head;
            self.g_dead[g as usize] = 0;
        }
        list[head..].sort_unstable_by_key(key);
        if head > 0 && head < list.len() && key(&list[head - 1]) > key(&list[head]) {
            // Merge from the back: the tail moves to scratch, the larger of
            // the two fronts fills the list from its end.
            let tail = &mut self.scratch;
            tail.clear();
            tail.extend_from_slice(&list[head..]);
            let (mut i, mut j) = (head, tail.len());
            for k in (0..list.len()).rev() {
                if j == 0 {
                    break;
                }
                if i > 0 && key(&list[i - 1]) > key(&tail[j - 1]) {
                    list[k] = list[i - 1];
                    i -= 1;
                } else {
                    list[k] = tail[j - 1];
                    j -= 1;
                }
            }
        }
        self.g_sorted[g as usize] = list.len() as u32;
    }

    /// Removes one arc of a live worker from gap `g`'s list, keeping the
    /// sorted prefix sorted.
    fn g_arc_remove(&mut self, g: GapIx, w: WorkerIx) {
        let list = &mut self.g_arcs[g as usize];
        if let Some(i) = list.iter().position(|a| a.0 == w) {
            list.remove(i);
            if i < self.g_sorted[g as usize] as usize {
                self.g_sorted[g as usize] -= 1;
            }
        }
    }

    /// Marks worker `w` removed; its entries in gap lists are dropped
    /// lazily.
    fn bury(&mut self, w: WorkerIx) {
        for (g, _) in std::mem::take(&mut self.w_arcs[w as usize]) {
            self.g_dead[g as usize] += 1;
            if self.g_dead[g as usize] as usize * 2 > self.g_arcs[g as usize].len() {
                // `at[w]` must read DEAD before compaction.
                self.at[w as usize] = DEAD;
                self.normalise(g);
            }
        }
        self.live_workers -= 1;
        self.at[w as usize] = DEAD;
    }

    /// Takes worker `w` off its node, leaving it FREE; returns the gap that
    /// gained a free position, if any.
    fn detach(&mut self, w: WorkerIx) -> Option<GapIx> {
        let a = self.at[w as usize];
        match a {
            FREE | DEAD => None,
            UNASSIGNED => {
                self.unassigned -= 1;
                self.at[w as usize] = FREE;
                None
            }
            g => {
                let list = &mut self.members[g as usize];
                let i = self.slot[w as usize] as usize;
                list.swap_remove(i);
                if let Some(&moved) = list.get(i) {
                    self.slot[moved as usize] = i as u32;
                }
                self.total_cost -= i128::from(self.at_cost[w as usize]);
                self.at[w as usize] = FREE;
                Some(g)
            }
        }
    }

    /// Puts a FREE worker on gap `g` (at arc cost `c`) or, with `None`, on U.
    fn attach(&mut self, w: WorkerIx, target: Option<(GapIx, i64)>) {
        debug_assert_eq!(self.at[w as usize], FREE);
        match target {
            None => {
                self.at[w as usize] = UNASSIGNED;
                self.unassigned += 1;
            }
            Some((g, c)) => {
                if !self.gap_touched[g as usize] {
                    self.gap_touched[g as usize] = true;
                    self.touched_gaps.push(g);
                }
                let list = &mut self.members[g as usize];
                self.slot[w as usize] = list.len() as u32;
                list.push(w);
                self.at[w as usize] = g;
                self.at_cost[w as usize] = c;
                self.total_cost += i128::from(c);
            }
        }
    }

    /// A FREE worker has no residual arcs into it, so its potential may be
    /// set freely: the least value that keeps all its out-arcs non-negative.
    fn reprice_free_worker(&mut self, w: WorkerIx) {
        let mut p = self.pi_u - self.unassigned_cost;
        for &(g, c) in &self.w_arcs[w as usize] {
            p = p.max(self.pi_g[g as usize] - i64::from(c));
        }
        self.pi_w[w as usize] = p;
        self.pi_w_floor = self.pi_w_floor.min(p);
    }

    fn pi_mut(&mut self, v: Node) -> &mut i64 {
        match v {
            Node::W(w) => &mut self.pi_w[w as usize],
            Node::G(g) => &mut self.pi_g[g as usize],
            Node::U => &mut self.pi_u,
            Node::T => &mut self.pi_t,
        }
    }

    fn mark(&mut self, v: Node) -> &mut Mark {
        match v {
            Node::W(w) => &mut self.mark_w[w as usize],
            Node::G(g) => &mut self.mark_g[g as usize],
            Node::U => &mut self.mark_u,
            Node::T => &mut self.mark_t,
        }
    }

    fn reset_marks(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        for &v in &touched {
            *self.mark(v) = FRESH;
        }
        self.touched = touched;
        self.touched.clear();
        self.settled.clear();
        self.heap.clear();
    }

    /// Offers distance `d` to node `v`, reached over `link`.
    #[inline]
    fn relax(&mut self, v: Node, d: i64, link: Node) {
        let m = self.mark(v);
        if m.done || d >= m.dist {
            return;
        }
        let fresh = m.dist == INF;
        m.dist = d;
        m.link = link;
        if fresh {
            self.touched.push(v);
        }
        self.heap.push(Reverse((d, v.pack())));
    }

    /// Pops the nearest unsettled node.
    fn pop(&mut self) -> Option<(i64, Node)> {
        while let Some(Reverse((d, v))) = self.heap.pop() {
            let v = Node::unpack(v);
            let m = self.mark(v);
            if m.done || d > m.dist {
                continue;
            }
            m.done = true;
            self.settled.push(v);
            return Some((d, v));
        }
        None
    }

    /// Gives every settled node `π += sign · (dist − D)`; the others keep
    /// theirs (an implicit shift of all potentials by a constant).
    fn reprice_settled(&mut self, big_d: i64, forward: bool) {
        self.stats.settled += self.settled.len() as u64;
        let settled = std::mem::take(&mut self.settled);
        for &v in &settled {
            let d = self.mark(v).dist.min(big_d);
            if forward {
                *self.pi_mut(v) += d - big_d;
                if let Node::W(w) = v {
                    self.pi_w_floor = self.pi_w_floor.min(self.pi_w[w as usize]);
                }
            } else {
                *self.pi_mut(v) += big_d - d;
            }
        }
        self.settled = settled;
    }

    /// Places FREE worker `w`: the cheapest chain of moves from `w` to a free
    /// position or to U, by Dijkstra on reduced costs from `w` to T.
    fn place(&mut self, w0: WorkerIx) {
        debug_assert_eq!(self.at[w0 as usize], FREE);
        self.stats.searches += 1;
        self.reprice_free_worker(w0);
        if self.place_directly(w0) {
            return;
        }
        self.reset_marks();
        self.relax(Node::W(w0), 0, Node::T);
        let c_u = self.unassigned_cost;
        let big_d = loop {
            let Some((d, v)) = self.pop() else {
                unreachable!("T is always reachable: every worker can go to U");
            };
            match v {
                Node::T => break d,
                Node::W(w) => {
                    let pw = self.pi_w[w as usize];
                    let here = self.at[w as usize];
                    for i in 0..self.w_arcs[w as usize].len() {
                        let (g, c) = self.w_arcs[w as usize][i];
                        let c = i64::from(c);
                        if g == here {
                            continue;
                        }
                        let nd = d + c + pw - self.pi_g[g as usize];
                        self.relax(Node::G(g), nd, v);
                    }
                    if here != UNASSIGNED {
                        let nd = d + c_u + pw - self.pi_u;
                        self.relax(Node::U, nd, v);
                    }
                }
                Node::G(g) => {
                    let pg = self.pi_g[g as usize];
                    if (self.members[g as usize].len() as u32) < self.cap[g as usize] {
                        let nd = d + pg - self.pi_t;
                        self.relax(Node::T, nd, v);
                    }
                    for i in 0..self.members[g as usize].len() {
                        let w = self.members[g as usize][i];
                        let nd = d - self.at_cost[w as usize] + pg - self.pi_w[w as usize];
                        self.relax(Node::W(w), nd, v);
                    }
                }
                Node::U => {
                    // Arcs U → w (unassigned workers) lead nowhere cheaper
                    // than U → T, whose reduced cost is 0 whenever any
                    // worker is unassigned; see the module docs.
                    let nd = d + self.pi_u - self.pi_t;
                    self.relax(Node::T, nd, v);
                }
            }
        };
        self.reprice_settled(big_d, true);
        // Walk back from T, moving each worker on the path one step on.
        let mut x = self.mark_t.link;
        loop {
            let Node::W(w) = self.mark(x).link else {
                unreachable!("paths alternate")
            };
            let from = self.at[w as usize];
            self.detach(w);
            match x {
                Node::U => self.attach(w, None),
                Node::G(g) => {
                    let c = self.arc_cost(w, g);
                    self.attach(w, Some((g, c)));
                }
                _ => unreachable!("paths alternate"),
            }
            if w == w0 {
                break;
            }
            x = if from == UNASSIGNED {
                Node::U
            } else {
                Node::G(from)
            };
        }
    }

    fn arc_cost(&self, w: WorkerIx, g: GapIx) -> i64 {
        self.w_arcs[w as usize]
            .iter()
            .find(|a| a.0 == g)
            .map(|a| i64::from(a.1))
            .expect("arc on the path")
    }

    /// Gap `g` may have free positions whose arc to T has a negative
    /// reduced cost: look for the cheapest chain that fills one (a negative
    /// cycle through `g → T`), apply it, and repeat while one exists.
    fn fill(&mut self, g: GapIx) {
        while self.is_live_gap(g) && (self.members[g as usize].len() as u32) < self.cap[g as usize]
        {
            let r = self.pi_g[g as usize] - self.pi_t;
            if r >= 0 {
                return;
            }
            let limit = -r;
            self.stats.searches += 1;
            if self.fill_directly(g, limit) {
                continue;
            }
            self.reset_marks();
            self.relax(Node::G(g), 0, Node::T);
            // Backward Dijkstra: distances *to* g over arcs into each node.
            let mut found = None;
            while let Some((d, v)) = self.pop() {
                if d >= limit {
                    break;
                }
                match v {
                    Node::T => {
                        found = Some(d);
                        break;
                    }
                    Node::G(x) => {
                        let px = self.pi_g[x as usize];
                        if !self.members[x as usize].is_empty() {
                            // T → x exists: x can give up a worker.
                            let nd = d + self.pi_t - px;
                            self.relax(Node::T, nd, v);
                        }
                        // Workers are pass-through nodes here: the only arc
                        // into a worker comes from where it sits, so instead
                        // of queueing the worker we record its distance and
                        // relax its holder at once (Dijkstra on the graph
                        // with workers contracted into holder → gap arcs).
                        let floor = d + self.pi_w_floor - px;
                        let (len, sorted) = (
                            self.g_arcs[x as usize].len(),
                            self.g_sorted[x as usize] as usize,
                        );
                        let mut i = 0;
                        while i < len {
                            let (w, c) = self.g_arcs[x as usize][i];
                            let c = i64::from(c);
                            i += 1;
                            // The sorted prefix: once even the lowest possible
                            // potential cannot beat the best chain found so
                            // far (T is never farther than U), skip to the
                            // unsorted tail, which is checked arc by arc.
                            if c + floor >= limit.min(self.mark_t.dist).min(self.mark_u.dist) {
                                i = i.max(sorted);
                                continue;
                            }
                            let a = self.at[w as usize];
                            if a == x || a == FREE || a == DEAD {
                                continue;
                            }
                            let pw = self.pi_w[w as usize];
                            let dw = d + c + pw - px;
                            let m = &mut self.mark_w[w as usize];
                            if dw >= limit || dw >= m.dist {
                                continue;
                            }
                            if m.dist == INF {
                                self.touched.push(Node::W(w));
                            }
                            m.dist = dw;
                            m.link = v;
                            let (holder, nd) = if a == UNASSIGNED {
                                (Node::U, dw - self.unassigned_cost + self.pi_u - pw)
                            } else {
                                (
                                    Node::G(a),
                                    dw - self.at_cost[w as usize] + self.pi_g[a as usize] - pw,
                                )
                            };
                            if nd < limit {
                                self.relax(holder, nd, Node::W(w));
                            }
                        }
                    }
                    Node::W(_) => unreachable!("workers are not queued in backward searches"),
                    Node::U => {
                        // T → U has reduced cost 0 while anyone is
                        // unassigned; arcs w → U from assigned workers
                        // cannot beat it (module docs).
                        let nd = d + self.pi_t - self.pi_u;
                        self.relax(Node::T, nd, v);
                    }
                }
            }
            let big_d = found.unwrap_or(limit);
            self.reprice_settled(big_d, false);
            // Pass-through workers closer than D count as settled too.
            for i in 0..self.touched.len() {
                if let Node::W(w) = self.touched[i] {
                    let d = self.mark_w[w as usize].dist;
                    if d < big_d {
                        self.pi_w[w as usize] += big_d - d;
                    }
                }
            }
            if found.is_none() {
                return;
            }
            // Apply the cycle T → x₁ → w₁ → x₂ → … → g → T.
            let mut x = self.mark_t.link;
            loop {
                if x == Node::G(g) {
                    break;
                }
                let Node::W(w) = self.mark(x).link else {
                    unreachable!("cycles alternate")
                };
                let Node::G(y) = self.mark(Node::W(w)).link else {
                    unreachable!("cycles alternate")
                };
                self.detach(w);
                let c = self.arc_cost(w, y);
                self.attach(w, Some((y, c)));
                x = Node::G(y);
            }
        }
    }

    /// The common case of [`Matcher::fill`] without a heap. The backward
    /// search from `g` first settles `g`, then the in-arc worker nearest to
    /// it. If the cheapest chain is T → U → w → g for an unassigned `w` and
    /// no other in-arc is shorter than that whole chain, Dijkstra would
    /// settle exactly `g`, `w`, U and T: do that here without a heap.
    /// (T → U has reduced cost 0 while anyone is unassigned.)
    fn fill_directly(&mut self, g: GapIx, limit: i64) -> bool {
        if self.unassigned == 0 {
            return false;
        }
        debug_assert_eq!(self.pi_t, self.pi_u);
        let pg = self.pi_g[g as usize];
        let pool = self.pi_u - self.unassigned_cost;
        // Best chain through an unassigned worker, and the two least
        // reduced costs over all in-arcs (to bound every other path).
        let (mut best_len, mut best_w, mut best_c, mut best_rc) = (i64::MAX, u32::MAX, 0, 0);
        let (mut min1, mut min1_w, mut min2) = (i64::MAX, u32::MAX, i64::MAX);
        let floor = self.pi_w_floor - pg;
        let list = &self.g_arcs[g as usize];
        let sorted = self.g_sorted[g as usize] as usize;
        let mut i = 0;
        while i < list.len() {
            let (w, c) = list[i];
            let c = i64::from(c);
            i += 1;
            if c + floor >= best_len.min(limit) {
                // The rest of the sorted prefix is at least this far: go on
                // with the unsorted tail.
                i = i.max(sorted);
                continue;
            }
            let a = self.at[w as usize];
            if a == g || a == FREE || a == DEAD {
                continue;
            }
            let pw = self.pi_w[w as usize];
            let rc = c + pw - pg;
            if rc < min1 {
                min2 = min1;
                (min1, min1_w) = (rc, w);
            } else if rc < min2 {
                min2 = rc;
            }
            if a == UNASSIGNED {
                let len = rc + (pool - pw);
                if len < best_len {
                    (best_len, best_w, best_c, best_rc) = (len, w, c, rc);
                }
            }
        }
        let others = if min1_w == best_w { min2 } else { min1 };
        if best_w == u32::MAX || best_len >= limit || best_len > others {
            return false;
        }
        let d = best_len;
        self.stats.settled += 4;
        self.pi_g[g as usize] += d;
        self.pi_w[best_w as usize] += d - best_rc;
        self.detach(best_w);
        self.attach(best_w, Some((g, best_c)));
        true
    }

    /// The common case of [`Matcher::place`] without a heap: the forward
    /// search from FREE `w` settles `w`, then its nearest neighbour. If the
    /// cheapest way out is straight into a gap with a free position (or
    /// straight to U) and no other arc out of `w` is shorter than that whole
    /// path, Dijkstra would settle only `w`, that node and T.
    fn place_directly(&mut self, w: WorkerIx) -> bool {
        let pw = self.pi_w[w as usize];
        // Candidate ends: a free gap, or U (target None).
        let via_u = self.unassigned_cost + pw - self.pi_u;
        let (mut best_len, mut best, mut best_rc) = (via_u + self.pi_u - self.pi_t, None, via_u);
        let (mut min1, mut min1_g, mut min2) = (via_u, u32::MAX, i64::MAX);
        for &(g, c) in &self.w_arcs[w as usize] {
            let c = i64::from(c);
            let pg = self.pi_g[g as usize];
            let rc = c + pw - pg;
            if rc < min1 {
                min2 = min1;
                (min1, min1_g) = (rc, g);
            } else if rc < min2 {
                min2 = rc;
            }
            if (self.members[g as usize].len() as u32) < self.cap[g as usize] {
                let len = rc + pg - self.pi_t;
                if len < best_len {
                    (best_len, best, best_rc) = (len, Some((g, c)), rc);
                }
            }
        }
        // U's own entry in the minimum tracking carries the id u32::MAX.
        let chosen = best.map_or(u32::MAX, |b| b.0);
        let others = if min1_g == chosen { min2 } else { min1 };
        if best_len > others {
            return false;
        }
        let d = best_len;
        self.stats.settled += 3;
        self.pi_w[w as usize] -= d;
        self.pi_w_floor = self.pi_w_floor.min(self.pi_w[w as usize]);
        match best {
            Some((g, c)) => {
                self.pi_g[g as usize] += best_rc - d;
                self.attach(w, Some((g, c)));
            }
            None => {
                self.pi_u += best_rc - d;
                self.attach(w, None);
            }
        }
        true
    }

    /// Checks the optimality certificate: every residual arc has a
    /// non-negative reduced cost and the bookkeeping agrees with itself.
    /// For tests and debug builds.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut cost: i128 = 0;
        let mut unassigned = 0;
        let mut any_unassigned = false;
        for (w, &a) in self.at.iter().enumerate() {
            let pw = self.pi_w[w];
            match a {
                DEAD => continue,
                FREE => return Err(format!("worker {w} was left unplaced")),
                UNASSIGNED => {
                    unassigned += 1;
                    any_unassigned = true;
                    if -self.unassigned_cost + self.pi_u - pw < 0 {
                        return Err(format!("reverse arc U→{w} has negative reduced cost"));
                    }
                }
                g => {
                    cost += i128::from(self.at_cost[w]);
                    if self.arc_cost(w as u32, g) != self.at_cost[w] {
                        return Err(format!("worker {w}: stale cost"));
                    }
                    if -self.at_cost[w] + self.pi_g[g as usize] - pw < 0 {
                        return Err(format!("reverse arc {g}→{w} has negative reduced cost"));
                    }
                    if self.unassigned_cost + pw - self.pi_u < 0 {
                        return Err(format!("arc {w}→U has negative reduced cost"));
                    }
                }
            }
            for &(g, c) in &self.w_arcs[w] {
                let c = i64::from(c);
                if g != a && c + pw - self.pi_g[g as usize] < 0 {
                    return Err(format!("arc {w}→{g} has negative reduced cost"));
                }
            }
        }
        for (g, &cap) in self.cap.iter().enumerate() {
            if cap == DEAD {
                continue;
            }
            let load = self.members[g].len() as u32;
            if load > cap {
                return Err(format!("gap {g} over capacity"));
            }
            if load < cap && self.pi_g[g] - self.pi_t < 0 {
                return Err(format!("arc {g}→T has negative reduced cost"));
            }
            if load > 0 && self.pi_t - self.pi_g[g] < 0 {
                return Err(format!("reverse arc T→{g} has negative reduced cost"));
            }
            // The gap's in-arc list: a prefix sorted by (cost, worker) that
            // searches may cut short, and every live worker's arc once.
            let list = &self.g_arcs[g];
            let sorted = (self.g_sorted[g] as usize).min(list.len());
            if list[..sorted]
                .windows(2)
                .any(|p| (p[0].1, p[0].0) >= (p[1].1, p[1].0))
            {
                return Err(format!(
                    "gap {g}: the sorted prefix of its arcs is not sorted"
                ));
            }
            let mut live: Vec<(WorkerIx, i32)> = list
                .iter()
                .copied()
                .filter(|a| self.at[a.0 as usize] != DEAD)
                .collect();
            live.sort_unstable();
            let mut want: Vec<(WorkerIx, i32)> = (0..self.at.len())
                .filter(|&w| self.at[w] != DEAD)
                .flat_map(|w| {
                    self.w_arcs[w]
                        .iter()
                        .filter(|a| a.0 as usize == g)
                        .map(move |a| (w as WorkerIx, a.1))
                })
                .collect();
            want.sort_unstable();
            if live != want {
                return Err(format!(
                    "gap {g}: its arc list disagrees with the workers' arcs"
                ));
            }
        }
        if any_unassigned && self.pi_t - self.pi_u < 0 {
            return Err("reverse arc T→U has negative reduced cost".into());
        }
        if self.pi_u - self.pi_t < 0 {
            return Err("arc U→T has negative reduced cost".into());
        }
        if cost != self.total_cost || unassigned != self.unassigned {
            return Err("counters disagree with the assignment".into());
        }
        Ok(())
    }
}
