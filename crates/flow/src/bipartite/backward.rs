//! The backward search: the cheapest chain that fills a gap which gained a
//! free position, i.e. a negative cycle through its arc to T.

use super::search::{Node, INF};
use super::{AssignmentSolver, GapIx, DEAD, FREE, UNASSIGNED};

impl AssignmentSolver {
    /// Gap `g` may have free positions whose arc to T has a negative
    /// reduced cost: look for the cheapest chain that fills one (a negative
    /// cycle through `g → T`), apply it, and repeat while one exists.
    pub(super) fn fill(&mut self, g: GapIx) {
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
                        // cannot beat it (`docs/design/solver.md`, "The pool").
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

    /// The common case of [`Self::fill`] without a heap. The backward search
    /// from `g` first settles `g`, then the in-arc worker nearest to it. If
    /// the cheapest chain is T → U → w → g for an unassigned `w` and no
    /// other in-arc is shorter than that whole chain, Dijkstra would settle
    /// exactly `g`, `w`, U and T: do that here without a heap. (T → U has
    /// reduced cost 0 while anyone is unassigned.)
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
}
