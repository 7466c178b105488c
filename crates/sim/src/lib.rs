//! # lendwork-sim
//!
//! A synthetic but plausible shared-employment market as JSONL events (what
//! `lendwork simulate` writes), for demos, tests and benchmarks.
//!
//! ```
//! use lendwork_sim::{simulate, SimConfig};
//!
//! let mut out = Vec::new();
//! let n = simulate(&SimConfig { workers: 100, gaps: 10, ..Default::default() }, &mut out, &mut |_| {}).unwrap();
//! assert!(n >= 110);
//! ```
//!
//! The same seed gives the same bytes: one PCG stream drives every choice,
//! hash maps are only looked up, never iterated, and floats are rounded
//! before they are written.
//!
//! The shape of the market:
//! * regions carry real Gansu division codes (`620100` Lanzhou, …; more
//!   regions get synthetic codes), each with 3–5 districts where homes and
//!   sites cluster (a Gaussian of a few km around each district centre);
//! * enterprises per region lend (manufacturing with surplus staff) or borrow
//!   (logistics, retail, food, care, construction); a few do both, so the
//!   no-lending-to-yourself rule has work to do;
//! * 60 % of workers are lent employees (10 % of them without consent, some
//!   with a contract ending early); 40 % are flexible workers registered by an
//!   agency, half of them in a policy priority group;
//! * skills come from the enterprise's industry, levels skew low, the
//!   certificates follow the skills;
//! * offers and shortages arrive evenly over `--days`; later events follow in
//!   time order: profile updates, withdrawals, and for some shortages a few
//!   proposals of workers that really are eligible (checked with the domain's
//!   rules against recent workers of the same district), then acceptances,
//!   declines, expiries, starts and ends.
//!
//! Memory stays flat in the number of workers: only a small ring of recent
//! workers per district and the queue of future events are kept.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Write};

use lendwork_domain::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of regions.
    pub regions: u32,
    /// Number of workers offered.
    pub workers: u64,
    /// Number of shortages posted.
    pub gaps: u64,
    /// Seed of the one random stream.
    pub seed: u64,
    /// First instant of the timeline.
    pub start: Timestamp,
    /// Days over which offers and shortages arrive.
    pub days: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            regions: 3,
            workers: 1000,
            gaps: 100,
            seed: 1,
            start: Timestamp::parse("2026-03-01T00:00:00Z").unwrap(),
            days: 30,
        }
    }
}

const GANSU: [(&str, f64, f64); 14] = [
    ("620100", 36.061, 103.834),
    ("620200", 39.772, 98.289),
    ("620300", 38.520, 102.188),
    ("620400", 36.545, 104.138),
    ("620500", 34.581, 105.725),
    ("620600", 37.928, 102.638),
    ("620700", 38.926, 100.455),
    ("620800", 35.543, 106.665),
    ("620900", 39.733, 98.494),
    ("621000", 35.709, 107.643),
    ("621100", 35.580, 104.626),
    ("621200", 33.401, 104.922),
    ("622900", 35.601, 103.210),
    ("623000", 34.983, 102.911),
];

struct Industry {
    name: &'static str,
    skills: &'static [(&'static str, Option<&'static str>)],
}

const LENDING: [Industry; 2] = [
    Industry {
        name: "manufacturing",
        skills: &[
            ("assembly", None),
            ("welding", Some("welding-cert")),
            ("quality-inspection", None),
            ("machine-operation", None),
        ],
    },
    Industry {
        name: "hospitality",
        skills: &[
            ("cooking", Some("health-cert")),
            ("cleaning", None),
            ("reception", None),
        ],
    },
];

const BORROWING: [Industry; 5] = [
    Industry {
        name: "logistics",
        skills: &[
            ("forklift", Some("forklift-licence")),
            ("warehouse-picking", None),
            ("delivery-driving", Some("driving-licence-c1")),
        ],
    },
    Industry {
        name: "retail",
        skills: &[
            ("cashier", None),
            ("shelf-stocking", None),
            ("reception", None),
        ],
    },
    Industry {
        name: "food-processing",
        skills: &[
            ("food-packing", Some("health-cert")),
            ("cooking", Some("health-cert")),
            ("cleaning", None),
        ],
    },
    Industry {
        name: "care",
        skills: &[("elder-care", Some("care-worker-cert")), ("cleaning", None)],
    },
    Industry {
        name: "construction",
        skills: &[
            ("bricklaying", None),
            ("welding", Some("welding-cert")),
            ("machine-operation", None),
        ],
    },
];

