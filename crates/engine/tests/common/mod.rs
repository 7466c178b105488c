//! Builders for hand-made markets.

#![allow(dead_code, missing_docs)]

use lendwork_domain::*;

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

pub fn window(a: &str, b: &str) -> Window {
    Window::new(d(a), d(b)).unwrap()
}

pub struct Seq(pub u32);

impl Seq {
    pub fn ev(&mut self, kind: EventKind) -> Event {
        self.0 += 1;
        Event {
            id: EventId::new(format!("e{}", self.0)).unwrap(),
            at: Timestamp::from_unix_seconds(1_772_352_000 + i64::from(self.0) * 60).unwrap(),
            kind,
        }
    }
}

/// A flexible worker near Lanzhou's centre, `km_east` km east of it.
pub fn worker(id: &str, km_east: f64) -> WorkerOffered {
    WorkerOffered {
        worker_id: WorkerId::new(id).unwrap(),
        region: Region::new("620100").unwrap(),
        home: Place::new(36.06, 103.83 + km_east / 90.0).unwrap(),
        skills: vec![SkillLevel {
            skill: Skill::new("forklift").unwrap(),
            level: Level::new(3).unwrap(),
        }],
        certificates: vec![],
        available: window("2026-03-01", "2026-12-31"),
        max_commute_km: Km::new(30.0).unwrap(),
        min_hourly_wage_fen: Fen::new(2000).unwrap(),
        employer_id: None,
        consent: true,
        contract_end: None,
        priority_group: None,
        display_name: None,
    }
}

/// A gap at Lanzhou's centre.
pub fn gap(id: &str, headcount: i64, w: Window) -> ShortagePosted {
    ShortagePosted {
        gap_id: GapId::new(id).unwrap(),
        enterprise_id: EnterpriseId::new("borrower").unwrap(),
        region: Region::new("620100").unwrap(),
        site: Place::new(36.06, 103.83).unwrap(),
        requirements: vec![Requirement {
            skill: Skill::new("forklift").unwrap(),
            min_level: Level::new(2).unwrap(),
        }],
        certificates: vec![],
        headcount: Headcount::new(headcount).unwrap(),
        window: w,
        hourly_wage_fen: Fen::new(3000).unwrap(),
        max_commute_km: None,
        industry: None,
        title: None,
        description: None,
        hours_per_day: None,
    }
}

pub fn proposals(events: &[Event]) -> Vec<(String, String, MatchId)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::MatchProposed(p) => Some((
                p.gap_id.to_string(),
                p.worker_id.to_string(),
                p.match_id.clone(),
            )),
            _ => None,
        })
        .collect()
}
