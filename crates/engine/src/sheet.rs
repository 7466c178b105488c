//! Timesheets and payments of one assignment (DESIGN §5): what the
//! borrower reports worked, day by day, what the worker or the lender
//! confirms or disputes, and what the payers report paid. The rules that
//! decide whether a report applies are here, as pure functions; the market
//! applies reports through them on every path (live and replay), and the
//! gateway asks them before it appends, as for the lifecycle
//! ([`crate::machine`]).
//!
//! * **Submit** (the borrower): a day of the window, on or after the
//!   start (and not after the end, once ended), not in the future (no day
//!   is reported before it happened), at most the shortage's hours per day
//!   plus the overtime limit ([`PayConfig::overtime_limit_minutes`]). A
//!   later submission replaces an unconfirmed day; a confirmed day is
//!   final.
//! * **Confirm / dispute** (the worker, or the lender for an employee): a
//!   submitted day. A disputed day waits for a new submission, which only
//!   the disputing party may confirm (or dispute again). A day nobody
//!   confirms or disputes
//!   confirms itself [`PayConfig::auto_confirm_days`] days after it was
//!   submitted: the engine's own `timesheet_confirmed` (no `by`), made by
//!   event time, so a replay makes it at the same record.
//! * **Pay** (the payer): borrower to lender and lender to worker for an
//!   employee; borrower to worker for a flexible worker; once the
//!   assignment started.

use std::collections::BTreeMap;

use lendwork_domain::*;
use serde::{Deserialize, Serialize};

use crate::market::Status;

/// How the ledger cuts time into pay periods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayPeriod {
    /// Monday to Sunday.
    Weekly,
    /// The 1st to the 15th, the 16th to the month's end.
    HalfMonthly,
    /// Calendar months.
    #[default]
    Monthly,
}

/// Settings of timesheets and the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PayConfig {
    /// The pay period.
    pub period: PayPeriod,
    /// Minutes a day may exceed the shortage's hours per day (three hours
    /// by default: the daily overtime the labour law allows).
    pub overtime_limit_minutes: u16,
    /// Days after its submission that an unanswered day confirms itself.
    pub auto_confirm_days: i64,
    /// Days after a period closes that an unpaid amount is `late`.
    pub late_days: i64,
}

impl Default for PayConfig {
    fn default() -> Self {
        Self {
            period: PayPeriod::Monthly,
            overtime_limit_minutes: 180,
            auto_confirm_days: 3,
            late_days: 15,
        }
    }
}

/// One day of a timesheet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// Minutes submitted.
    pub minutes: u16,
    /// When the current submission was made.
    pub submitted_at: Timestamp,
    /// Where it stands (`"state": "submitted" | "confirmed" | "disputed"`
    /// beside the day's other members).
    #[serde(flatten)]
    pub state: DayState,
    /// Who disputed an earlier submission of this day, if anyone: only
    /// they may confirm the new one.
    pub disputed_by: Option<Party>,
}

/// Where a day stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DayState {
    /// Submitted, waiting for confirmation.
    Submitted,
    /// Confirmed by a party, or by lapse (`by` none).
    Confirmed {
        /// Who confirmed.
        by: Option<Party>,
    },
    /// Disputed; waits for a new submission.
    Disputed {
        /// Who disputed.
        by: Party,
        /// The minutes they say were worked.
        claimed: Option<u16>,
        /// Why.
        reason: Reason,
    },
}

/// A payment as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The payer.
    pub from: Party,
    /// The payee.
    pub to: Party,
    /// How much, in fen.
    pub amount_fen: i64,
    /// The period it is for.
    pub period: Window,
    /// When it was reported.
    pub at: Timestamp,
}

/// An assignment's timesheet and payments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sheet {
    /// Days reported, by date.
    pub days: BTreeMap<Date, Day>,
    /// Payments reported, in order.
    pub payments: Vec<Payment>,
}

/// What the rules need to know of the assignment.
#[derive(Clone, Copy, Debug)]
pub struct Work {
    /// The proposal's status.
    pub status: Status,
    /// Whether the worker has a lender.
    pub has_lender: bool,
    /// The window.
    pub window: Window,
    /// The market day it started, if it did.
    pub started_on: Option<Date>,
    /// The market day it ended, if it did.
    pub ended_on: Option<Date>,
    /// The shortage's hours per day.
    pub hours_per_day: u8,
}