struct RegionPlan {
    code: Region,
    districts: Vec<(f64, f64)>,
    lenders: Vec<(EnterpriseId, usize)>,
    borrowers: Vec<(EnterpriseId, usize)>,
    agencies: Vec<EnterpriseId>,
}

/// A future event waiting for its time; ordered by time, then by the order
/// it was scheduled, so the output is deterministic.
type Due = Reverse<(i64, u64, Pending)>;

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Reoffer(Box<str>),
    WorkerWithdrawn(WorkerId),
    ShortageWithdrawn(GapId),
    Proposed(Box<str>),
    Decision(MatchId, u8),
    Started(MatchId),
    Ended(MatchId, u8),
}

struct Recent {
    offer: WorkerOffered,
    leaving: bool,
}

/// The simulated market as events in memory (for tests and benchmarks;
/// [`simulate`] streams them instead).
pub fn events(cfg: &SimConfig) -> Vec<Event> {
    let mut out = Vec::new();
    simulate(cfg, &mut out, &mut |_| {}).expect("writing to memory");
    String::from_utf8(out)
        .expect("the simulator writes UTF-8")
        .lines()
        .map(|l| Event::from_json(l).expect("the simulator writes valid events"))
        .collect()
}

/// How the simulated parties answer a proposal the *engine* made (the
/// simulation's own proposals are answered inside it): decided by the
/// proposal's id alone, so a replay answers alike, in the proportions the
/// simulation uses for its own proposals — 60 % accepted by the borrower,
/// 15 % declined by the worker, 10 % declined by the borrower, 15 % never
/// answered (left to expire).
///
/// The answer is stamped `at` (the time the proposal was made) plus one to
/// ten minutes: a benchmark that replays months in seconds answers at
/// once in real time, so its answers must not carry a later market time
/// than the events still in flight behind them (a far-future time would
/// move the market's clock ahead and expire other proposals early).
pub fn answer(p: &MatchProposed, at: Timestamp) -> Option<Event> {
    // FNV-1a over the id: stable across runs and platforms.
    let h = p
        .match_id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |a, b| {
            (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let decision = |by, reason: Option<&str>| MatchDecision {
        match_id: p.match_id.clone(),
        by,
        reason: reason.map(|r| Reason::new(r).expect("a valid reason")),
    };
    let kind = match h % 100 {
        0..=59 => EventKind::MatchAccepted(decision(Party::Borrower, None)),
        60..=74 => {
            EventKind::MatchDeclined(decision(Party::Worker, Some("the shift times do not suit")))
        }
        75..=84 => EventKind::MatchDeclined(decision(Party::Borrower, None)),
        _ => return None,
    };
    let delay = 60 + (h >> 32) as i64 % 540;
    Some(Event {
        id: EventId::new(format!("evt-answer-{}", p.match_id)).expect("a valid id"),
        at: Timestamp::from_unix_seconds(at.unix_seconds() + delay)?,
        kind,
    })
}

/// Streams the market to `out` and returns the number of events written.
/// `progress` is called now and then with the number of offers and
/// shortages written so far.
pub fn simulate(
    cfg: &SimConfig,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> io::Result<u64> {
    let mut sim = Sim::new(cfg);
    sim.run(out, progress)?;
    Ok(sim.seq)
}

struct Sim<'a> {
    cfg: &'a SimConfig,
    rng: Pcg64Mcg,
    regions: Vec<RegionPlan>,
    /// Recent workers per (region, district): a ring, for proposals.
    recent: Vec<Vec<Vec<Recent>>>,
    ring_pos: Vec<Vec<usize>>,
    /// Windows each proposed worker is busy in (rule 9).
    busy: HashMap<WorkerId, Vec<Window>>,
    /// Full text of scheduled re-offers and proposals.
    bodies: HashMap<Box<str>, EventKind>,
    queue: BinaryHeap<Due>,
    seq: u64,
    sched: u64,
}

impl<'a> Sim<'a> {
    fn new(cfg: &'a SimConfig) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(cfg.seed);
        let per_region =
            |n: u64| ((n / u64::from(cfg.regions.max(1))) / 150).clamp(4, 400) as usize;
        let mut regions = Vec::new();
        for r in 0..cfg.regions.max(1) as usize {
            let (code, lat, lon) = match GANSU.get(r) {
                Some(&(c, la, lo)) => (c.to_owned(), la, lo),
                None => (
                    format!("{}", 630_100 + (r - GANSU.len()) * 100),
                    30.0 + (r % 10) as f64,
                    100.0 + (r / 10) as f64,
                ),
            };
            let nd = rng.gen_range(3..=5);
            let districts = (0..nd)
                .map(|_| {
                    (
                        lat + rng.gen_range(-0.12..0.12),
                        lon + rng.gen_range(-0.15..0.15),
                    )
                })
                .collect();
            let n_ent = per_region(cfg.workers + cfg.gaps * 10);
            let lenders: Vec<_> = (0..n_ent)
                .map(|i| {
                    (
                        EnterpriseId::new(format!("ent-{code}-l{i}")).unwrap(),
                        rng.gen_range(0..LENDING.len()),
                    )
                })
                .collect();
            let mut borrowers: Vec<_> = (0..n_ent)
                .map(|i| {
                    (
                        EnterpriseId::new(format!("ent-{code}-b{i}")).unwrap(),
                        rng.gen_range(0..BORROWING.len()),
                    )
                })
                .collect();
            // A few lenders also borrow, under the same enterprise id.
            borrowers.push((lenders[0].0.clone(), 0));
            let agencies = (0..3)
                .map(|i| EnterpriseId::new(format!("agency-{code}-{i}")).unwrap())
                .collect();
            regions.push(RegionPlan {
                code: Region::new(code).unwrap(),
                districts,
                lenders,
                borrowers,
                agencies,
            });
        }
        let recent = regions
            .iter()
            .map(|r| r.districts.iter().map(|_| Vec::new()).collect())
            .collect();
        let ring_pos = regions.iter().map(|r| vec![0; r.districts.len()]).collect();
        Self {
            cfg,
            rng,
            regions,
            recent,
            ring_pos,
            busy: HashMap::new(),
            bodies: HashMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            sched: 0,
        }
    }

    fn run(&mut self, out: &mut dyn Write, progress: &mut dyn FnMut(u64)) -> io::Result<()> {
        let total = self.cfg.workers + self.cfg.gaps;
        let span = i64::from(self.cfg.days.max(1)) * 86_400;
        let t0 = self.cfg.start.unix_seconds();
        let (mut w, mut g) = (0u64, 0u64);
        for i in 0..total {
            let t = t0 + (i as i128 * span as i128 / total.max(1) as i128) as i64;
            self.flush_due(t, out)?;
            // Interleave so that gaps are spread evenly among workers.
            let gap_turn = g < self.cfg.gaps
                && (w >= self.cfg.workers || (g + 1) * total <= (i + 1) * self.cfg.gaps);
            let kind = if gap_turn {
                g += 1;
                self.shortage(g, t)
            } else {
                w += 1;
                self.worker(w, t)
            };
            self.emit(t, kind, out)?;
            if i % 65_536 == 0 {
                progress(i);
            }
        }
        self.flush_due(i64::MAX, out)?;
        progress(total);
        Ok(())
    }

    fn schedule(&mut self, t: i64, p: Pending) {
        self.sched += 1;
        self.queue.push(Reverse((t, self.sched, p)));
    }

    fn emit(&mut self, t: i64, kind: EventKind, out: &mut dyn Write) -> io::Result<()> {
        self.seq += 1;
        let ev = Event {
            id: EventId::new(format!("evt-{:09}", self.seq)).unwrap(),
            at: Timestamp::from_unix_seconds(t).expect("simulated times are in range"),
            kind,
        };
        serde_json::to_writer(&mut *out, &ev)?;
        out.write_all(b"\n")
    }

    fn flush_due(&mut self, now: i64, out: &mut dyn Write) -> io::Result<()> {
        while let Some(Reverse((t, _, _))) = self.queue.peek() {
            if *t > now {
                break;
            }
            let Reverse((t, _, p)) = self.queue.pop().unwrap();
            let kind = self.realise(t, p);
            self.emit(t, kind, out)?;
        }
        Ok(())
    }

    fn realise(&mut self, t: i64, p: Pending) -> EventKind {
        match p {
            Pending::Reoffer(key) | Pending::Proposed(key) => {
                let kind = self.bodies.remove(&key).expect("scheduled body");
                if let EventKind::MatchProposed(m) = &kind {
                    self.follow_proposal(t, m.match_id.clone());
                }
                kind
            }
            Pending::WorkerWithdrawn(worker_id) => EventKind::WorkerWithdrawn(WorkerWithdrawn {
                worker_id,
                reason: Reason::new("returned to the employer's own line").unwrap(),
            }),
            Pending::ShortageWithdrawn(gap_id) => EventKind::ShortageWithdrawn(ShortageWithdrawn {
                gap_id,
                reason: Reason::new("order volume fell").unwrap(),
            }),
            Pending::Decision(match_id, d) => match d {
                0 => EventKind::MatchAccepted(MatchDecision {
                    match_id,
                    by: Party::Borrower,
                    reason: None,
                }),
                1 => EventKind::MatchDeclined(MatchDecision {
                    match_id,
                    by: Party::Worker,
                    reason: Some(Reason::new("the shift times do not suit").unwrap()),
                }),
                2 => EventKind::MatchDeclined(MatchDecision {
                    match_id,
                    by: Party::Borrower,
                    reason: None,
                }),
                _ => EventKind::MatchExpired(MatchRef { match_id }),
            },
            Pending::Started(match_id) => EventKind::AssignmentStarted(MatchRef { match_id }),
            Pending::Ended(match_id, o) => EventKind::AssignmentEnded(AssignmentEnded {
                match_id,
                outcome: [
                    Outcome::Completed,
                    Outcome::Returned,
                    Outcome::NoShow,
                    Outcome::Cancelled,
                ][o as usize],
            }),
        }
    }

    fn follow_proposal(&mut self, t: i64, match_id: MatchId) {
        let roll = self.rng.gen_range(0..100);
        let d = match roll {
            0..=59 => 0,
            60..=74 => 1,
            75..=84 => 2,
            _ => 3,
        };
        let answer = t + if d == 3 {
            72 * 3600
        } else {
            self.rng.gen_range(600..48 * 3600)
        };
        self.schedule(answer, Pending::Decision(match_id.clone(), d));
        if d == 0 {
            let start = answer + self.rng.gen_range(3600..5 * 86_400);
            self.schedule(start, Pending::Started(match_id.clone()));
            let o = match self.rng.gen_range(0..100) {
                0..=84 => 0,
                85..=89 => 1,
                90..=94 => 2,
                _ => 3,
            };
            let len = if o == 2 {
                86_400
            } else {
                self.rng.gen_range(7..60) * 86_400
            };
            self.schedule(start + len, Pending::Ended(match_id, o));
        }
    }

    fn place_near(&mut self, c: (f64, f64), sd_km: f64) -> Place {
        // Box–Muller; one degree of latitude is about 111 km.
        let u1: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.gen();
        let r = (-2.0 * u1.ln()).sqrt() * sd_km / 111.0;
        let (s, co) = (std::f64::consts::TAU * u2).sin_cos();
        let lat = (c.0 + r * s).clamp(-89.0, 89.0);
        let lon = (c.1 + r * co / c.0.to_radians().cos()).clamp(-179.0, 179.0);
        Place::new(round5(lat), round5(lon)).unwrap()
    }

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

    fn worker(&mut self, n: u64, t: i64) -> EventKind {
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

    fn shortage(&mut self, n: u64, t: i64) -> EventKind {
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
        };
        if self.rng.gen_bool(0.03) {
            let when = t + self.rng.gen_range(86_400..10 * 86_400);
            self.schedule(when, Pending::ShortageWithdrawn(gap.gap_id.clone()));
        } else {
            self.propose(r, d, &gap, t);
        }
        EventKind::ShortagePosted(gap)
    }

    /// Proposes up to three eligible recent workers of the gap's district.
    fn propose(&mut self, r: usize, d: usize, gap: &ShortagePosted, t: i64) {
        let want = gap.headcount.get().min(3) as usize;
        let ring_len = self.recent[r][d].len();
        let mut proposed = 0;
        for _ in 0..ring_len.min(24) {
            if proposed == want {
                break;
            }
            let i = self.rng.gen_range(0..ring_len);
            let cand = &self.recent[r][d][i];
            if cand.leaving {
                continue;
            }
            let busy = self
                .busy
                .get(&cand.offer.worker_id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if check(&cand.offer, gap, busy).is_err() {
                continue;
            }
            let w = cand.offer.clone();
            self.busy
                .entry(w.worker_id.clone())
                .or_default()
                .push(gap.window);
            let km = haversine_km(&w.home, &gap.site);
            let mut terms = std::collections::BTreeMap::new();
            terms.insert("distance".to_owned(), (km * 100.0).round() as u64);
            terms.insert(
                "wage_margin".to_owned(),
                ((gap.hourly_wage_fen.get() - w.min_hourly_wage_fen.get()) / 10) as u64,
            );
            let match_id = MatchId::new(format!("sim-{}-{}", gap.gap_id, w.worker_id)).unwrap();
            let m = MatchProposed {
                match_id: match_id.clone(),
                gap_id: gap.gap_id.clone(),
                worker_id: w.worker_id.clone(),
                region: gap.region.clone(),
                cost: terms.values().sum(),
                explanation: Explanation {
                    terms,
                    rules_passed: Rule::ALL.to_vec(),
                },
            };
            let key: Box<str> = format!("m:{match_id}").into();
            self.bodies.insert(key.clone(), EventKind::MatchProposed(m));
            let when = t + self.rng.gen_range(1..600);
            self.schedule(when, Pending::Proposed(key));
            proposed += 1;
        }
    }
}

fn round5(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: &SimConfig) -> Vec<u8> {
        let mut out = Vec::new();
        simulate(cfg, &mut out, &mut |_| {}).unwrap();
        out
    }

    #[test]
    fn answers_are_deterministic_valid_and_in_the_simulated_proportions() {
        let at = Timestamp::parse("2026-03-05T08:00:00Z").unwrap();
        let (mut accepted, mut declined, mut silent) = (0, 0, 0);
        for i in 0..2000 {
            let p = MatchProposed {
                match_id: MatchId::new(format!("m-620100-g{i}-w{}", i * 7)).unwrap(),
                gap_id: GapId::new(format!("g{i}")).unwrap(),
                worker_id: WorkerId::new(format!("w{}", i * 7)).unwrap(),
                region: Region::new("620100").unwrap(),
                cost: 1,
                explanation: Explanation {
                    terms: Default::default(),
                    rules_passed: Rule::ALL.to_vec(),
                },
            };
            let a = answer(&p, at);
            assert_eq!(a, answer(&p, at), "the same proposal, the same answer");
            let Some(e) = a else {
                silent += 1;
                continue;
            };
            let text = e.to_json();
            assert_eq!(Event::from_json(&text).unwrap(), e, "a valid event");
            let late = e.at.unix_seconds() - at.unix_seconds();
            assert!((60..600).contains(&late), "answered {late} s later");
            match e.kind {
                EventKind::MatchAccepted(d) => {
                    assert_eq!(d.match_id, p.match_id);
                    accepted += 1
                }
                EventKind::MatchDeclined(d) => {
                    assert_eq!(d.match_id, p.match_id);
                    declined += 1
                }
                other => panic!("not an answer: {other:?}"),
            }
        }
        // 60 / 25 / 15 % of 2,000, give or take what a hash deals.
        assert!((1100..1300).contains(&accepted), "{accepted} accepted");
        assert!((400..600).contains(&declined), "{declined} declined");
        assert!((200..400).contains(&silent), "{silent} unanswered");
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let cfg = SimConfig {
            workers: 2000,
            gaps: 300,
            ..Default::default()
        };
        let a = run(&cfg);
        assert_eq!(a, run(&cfg));
        assert_ne!(a, run(&SimConfig { seed: 2, ..cfg }));
    }

    #[test]
    fn every_line_is_valid_and_time_ordered() {
        let cfg = SimConfig {
            workers: 3000,
            gaps: 400,
            regions: 16,
            ..Default::default()
        };
        let out = run(&cfg);
        let mut last = None;
        let mut types = std::collections::BTreeSet::new();
        let (mut workers, mut gaps) = (0, 0);
        for line in std::str::from_utf8(&out).unwrap().lines() {
            let e = Event::from_json(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(last.map_or(true, |l| l <= e.at), "time goes forward");
            last = Some(e.at);
            types.insert(e.kind.type_name());
            match e.kind {
                EventKind::WorkerOffered(_) => workers += 1,
                EventKind::ShortagePosted(_) => gaps += 1,
                _ => {}
            }
        }
        assert!(workers >= 3000, "every worker offered (plus updates)");
        assert_eq!(gaps, 400);
        assert_eq!(
            types.len(),
            EVENT_TYPES.len(),
            "all event types occur: {types:?}"
        );
    }
}
