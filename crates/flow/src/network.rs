//! A general minimum-cost flow problem: nodes with supplies, arcs with
//! capacities and costs.

/// An arc of a [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arc {
    /// Tail node (0-based).
    pub from: u32,
    /// Head node (0-based).
    pub to: u32,
    /// Lower bound on the flow (DIMACS `LOW`); 0 in most problems.
    pub low: i64,
    /// Upper bound on the flow.
    pub cap: i64,
    /// Cost per unit of flow; any sign.
    pub cost: i64,
}

/// A minimum-cost flow problem: find a flow that meets every node's supply
/// (positive) or demand (negative) within the arcs' bounds at least cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    /// Supply of each node: positive supplies, negative demands.
    pub supply: Vec<i64>,
    /// The arcs, in input order (solutions refer to them by index).
    pub arcs: Vec<Arc>,
}

impl Network {
    /// A network of `n` nodes with zero supply and no arcs.
    pub fn with_nodes(n: usize) -> Self {
        Self {
            supply: vec![0; n],
            arcs: Vec::new(),
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.supply.len()
    }

    /// Adds an arc with lower bound 0; returns its index.
    pub fn add_arc(&mut self, from: u32, to: u32, cap: i64, cost: i64) -> usize {
        self.arcs.push(Arc {
            from,
            to,
            low: 0,
            cap,
            cost,
        });
        self.arcs.len() - 1
    }

    /// Sum of positive supplies: what an optimal flow ships.
    pub fn total_supply(&self) -> i64 {
        self.supply.iter().filter(|s| **s > 0).sum()
    }

    /// Checks `flow` against bounds and conservation, and returns its cost.
    /// Used by tests and by `lendwork solve` as a last check of its answer.
    pub fn check_flow(&self, flow: &[i64]) -> Result<i128, String> {
        if flow.len() != self.arcs.len() {
            return Err(format!("{} flows for {} arcs", flow.len(), self.arcs.len()));
        }
        let mut balance: Vec<i128> = self.supply.iter().map(|&s| i128::from(s)).collect();
        let mut cost: i128 = 0;
        for (i, (a, &f)) in self.arcs.iter().zip(flow).enumerate() {
            if f < a.low || f > a.cap {
                return Err(format!(
                    "arc {i} carries {f}, outside [{}, {}]",
                    a.low, a.cap
                ));
            }
            balance[a.from as usize] -= i128::from(f);
            balance[a.to as usize] += i128::from(f);
            cost += i128::from(f) * i128::from(a.cost);
        }
        if let Some((v, b)) = balance.iter().enumerate().find(|(_, b)| **b != 0) {
            return Err(format!("node {v} is out of balance by {b}"));
        }
        Ok(cost)
    }
}

/// The outcome of a solve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Solution {
    /// An optimal flow: `flow[i]` is the flow on arc `i`.
    Optimal {
        /// Total cost.
        cost: i128,
        /// Flow on each arc, in input order.
        flow: Vec<i64>,
    },
    /// No flow meets every supply and demand within the bounds.
    Infeasible,
}

impl Solution {
    /// An optimal solution with flow `flow` on `net`'s arcs; the cost is
    /// summed in `i128`, so it cannot overflow.
    pub fn optimal(net: &Network, flow: Vec<i64>) -> Self {
        let cost = flow
            .iter()
            .zip(&net.arcs)
            .map(|(&f, a)| i128::from(f) * i128::from(a.cost))
            .sum();
        Solution::Optimal { cost, flow }
    }

    /// The optimal cost, if any.
    pub fn cost(&self) -> Option<i128> {
        match self {
            Solution::Optimal { cost, .. } => Some(*cost),
            Solution::Infeasible => None,
        }
    }
}
