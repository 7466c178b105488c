//! Solves a DIMACS file on the path `lendwork_flow::solve` picks and
//! prints the path, the solve time (not reading) and the optimum, plus the
//! bipartite solver's search counters: a quick loop for solver work that
//! does not need the `lendwork` binary.
//!
//! ```sh
//! cargo run --release -p lendwork-flow --example solve_dimacs -- FILE.min [general]
//! ```
//! With `general` the network simplex solves it whatever its shape.

use std::io::BufReader;
use std::time::Instant;

use lendwork_flow::{dimacs, simplex, structure};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().expect("a DIMACS file");
    let file = std::fs::File::open(path).expect("readable file");
    let net = dimacs::read(BufReader::new(file)).expect("a DIMACS problem");
    let general = args.get(1).is_some_and(|a| a == "general");
    let t = Instant::now();
    let (sol, how) = match structure::recognise(&net).filter(|_| !general) {
        Some(mut b) => {
            b.solver.place_all();
            let stats = b.solver.stats;
            let unassigned = b.solver.unassigned_count();
            // `solve` places again (a no-op now) and builds the flows.
            let sol = b.solve(&net);
            (sol, format!("bipartite {stats:?}, {unassigned} unassigned"))
        }
        None => (simplex::solve(&net), "general".to_owned()),
    };
    println!(
        "{path}: {how}; solve {:.3} s; cost {:?}",
        t.elapsed().as_secs_f64(),
        sol.cost()
    );
}
