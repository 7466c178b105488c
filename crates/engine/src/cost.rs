//! The cost model: every term a non-negative integer, every weight
//! configurable, every proposal's cost broken into its terms.
//!
//! | term | what it prices | default weight |
//! | --- | --- | --- |
//! | `distance` | commute, `weight × km` (rounded) | 10 per km |
//! | `wage_margin` | a wage barely above the worker's minimum: `weight × (¥20 − margin)`, 0 from ¥20 of margin up | 5 per yuan |
//! | `over_qualification` | skill levels above what the gap needs, summed over its requirements | 20 per level |
//! | `priority` | a worker *outside* the policy's priority groups (unemployed, graduates, migrant workers, hard to employ), so they go first among equals | 300 |
//! | `fairness` | the worker's lender's share of the region's offered pool when the worker was offered, so one lender's surplus does not crowd out another's; flexible workers pay none | 100 × share |
//! | `not_favourite` | a worker the borrower has not marked as a favourite (`preference_set`); a favourite pays none of it — a bonus bounded by this weight, as much as 10 km of commute by default | 100 |
//! | `no_show_risk` | the worker's no-show rate, smoothed: weight × no-shows / (assignments ended + 2), so one no-show in a first assignment costs a third of the weight, never more than the weight; it never makes a worker ineligible | 200 |
//!
//! The matching maximises filled positions first and minimises total cost
//! second, so weights trade these terms against each other but never
//! against filling a position. Each term is capped at [`TERM_CAP`], which
//! bounds a pair's cost for the solver.

use std::collections::BTreeMap;

use lendwork_domain::{haversine_km, ShortagePosted, WorkerOffered};
use serde::{Deserialize, Serialize};

/// Largest value of one term.
pub const TERM_CAP: u64 = 200_000;
/// Number of terms.
pub const TERMS: usize = 7;
/// Largest cost of a pair.
pub const MAX_COST: u64 = TERM_CAP * TERMS as u64;

/// Weights of the cost terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostWeights {
    /// Per km of commute.
    pub distance_per_km: u32,
    /// Per yuan the wage margin falls short of ¥20 per hour.
    pub wage_margin_per_yuan: u32,
    /// Per skill level above a requirement.
    pub over_qualification_per_level: u32,
    /// For a worker outside the priority groups.
    pub non_priority: u32,
    /// Times the lender's share (0–1) of the region's offered pool.
    pub lender_share: u32,
    /// For a worker the borrower has not marked as a favourite: the
    /// favourite's bonus.
    pub not_favourite: u32,
    /// Times the worker's smoothed no-show rate (0–1).
    pub no_show_risk: u32,
}

impl Default for CostWeights {
    fn default() -> Self {
        Self {
            distance_per_km: 10,
            wage_margin_per_yuan: 5,
            over_qualification_per_level: 20,
            non_priority: 300,
            lender_share: 100,
            not_favourite: 100,
            no_show_risk: 200,
        }
    }
}

impl CostWeights {
    /// Checks every weight is at most 10 000, naming the field otherwise.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("distance_per_km", self.distance_per_km),
            ("wage_margin_per_yuan", self.wage_margin_per_yuan),
            (
                "over_qualification_per_level",
                self.over_qualification_per_level,
            ),
            ("non_priority", self.non_priority),
            ("lender_share", self.lender_share),
            ("not_favourite", self.not_favourite),
            ("no_show_risk", self.no_show_risk),
        ] {
            if v > 10_000 {
                return Err(format!("weights.{name}: must be at most 10000, got {v}"));
            }
        }
        Ok(())
    }

    /// The terms of pairing `w` (whose lender held `share_permille` of the
    /// pool at offer time) with `g`. The pair must be eligible (rule 4 holds,
    /// so every requirement has a matching skill).
    /// `favourite`: whether the gap's borrower marked the worker as one;
    /// `no_show_permille`: the worker's smoothed no-show rate
    /// ([`crate::market::Reliability::no_show_permille`]).
    pub fn terms(
        &self,
        w: &WorkerOffered,
        g: &ShortagePosted,
        share_permille: u32,
        favourite: bool,
        no_show_permille: u32,
    ) -> Terms {
        let over: u64 = g
            .requirements
            .iter()
            .filter_map(|r| {
                w.skills
                    .iter()
                    .find(|s| s.skill == r.skill)
                    .map(|s| u64::from(s.level.get().saturating_sub(r.min_level.get())))
            })
            .sum();
        self.terms_with(
            w,
            g,
            share_permille,
            over,
            haversine_km(&w.home, &g.site),
            favourite,
            no_show_permille,
        )
    }

    /// [`CostWeights::terms`] with the over-qualification (levels above the
    /// requirements, summed) and the distance `km` already computed — the
    /// engine counts the first on interned skills and has the second from
    /// the commute check.
    #[allow(clippy::too_many_arguments)]
    pub fn terms_with(
        &self,
        w: &WorkerOffered,
        g: &ShortagePosted,
        share_permille: u32,
        over_levels: u64,
        km: f64,
        favourite: bool,
        no_show_permille: u32,
    ) -> Terms {
        self.terms_raw(
            km,
            g.hourly_wage_fen.get(),
            w.min_hourly_wage_fen.get(),
            over_levels,
            w.priority_group.is_some(),
            share_permille,
            favourite,
            no_show_permille,
        )
    }

    /// [`CostWeights::terms_with`] on the numbers it reads: the distance,
    /// the gap's wage and the worker's minimum (fen per hour), the levels
    /// of over-qualification, whether the worker is in a priority group and
    /// the lender's share (per mille), whether the borrower marked the
    /// worker as a favourite. The engine's candidate index calls this
    /// directly, so both paths price a pair identically.
    #[allow(clippy::too_many_arguments)]
    pub fn terms_raw(
        &self,
        km: f64,
        wage_fen: i64,
        min_wage_fen: i64,
        over_levels: u64,
        priority_group: bool,
        share_permille: u32,
        favourite: bool,
        no_show_permille: u32,
    ) -> Terms {
        let distance = (km * f64::from(self.distance_per_km)).round() as u64;
        let margin = (wage_fen - min_wage_fen).max(0) as u64;
        let wage_margin =
            u64::from(self.wage_margin_per_yuan) * (2000u64.saturating_sub(margin)) / 100;
        let over_qualification = over_levels * u64::from(self.over_qualification_per_level);
        let priority = if priority_group {
            0
        } else {
            u64::from(self.non_priority)
        };
        let fairness = u64::from(self.lender_share) * u64::from(share_permille) / 1000;
        let not_favourite = if favourite {
            0
        } else {
            u64::from(self.not_favourite)
        };
        let no_show_risk = u64::from(self.no_show_risk) * u64::from(no_show_permille) / 1000;
        Terms(
            [
                distance,
                wage_margin,
                over_qualification,
                priority,
                fairness,
                not_favourite,
                no_show_risk,
            ]
            .map(|t| t.min(TERM_CAP)),
        )
    }
}

/// The seven terms of a pair's cost, in the order of [`Terms::NAMES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms(pub [u64; TERMS]);

impl Terms {
    /// Term names as they appear in explanations.
    pub const NAMES: [&'static str; TERMS] = [
        "distance",
        "wage_margin",
        "over_qualification",
        "priority",
        "fairness",
        "not_favourite",
        "no_show_risk",
    ];

    /// The cost: the sum of the terms.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The terms by name, for an explanation.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        Self::NAMES
            .iter()
            .zip(self.0)
            .map(|(n, v)| ((*n).to_owned(), v))
            .collect()
    }
}
