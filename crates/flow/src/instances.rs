//! Labour-market instances of the matching problem, for tests, benchmarks
//! and comparisons with other solvers (`lendwork solve --gen-market` writes
//! them as DIMACS).
//!
//! The instance: a region laid out on a plane (km), with one district per
//! 800 gaps on a 12 km grid and homes and sites spread around each
//! district centre (Gaussian, σ = 3 km). There are 20 skills; a worker holds
//! one to three at levels 1–5 and accepts a commute of 5–12 km and a minimum
//! wage; a gap asks for one skill at a minimum level, 1–12 positions and a
//! wage. A worker is eligible for a gap when it holds the skill at the level,
//! the site is within the commute and the wage is at least the minimum —
//! 50–65 gaps per worker at every size. The cost of a pair is
//! `10·km + 15·(level − min_level) + (5000 − wage)/50` (distance,
//! over-qualification, a poorer wage), an integer ≥ 0 and < 400.
//!
//! Nodes (1-based, as in the DIMACS file): the source `1`, workers
//! `2..=W+1`, gaps next, the sink last.
//! Arcs: source → worker (capacity 1), worker → gap (capacity 1, the cost),
//! gap → sink (capacity = headcount), and a source → sink bypass of
//! capacity W whose cost exceeds what any alternating path can save, so
//! the DIMACS optimum is the maximum-flow minimum-cost optimum:
//! `cost = matched cost + bypass cost × unmatched workers`.

use crate::network::Network;

/// Largest pair cost the generator produces, plus one.
pub const COST_BOUND: i64 = 400;

/// A small deterministic generator (PCG-XSH-RR 64/32), so that the crate
/// stays free of dependencies and an instance is the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDA3E_39CB_94B9_5BDB);
        r.next();
        r
    }
    fn next(&mut self) -> u32 {
        let old = self.0;
        self.0 = old
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let x = (((old >> 18) ^ old) >> 27) as u32;
        x.rotate_right((old >> 59) as u32)
    }
    /// Uniform in `lo..=hi`.
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        lo + ((u64::from(self.next()) * u64::from(hi - lo + 1)) >> 32) as u32
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        f64::from(self.next()) / 4_294_967_296.0
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::EPSILON);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

struct Gap {
    x: f64,
    y: f64,
    skill: u8,
    min_level: u8,
    headcount: u32,
    wage: u32,
}

/// Node layout of a generated instance (0-based, as in [`Network`]).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Number of workers; worker `i` is node `1 + i`.
    pub workers: u32,
    /// Number of gaps; gap `j` is node `1 + workers + j`.
    pub gaps: u32,
    /// Cost of the source → sink bypass arc.
    pub bypass_cost: i64,
}

/// An instance with `workers` workers and `gaps` gaps. Node 0 is the
/// source, the last node the sink; arcs are source → worker, then
/// worker → gap grouped by worker, then gap → sink, then the bypass.
pub fn generate(workers: u32, gaps: u32, seed: u64) -> (Network, Layout) {
    assert!(
        workers > 0 && gaps > 0,
        "an instance needs workers and gaps"
    );
    let mut rng = Rng::new(seed);
    let districts = (gaps / 800).max(2);
    let side = (f64::from(districts)).sqrt().ceil() as u32;
    let centre = |d: u32| (f64::from(d % side) * 12.0, f64::from(d / side) * 12.0);
    let gaps_v: Vec<Gap> = (0..gaps)
        .map(|_| {
            let (cx, cy) = centre(rng.int(0, districts - 1));
            Gap {
                x: cx + 3.0 * rng.normal(),
                y: cy + 3.0 * rng.normal(),
                skill: rng.int(0, 19) as u8,
                min_level: rng.int(1, 3) as u8,
                headcount: rng.int(1, 12),
                wage: rng.int(2200, 5000),
            }
        })
        .collect();
    // Bucket gaps by 4 km cells for the neighbourhood search.
    const CELL: f64 = 4.0;
    let (min_x, min_y) = (-20.0, -20.0);
    let width = ((f64::from(side) * 12.0 + 40.0) / CELL).ceil() as usize + 1;
    let cell_of = |x: f64, y: f64| -> (usize, usize) {
        let c = |v: f64, m: f64| ((v - m) / CELL).clamp(0.0, (width - 1) as f64) as usize;
        (c(x, min_x), c(y, min_y))
    };
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); width * width];
    for (i, g) in gaps_v.iter().enumerate() {
        let (cx, cy) = cell_of(g.x, g.y);
        cells[cy * width + cx].push(i as u32);
    }
    let n = workers as usize + gaps as usize + 2;
    let (source, sink) = (0u32, (n - 1) as u32);
    let gap_node = |g: u32| workers + 1 + g;
    let mut net = Network::with_nodes(n);
    net.supply[source as usize] = i64::from(workers);
    net.supply[sink as usize] = -i64::from(workers);
    net.arcs.reserve(workers as usize * 64);
    for w in 0..workers {
        net.add_arc(source, 1 + w, 1, 0);
    }
    for w in 0..workers {
        let (cx, cy) = centre(rng.int(0, districts - 1));
        let (x, y) = (cx + 3.0 * rng.normal(), cy + 3.0 * rng.normal());
        let mut skills = [(255u8, 0u8); 3];
        let k = rng.int(1, 3) as usize;
        for s in skills.iter_mut().take(k) {
            *s = (rng.int(0, 19) as u8, rng.int(1, 5) as u8);
        }
        let radius = 5.0 + 7.0 * rng.unit();
        let min_wage = rng.int(2000, 4000);
        let (x0, y0) = cell_of(x - radius, y - radius);
        let (x1, y1) = cell_of(x + radius, y + radius);
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                for &gi in &cells[cy * width + cx] {
                    let g = &gaps_v[gi as usize];
                    let Some(&(_, level)) = skills.iter().find(|s| s.0 == g.skill) else {
                        continue;
                    };
                    if level < g.min_level || g.wage < min_wage {
                        continue;
                    }
                    let d = ((g.x - x).powi(2) + (g.y - y).powi(2)).sqrt();
                    if d > radius {
                        continue;
                    }
                    let cost = (10.0 * d).round() as i64
                        + 15 * i64::from(level - g.min_level)
                        + i64::from((5000 - g.wage) / 50);
                    net.add_arc(1 + w, gap_node(gi), 1, cost);
                }
            }
        }
    }
    for (g, gap) in gaps_v.iter().enumerate() {
        net.add_arc(gap_node(g as u32), sink, i64::from(gap.headcount), 0);
    }
    let positions: u64 = gaps_v.iter().map(|g| u64::from(g.headcount)).sum();
    let bypass_cost = COST_BOUND * (2 * u64::from(workers).min(positions) as i64 + 2) + 1;
    net.add_arc(source, sink, i64::from(workers), bypass_cost);
    (
        net,
        Layout {
            workers,
            gaps,
            bypass_cost,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_instance_and_about_fifty_arcs_per_worker() {
        let (a, la) = generate(20_000, 2_000, 7);
        let (b, _) = generate(20_000, 2_000, 7);
        assert_eq!(a, b);
        let per_worker = (a.arcs.len() - 20_000 - 2_000 - 1) as f64 / 20_000.0;
        assert!((20.0..120.0).contains(&per_worker), "{per_worker}");
        assert!(
            la.bypass_cost > COST_BOUND * 2 * 12_000,
            "beyond any alternating path"
        );
        assert!(a
            .arcs
            .iter()
            .all(|x| x.cost >= 0 && (x.cost < COST_BOUND || x.from == 0)));
    }
}
