//! The eligibility rules of DESIGN.md §3 as pure functions.
//!
//! [`check`] answers with the first rule that fails (in the order of §3), so
//! an operator can be told why a worker was *not* proposed; [`audit`] checks
//! them all, for the audit trail.

use serde::{Deserialize, Serialize};

use crate::event::{ShortagePosted, WorkerOffered};
use crate::geo::haversine_km;
use crate::values::Window;

/// One rule of §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// 1. Same region.
    SameRegion,
    /// 2. No lending to yourself.
    NotOwnEmployer,
    /// 3. A lent employee consents, and the contract outlasts the gap.
    ConsentAndContract,
    /// 4. Every required skill at or above its level.
    Skills,
    /// 5. Every required certificate.
    Certificates,
    /// 6. The gap's window lies inside the worker's availability.
    Availability,
    /// 7. Within both commute limits.
    Commute,
    /// 8. The wage meets the worker's minimum.
    Wage,
    /// 9. No overlapping pending proposal or assignment.
    NoOverlap,
    /// 10. The borrower has not blocked the worker (v2, `preference_set`).
    NotBlocked,
}

impl Rule {
    /// All rules in the order of §3.
    pub const ALL: [Rule; 10] = [
        Rule::SameRegion,
        Rule::NotOwnEmployer,
        Rule::ConsentAndContract,
        Rule::Skills,
        Rule::Certificates,
        Rule::Availability,
        Rule::Commute,
        Rule::Wage,
        Rule::NoOverlap,
        Rule::NotBlocked,
    ];

    /// The rules of contract version 1, which every proposal lists as
    /// passed (a version 1 proposal does not name rule 10).
    pub const V1: [Rule; 9] = [
        Rule::SameRegion,
        Rule::NotOwnEmployer,
        Rule::ConsentAndContract,
        Rule::Skills,
        Rule::Certificates,
        Rule::Availability,
        Rule::Commute,
        Rule::Wage,
        Rule::NoOverlap,
    ];

    /// The wire name.
    pub fn slug(self) -> &'static str {
        match self {
            Rule::SameRegion => "same_region",
            Rule::NotOwnEmployer => "not_own_employer",
            Rule::ConsentAndContract => "consent_and_contract",
            Rule::Skills => "skills",
            Rule::Certificates => "certificates",
            Rule::Availability => "availability",
            Rule::Commute => "commute",
            Rule::Wage => "wage",
            Rule::NoOverlap => "no_overlap",
            Rule::NotBlocked => "not_blocked",
        }
    }

    /// The rule's number in DESIGN.md §3.
    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    /// Whether the rule holds for this pair. `busy` lists the windows of the
    /// worker's pending proposals and assignments. Rule 10 always holds
    /// here: the borrowers' lists are the engine's state, not the pair's,
    /// and the engine checks it.
    pub fn holds(self, w: &WorkerOffered, g: &ShortagePosted, busy: &[Window]) -> bool {
        match self {
            Rule::SameRegion => w.region == g.region,
            Rule::NotOwnEmployer => w.employer_id.as_ref() != Some(&g.enterprise_id),
            Rule::ConsentAndContract => match &w.employer_id {
                None => true,
                Some(_) => w.consent && w.contract_end.map_or(true, |end| end >= g.window.end),
            },
            Rule::Skills => g.requirements.iter().all(|r| {
                w.skills
                    .iter()
                    .any(|s| s.skill == r.skill && s.level >= r.min_level)
            }),
            Rule::Certificates => g.certificates.iter().all(|c| w.certificates.contains(c)),
            Rule::Availability => w.available.contains(&g.window),
            Rule::Commute => {
                let d = haversine_km(&w.home, &g.site);
                d <= w.max_commute_km.get() && g.max_commute_km.map_or(true, |m| d <= m.get())
            }
            Rule::Wage => g.hourly_wage_fen >= w.min_hourly_wage_fen,
            Rule::NoOverlap => !busy.iter().any(|b| b.overlaps(&g.window)),
            Rule::NotBlocked => true,
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

/// `Ok` when worker `w` may fill gap `g`; otherwise the first rule that fails.
pub fn check(w: &WorkerOffered, g: &ShortagePosted, busy: &[Window]) -> Result<(), Rule> {
    match Rule::ALL.into_iter().find(|r| !r.holds(w, g, busy)) {
        None => Ok(()),
        Some(r) => Err(r),
    }
}

/// Every rule with whether it holds, in order.
pub fn audit(w: &WorkerOffered, g: &ShortagePosted, busy: &[Window]) -> [(Rule, bool); 10] {
    Rule::ALL.map(|r| (r, r.holds(w, g, busy)))
}
