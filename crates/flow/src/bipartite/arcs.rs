//! The arc lists: each worker's arcs, and each gap's in-arcs as a prefix
//! sorted by cost plus an unsorted tail, with removed workers' entries
//! dropped lazily.

use super::{AssignmentSolver, GapIx, WorkerIx, DEAD};

impl AssignmentSolver {
    pub(super) fn insert_arc(&mut self, w: WorkerIx, g: GapIx, c: i64) {
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

    pub(super) fn g_arc_insert(&mut self, g: GapIx, w: WorkerIx, c: i64) {
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
    pub(super) fn normalise(&mut self, g: GapIx) {
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
    pub(super) fn g_arc_remove(&mut self, g: GapIx, w: WorkerIx) {
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
    pub(super) fn bury(&mut self, w: WorkerIx) {
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

    pub(super) fn arc_cost(&self, w: WorkerIx, g: GapIx) -> i64 {
        self.w_arcs[w as usize]
            .iter()
            .find(|a| a.0 == g)
            .map(|a| i64::from(a.1))
            .expect("arc on the path")
    }
}
