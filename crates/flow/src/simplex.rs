//! The general solver: primal network simplex with a block-search pivot
//! rule and a thread-indexed spanning tree (the classic design of Grigoriadis
//! and of Kelly–O'Neill, as LEMON's `NetworkSimplex` also implements it).
//!
//! * Lower bounds are shifted into the supplies first.
//! * The start is the artificial tree: every node hangs off an extra root
//!   by an artificial arc whose cost exceeds any simple path, carrying that
//!   node's supply. The problem is infeasible exactly when an artificial arc
//!   still carries flow at the optimum.
//! * Each pivot: find an arc violating its optimality condition by scanning
//!   blocks of √m arcs round-robin, push flow around the cycle it closes,
//!   let the blocking arc leave (ties broken towards the second half of the
//!   cycle, which keeps the tree strongly feasible and prevents cycling),
//!   and re-hang the subtree that moved, updating the thread order, subtree
//!   sizes and potentials only where they change.

use crate::network::{Network, Solution};

const NONE: u32 = u32::MAX;
const LOWER: i8 = 1;
const TREE: i8 = 0;
const UPPER: i8 = -1;
/// The tree arc goes from the node up to its parent.
const UP: i64 = 1;
/// The tree arc goes from the parent down to the node.
const DOWN: i64 = -1;

struct Simplex {
    source: Vec<u32>,
    target: Vec<u32>,
    cap: Vec<i64>,
    cost: Vec<i64>,
    flow: Vec<i64>,
    state: Vec<i8>,
    pi: Vec<i64>,
    parent: Vec<u32>,
    pred: Vec<u32>,
    pred_dir: Vec<i64>,
    thread: Vec<u32>,
    rev_thread: Vec<u32>,
    succ_num: Vec<u32>,
    last_succ: Vec<u32>,
    dirty_revs: Vec<u32>,
    // Pivot state.
    in_arc: u32,
    join: u32,
    u_in: u32,
    v_in: u32,
    u_out: u32,
    delta: i64,
    next_arc: usize,
    block: usize,
}

/// Solves `net` exactly with the network simplex method.
pub fn solve(net: &Network) -> Solution {
    let n = net.node_count();
    let m = net.arcs.len();
    let mut supply = net.supply.clone();
    for a in &net.arcs {
        supply[a.from as usize] -= a.low;
        supply[a.to as usize] += a.low;
    }
    if supply.iter().map(|&s| i128::from(s)).sum::<i128>() != 0 {
        return Solution::Infeasible;
    }
    let max_cost = net.arcs.iter().map(|a| a.cost.abs()).max().unwrap_or(0);
    let art_cost = (max_cost + 1).saturating_mul(n as i64 + 1);
    let root = n as u32;
    let all = m + n;
    let inf = i64::MAX / 4;
    let mut s = Simplex {
        source: Vec::with_capacity(all),
        target: Vec::with_capacity(all),
        cap: Vec::with_capacity(all),
        cost: Vec::with_capacity(all),
        flow: vec![0; all],
        state: vec![LOWER; all],
        pi: vec![0; n + 1],
        parent: vec![NONE; n + 1],
        pred: vec![NONE; n + 1],
        pred_dir: vec![0; n + 1],
        thread: vec![0; n + 1],
        rev_thread: vec![0; n + 1],
        succ_num: vec![1; n + 1],
        last_succ: vec![0; n + 1],
        dirty_revs: Vec::new(),
        in_arc: 0,
        join: 0,
        u_in: 0,
        v_in: 0,
        u_out: 0,
        delta: 0,
        next_arc: 0,
        block: ((all as f64).sqrt() as usize).max(10),
    };
    for a in &net.arcs {
        s.source.push(a.from);
        s.target.push(a.to);
        s.cap.push(a.cap - a.low);
        s.cost.push(a.cost);
    }
    // The artificial tree.
    s.thread[n] = 0;
    s.rev_thread[0] = root;
    s.succ_num[n] = n as u32 + 1;
    s.last_succ[n] = if n == 0 { root } else { n as u32 - 1 };
    #[allow(clippy::needless_range_loop)] // u indexes eight parallel arrays
    for u in 0..n {
        let e = m + u;
        s.parent[u] = root;
        s.pred[u] = e as u32;
        s.thread[u] = if u + 1 == n { root } else { u as u32 + 1 };
        if u + 1 < n {
            s.rev_thread[u + 1] = u as u32;
        }
        s.last_succ[u] = u as u32;
        s.cap.push(inf);
        s.cost.push(art_cost);
        s.state[e] = TREE;
        if supply[u] >= 0 {
            s.source.push(u as u32);
            s.target.push(root);
            s.flow[e] = supply[u];
            s.pred_dir[u] = UP;
            s.pi[u] = -art_cost;
        } else {
            s.source.push(root);
            s.target.push(u as u32);
            s.flow[e] = -supply[u];
            s.pred_dir[u] = DOWN;
            s.pi[u] = art_cost;
        }
    }
    if n > 0 {
        s.rev_thread[0] = root;
    }
    while s.find_entering_arc() {
        s.find_join_node();
        let change = s.find_leaving_arc();
        if s.delta >= inf {
            // Only uncapacitated arcs on a negative cycle; every arc of a
            // DIMACS problem has a finite capacity, so this cannot happen.
            return Solution::Infeasible;
        }
        s.change_flow(change);
        if change {
            s.update_tree();
            s.update_potential();
        }
    }
    if s.flow[m..].iter().any(|&f| f != 0) {
        return Solution::Infeasible;
    }
    let flow: Vec<i64> = net
        .arcs
        .iter()
        .zip(&s.flow)
        .map(|(a, &f)| a.low + f)
        .collect();
    Solution::optimal(net, flow)
}

