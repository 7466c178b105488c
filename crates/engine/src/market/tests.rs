//! The grid entries' own verdict ([`WCand::fits`] + [`WCand::cost`])
//! against the records' ([`Market::admits`], which the domain's rules
//! back): for every pair, the same eligibility and the same cost.

use proptest::prelude::*;

use super::index::CLASSES;
use super::precheck::{fen32, WCols};
use super::*;
use crate::grid::{Columns, Slotted};

const SKILLS: [&str; 6] = [
    "forklift", "cashier", "welding", "cooking", "driving", "sewing",
];
const CERTS: [&str; 4] = ["safety", "health", "electric", "crane"];

fn day(n: u8) -> Date {
    Date::parse("2026-03-01").unwrap().plus_days(i64::from(n))
}

/// Distinct certificates by index.
fn certificates(ix: Vec<u8>) -> Vec<Certificate> {
    ix.into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|c| Certificate::new(CERTS[c as usize]).unwrap())
        .collect()
}

fn span(start: u8, len: u8) -> Window {
    Window::new(day(start), day(start).plus_days(i64::from(len))).unwrap()
}

#[allow(clippy::type_complexity)]
fn worker() -> impl Strategy<
    Value = (
        Vec<(u8, u8)>,
        Vec<u8>,
        (u8, u8),
        i64,
        f64,
        (i16, i16),
        bool,
        Option<(u8, bool)>,
        Vec<(u8, u8)>,
    ),
> {
    (
        proptest::collection::vec((0u8..6, 1u8..=5), 0..5),
        proptest::collection::vec(0u8..4, 0..3),
        (0u8..30, 10u8..90),
        1500i64..3500,
        1.0f64..40.0,
        (-300i16..300, -300i16..300),
        any::<bool>(),
        proptest::option::of((0u8..3, any::<bool>())),
        proptest::collection::vec((0u8..90, 0u8..20), 0..5),
    )
}

#[allow(clippy::type_complexity)]
fn gap() -> impl Strategy<
    Value = (
        Vec<(u8, u8)>,
        Vec<u8>,
        (u8, u8),
        i64,
        Option<f64>,
        (i16, i16),
        u8,
    ),
> {
    (
        proptest::collection::vec((0u8..6, 1u8..=5), 0..4),
        proptest::collection::vec(0u8..4, 0..2),
        (0u8..40, 0u8..40),
        1500i64..3500,
        proptest::option::of(1.0f64..40.0),
        (-300i16..300, -300i16..300),
        0u8..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn grid_entries_decide_like_the_records(w in worker(), gs in proptest::collection::vec(gap(), 1..6)) {
        let region = Region::new("620100").unwrap();
        let mut m = Market::new(region.clone(), CostWeights::default());
        let (skills, certs, (start, len), min_wage, commute, (n, e), priority, lender, busy) = w;
        let mut seen = HashSet::new();
        let offered = WorkerOffered {
            worker_id: WorkerId::new("w").unwrap(),
            region: region.clone(),
            home: Place::new(36.06 + f64::from(n) / 1110.0, 103.83 + f64::from(e) / 900.0).unwrap(),
            skills: skills
                .into_iter()
                .filter(|s| seen.insert(s.0))
                .map(|(s, l)| SkillLevel {
                    skill: Skill::new(SKILLS[s as usize]).unwrap(),
                    level: Level::new(i64::from(l)).unwrap(),
                })
                .collect(),
            certificates: certificates(certs),
            available: span(start, len),
            max_commute_km: Km::new(commute).unwrap(),
            min_hourly_wage_fen: Fen::new(min_wage).unwrap(),
            employer_id: lender.map(|(l, _)| EnterpriseId::new(format!("e{l}")).unwrap()),
            consent: lender.map_or(true, |(_, c)| c),
            contract_end: lender.map(|(l, _)| day(30 + 20 * l)),
            priority_group: priority.then_some(PriorityGroup::Graduate),
            display_name: None,
        };
        let (e0, t0) = (
            EventId::new("evt-offer").unwrap(),
            Timestamp::parse("2026-03-01T00:00:00Z").unwrap(),
        );
        m.offer(offered, &e0, t0);
        let ws = m.wslot[&WorkerId::new("w").unwrap()];
        for (i, (reqs, certs, (start, len), wage, max_commute, (n, e), ent)) in gs.into_iter().enumerate() {
            let mut seen = HashSet::new();
            let posting = ShortagePosted {
                gap_id: GapId::new(format!("g{i}")).unwrap(),
                enterprise_id: EnterpriseId::new(format!("e{ent}")).unwrap(),
                region: region.clone(),
                site: Place::new(36.06 + f64::from(n) / 1110.0, 103.83 + f64::from(e) / 900.0).unwrap(),
                requirements: reqs
                    .into_iter()
                    .filter(|s| seen.insert(s.0))
                    .map(|(s, l)| Requirement {
                        skill: Skill::new(SKILLS[s as usize]).unwrap(),
                        min_level: Level::new(i64::from(l)).unwrap(),
                    })
                    .collect(),
                certificates: certificates(certs),
                headcount: Headcount::new(1).unwrap(),
                window: span(start, len),
                hourly_wage_fen: Fen::new(wage).unwrap(),
                max_commute_km: max_commute.map(|k| Km::new(k).unwrap()),
                industry: None,
                title: None,
                description: None,
                hours_per_day: None,
            };
            m.post(posting, &EventId::new(format!("p{i}")).unwrap(), Timestamp::from_unix_seconds(0).unwrap());
        }
        // Commitments, straight into the record (the grid entry is
        // rebuilt from it below).
        let rec = m.workers[ws as usize].as_mut().unwrap();
        for (i, &(s, l)) in busy.iter().enumerate() {
            rec.busy.push((MatchId::new(format!("b{i}")).unwrap(), span(s, l)));
        }
        let rec = m.workers[ws as usize].as_ref().unwrap();
        let wc = WCand::of(ws, rec);
        prop_assert!(m.exact_bits());
        for g in m.gaps.iter().flatten() {
            let gc = GCand::of(g.slot, g);
            let by_records = Market::admits(&m.weights, rec, g, false)
                .filter(|_| rec.profile.employer_id.as_ref() != Some(&g.posting.enterprise_id))
                .filter(|_| Rule::ConsentAndContract.holds(&rec.profile, &g.posting, &[]));
            let by_entries = if wc.fits(&gc) && wc.decides(true) {
                wc.cost(&m.weights, &gc, false)
            } else if wc.fits(&gc) {
                // More commitments than the entry carries: the record decides.
                Market::admits(&m.weights, rec, g, false)
            } else {
                None
            };
            prop_assert_eq!(by_entries, by_records, "gap {}", g.posting.gap_id);
            // The summary passes every worker the entry takes.
            let mut cols = WCols::default();
            cols.push(wc.hot(Market::gap_key(g) * CLASSES));
            let mut rows = Vec::new();
            let need = g.reqs.first().map_or(0, |r| r.1);
            cols.may_fit(&gc, fen32(gc.wage), need, gc.required(), &mut rows);
            if wc.fits(&gc) {
                prop_assert_eq!(rows, vec![0], "the summary rejects gap {}", g.posting.gap_id);
            }
            if let Some(cost) = by_records {
                prop_assert_eq!(cost, Market::terms(&m.weights, rec, g, false).total() as i64);
                prop_assert_eq!(Market::eligible(rec, g).is_ok() || !rec.busy.is_empty(), true);
            }
        }
    }
}
