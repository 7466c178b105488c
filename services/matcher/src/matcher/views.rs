//! The read models a partition's state gives: proposal, gap and region
//! views, and the index-set entries of new proposals.

use lendwork_domain::*;
use lendwork_engine::Positions;
use lendwork_state::keys::Keys;
use lendwork_state::views::{
    GapView, MatchView, RegionView, Slice, WorkSlice, WorkerStatus, WorkerView,
};

use super::effects::{Effects, Views};
use super::partition::industry_of;
use super::partition::PartitionState;
use super::supply::Supply;

/// A read model as JSON, into a buffer sized for one view (growing from
/// empty reallocates it five or six times per view).
pub(crate) fn json(v: &impl serde::Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, v).expect("read models always serialize");
    out
}

impl PartitionState {
    /// The read-model values for what `fx` touched, and the index-set
    /// entries of the proposals it made (borrower, lender, worker). A
    /// proposal's view and entries carry its id, so that the ones whose
    /// reservation fails can be left out.
    pub fn views(&self, keys: &Keys, fx: &Effects, out: &mut Views) {
        out.values
            .reserve(fx.matches.len() + fx.withdrawn.len() + fx.gaps.len());
        let Views {
            values,
            sets,
            plain_sets,
        } = out;
        for m in &fx.matches {
            let Some(p) = self.engine.proposal(m) else {
                continue;
            };
            let Some((_, ent)) = self.posted.get(&p.proposed.gap_id) else {
                continue;
            };
            let lender = p.lender.clone();
            let now = fx.at.unwrap_or_else(|| p.made_at());
            let mut view = MatchView::of(p, ent.clone(), now, &self.engine.config().pay);
            if let Some(mk) = self.engine.market(&p.proposed.region) {
                view.worker_record = mk.reliability(&p.proposed.worker_id);
                view.borrower_late_cancellations = mk.late_cancellations(ent);
            }
            view.worker_name = self
                .engine
                .worker(&p.proposed.worker_id)
                .and_then(|w| w.display_name.clone());
            values.push((Some(m.clone()), keys.proposal(m.as_str()), json(&view)));
            if fx.new_matches.contains(m) {
                sets.push((m.clone(), keys.borrower_set(ent.as_str()), m.to_string()));
                // A lender's workers are listed through its set; a flexible
                // worker (no employer) through the agency's workers.
                let set = match &lender {
                    Some(l) => keys.lender_set(l.as_str()),
                    None => keys.worker_set(p.proposed.worker_id.as_str()),
                };
                sets.push((m.clone(), set, m.to_string()));
            }
        }
        for v in &fx.withdrawn {
            values.push((None, keys.gap(v.gap_id.as_str()), json(v)));
        }
        // A posted gap joins its region's index and its borrower's (the
        // borrower's principal is its enterprise id): written with the
        // views, so a posting costs no write of its own on its path. A gap
        // withdrawn in the same batch is indexed too (its final view is).
        for (g, region, ent) in &fx.posted {
            plain_sets.push((keys.region_gaps(region.as_str()), g.to_string()));
            plain_sets.push((keys.owned_gaps(ent.as_str()), g.to_string()));
        }
        for v in &fx.withdrawn_workers {
            values.push((None, keys.worker(v.offer.worker_id.as_str()), json(v)));
        }
        for w in &fx.workers {
            if let Some(offer) = self.engine.worker(w) {
                let view = WorkerView {
                    offer: offer.clone(),
                    status: WorkerStatus::Available,
                    updated_at: fx
                        .at
                        .unwrap_or_else(|| Timestamp::from_unix_seconds(0).expect("epoch")),
                };
                values.push((None, keys.worker(w.as_str()), json(&view)));
                plain_sets.push((keys.region_workers(offer.region.as_str()), w.to_string()));
            }
        }
        for g in &fx.gaps {
            let Some(post) = self.engine.gap(g) else {
                continue;
            };
            let pos = self
                .engine
                .market(&post.region)
                .and_then(|mk| mk.positions(g))
                .unwrap_or_default();
            values.push((None, keys.gap(g.as_str()), json(&self.gap_view(post, pos))));
        }
    }

    pub(crate) fn gap_view(&self, post: &ShortagePosted, pos: Positions) -> GapView {
        let posted_at = self
            .posted
            .get(&post.gap_id)
            .map_or_else(|| Timestamp::from_unix_seconds(0).expect("epoch"), |x| x.0);
        GapView::of(post, pos, posted_at)
    }

    /// The parts of a region's statistics that are counted as events are
    /// folded, with the market's sizes.
    fn region_counted(&self, r: &Region) -> RegionView {
        let mut view = self
            .counters
            .get(r)
            .map(|c| c.view.clone())
            .unwrap_or_default();
        view.region = r.as_str().to_owned();
        if let Some(mk) = self.engine.market(r) {
            view.workers = mk.worker_count() as u64;
            view.gaps = mk.gap_count() as u64;
        }
        self.with_ledger(r, view)
    }

