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
    Accepted(MatchId, Party),
    Signed(MatchId, Party),
    Started(MatchId),
    Ended(MatchId, u8),
    /// A day's minutes submitted by the borrower.
    Submit(MatchId, Date, u16),
    /// A day confirmed by the worker.
    Confirm(MatchId, Date),
    /// A day disputed by the worker, who claims these minutes.
    Dispute(MatchId, Date, u16),
    /// A payment: payer, payee, fen, the period's first and last day.
    Pay(MatchId, Party, Party, i64, Date, Date),
}

/// What carrying one of the simulation's own proposals through its
/// lifecycle needs: whether the worker has a lender (who must accept and
/// sign too), the agreement's hash (what the parties sign), the window
/// (no start before it, no completion before its last day).
#[derive(Clone)]
pub(crate) struct Deal {
    pub(crate) lender: bool,
    sha256: Sha256Hex,
    pub(crate) window: Window,
    pub(crate) wage_fen: i64,
}

/// The first second of market day `d` (00:00 China Standard Time), as
/// Unix seconds.
pub(crate) fn day_start(d: Date) -> i64 {
    d.0.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
        - MARKET_UTC_OFFSET_SECS
}

/// How the simulated parties answer a proposal the *engine* made (the
/// simulation's own proposals are answered inside it): decided by the
/// proposal's id alone, so a replay answers alike, in the proportions the
/// simulation uses for its own proposals — 60 % accepted by every
/// required party (the borrower, the worker, and the lender when
/// `has_lender`), 15 % declined by the worker, 10 % declined by the
/// borrower, 15 % never answered (left to expire). Signing and starting
/// need the agreement, which only the engine's state has; the demo does
/// those from the read model.
///
/// The answers are stamped `at` (the time the proposal was made) plus one
/// to ten minutes: a benchmark that replays months in seconds answers at
/// once in real time, so its answers must not carry a later market time
/// than the events still in flight behind them (a far-future time would
/// move the market's clock ahead and expire other proposals early).
pub fn answer(p: &MatchProposed, has_lender: bool, at: Timestamp) -> Vec<Event> {
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
    let delay = 60 + (h >> 32) as i64 % 540;
    let stamp = |i: i64| Timestamp::from_unix_seconds(at.unix_seconds() + delay + i);
    let event = |i: usize, kind| {
        Some(Event {
            id: EventId::new(format!("evt-answer-{i}-{}", p.match_id)).expect("a valid id"),
            at: stamp(i as i64)?,
            kind,
        })
    };
    let kinds = match h % 100 {
        0..=59 => lendwork_domain::agreement::required_parties(has_lender)
            .into_iter()
            .map(|by| EventKind::MatchAccepted(decision(by, None)))
            .collect(),
        60..=74 => vec![EventKind::MatchDeclined(decision(
            Party::Worker,
            Some("the shift times do not suit"),
        ))],
        75..=84 => vec![EventKind::MatchDeclined(decision(Party::Borrower, None))],
        _ => Vec::new(),
    };
    kinds
        .into_iter()
        .enumerate()
        .filter_map(|(i, k)| event(i, k))
        .collect()
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
            Pending::Accepted(match_id, by) => EventKind::MatchAccepted(MatchDecision {
                match_id,
                by,
                reason: None,
            }),
            Pending::Signed(match_id, by) => {
                let document_sha256 = self.deals[&match_id].sha256.clone();
                EventKind::AgreementSigned(AgreementSigned {
                    match_id,
                    by,
                    document_sha256,
                })
            }
            Pending::Decision(match_id, d) => match d {
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
            Pending::Submit(match_id, date, minutes) => {
                EventKind::TimesheetSubmitted(TimesheetSubmitted {
                    match_id,
                    date,
                    minutes: Minutes::new(i64::from(minutes)).expect("0-1440"),
                    by: Party::Borrower,
                })
            }
            Pending::Confirm(match_id, date) => EventKind::TimesheetConfirmed(TimesheetConfirmed {
                match_id,
                date,
                by: Some(Party::Worker),
            }),
            Pending::Dispute(match_id, date, claimed) => {
                EventKind::TimesheetDisputed(TimesheetDisputed {
                    match_id,
                    date,
                    by: Party::Worker,
                    reason: Reason::new("我提前下班了 I left early").unwrap(),
                    minutes: Some(Minutes::new(i64::from(claimed)).expect("0-1440")),
                })
            }
            Pending::Pay(match_id, from, to, fen, a, b) => {
                EventKind::PaymentRecorded(PaymentRecorded {
                    match_id,
                    from,
                    to,
                    amount_fen: AmountFen::new(fen).expect("positive"),
                    period: Window::new(a, b).expect("ordered"),
                })
            }
            Pending::Ended(match_id, o) => {
                if !self.cfg.work {
                    self.deals.remove(&match_id);
                }
                let (outcome, by) = [
                    (Outcome::Completed, Party::Borrower),
                    (Outcome::Returned, Party::Worker),
                    (Outcome::NoShow, Party::Borrower),
                    (Outcome::Cancelled, Party::Borrower),
                ][o as usize];
                EventKind::AssignmentEnded(AssignmentEnded {
                    match_id,
                    outcome,
                    by: Some(by),
                    reason: None,
                })
            }
        }
    }

    /// Schedules the answers to one of the simulation's own proposals:
    /// six in ten are carried through — every required party accepts and
    /// signs, the worker starts on or after the window's first day and the
    /// assignment ends (mostly completed on its last day; some returned,
    /// no-shows or cancelled earlier); the rest are declined or expire.
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
        if d != 0 {
            self.deals.remove(&match_id);
            self.schedule(answer, Pending::Decision(match_id, d));
            return;
        }
        let Some(deal) = self.deals.get(&match_id).cloned() else {
            return;
        };
        let parties = lendwork_domain::agreement::required_parties(deal.lender);
        let mut when = answer;
        for &p in &parties {
            self.schedule(when, Pending::Accepted(match_id.clone(), p));
            when += self.rng.gen_range(60..6 * 3600);
        }
        for &p in &parties {
            self.schedule(when, Pending::Signed(match_id.clone(), p));
            when += self.rng.gen_range(60..6 * 3600);
        }
        let first = day_start(deal.window.start) + 8 * 3600;
        let last = day_start(deal.window.end) + 17 * 3600;
        let start = when.max(first + self.rng.gen_range(0..2 * 3600));
        if start > last {
            self.deals.remove(&match_id);
            return;
        }
        self.schedule(start, Pending::Started(match_id.clone()));
        let o = match self.rng.gen_range(0..100) {
            0..=84 => 0,
            85..=89 => 1,
            90..=94 => 2,
            _ => 3,
        };
        let end = if o == 0 {
            last.max(start + 3600)
        } else {
            start + self.rng.gen_range(3600..(last - start).max(2 * 3600))
        };
        self.schedule(end, Pending::Ended(match_id.clone(), o));
        if self.cfg.work && o != 2 {
            self.work(&match_id, start, end);
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
            self.deals.insert(
                match_id.clone(),
                Deal {
                    lender: w.employer_id.is_some(),
                    sha256: AgreementTerms::of(&m, gap, &w).sha256(),
                    window: gap.window,
                    wage_fen: gap.hourly_wage_fen.get(),
                },
            );
            let key: Box<str> = format!("m:{match_id}").into();
            self.bodies.insert(key.clone(), EventKind::MatchProposed(m));
            let when = t + self.rng.gen_range(1..600);
            self.schedule(when, Pending::Proposed(key));
            proposed += 1;
        }
    }
}
