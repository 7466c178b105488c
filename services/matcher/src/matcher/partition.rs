//! One partition's state: its regions' engine and the read models'
//! counters, a pure function of the partition's records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lendwork_domain::*;
use lendwork_engine::{Applied, Engine, EngineConfig, Status, Transition};
use lendwork_ports::Record;
use lendwork_state::views::{GapStatus, WorkerStatus, WorkerView};

use super::effects::{Effects, Hold};
use super::supply::{Counters, GapSupply, Names, RegionSupply};
use crate::Ids;

/// One partition's state: its regions' engine and counters. A pure
/// function of the partition's records (see the module docs); serialized
/// whole in a snapshot.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PartitionState {
    pub(crate) engine: Engine,
    /// The next offset expected.
    pub next_offset: u64,
    pub(crate) counters: BTreeMap<Region, Counters>,
    /// Each live gap's contribution to `supply`, as last added.
    pub(crate) gap_supply: HashMap<GapId, GapSupply, Ids>,
    /// Each region's supply, by the region's interned id.
    pub(crate) supply: HashMap<u32, RegionSupply, Ids>,
    pub(crate) names: Names,
    /// Each gap's first posting time and borrower (kept after withdrawal,
    /// for the views of its proposals).
    pub(crate) posted: HashMap<GapId, (Timestamp, EnterpriseId), Ids>,
    /// The proposals with a timesheet or a payment, by region (the
    /// ledger's totals are summed over them).
    #[serde(default)]
    pub(crate) sheets: BTreeMap<Region, BTreeSet<MatchId>>,
}

pub(crate) fn industry_of(g: &ShortagePosted) -> String {
    industry_name(g).to_owned()
}

pub(crate) fn industry_name(g: &ShortagePosted) -> &str {
    g.industry.as_ref().map_or("unknown", |i| i.as_str())
}

