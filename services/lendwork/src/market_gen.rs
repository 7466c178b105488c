//! `lendwork solve --gen-market`: labour-market instances of the matching
//! problem in DIMACS form, for benchmarks and comparisons with other
//! solvers.
//!
//! The instance: a region laid out on a plane (km), with one district per
//! 800 gaps on a 12 km grid and homes and sites spread around each
//! district centre (Gaussian, σ = 3 km). There are 20 skills; a worker holds
//! one to three at levels 1–5 and accepts a commute of 5–12 km and a minimum
//! wage; a gap asks for one skill at a minimum level, 1–12 positions and a
//! wage. A worker is eligible for a gap when it holds the skill at the level,
//! the site is within the commute and the wage is at least the minimum —
//! about 50 gaps per worker at every size. The cost of a pair is
//! `10·km + 15·(level − min_level) + (5000 − wage)/50` (distance,
//! over-qualification, a poorer wage), an integer ≥ 0 and < 400.
//!
//! Nodes: the source `1`, workers `2..=W+1`, gaps next, the sink last.
//! Arcs: source → worker (capacity 1), worker → gap (capacity 1, the cost),
//! gap → sink (capacity = headcount), and a source → sink bypass of
//! capacity W whose cost exceeds what any alternating path can save, so
//! the DIMACS optimum is the maximum-flow minimum-cost optimum:
//! `cost = matched cost + bypass cost × unmatched workers`.

use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Largest pair cost the generator produces, plus one.
pub const COST_BOUND: i64 = 400;

struct Gap {
    x: f64,
    y: f64,
    skill: u8,
    min_level: u8,
    headcount: u32,
    wage: u32,
}

/// Writes an instance with `workers` workers and `gaps` gaps; returns the
/// number of worker → gap arcs.
pub fn generate(workers: u32, gaps: u32, seed: u64, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let districts = (gaps / 800).max(2);
    let side = (f64::from(districts)).sqrt().ceil() as u32;
    let centre = |d: u32| (f64::from(d % side) * 12.0, f64::from(d / side) * 12.0);
    let normal = |rng: &mut Pcg64Mcg| -> f64 {
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let gaps_v: Vec<Gap> = (0..gaps)
        .map(|_| {
            let (cx, cy) = centre(rng.gen_range(0..districts));
            Gap {
                x: cx + 3.0 * normal(&mut rng),
                y: cy + 3.0 * normal(&mut rng),
                skill: rng.gen_range(0..20),
                min_level: rng.gen_range(1..=3),
                headcount: rng.gen_range(1..=12),
                wage: rng.gen_range(2200..=5000),
            }
        })
        .collect();
    // Bucket gaps by 4 km cells for the neighbourhood search.
    const CELL: f64 = 4.0;
    let (min_x, min_y) = (-20.0, -20.0);
    let width = ((f64::from(side) * 12.0 + 40.0) / CELL).ceil() as usize + 1;
    let cell_of = |x: f64, y: f64| -> (usize, usize) {
        (
            ((x - min_x) / CELL).clamp(0.0, (width - 1) as f64) as usize,
            ((y - min_y) / CELL).clamp(0.0, (width - 1) as f64) as usize,
        )
    };
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); width * width];
    for (i, g) in gaps_v.iter().enumerate() {
        let (cx, cy) = cell_of(g.x, g.y);
        cells[cy * width + cx].push(i as u32);
    }

    let n_nodes = u64::from(workers) + u64::from(gaps) + 2;
    let source = 1u64;
    let sink = n_nodes;
    let gap_node = |g: u32| u64::from(workers) + 2 + u64::from(g);
    // The arcs are generated first (their count goes in the header).
    let mut wg: Vec<(u32, u32, u16)> = Vec::new();
    for w in 0..workers {
        let (cx, cy) = centre(rng.gen_range(0..districts));
        let (x, y) = (cx + 3.0 * normal(&mut rng), cy + 3.0 * normal(&mut rng));
        let mut skills = [(255u8, 0u8); 3];
        for s in skills.iter_mut().take(rng.gen_range(1..=3)) {
            *s = (rng.gen_range(0..20), rng.gen_range(1..=5));
        }
        let radius: f64 = rng.gen_range(5.0..12.0);
        let min_wage: u32 = rng.gen_range(2000..=4000);
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
                    let cost = (10.0 * d).round() as u32
                        + 15 * u32::from(level - g.min_level)
                        + (5000 - g.wage) / 50;
                    wg.push((w, gi, cost as u16));
                }
            }
        }
    }
    let m = u64::from(workers) + wg.len() as u64 + u64::from(gaps) + 1;
    let bypass_cost = COST_BOUND * (2 * i64::from(workers.min(gaps * 12)) + 2) + 1;
    writeln!(
        out,
        "c Lendwork labour-market instance: {workers} workers, {gaps} gaps, seed {seed}"
    )?;
    writeln!(
        out,
        "c nodes: source 1, workers 2..={}, gaps {}..={}, sink {sink}",
        u64::from(workers) + 1,
        gap_node(0),
        gap_node(gaps.saturating_sub(1))
    )?;
    writeln!(out, "c bypass cost {bypass_cost} exceeds any alternating path, so optimum = max flow at min cost")?;
    writeln!(out, "p min {n_nodes} {m}")?;
    writeln!(out, "n {source} {workers}")?;
    writeln!(out, "n {sink} -{workers}")?;
    for w in 0..u64::from(workers) {
        writeln!(out, "a {source} {} 0 1 0", w + 2)?;
    }
    for &(w, g, c) in &wg {
        writeln!(out, "a {} {} 0 1 {c}", u64::from(w) + 2, gap_node(g))?;
    }
    for (g, gap) in gaps_v.iter().enumerate() {
        writeln!(out, "a {} {sink} 0 {} 0", gap_node(g as u32), gap.headcount)?;
    }
    writeln!(out, "a {source} {sink} 0 {workers} {bypass_cost}")?;
    Ok(wg.len() as u64)
}
