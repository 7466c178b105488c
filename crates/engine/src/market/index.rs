//! Keeping a market's indexes and solver in step with its records.
//!
//! Two grids find candidates: the worker grid files each worker under "any
//! skill" and under each skill it holds, split by commute class (a class is
//! searched only as far as its workers travel); the gap grid files each gap
//! with a free position under its first required skill. Dense maps link
//! slots and solver indices both ways. Placing a worker or bringing a gap
//! back scans the other grid for its arcs; a gap whose positions are all
//! held leaves the solver and the gap grid ([`Market::sync_gap`]).

use lendwork_flow::bipartite::WorkerIx;

use super::precheck::{fen32, GCols, WCols};
use super::{GCand, GapRec, Market, WCand, WorkerRec, NONE};

/// Grid key of "any skill".
pub(super) const ALL: u32 = 0;
/// Commute classes of the worker grid: class c holds workers whose commute
/// limit is at most 5·2^c km (the last class holds the rest).
pub(super) const CLASSES: u32 = 6;

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

impl Market {
    /// Whether the grid entries' skill and certificate bits are exact: at
    /// most 64 skills (ids 1–64) and 64 certificates (ids 0–63) interned.
    /// Ids are never freed, so once false it stays false.
    pub(super) fn exact_bits(&self) -> bool {
        !self.records_only && self.skill_ids.len() <= 64 && self.cert_ids.len() <= 64
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

    pub(super) fn index_worker(&mut self, slot: u32, add: bool) {
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
    pub(super) fn update_worker(&mut self, slot: u32, f: impl FnOnce(&mut WorkerRec)) {
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
    pub(super) fn unindex_worker(&mut self, slot: u32, rec: &WorkerRec) {
        let p = &rec.profile;
        if let Some(ix) = rec.ix {
            self.solver.remove_worker(ix).expect("live worker");
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
    pub(super) fn place_worker(&mut self, slot: u32) {
        let rec = self.workers[slot as usize].as_mut().expect("live worker");
        if let Some(ix) = rec.ix.take() {
            self.solver.remove_worker(ix).expect("live worker");
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
        let (gaps, stamps, epoch, weights, excluded, favourites) = (
            &self.gaps,
            &mut self.gap_stamp,
            self.epoch,
            &self.weights,
            &self.excluded_pairs,
            &self.favourites,
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
                    let fav = !favourites.is_empty() && favourites.contains(&(slot, c.enterprise));
                    let cost = if decides {
                        if me.excl && excluded.contains(&(slot, gs)) {
                            return;
                        }
                        me.cost(weights, c, fav)
                    } else {
                        let gr = gaps[gs as usize].as_ref().expect("indexed gaps are live");
                        Self::admits(weights, rec, gr, fav)
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
            .solver
            .add_worker(&arcs)
            .expect("arcs to live gaps within the cost bound");
        self.set_ix(slot, ix);
    }

    /// Records that worker `slot` is solver worker `ix`.
    pub(super) fn set_ix(&mut self, slot: u32, ix: WorkerIx) {
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

    pub(super) fn unindex_gap(&mut self, slot: u32, rec: &GapRec) {
        if let Some(ix) = rec.ix {
            self.gap_grid
                .remove(Self::gap_key(rec), &rec.posting.site, GCand::of(slot, rec));
            self.solver.remove_gap(ix).expect("live gap");
            self.gap_of[ix as usize] = NONE;
        }
    }

    /// The grid key a gap is filed under: its first requirement's skill.
    pub(super) fn gap_key(rec: &GapRec) -> u32 {
        rec.reqs.first().map_or(ALL, |r| u32::from(r.0))
    }

    /// Brings gap `slot`'s place in the solver and the gap grid in line
    /// with its free positions (headcount minus the positions held).
    ///
    /// Only a gap with a free position is in the solver and the gap grid,
    /// with an arc from every eligible worker; a gap whose positions are
    /// all held has neither. Such a gap can carry no flow — its arc to the
    /// sink has no capacity and it has no members — so its arcs change no
    /// optimum, yet on a market with more workers than positions, where
    /// nearly every gap is full a round after it is posted, they would be
    /// most of the market's arcs, and every offered worker would scan the
    /// full gaps in its reach. So a gap leaves the solver when its last
    /// position is taken and comes back, with a fresh scan of the workers,
    /// when a position is freed (a decline, expiry, no-show, cancellation
    /// or a raised headcount).
    pub(super) fn sync_gap(&mut self, slot: u32) {
        let rec = self.gaps[slot as usize].as_ref().expect("live");
        let free = rec.posting.headcount.get().saturating_sub(rec.taken);
        match (rec.ix, free) {
            (None, 0) => {}
            (Some(_), 0) => {
                let rec = self.gaps[slot as usize].take().expect("live");
                self.unindex_gap(slot, &rec);
                self.gaps[slot as usize] = Some(GapRec { ix: None, ..rec });
            }
            (Some(ix), free) => self.solver.set_capacity(ix, free).expect("live gap"),
            (None, free) => {
                let (arcs, scanned) = self.gap_arcs(rec);
                self.stats.gap_scans += 1;
                self.stats.candidates_scanned += scanned;
                self.stats.arcs_added += arcs.len() as u64;
                let ix = self
                    .solver
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
        let (workers, weights, ix_of, excluded, favourites) = (
            &self.workers,
            &self.weights,
            &self.ix_of,
            &self.excluded_pairs,
            &self.favourites,
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
                    let fav = !favourites.is_empty() && favourites.contains(&(ws, rec.enterprise));
                    let cost = if c.decides(exact) {
                        if c.excl && excluded.contains(&(ws, slot)) {
                            return;
                        }
                        c.cost(weights, &me, fav)
                    } else {
                        let wr = workers[ws as usize]
                            .as_ref()
                            .expect("indexed workers are live");
                        Self::admits(weights, wr, rec, fav)
                    };
                    if let Some(cost) = cost {
                        arcs.push((ix, cost));
                    }
                },
            );
        }
        (arcs, scanned)
    }
}
