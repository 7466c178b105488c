//! The potentials: re-pricing the nodes a search settled, and pricing a
//! worker about to be placed.

use super::search::Node;
use super::{AssignmentSolver, WorkerIx};

impl AssignmentSolver {
    /// A FREE worker has no residual arcs into it, so its potential may be
    /// set freely: the least value that keeps all its out-arcs non-negative.
    pub(super) fn reprice_free_worker(&mut self, w: WorkerIx) {
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

    /// Gives every settled node `π += sign · (dist − D)`; the others keep
    /// theirs (an implicit shift of all potentials by a constant).
    pub(super) fn reprice_settled(&mut self, big_d: i64, forward: bool) {
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
}
