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
