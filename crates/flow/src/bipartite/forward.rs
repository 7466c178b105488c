//! The forward search: the cheapest chain of moves that places a worker,
//! ending in a gap with a free position or in the pool U.

use super::search::Node;
use super::{AssignmentSolver, WorkerIx, FREE, UNASSIGNED};

impl AssignmentSolver {
    /// Places FREE worker `w`: the cheapest chain of moves from `w` to a free
    /// position or to U, by Dijkstra on reduced costs from `w` to T.
    pub(super) fn place(&mut self, w0: WorkerIx) {
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
                    // worker is unassigned (`docs/design/solver.md`, "The pool").
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

    /// The common case of [`Self::place`] without a heap: the forward search
    /// from FREE `w` settles `w`, then its nearest neighbour. If the
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
}
