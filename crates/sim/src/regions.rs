//! Where the market is: regions with real Gansu division codes, their
//! districts and enterprises, the industries that lend and borrow, and
//! places drawn around a district centre.

use lendwork_domain::*;
use rand::Rng;
use rand_pcg::Pcg64Mcg;

use crate::{Sim, SimConfig};

/// Gansu's prefecture-level divisions: code, latitude, longitude.
const GANSU: [(&str, f64, f64); 14] = [
    ("620100", 36.061, 103.834),
    ("620200", 39.772, 98.289),
    ("620300", 38.520, 102.188),
    ("620400", 36.545, 104.138),
    ("620500", 34.581, 105.725),
    ("620600", 37.928, 102.638),
    ("620700", 38.926, 100.455),
    ("620800", 35.543, 106.665),
    ("620900", 39.733, 98.494),
    ("621000", 35.709, 107.643),
    ("621100", 35.580, 104.626),
    ("621200", 33.401, 104.922),
    ("622900", 35.601, 103.210),
    ("623000", 34.983, 102.911),
];

/// An industry: its name and the skills it needs, each with the
/// certificate that goes with it, if any.
pub(crate) struct Industry {
    pub(crate) name: &'static str,
    pub(crate) skills: &'static [(&'static str, Option<&'static str>)],
}

/// Industries whose enterprises lend staff.
pub(crate) const LENDING: [Industry; 2] = [
    Industry {
        name: "manufacturing",
        skills: &[
            ("assembly", None),
            ("welding", Some("welding-cert")),
            ("quality-inspection", None),
            ("machine-operation", None),
        ],
    },
    Industry {
        name: "hospitality",
        skills: &[
            ("cooking", Some("health-cert")),
            ("cleaning", None),
            ("reception", None),
        ],
    },
];

/// Industries whose enterprises borrow staff.
pub(crate) const BORROWING: [Industry; 5] = [
    Industry {
        name: "logistics",
        skills: &[
            ("forklift", Some("forklift-licence")),
            ("warehouse-picking", None),
            ("delivery-driving", Some("driving-licence-c1")),
        ],
    },
    Industry {
        name: "retail",
        skills: &[
            ("cashier", None),
            ("shelf-stocking", None),
            ("reception", None),
        ],
    },
    Industry {
        name: "food-processing",
        skills: &[
            ("food-packing", Some("health-cert")),
            ("cooking", Some("health-cert")),
            ("cleaning", None),
        ],
    },
    Industry {
        name: "care",
        skills: &[("elder-care", Some("care-worker-cert")), ("cleaning", None)],
    },
    Industry {
        name: "construction",
        skills: &[
            ("bricklaying", None),
            ("welding", Some("welding-cert")),
            ("machine-operation", None),
        ],
    },
];

/// A region: its code, district centres, and enterprises (each with its
/// industry's index in [`LENDING`] or [`BORROWING`]).
pub(crate) struct RegionPlan {
    pub(crate) code: Region,
    pub(crate) districts: Vec<(f64, f64)>,
    pub(crate) lenders: Vec<(EnterpriseId, usize)>,
    pub(crate) borrowers: Vec<(EnterpriseId, usize)>,
    pub(crate) agencies: Vec<EnterpriseId>,
}

/// Plans `cfg.regions` regions (at least one), drawing districts and
/// enterprises from `rng`.
pub(crate) fn plan(cfg: &SimConfig, rng: &mut Pcg64Mcg) -> Vec<RegionPlan> {
    let per_region = |n: u64| ((n / u64::from(cfg.regions.max(1))) / 150).clamp(4, 400) as usize;
    let mut regions = Vec::new();
    for r in 0..cfg.regions.max(1) as usize {
        let (code, lat, lon) = match GANSU.get(r) {
            Some(&(c, la, lo)) => (c.to_owned(), la, lo),
            None => (
                format!("{}", 630_100 + (r - GANSU.len()) * 100),
                30.0 + (r % 10) as f64,
                100.0 + (r / 10) as f64,
            ),
        };
        let nd = rng.gen_range(3..=5);
        let districts = (0..nd)
            .map(|_| {
                (
                    lat + rng.gen_range(-0.12..0.12),
                    lon + rng.gen_range(-0.15..0.15),
                )
            })
            .collect();
        let n_ent = per_region(cfg.workers + cfg.gaps * 10);
        let lenders: Vec<_> = (0..n_ent)
            .map(|i| {
                (
                    EnterpriseId::new(format!("ent-{code}-l{i}")).unwrap(),
                    rng.gen_range(0..LENDING.len()),
                )
            })
            .collect();
        let mut borrowers: Vec<_> = (0..n_ent)
            .map(|i| {
                (
                    EnterpriseId::new(format!("ent-{code}-b{i}")).unwrap(),
                    rng.gen_range(0..BORROWING.len()),
                )
            })
            .collect();
        // A few lenders also borrow, under the same enterprise id.
        borrowers.push((lenders[0].0.clone(), 0));
        let agencies = (0..3)
            .map(|i| EnterpriseId::new(format!("agency-{code}-{i}")).unwrap())
            .collect();
        regions.push(RegionPlan {
            code: Region::new(code).unwrap(),
            districts,
            lenders,
            borrowers,
            agencies,
        });
    }
    regions
}

impl Sim<'_> {
    pub(crate) fn place_near(&mut self, c: (f64, f64), sd_km: f64) -> Place {
        // Box–Muller; one degree of latitude is about 111 km.
        let u1: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.gen();
        let r = (-2.0 * u1.ln()).sqrt() * sd_km / 111.0;
        let (s, co) = (std::f64::consts::TAU * u2).sin_cos();
        let lat = (c.0 + r * s).clamp(-89.0, 89.0);
        let lon = (c.1 + r * co / c.0.to_radians().cos()).clamp(-179.0, 179.0);
        Place::new(round5(lat), round5(lon)).unwrap()
    }
}

/// Rounds to five decimals (about a metre), so the output is stable.
fn round5(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}
