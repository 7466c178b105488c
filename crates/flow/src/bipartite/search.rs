//! The Dijkstra machinery both searches share: node ids, per-node marks
//! (reset only where touched) and the heap.

use std::cmp::Reverse;

use super::AssignmentSolver;

/// The distance of a node no search has reached.
pub(super) const INF: i64 = i64::MAX / 4;

/// Node ids inside searches: workers, then gaps (tagged), then U and T.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) enum Node {
    W(u32),
    G(u32),
    U,
    T,
}

impl Node {
    /// The heap key's second half, which breaks ties between equal
    /// distances: T first, then U. Both searches stop when T is settled, and
    /// a node at T's distance cannot bring T closer (reduced costs are
    /// non-negative), so settling T first among equals ends a search
    /// without settling the plateau of nodes at that distance. With narrow
    /// integer costs such plateaus hold most of the graph.
    fn pack(self) -> u64 {
        match self {
            Node::T => 0,
            Node::U => 1 << 32,
            Node::W(w) => (2 << 32) | u64::from(w),
            Node::G(g) => (3 << 32) | u64::from(g),
        }
    }
    fn unpack(x: u64) -> Node {
        let v = (x & 0xffff_ffff) as u32;
        match x >> 32 {
            0 => Node::T,
            1 => Node::U,
            2 => Node::W(v),
            _ => Node::G(v),
        }
    }
}

/// Per-node search scratch, reset only where touched.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Mark {
    pub(super) dist: i64,
    /// Previous node on the path (forward) or next node (backward).
    pub(super) link: Node,
    pub(super) done: bool,
}

pub(super) const FRESH: Mark = Mark {
    dist: INF,
    link: Node::T,
    done: false,
};

impl AssignmentSolver {
    pub(super) fn mark(&mut self, v: Node) -> &mut Mark {
        match v {
            Node::W(w) => &mut self.mark_w[w as usize],
            Node::G(g) => &mut self.mark_g[g as usize],
            Node::U => &mut self.mark_u,
            Node::T => &mut self.mark_t,
        }
    }

    pub(super) fn reset_marks(&mut self) {
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
    pub(super) fn relax(&mut self, v: Node, d: i64, link: Node) {
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
    pub(super) fn pop(&mut self) -> Option<(i64, Node)> {
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
}
