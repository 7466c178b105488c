//! The grid entries: a worker ([`WCand`]) or a gap ([`GCand`]) as the
//! spatial and skill index stores it — its slot and the few numbers that
//! decide most candidate pairs without touching either record.
//!
//! Every test an entry makes is a necessary condition of eligibility, so
//! the index never hides an eligible pair. While the market's skill and
//! certificate bits are exact (at most 64 of each interned), an entry also
//! decides eligibility and cost on its own for a worker whose commitments
//! all fit in the entry; the rest go to the records (`eligibility.rs`).

use lendwork_domain::*;
use lendwork_flow::bipartite::GapIx;

use super::{GapRec, WorkerRec, NONE};
use crate::cost::CostWeights;

/// Standing commitments a grid entry carries itself (rule 9).
const BUSY_INLINE: usize = 3;

/// A worker as the grid stores it: its slot and the few numbers that
/// reject most gaps without touching the worker's record. Every test here
/// is a necessary condition of eligibility (skill bits are taken modulo 64,
/// which can only let more through; distance has a 1 % margin over the
/// haversine), so the index never hides an eligible pair.
///
/// While a market has interned at most 64 skills and 64 certificates the
/// bits are exact, and then the entry also decides eligibility and cost on
/// its own ([`WCand::cost`]) for a worker with at most one commitment and
/// no exclusions — the common case, and the one that keeps candidate scans
/// inside the grid's memory instead of chasing every worker's record.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct WCand {
    pub(super) slot: u32,
    pub(super) from: i32,
    pub(super) to: i32,
    pub(super) min_wage: i64,
    /// `has[l-1]`: bits of the skills held at level ≥ l.
    pub(super) has: [u64; 5],
    /// Bits of the certificates held.
    pub(super) certs: u64,
    pub(super) lat: f64,
    pub(super) lon: f64,
    pub(super) commute: f64,
    /// Last day the worker may be lent to (rule 3): `i32::MIN` without
    /// consent, the contract's end, or `i32::MAX`.
    pub(super) lend_until: i32,
    /// Interned employer (0: a flexible worker), for rule 2.
    pub(super) employer: u32,
    /// The worker's standing commitments (rule 9) as day ranges, when it
    /// has at most [`BUSY_INLINE`]; `busy_n` counts them, and above that
    /// the record decides.
    pub(super) busy_n: u8,
    pub(super) busy: [(i32, i32); BUSY_INLINE],
    /// Whether some gap is excluded for this worker (then the market's
    /// exclusion set is asked).
    pub(super) excl: bool,
    /// Cosine of the latitude, for the distance pre-check.
    pub(super) coslat: f64,
    /// In one of the policy's priority groups.
    pub(super) priority: bool,
    /// The lender's share of the pool at offer time, per mille.
    pub(super) share: u32,
    /// The worker's smoothed no-show rate, per mille.
    pub(super) no_show: u32,
}

impl WCand {
    pub(super) fn of(slot: u32, rec: &WorkerRec) -> Self {
        let (w, skills, certs) = (&rec.profile, &rec.skills, &rec.certs);
        let lend_until = match (&w.employer_id, w.consent, w.contract_end) {
            (None, _, _) => i32::MAX,
            (Some(_), false, _) => i32::MIN,
            (Some(_), true, end) => end.map_or(i32::MAX, |d| d.day_number()),
        };
        let mut busy = [(0, 0); BUSY_INLINE];
        for (slot, b) in busy.iter_mut().zip(&rec.busy) {
            *slot = (b.1.start.day_number(), b.1.end.day_number());
        }
        let mut has = [0u64; 5];
        for &(s, l) in skills.iter() {
            for h in has.iter_mut().take(l as usize) {
                *h |= 1 << (s % 64);
            }
        }
        Self {
            slot,
            from: w.available.start.day_number(),
            to: w.available.end.day_number(),
            min_wage: w.min_hourly_wage_fen.get(),
            has,
            certs: bits(certs.iter().copied()),
            lat: w.home.lat(),
            lon: w.home.lon(),
            commute: w.max_commute_km.get(),
            lend_until,
            employer: rec.employer,
            busy_n: rec.busy.len().min(BUSY_INLINE + 1) as u8,
            busy,
            excl: !rec.excluded.is_empty(),
            coslat: w.home.lat().to_radians().cos(),
            priority: w.priority_group.is_some(),
            share: rec.share_permille,
            no_show: rec.no_show_permille,
        }
    }

