//! Eligibility and cost of a pair, decided on the worker's and the gap's
//! records.
//!
//! This is the exact check behind every candidate the grid entries
//! (`entries.rs`) cannot decide on their own, the check of a foreign
//! proposal read from the log, the first failing rule a why-not reports,
//! and the pricing of every proposal. A cheap pass on integers (wage,
//! dates, interned skills and certificates, commitments) comes first; the
//! domain's own rules, in the order of DESIGN §3, have the last word.

use lendwork_domain::*;

use super::{GapRec, Market, WorkerRec};
use crate::cost::{CostWeights, Terms};

impl Market {
    /// Eligibility: a pre-check on integers (wage, dates, interned skills
    /// and certificates, rule 9) rejects most candidates cheaply; a pair
    /// that passes is confirmed by the domain's own rules, in the order of
    /// DESIGN §3, which alone decide. (Interning is exact, so the pre-check
    /// never rejects an eligible pair; the property tests compare with the
    /// domain rules on every pair.)
    pub(super) fn eligible(w: &WorkerRec, g: &GapRec) -> Result<(), Rule> {
        if Self::quick(w, g) {
            if let Some(r) = Rule::ALL
                .into_iter()
                .find(|&r| r != Rule::NoOverlap && !r.holds(&w.profile, &g.posting, &[]))
            {
                return Err(r);
            }
            return Ok(());
        }
        Err(Self::first_failure(w, &g.posting))
    }

    /// Candidate filter, called after the grid entry's `fits` (which
    /// decides rules 2 and 3 exactly on interned data): [`Market::quick`]
    /// decides rules 4–9 exactly on the records; rule 1 holds by
    /// construction (a market holds one region). The property tests check
    /// every proposal against the domain's own rules.
    /// Returns the pair's cost when it is admitted.
    pub(super) fn admits(
        weights: &CostWeights,
        w: &WorkerRec,
        g: &GapRec,
        favourite: bool,
    ) -> Option<i64> {
        let km = Self::quick_km(w, g)?;
        if w.excluded.contains(&g.slot) {
            return None;
        }
        Some(Self::terms_km(weights, w, g, km, favourite).total() as i64)
    }

    /// The pair's cost terms, over-qualification counted on interned skills.
    pub(super) fn terms(
        weights: &CostWeights,
        w: &WorkerRec,
        g: &GapRec,
        favourite: bool,
    ) -> Terms {
        Self::terms_km(
            weights,
            w,
            g,
            haversine_km(&w.profile.home, &g.posting.site),
            favourite,
        )
    }

    fn terms_km(
        weights: &CostWeights,
        w: &WorkerRec,
        g: &GapRec,
        km: f64,
        favourite: bool,
    ) -> Terms {
        let over: u64 = g
            .reqs
            .iter()
            .filter_map(|&(s, l)| {
                w.skills
                    .iter()
                    .find(|x| x.0 == s)
                    .map(|x| u64::from(x.1.saturating_sub(l)))
            })
            .sum();
        weights.terms_with(
            &w.profile,
            &g.posting,
            w.share_permille,
            over,
            km,
            favourite,
            w.no_show_permille,
        )
    }

    fn quick(w: &WorkerRec, g: &GapRec) -> bool {
        Self::quick_km(w, g).is_some()
    }

    /// Rules 4–9 on the records; the distance when they hold.
    fn quick_km(w: &WorkerRec, g: &GapRec) -> Option<f64> {
        let (wp, gp) = (&w.profile, &g.posting);
        let ok = gp.hourly_wage_fen >= wp.min_hourly_wage_fen
            && wp.available.contains(&gp.window)
            && g.reqs
                .iter()
                .all(|&(s, l)| w.skills.iter().any(|&(ws, wl)| ws == s && wl >= l))
            && g.certs.iter().all(|c| w.certs.binary_search(c).is_ok())
            && !w.busy.iter().any(|b| b.1.overlaps(&gp.window));
        if !ok {
            return None;
        }
        let km = haversine_km(&wp.home, &gp.site);
        (km <= wp.max_commute_km.get() && gp.max_commute_km.map_or(true, |m| km <= m.get()))
            .then_some(km)
    }

    fn first_failure(w: &WorkerRec, g: &ShortagePosted) -> Rule {
        Rule::ALL
            .into_iter()
            .find(|&r| {
                if r == Rule::NoOverlap {
                    w.busy.iter().any(|b| b.1.overlaps(&g.window))
                } else {
                    !r.holds(&w.profile, g, &[])
                }
            })
            .unwrap_or(Rule::NoOverlap)
    }
}