impl Simplex {
    #[inline]
    fn reduced(&self, e: usize) -> i64 {
        i64::from(self.state[e])
            * (self.cost[e] + self.pi[self.source[e] as usize] - self.pi[self.target[e] as usize])
    }

    /// Block search: scan `block` arcs at a time from where the last search
    /// stopped; take the most violating arc of the first block that has one.
    fn find_entering_arc(&mut self) -> bool {
        let all = self.source.len();
        let mut min = 0;
        let mut cnt = self.block;
        let mut e = self.next_arc;
        for _ in 0..all {
            let c = self.reduced(e);
            if c < min {
                min = c;
                self.in_arc = e as u32;
            }
            e += 1;
            if e == all {
                e = 0;
            }
            cnt -= 1;
            if cnt == 0 {
                if min < 0 {
                    self.next_arc = e;
                    return true;
                }
                cnt = self.block;
            }
        }
        if min < 0 {
            self.next_arc = e;
            return true;
        }
        false
    }

    fn find_join_node(&mut self) {
        let mut u = self.source[self.in_arc as usize];
        let mut v = self.target[self.in_arc as usize];
        while u != v {
            if self.succ_num[u as usize] < self.succ_num[v as usize] {
                u = self.parent[u as usize];
            } else {
                v = self.parent[v as usize];
            }
        }
        self.join = u;
    }

    /// The blocking arc of the cycle; false when the entering arc itself
    /// blocks (it only flips between its bounds).
    fn find_leaving_arc(&mut self) -> bool {
        let e_in = self.in_arc as usize;
        let (first, second) = if self.state[e_in] == LOWER {
            (self.source[e_in], self.target[e_in])
        } else {
            (self.target[e_in], self.source[e_in])
        };
        self.delta = self.cap[e_in];
        let mut result = 0;
        let mut u = first;
        while u != self.join {
            let e = self.pred[u as usize] as usize;
            let d = if self.pred_dir[u as usize] == DOWN {
                self.cap[e] - self.flow[e]
            } else {
                self.flow[e]
            };
            if d < self.delta {
                self.delta = d;
                self.u_out = u;
                result = 1;
            }
            u = self.parent[u as usize];
        }
        let mut u = second;
        while u != self.join {
            let e = self.pred[u as usize] as usize;
            let d = if self.pred_dir[u as usize] == UP {
                self.cap[e] - self.flow[e]
            } else {
                self.flow[e]
            };
            if d <= self.delta {
                self.delta = d;
                self.u_out = u;
                result = 2;
            }
            u = self.parent[u as usize];
        }
        if result == 1 {
            self.u_in = first;
            self.v_in = second;
        } else {
            self.u_in = second;
            self.v_in = first;
        }
        result != 0
    }

    fn change_flow(&mut self, change: bool) {
        let e_in = self.in_arc as usize;
        if self.delta > 0 {
            let val = i64::from(self.state[e_in]) * self.delta;
            self.flow[e_in] += val;
            let mut u = self.source[e_in];
            while u != self.join {
                let e = self.pred[u as usize] as usize;
                self.flow[e] -= self.pred_dir[u as usize] * val;
                u = self.parent[u as usize];
            }
            let mut u = self.target[e_in];
            while u != self.join {
                let e = self.pred[u as usize] as usize;
                self.flow[e] += self.pred_dir[u as usize] * val;
                u = self.parent[u as usize];
            }
        }
        if change {
            self.state[e_in] = TREE;
            let out = self.pred[self.u_out as usize] as usize;
            self.state[out] = if self.flow[out] == 0 { LOWER } else { UPPER };
        } else {
            self.state[e_in] = -self.state[e_in];
        }
    }

