//! One partition's state: its regions' engine and the read models'
//! counters, a pure function of the partition's records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lendwork_domain::*;
use lendwork_engine::{Applied, Engine, EngineConfig, Status};
use lendwork_ports::Record;
use lendwork_state::views::GapStatus;

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
        let expired = self.engine.expire(at);
        for e in expired {
            if let EventKind::MatchExpired(x) = &e.kind {
                if let Some(r) = self.region_of_match(&x.match_id) {
                    self.counters.entry(r.clone()).or_default().view.expired += 1;
                    fx.outputs.push((r, e));
                }
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
                let mut view = self.gap_view(g, 0);
                view.status = GapStatus::Withdrawn;
                fx.withdrawn.push(view);
            }
        }
        if let EventKind::WorkerWithdrawn(x) = &ev.kind {
            if let Some(w) = self.engine.worker(&x.worker_id) {
                fx.regions.insert(w.region.clone());
            }
        }
        let applied = self.engine.apply(ev);
        if let Some(r) = ev.kind.region() {
            fx.regions.insert(r.clone());
        }
        if let EventKind::ShortagePosted(g) = &ev.kind {
            fx.gaps.insert(g.gap_id.clone());
        }
        let mut new: BTreeSet<MatchId> = BTreeSet::new();
        if applied == Applied::Applied {
            self.fold(ev, fx, &mut new);
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
                if p.status == Status::Cancelled {
                    let r = p.proposed.region.clone();
                    self.counters.entry(r).or_default().view.cancelled += 1;
                }
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

    /// Counts an applied input event and echoes lifecycle events.
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
            _ => return,
        };
        let Some(p) = self.engine.proposal(m) else {
            return;
        };
        let (region, gap, worker) = (
            p.proposed.region.clone(),
            p.proposed.gap_id.clone(),
            p.proposed.worker_id.clone(),
        );
        let posting = self.engine.gap(&gap).cloned();
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
        let posted = self.posted.get(&gap).map(|x| x.0);
        let c = self.counters.entry(region.clone()).or_default();
        match &ev.kind {
            EventKind::MatchAccepted(_) => {
                c.view.accepted += 1;
                *c.view.priority_served.entry(group.to_owned()).or_default() += 1;
                if let Some(t0) = posted {
                    let secs = ev.at.unix_seconds() - t0.unix_seconds();
                    c.view.time_to_fill_secs_sum += secs.max(0) as u64;
                    c.view.time_to_fill_count += 1;
                }
                if let Some(g) = &posting {
                    *c.accepted_by_industry.entry(industry_of(g)).or_default() += 1;
                    for r in &g.requirements {
                        *c.accepted_by_skill
                            .entry(r.skill.as_str().to_owned())
                            .or_default() += 1;
                    }
                }
            }
            EventKind::MatchDeclined(_) => c.view.declined += 1,
            EventKind::MatchExpired(_) => c.view.expired += 1,
            EventKind::AssignmentStarted(_) => c.view.started += 1,
            EventKind::AssignmentEnded(x) => match x.outcome {
                Outcome::Completed => c.view.completed += 1,
                Outcome::NoShow => c.view.no_show += 1,
                Outcome::Returned | Outcome::Cancelled => {}
            },
            _ => {}
        }
        fx.outputs.push((region, ev.clone()));
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
        for (i, e) in events.iter().enumerate() {
            st.process(
                &record(i, Bytes::from(e.to_json()), None),
                &mut Effects::default(),
            );
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
