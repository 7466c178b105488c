//! What follows an offer or a post: the queue of future events, the
//! simulation's own proposals and their answers, starts and ends, and how
//! the simulated parties answer the engine's proposals.

use std::cmp::Reverse;

use lendwork_domain::*;
use rand::Rng;

use crate::Sim;

/// A future event waiting for its time; ordered by time, then by the order
/// it was scheduled, so the output is deterministic.
pub(crate) type Due = Reverse<(i64, u64, Pending)>;

/// An event scheduled for later; re-offers and proposals keep their body
/// in `Sim::bodies` under the key they carry.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pending {
    Reoffer(Box<str>),
    WorkerWithdrawn(WorkerId),
    ShortageWithdrawn(GapId),
    Proposed(Box<str>),
    Decision(MatchId, u8),
    Started(MatchId),
    Ended(MatchId, u8),
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

impl Sim<'_> {
    pub(crate) fn schedule(&mut self, t: i64, p: Pending) {
        self.sched += 1;
        self.queue.push(Reverse((t, self.sched, p)));
    }

    pub(crate) fn realise(&mut self, t: i64, p: Pending) -> EventKind {
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

    /// Proposes up to three eligible recent workers of the gap's district.
    pub(crate) fn propose(&mut self, r: usize, d: usize, gap: &ShortagePosted, t: i64) {
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