    /// Re-hangs the subtree cut off by the leaving arc below `v_in`,
    /// reversing the stem from `u_in` to `u_out`.
    fn update_tree(&mut self) {
        let (u_in, v_in, u_out, join) = (
            self.u_in as usize,
            self.v_in as usize,
            self.u_out as usize,
            self.join as usize,
        );
        let old_rev_thread = self.rev_thread[u_out] as usize;
        let old_succ_num = self.succ_num[u_out];
        let old_last_succ = self.last_succ[u_out] as usize;
        let v_out = self.parent[u_out] as usize;
        let in_arc = self.in_arc;
        let dir_of_in = if self.source[in_arc as usize] as usize == u_in {
            UP
        } else {
            DOWN
        };

        if u_in == u_out {
            self.parent[u_in] = v_in as u32;
            self.pred[u_in] = in_arc;
            self.pred_dir[u_in] = dir_of_in;
            if self.thread[v_in] as usize != u_out {
                let mut after = self.thread[old_last_succ] as usize;
                self.thread[old_rev_thread] = after as u32;
                self.rev_thread[after] = old_rev_thread as u32;
                after = self.thread[v_in] as usize;
                self.thread[v_in] = u_out as u32;
                self.rev_thread[u_out] = v_in as u32;
                self.thread[old_last_succ] = after as u32;
                self.rev_thread[after] = old_last_succ as u32;
            }
        } else {
            let thread_continue = if old_rev_thread == v_in {
                self.thread[old_last_succ] as usize
            } else {
                self.thread[v_in] as usize
            };
            let mut stem = u_in;
            let mut par_stem = v_in;
            let mut last = self.last_succ[u_in] as usize;
            let mut after = self.thread[last] as usize;
            self.thread[v_in] = u_in as u32;
            self.dirty_revs.clear();
            self.dirty_revs.push(v_in as u32);
            while stem != u_out {
                let next_stem = self.parent[stem] as usize;
                self.thread[last] = next_stem as u32;
                self.dirty_revs.push(last as u32);
                let before = self.rev_thread[stem] as usize;
                self.thread[before] = after as u32;
                self.rev_thread[after] = before as u32;
                self.parent[stem] = par_stem as u32;
                par_stem = stem;
                stem = next_stem;
                last = if self.last_succ[stem] == self.last_succ[par_stem] {
                    self.rev_thread[par_stem] as usize
                } else {
                    self.last_succ[stem] as usize
                };
                after = self.thread[last] as usize;
            }
            self.parent[u_out] = par_stem as u32;
            self.thread[last] = thread_continue as u32;
            self.rev_thread[thread_continue] = last as u32;
            self.last_succ[u_out] = last as u32;
            if old_rev_thread != v_in {
                self.thread[old_rev_thread] = after as u32;
                self.rev_thread[after] = old_rev_thread as u32;
            }
            for i in 0..self.dirty_revs.len() {
                let u = self.dirty_revs[i] as usize;
                let t = self.thread[u] as usize;
                self.rev_thread[t] = u as u32;
            }
            let mut tmp_sc: u32 = 0;
            let tmp_ls = self.last_succ[u_out];
            let mut u = u_out;
            while u != u_in {
                let p = self.parent[u] as usize;
                self.pred[u] = self.pred[p];
                self.pred_dir[u] = -self.pred_dir[p];
                tmp_sc = tmp_sc.wrapping_add(self.succ_num[u].wrapping_sub(self.succ_num[p]));
                self.succ_num[u] = tmp_sc;
                self.last_succ[p] = tmp_ls;
                u = p;
            }
            self.pred[u_in] = in_arc;
            self.pred_dir[u_in] = dir_of_in;
            self.succ_num[u_in] = old_succ_num;
        }

        let up_limit_out = if self.last_succ[join] as usize == v_in {
            join as u32
        } else {
            NONE
        };
        let last_succ_out = self.last_succ[u_out];
        let mut u = v_in as u32;
        while u != NONE && self.last_succ[u as usize] as usize == v_in {
            self.last_succ[u as usize] = last_succ_out;
            u = self.parent[u as usize];
        }
        if join != old_rev_thread && v_in != old_rev_thread {
            let mut u = v_out as u32;
            while u != up_limit_out && self.last_succ[u as usize] as usize == old_last_succ {
                self.last_succ[u as usize] = old_rev_thread as u32;
                u = self.parent[u as usize];
            }
        } else if last_succ_out as usize != old_last_succ {
            let mut u = v_out as u32;
            while u != up_limit_out && self.last_succ[u as usize] as usize == old_last_succ {
                self.last_succ[u as usize] = last_succ_out;
                u = self.parent[u as usize];
            }
        }
        let mut u = v_in;
        while u != join {
            self.succ_num[u] += old_succ_num;
            u = self.parent[u] as usize;
        }
        let mut u = v_out;
        while u != join {
            self.succ_num[u] -= old_succ_num;
            u = self.parent[u] as usize;
        }
    }

    /// Shifts the potentials of the re-hung subtree so that the entering
    /// arc gets reduced cost 0.
    fn update_potential(&mut self) {
        let (u_in, v_in) = (self.u_in as usize, self.v_in as usize);
        let sigma =
            self.pi[v_in] - self.pi[u_in] - self.pred_dir[u_in] * self.cost[self.in_arc as usize];
        let end = self.thread[self.last_succ[u_in] as usize];
        let mut u = u_in as u32;
        while u != end {
            self.pi[u as usize] += sigma;
            u = self.thread[u as usize];
        }
    }
}