impl PartitionState {
    /// An empty partition.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            engine: Engine::new(config),
            next_offset: 0,
            counters: BTreeMap::new(),
            gap_supply: HashMap::default(),
            supply: HashMap::default(),
            names: Names::default(),
            posted: HashMap::default(),
            sheets: BTreeMap::new(),
        }
    }

    /// The engine (for tests and reports).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Handles one record: expiries by the event's time, the event, a
    /// matching round; adds what must be made durable to `fx`.
    pub fn process(&mut self, rec: &Record, fx: &mut Effects) {
        self.next_offset = rec.position.offset + 1;
        // An in-process publisher (the embedded gateway) may have handed
        // over the event the payload encodes; otherwise parse it.
        let parsed;
        let ev: &Event = match rec.decoded.as_deref().and_then(|d| d.downcast_ref()) {
            Some(ev) => ev,
            None => match std::str::from_utf8(&rec.payload)
                .map_err(|_| "payload: must be UTF-8".to_owned())
                .and_then(|t| Event::from_json(t).map_err(|e| e.to_string()))
            {
                Ok(ev) => {
                    parsed = ev;
                    &parsed
                }
                Err(e) => {
                    fx.invalid.push(format!(
                        "partition {} offset {}: {e}",
                        rec.position.partition, rec.position.offset
                    ));
                    return;
                }
            },
        };
        let at = ev.at;
        fx.at = Some(at);
        // Time first: expiries and contract terminations due by this
        // event's time (applied already; counted with the transitions).
        for e in self.engine.expire(at) {
            if let Some(r) = self.region_of_event(&e) {
                fx.outputs.push((r, e));
            }
        }
        if let EventKind::ShortagePosted(g) = &ev.kind {
            self.posted
                .entry(g.gap_id.clone())
                .or_insert((at, g.enterprise_id.clone()));
        }
        if let EventKind::ShortageWithdrawn(x) = &ev.kind {
            if let Some(g) = self.engine.gap(&x.gap_id) {
                fx.regions.insert(g.region.clone());
                // Withdrawal cancels what has not started; started
                // assignments stand.
                let pos = self
                    .engine
                    .market(&g.region)
                    .and_then(|mk| mk.positions(&x.gap_id))
                    .unwrap_or_default();
                let pos = lendwork_engine::Positions {
                    proposed: 0,
                    filled: pos.started,
                    ..pos
                };
                let mut view = self.gap_view(g, pos);
                view.status = GapStatus::Withdrawn;
                fx.withdrawn.push(view);
            }
        }
        if let EventKind::WorkerWithdrawn(x) = &ev.kind {
            if let Some(w) = self.engine.worker(&x.worker_id) {
                fx.regions.insert(w.region.clone());
                fx.workers.remove(&x.worker_id);
                fx.withdrawn_workers.push(WorkerView {
                    offer: w.clone(),
                    status: WorkerStatus::Withdrawn,
                    updated_at: at,
                });
            }
        }
        let applied = self.engine.apply(ev);
        if let Some(r) = ev.kind.region() {
            fx.regions.insert(r.clone());
        }
        if let EventKind::ShortagePosted(g) = &ev.kind {
            fx.gaps.insert(g.gap_id.clone());
            fx.posted
                .push((g.gap_id.clone(), g.region.clone(), g.enterprise_id.clone()));
        }
        if let EventKind::WorkerOffered(w) = &ev.kind {
            if applied == Applied::Applied {
                fx.workers.insert(w.worker_id.clone());
                fx.withdrawn_workers
                    .retain(|v| v.offer.worker_id != w.worker_id);
            }
        }
        let mut new: BTreeSet<MatchId> = BTreeSet::new();
        if applied == Applied::Applied {
            self.fold(ev, fx, &mut new);
        }
        // Terminations the event caused (a worker withdrawn mid-assignment).
        for e in self.engine.take_emitted() {
            if let Some(r) = self.region_of_event(&e) {
                fx.outputs.push((r, e));
            }
        }
        for p in self.engine.round(at) {
            if let EventKind::MatchProposed(m) = &p.kind {
                new.insert(m.match_id.clone());
                self.counters
                    .entry(m.region.clone())
                    .or_default()
                    .view
                    .proposed += 1;
                fx.outputs.push((m.region.clone(), p));
            }
        }
        for t in self.engine.take_transitions() {
            self.count(&t);
        }
        fx.new_matches.extend(new.iter().cloned());
        let mut seen = BTreeSet::new();
        let mut touched: BTreeSet<GapId> = match &ev.kind {
            EventKind::ShortagePosted(g) => [g.gap_id.clone()].into(),
            EventKind::ShortageWithdrawn(x) => [x.gap_id.clone()].into(),
            _ => BTreeSet::new(),
        };
        for m in self.engine.take_changed() {
            if !seen.insert(m.clone()) {
                continue;
            }
            let Some(p) = self.engine.proposal(&m) else {
                continue;
            };
            touched.insert(p.proposed.gap_id.clone());
            fx.gaps.insert(p.proposed.gap_id.clone());
            fx.regions.insert(p.proposed.region.clone());
            let worker = p.proposed.worker_id.clone();
            if new.contains(&m) {
                if p.status == Status::Proposed {
                    fx.holds.push(Hold::Reserve {
                        worker,
                        match_id: m.clone(),
                        window: p.window,
                        region: p.proposed.region.clone(),
                        at,
                        offset: rec.position.offset,
                    });
                }
            } else if !p.status.holds_worker() {
                fx.holds.push(Hold::Release {
                    worker,
                    match_id: m.clone(),
                });
            }
            fx.matches.insert(m);
        }
        for g in &touched {
            self.refresh_supply(g);
        }
        for r in &fx.regions {
            self.counters.entry(r.clone()).or_default().view.updated_at = Some(at);
        }
    }

    fn region_of_match(&self, m: &MatchId) -> Option<Region> {
        self.engine.proposal(m).map(|p| p.proposed.region.clone())
    }

    /// The region of an event the engine made (an expiry, a termination,
    /// a day confirmed by lapse).
    fn region_of_event(&self, e: &Event) -> Option<Region> {
        match &e.kind {
            EventKind::MatchExpired(x) => self.region_of_match(&x.match_id),
            EventKind::AssignmentEnded(x) => self.region_of_match(&x.match_id),
            EventKind::TimesheetConfirmed(x) => self.region_of_match(&x.match_id),
            _ => None,
        }
    }

    /// Counts one status change the engine applied (see [`RegionView`]:
    /// each counter moves only on a transition).
    ///
    /// [`RegionView`]: lendwork_state::views::RegionView
    fn count(&mut self, t: &Transition) {
        let Some(p) = self.engine.proposal(&t.match_id) else {
            return;
        };
        let (region, gap, worker) = (
            p.proposed.region.clone(),
            p.proposed.gap_id.clone(),
            p.proposed.worker_id.clone(),
        );
        let c = self.counters.entry(region).or_default();
        let v = &mut c.view;
        match t.to {
            Status::Agreed => {
                v.agreed += 1;
                let group = self
                    .engine
                    .worker(&worker)
                    .and_then(|w| w.priority_group)
                    .map_or("none", |g| match g {
                        PriorityGroup::Unemployed => "unemployed",
                        PriorityGroup::Graduate => "graduate",
                        PriorityGroup::MigrantWorker => "migrant_worker",
                        PriorityGroup::HardToEmploy => "hard_to_employ",
                    });
                *v.priority_served.entry(group.to_owned()).or_default() += 1;
                if let Some((t0, _)) = self.posted.get(&gap) {
                    let secs = t.at.unix_seconds() - t0.unix_seconds();
                    v.time_to_fill_secs_sum += secs.max(0) as u64;
                    v.time_to_fill_count += 1;
                }
                if let Some(g) = self.engine.gap(&gap) {
                    *c.agreed_by_industry.entry(industry_of(g)).or_default() += 1;
                    for r in &g.requirements {
                        *c.agreed_by_skill
                            .entry(r.skill.as_str().to_owned())
                            .or_default() += 1;
                    }
                }
            }
            Status::Signed => v.signed += 1,
            Status::Started => v.started += 1,
            Status::Ended(o) => match o {
                Outcome::Completed => v.completed += 1,
                Outcome::Returned => v.returned += 1,
                Outcome::NoShow => v.no_show += 1,
                Outcome::Cancelled => v.ended_cancelled += 1,
                Outcome::Terminated => v.terminated += 1,
            },
            Status::Declined => v.declined += 1,
            Status::Expired => v.expired += 1,
            Status::Cancelled => v.cancelled += 1,
            Status::Proposed => {}
        }
    }

    /// Echoes an applied input event to the matches topic (a refused step
    /// is applied nowhere and published nowhere); a foreign proposal is
    /// also counted as made.
    fn fold(&mut self, ev: &Event, fx: &mut Effects, new: &mut BTreeSet<MatchId>) {
        let m = match &ev.kind {
            EventKind::MatchProposed(p) => {
                // A proposal from elsewhere, taken as a commitment.
                new.insert(p.match_id.clone());
                self.counters
                    .entry(p.region.clone())
                    .or_default()
                    .view
                    .proposed += 1;
                fx.outputs.push((p.region.clone(), ev.clone()));
                return;
            }
            EventKind::MatchAccepted(d) | EventKind::MatchDeclined(d) => &d.match_id,
            EventKind::MatchExpired(x) | EventKind::AssignmentStarted(x) => &x.match_id,
            EventKind::AssignmentEnded(x) => &x.match_id,
            EventKind::AgreementSigned(x) => &x.match_id,
            EventKind::TimesheetSubmitted(x) => &x.match_id,
            EventKind::TimesheetConfirmed(x) => &x.match_id,
            EventKind::TimesheetDisputed(x) => &x.match_id,
            EventKind::PaymentRecorded(x) => &x.match_id,
            _ => return,
        };
        if let Some(region) = self.region_of_match(m) {
            if matches!(
                ev.kind,
                EventKind::TimesheetSubmitted(_)
                    | EventKind::TimesheetConfirmed(_)
                    | EventKind::TimesheetDisputed(_)
                    | EventKind::PaymentRecorded(_)
            ) {
                self.sheets
                    .entry(region.clone())
                    .or_default()
                    .insert(m.clone());
            }
            fx.outputs.push((region, ev.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use lendwork_ports::{Decoded, Position};
    use lendwork_sim::SimConfig;

    /// Record `offset` of partition 0 of topic `t`.
    fn record(offset: usize, payload: Bytes, decoded: Option<Decoded>) -> Record {
        Record {
            topic: "t".into(),
            position: Position {
                partition: 0,
                offset: offset as u64,
            },
            key: Bytes::new(),
            payload,
            decoded,
        }
    }

    /// The region statistics kept gap by gap equal a recount over every
    /// live gap, all along a simulated stream (posts, re-posts, withdrawals,
    /// proposals, expiries, decisions).
    #[test]
    fn region_supply_kept_gap_by_gap_equals_a_recount() {
        let events = lendwork_sim::events(&SimConfig {
            regions: 2,
            workers: 3_000,
            gaps: 600,
            seed: 7,
            ..Default::default()
        });
        let mut st = PartitionState::new(EngineConfig::default());
        let mut checked = 0;
        let mut offset = 0;
        for (i, e) in events.iter().enumerate() {
            // The event, then the parties' answers to the engine's
            // proposals it led to (every required party accepts six in
            // ten), then their signatures on what became agreed.
            let mut queue = vec![e.clone()];
            while let Some(e) = queue.pop() {
                let mut fx = Effects::default();
                st.process(&record(offset, Bytes::from(e.to_json()), None), &mut fx);
                offset += 1;
                for (_, out) in &fx.outputs {
                    if let EventKind::MatchProposed(p) = &out.kind {
                        if out.id.as_str() == format!("evt-{}", p.match_id) {
                            let lent = st
                                .engine()
                                .worker(&p.worker_id)
                                .is_some_and(|w| w.employer_id.is_some());
                            queue.extend(lendwork_sim::answer(p, lent, out.at).into_iter().rev());
                        }
                    }
                }
                if let EventKind::MatchAccepted(d) = &e.kind {
                    let p = st.engine().proposal(&d.match_id);
                    if let Some((p, sha)) = p
                        .filter(|p| p.status == Status::Agreed)
                        .and_then(|p| Some((p, p.agreement_sha256.clone()?)))
                    {
                        for (k, by) in lendwork_engine::machine::required(p.lender.is_some())
                            .into_iter()
                            .enumerate()
                        {
                            queue.insert(
                                0,
                                Event {
                                    id: EventId::new(format!("evt-sign-{k}-{}", d.match_id))
                                        .unwrap(),
                                    at: e.at,
                                    kind: EventKind::AgreementSigned(AgreementSigned {
                                        match_id: d.match_id.clone(),
                                        by,
                                        document_sha256: sha.clone(),
                                    }),
                                },
                            );
                        }
                    }
                }
            }
            if i % 97 == 0 || i + 1 == events.len() {
                let regions: Vec<Region> =
                    st.engine().markets().map(|m| m.region().clone()).collect();
                for r in regions {
                    assert_eq!(
                        st.region_view(&r),
                        st.region_view_recounted(&r),
                        "after event {i}"
                    );
                    checked += 1;
                }
            }
        }
        let r = st.engine().markets().next().unwrap().region().clone();
        let v = st.region_view(&r);
        assert!(
            v.positions > v.open_positions && v.open_positions > 0,
            "{v:?}"
        );
        assert!(
            v.positions_filled > 0 && v.agreed > 0 && v.signed > 0,
            "{v:?}"
        );
        assert!(checked > 20);
    }

    /// An event handed over by an in-process publisher is applied as if
    /// its payload had been parsed (here the payload is not even JSON, so
    /// the matcher cannot have read it).
    #[test]
    fn a_handed_over_event_is_applied_like_its_payload() {
        let events = lendwork_sim::events(&SimConfig {
            regions: 2,
            workers: 800,
            gaps: 200,
            seed: 11,
            ..Default::default()
        });
        let (mut parsed, mut handed) = (
            PartitionState::new(EngineConfig::default()),
            PartitionState::new(EngineConfig::default()),
        );
        let mut proposals = 0;
        for (i, e) in events.iter().enumerate() {
            let (mut a, mut b) = (Effects::default(), Effects::default());
            parsed.process(&record(i, Bytes::from(e.to_json()), None), &mut a);
            let whole: Decoded = std::sync::Arc::new(e.clone());
            handed.process(
                &record(i, Bytes::from_static(b"not json"), Some(whole)),
                &mut b,
            );
            assert!(b.invalid.is_empty(), "{:?}", b.invalid);
            assert_eq!(a.outputs, b.outputs, "after event {i}");
            proposals += a.outputs.len();
        }
        assert!(proposals > 50, "{proposals}");
    }
}