impl Work {
    fn started(&self) -> Result<(), String> {
        match (self.status, self.started_on) {
            (Status::Started | Status::Ended(_), Some(_)) => Ok(()),
            (s, _) => Err(format!(
                "the assignment has not started (it is {}): there is no work to report yet",
                s.name()
            )),
        }
    }

    fn checker(&self, by: Party) -> Result<(), String> {
        match by {
            Party::Worker => Ok(()),
            Party::Lender if self.has_lender => Ok(()),
            Party::Lender => Err(
                "by: a flexible worker has no lender; the worker confirms or disputes their days"
                    .into(),
            ),
            Party::Borrower => Err(
                "by: the worker or the lender confirms or disputes a day, not the borrower".into(),
            ),
        }
    }
}

/// Whether the borrower's report of `x` applies on market day `today`.
pub fn submit(
    sheet: &Sheet,
    w: &Work,
    x: &TimesheetSubmitted,
    today: Date,
    pay: &PayConfig,
) -> Result<(), String> {
    w.started()?;
    let d = x.date;
    if d < w.window.start || d > w.window.end {
        return Err(format!(
            "date: {d} is outside the assignment's window {} to {}",
            w.window.start, w.window.end
        ));
    }
    if let Some(s) = w.started_on.filter(|s| d < *s) {
        return Err(format!("date: {d} is before the assignment started ({s})"));
    }
    if let Some(e) = w.ended_on.filter(|e| d > *e) {
        return Err(format!("date: {d} is after the assignment ended ({e})"));
    }
    if d > today {
        return Err(format!(
            "date: {d} has not happened yet (today is {today}); a day is reported once worked"
        ));
    }
    let limit = u16::from(w.hours_per_day) * 60 + pay.overtime_limit_minutes;
    if x.minutes.get() > limit {
        return Err(format!(
            "minutes: {} is more than the shortage's {} hours a day plus {} minutes of overtime ({limit})",
            x.minutes.get(),
            w.hours_per_day,
            pay.overtime_limit_minutes
        ));
    }
    if let Some(Day {
        state: DayState::Confirmed { .. },
        ..
    }) = sheet.days.get(&d)
    {
        return Err(format!("date: {d} is confirmed; a confirmed day is final"));
    }
    Ok(())
}

/// Whether `by`'s confirmation of `date` applies.
pub fn confirm(sheet: &Sheet, w: &Work, date: Date, by: Option<Party>) -> Result<(), String> {
    w.started()?;
    if let Some(p) = by {
        w.checker(p)?;
    }
    match sheet.days.get(&date) {
        None => Err(format!("date: {date} was not submitted")),
        Some(Day {
            state: DayState::Confirmed { .. },
            ..
        }) => Err(format!("date: {date} is already confirmed")),
        Some(Day {
            state: DayState::Disputed { by: d, .. },
            ..
        }) => Err(format!(
            "date: {date} is disputed by the {}; it waits for a new submission",
            d.slug()
        )),
        Some(Day {
            disputed_by: Some(d),
            ..
        }) if by.is_some_and(|b| b != *d) => Err(format!(
            "date: {date} was disputed by the {}; only they confirm the new submission",
            d.slug()
        )),
        Some(_) => Ok(()),
    }
}

/// Whether `by`'s dispute of `date` applies.
pub fn dispute(sheet: &Sheet, w: &Work, date: Date, by: Party) -> Result<(), String> {
    w.started()?;
    w.checker(by)?;
    match sheet.days.get(&date) {
        None => Err(format!("date: {date} was not submitted")),
        Some(Day {
            state: DayState::Submitted,
            ..
        }) => Ok(()),
        Some(Day {
            state: DayState::Confirmed { .. },
            ..
        }) => Err(format!(
            "date: {date} is confirmed; a confirmed day is final"
        )),
        Some(Day {
            state: DayState::Disputed { .. },
            ..
        }) => Err(format!("date: {date} is already disputed")),
    }
}

/// Whether a payment report applies.
pub fn pay(w: &Work, x: &PaymentRecorded) -> Result<(), String> {
    w.started()?;
    match (w.has_lender, x.from, x.to) {
        (true, Party::Borrower, Party::Lender) | (true, Party::Lender, Party::Worker) => Ok(()),
        (false, Party::Borrower, Party::Worker) => Ok(()),
        (true, _, _) => Err(
            "to: an employee's pay goes borrower to lender and lender to worker, unchanged".into(),
        ),
        (false, _, _) => Err(
            "from: a flexible worker has no lender; the borrower pays the worker directly".into(),
        ),
    }
}
