//! The updates: every change to the problem, each followed by the few
//! searches that restore the optimum, and bulk loading.

use super::search::FRESH;
use super::{AssignmentSolver, GapIx, MatchError, WorkerIx, DEAD, FREE, UNASSIGNED};

impl AssignmentSolver {
    /// Adds a gap with `capacity` positions and no arcs yet; arcs come with
    /// workers ([`Self::add_worker`]) or through [`Self::set_arc`].
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
    /// [`Self::place_all`] once all are in. Bulk loading uses this, so that
    /// arcs are stored before any search runs.
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
    /// [`Self::add_worker_unplaced`]).
    ///
    /// On a fresh load where positions are scarcer than workers, the work
    /// is done from the gap side: every waiting worker starts in the pool U
    /// and each gap pulls in its cheapest chains (the backward search), so
    /// each search starts from the scarce side and stops at the first free
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
}
