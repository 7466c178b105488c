//! # lendwork-flow
//!
//! Exact minimum-cost flow, pure (its only dependency is `thiserror`), in
//! two paths:
//!
//! * [`bipartite::AssignmentSolver`] — the matching problem of Lendwork
//!   (workers supply one unit, gaps take up to their headcount, leaving a
//!   worker unassigned has a cost). Successive shortest paths specialised to the
//!   structure, with early-stopping Dijkstra and potentials, and
//!   **incremental**: every update re-optimises from the previous optimum.
//! * [`simplex::solve`] — any network with supplies, demands, lower bounds
//!   and arc costs of any sign (the DIMACS problem): primal network simplex
//!   with block search; reports infeasibility.
//! * [`ssp::solve`] — a second general solver (capacity-scaling successive
//!   shortest paths), much slower on NETGEN networks; it stays as an
//!   independent cross-check in the tests.
//!
//! [`solve`] picks the bipartite path when the network has its shape
//! ([`structure`]) and the general one otherwise. [`dimacs`] reads and
//! writes the DIMACS formats.
//!
//! ```
//! use lendwork_flow::bipartite::AssignmentSolver;
//! use lendwork_flow::{network::Network, solve, Solution};
//!
//! // Two workers, one gap with one position: the cheaper worker gets it.
//! let unassigned = AssignmentSolver::lexicographic_unassigned_cost(100, 10);
//! let mut m = AssignmentSolver::new(unassigned, 100);
//! let g = m.add_gap(1);
//! let a = m.add_worker(&[(g, 30)]).unwrap();
//! let b = m.add_worker(&[(g, 10)]).unwrap();
//! assert_eq!(m.assignment(b), Some(g));
//! assert_eq!(m.assignment(a), None);
//! m.remove_worker(b).unwrap(); // a takes the freed position
//! assert_eq!(m.assignment(a), Some(g));
//!
//! // A general network: ship 4 units from node 0 to node 2.
//! let mut net = Network::with_nodes(3);
//! net.supply = vec![4, 0, -4];
//! net.add_arc(0, 1, 3, 1);
//! net.add_arc(1, 2, 3, 1);
//! net.add_arc(0, 2, 4, 5);
//! assert_eq!(solve(&net).0.cost(), Some(3 * 2 + 5));
//! ```

pub mod bipartite;
pub mod dimacs;
pub mod instances;
pub mod network;
pub mod simplex;
pub mod ssp;
pub mod structure;

pub use network::{Network, Solution};

/// Which path solved a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The bipartite matching path.
    Bipartite,
    /// The general network simplex path.
    General,
}

impl Method {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Bipartite => "bipartite",
            Method::General => "general",
        }
    }
}

/// Solves `net` exactly, on the bipartite path when the network has the
/// matching shape and on the general path otherwise.
pub fn solve(net: &Network) -> (Solution, Method) {
    match structure::recognise(net) {
        Some(b) => (b.solve(net), Method::Bipartite),
        None => (simplex::solve(net), Method::General),
    }
}