    /// Adds the ledger's totals over the region's assignments with a
    /// timesheet or a payment, judged as of the region's latest event.
    fn with_ledger(&self, r: &Region, mut view: RegionView) -> RegionView {
        let Some(ms) = self.sheets.get(r) else {
            return view;
        };
        let as_of = view
            .updated_at
            .unwrap_or_else(|| Timestamp::from_unix_seconds(0).expect("epoch"))
            .market_date();
        let pay = &self.engine.config().pay;
        for m in ms {
            let Some(p) = self.engine.proposal(m) else {
                continue;
            };
            let industry = self
                .engine
                .gap(&p.proposed.gap_id)
                .map_or_else(|| "unknown".to_owned(), industry_of);
            let group = self
                .engine
                .worker(&p.proposed.worker_id)
                .map_or("unknown", |w| {
                    w.priority_group.map_or("none", |g| match g {
                        PriorityGroup::Unemployed => "unemployed",
                        PriorityGroup::Graduate => "graduate",
                        PriorityGroup::MigrantWorker => "migrant_worker",
                        PriorityGroup::HardToEmploy => "hard_to_employ",
                    })
                });
            for row in p.ledger(pay, as_of) {
                let slice = WorkSlice {
                    minutes: row.minutes,
                    owed_fen: row.owed_fen,
                    paid_to_worker_fen: row.paid_to_worker_fen,
                };
                view.work_by_industry
                    .entry(industry.clone())
                    .or_default()
                    .add(&slice);
                view.work_by_group
                    .entry(group.to_owned())
                    .or_default()
                    .add(&slice);
                view.minutes_confirmed += row.minutes;
                view.owed_fen += row.owed_fen;
                view.paid_by_borrower_fen += row.paid_by_borrower_fen;
                view.paid_to_worker_fen += row.paid_to_worker_fen;
                for f in row.flags {
                    *view.ledger_flags.entry(f.slug().to_owned()).or_default() += 1;
                }
            }
        }
        view
    }

    /// Adds the agreed counts by industry and skill to `view`.
    fn with_agreed(&self, r: &Region, mut view: RegionView) -> RegionView {
        if let Some(c) = self.counters.get(r) {
            for (k, v) in &c.agreed_by_industry {
                view.by_industry.entry(k.clone()).or_default().agreed = *v;
            }
            for (k, v) in &c.agreed_by_skill {
                view.by_skill.entry(k.clone()).or_default().agreed = *v;
            }
        }
        view
    }

    /// A region's statistics now.
    pub fn region_view(&self, r: &Region) -> RegionView {
        let mut view = self.region_counted(r);
        let supply = self
            .names
            .get(r.as_str())
            .and_then(|i| self.supply.get(&i))
            .cloned()
            .unwrap_or_default();
        view.positions = supply.all.positions;
        view.open_positions = supply.all.open;
        view.positions_filled = supply.all.filled;
        view.positions_started = supply.all.started;
        let slice = |s: &Supply| Slice {
            positions: s.positions,
            open: s.open,
            filled: s.filled,
            started: s.started,
            agreed: 0,
        };
        view.by_industry = supply
            .by_industry
            .iter()
            .map(|(k, s)| (k.clone(), slice(s)))
            .collect();
        view.by_skill = supply
            .by_skill
            .iter()
            .map(|(k, s)| (k.clone(), slice(s)))
            .collect();
        self.with_agreed(r, view)
    }

    /// [`PartitionState::region_view`] computed from scratch over every
    /// live gap (for tests: the two must agree).
    #[cfg(test)]
    pub(crate) fn region_view_recounted(&self, r: &Region) -> RegionView {
        let mut view = self.region_counted(r);
        view.positions = 0;
        view.open_positions = 0;
        view.positions_filled = 0;
        view.positions_started = 0;
        view.by_industry.clear();
        view.by_skill.clear();
        if let Some(mk) = self.engine.market(r) {
            for (g, pos) in mk.gaps_with_positions() {
                let n = u64::from(g.headcount.get());
                let (open, filled, started) = (
                    u64::from(pos.open()),
                    u64::from(pos.filled),
                    u64::from(pos.started),
                );
                view.positions += n;
                view.open_positions += open;
                view.positions_filled += filled;
                view.positions_started += started;
                let add = |s: &mut Slice| {
                    s.positions += n;
                    s.open += open;
                    s.filled += filled;
                    s.started += started;
                };
                add(view.by_industry.entry(industry_of(g)).or_default());
                for req in &g.requirements {
                    add(view
                        .by_skill
                        .entry(req.skill.as_str().to_owned())
                        .or_default());
                }
            }
        }
        self.with_agreed(r, view)
    }
}
