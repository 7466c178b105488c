//! The optimality certificate: every residual arc has a non-negative
//! reduced cost and the bookkeeping agrees with itself.

use super::{AssignmentSolver, WorkerIx, DEAD, FREE, UNASSIGNED};

impl AssignmentSolver {
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
