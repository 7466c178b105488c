//! The people and shortages: worker offers (skills, certificates,
//! availability, consent, contracts, priority groups) and shortage posts,
//! with the withdrawals, profile updates and proposals they set off.

use lendwork_domain::*;
use rand::Rng;

use crate::lifecycle::Pending;
use crate::regions::{BORROWING, LENDING};
use crate::{Recent, Sim};

impl Sim<'_> {
    fn level(&mut self) -> Level {
        let l = match self.rng.gen_range(0..100) {
            0..=34 => 1,
            35..=64 => 2,
            65..=84 => 3,
            85..=95 => 4,
            _ => 5,
        };
        Level::new(l).unwrap()
    }

    pub(crate) fn worker(&mut self, n: u64, t: i64) -> EventKind {
        let r = self.rng.gen_range(0..self.regions.len());
        let d = self.rng.gen_range(0..self.regions[r].districts.len());
        let home = self.place_near(self.regions[r].districts[d], 4.0);
        let lent = self.rng.gen_bool(0.6);
        let (employer_id, industry) = if lent {
            let (e, ind) = self.regions[r].lenders
                [self.rng.gen_range(0..self.regions[r].lenders.len())]
            .clone();
            (Some(e), &LENDING[ind])
        } else {
            (None, &BORROWING[self.rng.gen_range(0..BORROWING.len())])
        };
        // A worker knows one to three skills, mostly from their own trade,
        // sometimes one from a trade enterprises are short of.
        let mut skills: Vec<SkillLevel> = Vec::new();
        let mut certificates: Vec<Certificate> = Vec::new();
        let k = self.rng.gen_range(1..=3);
        for j in 0..k {
            let ind = if j == 0 || self.rng.gen_bool(0.5) {
                industry
            } else {
                &BORROWING[self.rng.gen_range(0..BORROWING.len())]
            };
            let (s, cert) = ind.skills[self.rng.gen_range(0..ind.skills.len())];
            if skills.iter().any(|x| x.skill.as_str() == s) {
                continue;
            }
            skills.push(SkillLevel {
                skill: Skill::new(s).unwrap(),
                level: self.level(),
            });
            if let Some(c) = cert {
                if self.rng.gen_bool(0.8) && !certificates.iter().any(|x| x.as_str() == c) {
                    certificates.push(Certificate::new(c).unwrap());
                }
            }
        }
        let today = Timestamp::from_unix_seconds(t).unwrap().date();
        let start = today.plus_days(self.rng.gen_range(0..20));
        let available = Window::new(start, start.plus_days(self.rng.gen_range(30..180))).unwrap();
        let consent = !lent || self.rng.gen_bool(0.9);
        let contract_end = if lent {
            Some(if self.rng.gen_bool(0.85) {
                available.end.plus_days(self.rng.gen_range(0..400))
            } else {
                available.start.plus_days(self.rng.gen_range(10..60))
            })
        } else {
            None
        };
        let priority_group = if !lent && self.rng.gen_bool(0.5) {
            Some(
                [
                    PriorityGroup::Unemployed,
                    PriorityGroup::Graduate,
                    PriorityGroup::MigrantWorker,
                    PriorityGroup::HardToEmploy,
                ][self.rng.gen_range(0..4)],
            )
        } else {
            None
        };
        let offer = WorkerOffered {
            worker_id: WorkerId::new(format!("w-{n:07}")).unwrap(),
            region: self.regions[r].code.clone(),
            home,
            skills,
            certificates,
            available,
            max_commute_km: Km::new(f64::from(self.rng.gen_range(5u32..=30))).unwrap(),
            min_hourly_wage_fen: Fen::new(self.rng.gen_range(20..=40) * 100).unwrap(),
            employer_id: employer_id.clone(),
            consent,
            contract_end,
            priority_group,
            display_name: None,
        };
        let _agency = self.regions[r].agencies[(n % 3) as usize].clone();
        let roll = self.rng.gen_range(0..100);
        let leaving = roll < 5;
        if leaving {
            let when = t + self.rng.gen_range(86_400..20 * 86_400);
            self.schedule(when, Pending::WorkerWithdrawn(offer.worker_id.clone()));
        } else if roll < 7 {
            // A profile update: a longer commute accepted a few days later.
            let mut again = offer.clone();
            again.max_commute_km = Km::new(offer.max_commute_km.get() + 10.0).unwrap();
            let key: Box<str> = format!("re:{}", offer.worker_id).into();
            self.bodies
                .insert(key.clone(), EventKind::WorkerOffered(again));
            let when = t + self.rng.gen_range(86_400..10 * 86_400);
            self.schedule(when, Pending::Reoffer(key));
        }
        // Remember the worker for proposals in the same district.
        const RING: usize = 64;
        let ring = &mut self.recent[r][d];
        let entry = Recent {
            offer: offer.clone(),
            leaving: leaving || roll < 7,
        };
        if ring.len() < RING {
            ring.push(entry);
        } else {
            let p = self.ring_pos[r][d];
            ring[p] = entry;
            self.ring_pos[r][d] = (p + 1) % RING;
        }
        EventKind::WorkerOffered(offer)
    }

    pub(crate) fn shortage(&mut self, n: u64, t: i64) -> EventKind {
        let r = self.rng.gen_range(0..self.regions.len());
        let d = self.rng.gen_range(0..self.regions[r].districts.len());
        let site = self.place_near(self.regions[r].districts[d], 3.0);
        let (enterprise_id, ind) = self.regions[r].borrowers
            [self.rng.gen_range(0..self.regions[r].borrowers.len())]
        .clone();
        let industry = &BORROWING[ind];
        let mut requirements = Vec::new();
        let mut certificates = Vec::new();
        for _ in 0..self.rng.gen_range(1..=2) {
            let (s, cert) = industry.skills[self.rng.gen_range(0..industry.skills.len())];
            if requirements
                .iter()
                .any(|x: &Requirement| x.skill.as_str() == s)
            {
                continue;
            }
            let min_level = Level::new(self.rng.gen_range(1..=3)).unwrap();
            requirements.push(Requirement {
                skill: Skill::new(s).unwrap(),
                min_level,
            });
            if let Some(c) = cert {
                if self.rng.gen_bool(0.3)
                    && !certificates.iter().any(|x: &Certificate| x.as_str() == c)
                {
                    certificates.push(Certificate::new(c).unwrap());
                }
            }
        }
        let today = Timestamp::from_unix_seconds(t).unwrap().date();
        let start = today.plus_days(self.rng.gen_range(3..30));
        let window = Window::new(start, start.plus_days(self.rng.gen_range(6..60))).unwrap();
        let headcount = match self.rng.gen_range(0..100) {
            0..=39 => self.rng.gen_range(1..=2),
            40..=79 => self.rng.gen_range(3..=6),
            _ => self.rng.gen_range(7..=12),
        };
        let gap = ShortagePosted {
            gap_id: GapId::new(format!("g-{n:07}")).unwrap(),
            enterprise_id,
            region: self.regions[r].code.clone(),
            site,
            requirements,
            certificates,
            headcount: Headcount::new(headcount).unwrap(),
            window,
            hourly_wage_fen: Fen::new(self.rng.gen_range(22..=45) * 100).unwrap(),
            max_commute_km: if self.rng.gen_bool(0.4) {
                Some(Km::new(f64::from(self.rng.gen_range(8u32..=25))).unwrap())
            } else {
                None
            },
            industry: Some(lendwork_domain::Industry::new(industry.name).unwrap()),
            title: None,
            description: None,
            hours_per_day: None,
        };
        if self.rng.gen_bool(0.03) {
            let when = t + self.rng.gen_range(86_400..10 * 86_400);
            self.schedule(when, Pending::ShortageWithdrawn(gap.gap_id.clone()));
        } else {
            self.propose(r, d, &gap, t);
        }
        EventKind::ShortagePosted(gap)
    }
}
