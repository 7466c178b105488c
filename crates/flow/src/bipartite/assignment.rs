//! Moving a worker on and off a gap or the pool U, with the bookkeeping
//! that goes with it (members, slots, counters, touched gaps).

use super::{AssignmentSolver, GapIx, WorkerIx, DEAD, FREE, UNASSIGNED};

impl AssignmentSolver {
    /// Takes worker `w` off its node, leaving it FREE; returns the gap that
    /// gained a free position, if any.
    pub(super) fn detach(&mut self, w: WorkerIx) -> Option<GapIx> {
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
    pub(super) fn attach(&mut self, w: WorkerIx, target: Option<(GapIx, i64)>) {
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
}
