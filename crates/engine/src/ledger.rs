//! The settlement ledger (DESIGN §5): derived from the log, never typed
//! in. For each assignment and pay period:
//!
//! * `minutes`: the confirmed minutes of the period's days;
//! * `owed_fen`: what they are worth — per day, minutes × hourly wage / 60,
//!   rounded half up to the fen (a day of 1 minute at 3 000 fen an hour is
//!   50 fen; at 3 030, 50.5 → 51), summed over the days;
//! * `paid_by_borrower_fen`: what the borrower reported paying for the
//!   period (to the lender, or to a flexible worker directly);
//! * `paid_to_worker_fen`: what the worker was reported paid for it (by
//!   the lender, or by the borrower for a flexible worker);
//! * `flags`, each a rule broken: `underpaid` (a payer paid something, but
//!   less than owed), `overpaid` (more than owed), `deduction` (the lender
//!   paid the worker less than the borrower paid the lender: pay passes
//!   through unchanged), `late` (less than owed, [`PayConfig::late_days`]
//!   after the period closed, judged as of the ledger's time), `disputed`
//!   (a day of the period is disputed).
//!
//! A payment counts in the period that holds its `period.start`. Periods
//! are those of [`PayConfig::period`], cut to the assignment's window;
//! a period appears once it has a day or a payment.

use std::collections::BTreeMap;

use lendwork_domain::*;
use serde::{Deserialize, Serialize};

use crate::sheet::{DayState, PayConfig, PayPeriod, Sheet};

/// A rule the ledger found broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Paid, but less than owed.
    Underpaid,
    /// Paid more than owed.
    Overpaid,
    /// The lender paid the worker less than the borrower paid the lender.
    Deduction,
    /// Less than owed, past the grace days after the period closed.
    Late,
    /// A day of the period is disputed.
    Disputed,
}

impl Flag {
    /// Every flag.
    pub const ALL: [Flag; 5] = [
        Flag::Underpaid,
        Flag::Overpaid,
        Flag::Deduction,
        Flag::Late,
        Flag::Disputed,
    ];

    /// The wire name.
    pub fn slug(self) -> &'static str {
        match self {
            Flag::Underpaid => "underpaid",
            Flag::Overpaid => "overpaid",
            Flag::Deduction => "deduction",
            Flag::Late => "late",
            Flag::Disputed => "disputed",
        }
    }
}

/// One assignment's settlement for one pay period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The assignment.
    pub match_id: MatchId,
    /// The pay period (cut to the assignment's window).
    pub period: Window,
    /// Confirmed minutes.
    pub minutes: u64,
    /// What they are worth, in fen.
    pub owed_fen: i64,
    /// Paid by the borrower (to the lender, or to a flexible worker).
    pub paid_by_borrower_fen: i64,
    /// Paid to the worker (by the lender, or by the borrower).
    pub paid_to_worker_fen: i64,
    /// Rules broken.
    pub flags: Vec<Flag>,
}

/// A day's pay: `minutes` × `wage` / 60, rounded half up to the fen.
pub fn day_fen(minutes: u16, wage_fen: i64) -> i64 {
    (i64::from(minutes) * wage_fen + 30) / 60
}

/// The pay period holding day `d`.
pub fn period_of(d: Date, p: PayPeriod) -> Window {
    use chrono::Datelike;
    let n = d.0;
    let (start, end) = match p {
        PayPeriod::Weekly => {
            let back = i64::from(n.weekday().num_days_from_monday());
            let s = d.plus_days(-back);
            (s, s.plus_days(6))
        }
        PayPeriod::HalfMonthly | PayPeriod::Monthly => {
            let first = n.with_day(1).expect("day 1");
            let next = if n.month() == 12 {
                first.with_year(n.year() + 1).and_then(|x| x.with_month(1))
            } else {
                first.with_month(n.month() + 1)
            }
            .expect("a month later");
            let last = next.pred_opt().expect("a day before");
            match p {
                PayPeriod::HalfMonthly if n.day() <= 15 => {
                    (Date(first), Date(first.with_day(15).expect("day 15")))
                }
                PayPeriod::HalfMonthly => (Date(first.with_day(16).expect("day 16")), Date(last)),
                _ => (Date(first), Date(last)),
            }
        }
    };
    Window::new(start, end).expect("start before end")
}

/// The ledger rows of one assignment: its `sheet`, its window, its hourly
/// wage, whether the worker has a lender, judged as of market day
/// `as_of`.
pub fn rows(
    match_id: &MatchId,
    sheet: &Sheet,
    window: Window,
    wage_fen: i64,
    has_lender: bool,
    pay: &PayConfig,
    as_of: Date,
) -> Vec<Row> {
    #[derive(Default)]
    struct Acc {
        minutes: u64,
        owed: i64,
        borrower: i64,
        worker: i64,
        disputed: bool,
    }
    let mut by_period: BTreeMap<Date, (Window, Acc)> = BTreeMap::new();
    let cut =
        |w: Window| Window::new(w.start.max(window.start), w.end.min(window.end)).unwrap_or(w);
    for (d, day) in &sheet.days {
        let p = cut(period_of(*d, pay.period));
        let (_, a) = by_period
            .entry(p.start)
            .or_insert_with(|| (p, Acc::default()));
        match &day.state {
            DayState::Confirmed { .. } => {
                a.minutes += u64::from(day.minutes);
                a.owed += day_fen(day.minutes, wage_fen);
            }
            DayState::Disputed { .. } => a.disputed = true,
            DayState::Submitted => {}
        }
    }
    for x in &sheet.payments {
        let p = cut(period_of(x.period.start, pay.period));
        let (_, a) = by_period
            .entry(p.start)
            .or_insert_with(|| (p, Acc::default()));
        match (x.from, x.to) {
            (Party::Borrower, Party::Lender) => a.borrower += x.amount_fen,
            (Party::Lender, Party::Worker) => a.worker += x.amount_fen,
            (Party::Borrower, Party::Worker) => {
                a.borrower += x.amount_fen;
                a.worker += x.amount_fen;
            }
            _ => {}
        }
    }
    by_period
        .into_values()
        .map(|(period, a)| {
            let mut flags = Vec::new();
            let legs: &[i64] = if has_lender {
                &[a.borrower, a.worker]
            } else {
                &[a.borrower]
            };
            if legs.iter().any(|&p| p > 0 && p < a.owed) {
                flags.push(Flag::Underpaid);
            }
            if legs.iter().any(|&p| p > a.owed) {
                flags.push(Flag::Overpaid);
            }
            if has_lender && a.worker < a.borrower {
                flags.push(Flag::Deduction);
            }
            if as_of > period.end.plus_days(pay.late_days) && legs.iter().any(|&p| p < a.owed) {
                flags.push(Flag::Late);
            }
            if a.disputed {
                flags.push(Flag::Disputed);
            }
            Row {
                match_id: match_id.clone(),
                period,
                minutes: a.minutes,
                owed_fen: a.owed,
                paid_by_borrower_fen: a.borrower,
                paid_to_worker_fen: a.worker,
                flags,
            }
        })
        .collect()
}
