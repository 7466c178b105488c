//! Each region's supply (positions, and of those open, filled and
//! started, by industry and by skill), kept up to date gap by gap, and
//! the region counters folded from the log's transitions.

use std::collections::{BTreeMap, HashMap};

use lendwork_domain::GapId;
use lendwork_state::views::RegionView;

use super::partition::{industry_name, PartitionState};
use crate::Ids;

/// Folded counters of one region (the parts of [`RegionView`] that are
/// not read off the market itself).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Counters {
    pub(crate) view: RegionView,
    pub(crate) agreed_by_industry: BTreeMap<String, u64>,
    pub(crate) agreed_by_skill: BTreeMap<String, u64>,
}

/// Positions and open positions of live gaps, with how many gaps count
/// towards them (an entry with no gaps left is dropped).
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Supply {
    pub(crate) gaps: u64,
    pub(crate) positions: u64,
    pub(crate) open: u64,
    pub(crate) filled: u64,
    pub(crate) started: u64,
}

impl Supply {
    /// Adds (`sign` 1) or takes away (`sign` -1) one gap's contribution.
    fn add(&mut self, sign: i64, s: &GapSupply) {
        let f = |x: u64, d: u64| x.checked_add_signed(sign * d as i64).expect("balanced");
        self.gaps = f(self.gaps, 1);
        self.positions = f(self.positions, s.positions);
        self.open = f(self.open, s.open);
        self.filled = f(self.filled, s.filled);
        self.started = f(self.started, s.started);
    }
}

/// A region's supply, kept up to date gap by gap so the region statistics
/// cost as much as the number of industries and skills, not of gaps.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct RegionSupply {
    pub(crate) all: Supply,
    pub(crate) by_industry: BTreeMap<String, Supply>,
    pub(crate) by_skill: BTreeMap<String, Supply>,
}

/// What one live gap adds to its region's supply, its names interned
/// (a live gap costs a few words here, not three strings).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct GapSupply {
    region: u32,
    industry: u32,
    skills: Box<[u32]>,
    positions: u64,
    open: u64,
    filled: u64,
    started: u64,
}

/// Region, industry and skill names by a dense id.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Names {
    ids: HashMap<String, u32, Ids>,
    names: Vec<String>,
}

impl Names {
    pub(crate) fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).expect("fewer than 2^32 names");
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), i);
        i
    }

    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub(crate) fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }
}

impl PartitionState {
    /// Takes gap `g`'s old contribution out of its region's supply and
    /// adds its current one (none once it is withdrawn). A gap whose
    /// contribution did not change (the common case: touched, still as
    /// open) costs a comparison and no allocation.
    pub(crate) fn refresh_supply(&mut self, g: &GapId) {
        fn apply(
            supply: &mut HashMap<u32, RegionSupply, Ids>,
            names: &Names,
            s: &GapSupply,
            sign: i64,
        ) {
            fn slice(map: &mut BTreeMap<String, Supply>, key: &str, sign: i64, s: &GapSupply) {
                let e = match map.get_mut(key) {
                    Some(e) => e,
                    None => map.entry(key.to_owned()).or_default(),
                };
                e.add(sign, s);
                if e.gaps == 0 {
                    map.remove(key);
                }
            }
            let r = supply.entry(s.region).or_default();
            r.all.add(sign, s);
            slice(&mut r.by_industry, names.name(s.industry), sign, s);
            for &k in s.skills.iter() {
                slice(&mut r.by_skill, names.name(k), sign, s);
            }
        }
        let Self {
            engine,
            names,
            gap_supply,
            supply,
            ..
        } = self;
        let new = engine.gap(g).map(|post| {
            let pos = engine
                .market(&post.region)
                .and_then(|mk| mk.positions(g))
                .unwrap_or_default();
            GapSupply {
                region: names.id(post.region.as_str()),
                industry: names.id(industry_name(post)),
                skills: post
                    .requirements
                    .iter()
                    .map(|r| names.id(r.skill.as_str()))
                    .collect(),
                positions: u64::from(post.headcount.get()),
                open: u64::from(pos.open()),
                filled: u64::from(pos.filled),
                started: u64::from(pos.started),
            }
        });
        if gap_supply.get(g) == new.as_ref() {
            return;
        }
        if let Some(old) = gap_supply.remove(g) {
            apply(supply, names, &old, -1);
        }
        if let Some(new) = new {
            apply(supply, names, &new, 1);
            gap_supply.insert(g.clone(), new);
        }
    }
}