    /// Whether [`WCand::cost`] may decide for this worker: the market's
    /// bits are `exact` and the worker's commitments and exclusions are
    /// all in the entry.
    pub(super) fn decides(&self, exact: bool) -> bool {
        exact && usize::from(self.busy_n) <= BUSY_INLINE
    }

    /// For a pair that [`WCand::fits`], when [`WCand::decides`]: the exact
    /// commute check (rule 7, the haversine as the domain computes it) and
    /// the pair's cost, priced by the same [`CostWeights::terms_raw`] as
    /// the record path. With exact bits, `fits` has decided rules 2–6, 8
    /// and 9 exactly, and over-qualification is counted on the level bits:
    /// a requirement of skill s at level l held at level L has s in
    /// `has[l..L]`, that is L − l bits above the requirement's level.
    pub(super) fn cost(&self, weights: &CostWeights, g: &GCand, favourite: bool) -> Option<i64> {
        let km = haversine_deg_cos(self.lat, self.lon, self.coslat, g.lat, g.lon, g.coslat);
        if !(km <= self.commute && km <= g.max_commute) {
            return None;
        }
        let mut over = 0u64;
        for l in 0..5 {
            for above in &self.has[l + 1..] {
                over += u64::from((g.req[l] & above).count_ones());
            }
        }
        let terms = weights.terms_raw(
            km,
            g.wage,
            self.min_wage,
            over,
            self.priority,
            self.share,
            favourite,
            self.no_show,
        );
        Some(terms.total() as i64)
    }

    /// Could this worker take this gap?
    pub(super) fn fits(&self, g: &GCand) -> bool {
        self.from <= g.start
            && g.end <= self.to
            && g.wage >= self.min_wage
            && (0..5).all(|l| g.req[l] & !self.has[l] == 0)
            && g.certs & !self.certs == 0
            && g.end <= self.lend_until
            && (self.employer == 0 || self.employer != g.enterprise)
            && !self.busy[..usize::from(self.busy_n).min(BUSY_INLINE)]
                .iter()
                .any(|b| b.0 <= g.end && g.start <= b.1)
            && {
                // Equirectangular distance, good to far better than 1 % at
                // commuting range; the smaller of the two cosines (never
                // above the midpoint's, on one side of the equator) only
                // shortens it, so the test stays a necessary condition.
                let dy = (self.lat - g.lat) * 111.195;
                let dx = (self.lon - g.lon) * 111.195 * self.coslat.min(g.coslat);
                let limit = self.commute.min(g.max_commute) * 1.01 + 0.05;
                dx * dx + dy * dy <= limit * limit
            }
    }
}

/// A gap as the grid stores it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct GCand {
    pub(super) slot: u32,
    pub(super) start: i32,
    pub(super) end: i32,
    pub(super) wage: i64,
    /// `req[l-1]`: bits of the skills required at minimum level l.
    pub(super) req: [u64; 5],
    /// Bits of the certificates required.
    pub(super) certs: u64,
    pub(super) lat: f64,
    pub(super) lon: f64,
    /// Infinite when the gap sets no limit.
    pub(super) max_commute: f64,
    /// Cosine of the latitude, for the distance pre-check.
    pub(super) coslat: f64,
    /// Interned borrowing enterprise, for rule 2.
    pub(super) enterprise: u32,
    /// The gap's solver index.
    pub(super) ix: GapIx,
}

impl GCand {
    /// Bits of every skill required, at any level.
    pub(super) fn required(&self) -> u64 {
        self.req.iter().fold(0, |a, r| a | r)
    }

    pub(super) fn of(slot: u32, rec: &GapRec) -> Self {
        let (g, reqs, certs) = (&rec.posting, &rec.reqs, &rec.certs);
        let mut req = [0u64; 5];
        for &(s, l) in reqs.iter() {
            req[(l as usize).clamp(1, 5) - 1] |= 1 << (s % 64);
        }
        Self {
            slot,
            start: g.window.start.day_number(),
            end: g.window.end.day_number(),
            wage: g.hourly_wage_fen.get(),
            req,
            certs: bits(certs.iter().copied()),
            lat: g.site.lat(),
            lon: g.site.lon(),
            max_commute: g.max_commute_km.map_or(f64::INFINITY, |k| k.get()),
            coslat: g.site.lat().to_radians().cos(),
            enterprise: rec.enterprise,
            ix: rec.ix.unwrap_or(NONE),
        }
    }
}

/// A 64-bit set of interned ids, taken modulo 64: a superset test on such
/// sets is a necessary condition for the exact one.
fn bits(ids: impl Iterator<Item = u16>) -> u64 {
    ids.fold(0, |m, c| m | 1 << (c % 64))
}
