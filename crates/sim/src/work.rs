//! Work and pay for the simulation's own assignments (with
//! [`SimConfig::work`](crate::SimConfig::work)): every day from the start
//! to the end is submitted by the borrower at 20:00 and confirmed by the
//! worker the next morning — one day in twenty disputed first and
//! resettled with the minutes the worker claimed — and after each calendar
//! month of the window closes, the pay for it: the borrower to the lender
//! (or to a flexible worker) and the lender to the worker, each the pay of
//! the confirmed minutes, per day rounded half up.
//!
//! A few periods carry a planted breach, recorded in [`Planted`] with the
//! flags the ledger must show when judged long after every period closed:
//! a deduction (the lender pays the worker a little less), an
//! underpayment (both legs short), an overpayment, or no payment at all.

use std::collections::BTreeMap;

use lendwork_domain::*;
use rand::Rng;

use crate::lifecycle::{day_start, Pending};
use crate::Sim;

/// A breach the simulation planted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Planted {
    /// The assignment.
    pub match_id: MatchId,
    /// The first day of the pay period (cut to the window).
    pub period_start: Date,
    /// The flags the ledger must show, in the ledger's order.
    pub flags: Vec<&'static str>,
}

/// A day's pay: minutes × wage / 60, rounded half up (the contract's rule,
/// computed here on its own).
fn pay_of(minutes: u16, wage: i64) -> i64 {
    let total = i64::from(minutes) * wage;
    total / 60 + i64::from(total % 60 >= 30)
}

impl Sim<'_> {
    /// Schedules the timesheets and payments of assignment `m`, started at
    /// `start` and ended at `end` (Unix seconds).
    pub(crate) fn work(&mut self, m: &MatchId, start: i64, end: i64) {
        let Some(deal) = self.deals.get(m).cloned() else {
            return;
        };
        let (first, last) = (
            Timestamp::from_unix_seconds(start)
                .expect("in range")
                .market_date(),
            Timestamp::from_unix_seconds(end)
                .expect("in range")
                .market_date(),
        );
        let mut owed: BTreeMap<(i32, u32), (Date, Date, i64)> = BTreeMap::new();
        let mut d = first;
        while d <= last {
            // At 20:00, or just after a start later than that.
            let evening = (day_start(d) + 20 * 3600).max(start + 60);
            let minutes: u16 = [480, 480, 480, 420, 540][self.rng.gen_range(0..5)];
            self.schedule(evening, Pending::Submit(m.clone(), d, minutes));
            let minutes = if self.rng.gen_range(0..20) == 0 {
                let claimed = minutes - 60;
                self.schedule(evening + 13 * 3600, Pending::Dispute(m.clone(), d, claimed));
                self.schedule(evening + 16 * 3600, Pending::Submit(m.clone(), d, claimed));
                self.schedule(evening + 22 * 3600, Pending::Confirm(m.clone(), d));
                claimed
            } else {
                self.schedule(evening + 13 * 3600, Pending::Confirm(m.clone(), d));
                minutes
            };
            use chrono::Datelike;
            let key = (d.0.year(), d.0.month());
            let (month_first, month_last) = month(d);
            let e = owed.entry(key).or_insert((
                month_first.max(deal.window.start),
                month_last.min(deal.window.end),
                0,
            ));
            e.2 += pay_of(minutes, deal.wage_fen);
            d = d.plus_days(1);
        }
        for (_, (a, b, fen)) in owed {
            if fen == 0 {
                continue;
            }
            let when = day_start(b) + 5 * 86_400 + 12 * 3600;
            // One period in twelve carries a breach.
            let breach = if self.rng.gen_range(0..12) == 0 {
                self.rng.gen_range(0..if deal.lender { 4 } else { 3 })
            } else {
                99
            };
            let short = 1 + fen / 100;
            let (borrower, worker, flags): (i64, i64, Vec<&'static str>) = match breach {
                0 => (fen - short, fen - short, vec!["underpaid", "late"]),
                1 => (fen + short, fen + short, vec!["overpaid"]),
                2 => (0, 0, vec!["late"]),
                3 => (fen, fen - short, vec!["underpaid", "deduction", "late"]),
                _ => (fen, fen, vec![]),
            };
            if !flags.is_empty() {
                self.planted.push(Planted {
                    match_id: m.clone(),
                    period_start: a,
                    flags,
                });
            }
            if deal.lender {
                if borrower > 0 {
                    self.schedule(
                        when,
                        Pending::Pay(m.clone(), Party::Borrower, Party::Lender, borrower, a, b),
                    );
                }
                if worker > 0 {
                    self.schedule(
                        when + 3600,
                        Pending::Pay(m.clone(), Party::Lender, Party::Worker, worker, a, b),
                    );
                }
            } else if borrower > 0 {
                self.schedule(
                    when,
                    Pending::Pay(m.clone(), Party::Borrower, Party::Worker, borrower, a, b),
                );
            }
        }
    }
}

/// The calendar month holding `d`: its first and last day.
fn month(d: Date) -> (Date, Date) {
    use chrono::Datelike;
    let first = d.plus_days(1 - i64::from(d.0.day()));
    let mut last = first.plus_days(27);
    while last.plus_days(1).0.month() == first.0.month() {
        last = last.plus_days(1);
    }
    (first, last)
}
