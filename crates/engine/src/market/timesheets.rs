//! Timesheets and payments on a market's proposals: each report decided
//! by the rules of [`crate::sheet`] and applied, or refused and recorded
//! on the proposal like a refused lifecycle step; and the days that
//! confirm themselves when nobody answers.

use lendwork_domain::*;

use super::records::{Refused, REFUSED_KEPT};
use super::{Market, Proposal, Status};
use crate::sheet::{self, Day, DayState, PayConfig, Payment, Work};

impl Proposal {
    /// What the timesheet rules need to know of it.
    pub fn work(&self) -> Work {
        let f = self.facts();
        Work {
            status: self.status,
            has_lender: self.lender.is_some(),
            window: self.window,
            started_on: f.started_on,
            ended_on: match self.status {
                Status::Ended(_) => self
                    .history
                    .iter()
                    .rev()
                    .find(|s| s.what == "assignment_ended")
                    .map(|s| s.at.market_date()),
                _ => None,
            },
            hours_per_day: self
                .agreement
                .as_ref()
                .map_or(HoursPerDay::DEFAULT, |a| a.hours_per_day)
                .get(),
        }
    }

    /// The hourly wage the agreement fixed.
    pub fn wage_fen(&self) -> Option<i64> {
        self.agreement.as_ref().map(|a| a.hourly_wage_fen.get())
    }

    /// Its ledger rows (none before a timesheet or a payment), judged as
    /// of market day `as_of`.
    pub fn ledger(&self, pay: &PayConfig, as_of: Date) -> Vec<crate::ledger::Row> {
        if self.sheet.days.is_empty() && self.sheet.payments.is_empty() {
            return Vec::new();
        }
        crate::ledger::rows(
            &self.proposed.match_id,
            &self.sheet,
            self.window,
            self.wage_fen().unwrap_or(0),
            self.lender.is_some(),
            pay,
            as_of,
        )
    }

    /// Records a step or a report that did not apply (the last
    /// [`REFUSED_KEPT`]).
    pub(super) fn refuse(&mut self, event: &EventId, at: Timestamp, why: &str) {
        self.refused.push(Refused {
            event: event.clone(),
            at,
            why: why.to_owned(),
        });
        if self.refused.len() > REFUSED_KEPT {
            self.refused.remove(0);
        }
    }
}

impl Market {
    /// A timesheet or payment report on proposal `m` (one of
    /// `timesheet_submitted`, `timesheet_confirmed`, `timesheet_disputed`,
    /// `payment_recorded`): applied when the rules allow it, otherwise
    /// refused, recorded on the proposal, and nothing else changes.
    pub fn report(
        &mut self,
        m: &MatchId,
        kind: &EventKind,
        event: &EventId,
        at: Timestamp,
        pay: &PayConfig,
    ) -> Result<(), String> {
        let Some(p) = self.proposals.get_mut(m) else {
            return Err(format!("unknown match {m}"));
        };
        let w = p.work();
        let today = at.market_date();
        let decided = match kind {
            EventKind::TimesheetSubmitted(x) => sheet::submit(&p.sheet, &w, x, today, pay),
            EventKind::TimesheetConfirmed(x) => sheet::confirm(&p.sheet, &w, x.date, x.by),
            EventKind::TimesheetDisputed(x) => sheet::dispute(&p.sheet, &w, x.date, x.by),
            EventKind::PaymentRecorded(x) => sheet::pay(&w, x),
            _ => Err("not a timesheet or payment report".into()),
        };
        if let Err(why) = decided {
            p.refuse(event, at, &why);
            self.changed.push(m.clone());
            return Err(why);
        }
        match kind {
            EventKind::TimesheetSubmitted(x) => {
                let disputed_by = match p.sheet.days.get(&x.date) {
                    Some(Day {
                        state: DayState::Disputed { by, .. },
                        ..
                    }) => Some(*by),
                    Some(d) => d.disputed_by,
                    None => None,
                };
                if let Some(old) = p.sheet.days.get(&x.date) {
                    self.confirm_due
                        .remove(&(old.submitted_at, m.clone(), x.date));
                }
                p.sheet.days.insert(
                    x.date,
                    Day {
                        minutes: x.minutes.get(),
                        submitted_at: at,
                        state: DayState::Submitted,
                        disputed_by,
                    },
                );
                self.confirm_due.insert((at, m.clone(), x.date));
            }
            EventKind::TimesheetConfirmed(x) => {
                let day = p.sheet.days.get_mut(&x.date).expect("decided");
                day.state = DayState::Confirmed { by: x.by };
                self.confirm_due
                    .remove(&(day.submitted_at, m.clone(), x.date));
            }
            EventKind::TimesheetDisputed(x) => {
                let day = p.sheet.days.get_mut(&x.date).expect("decided");
                day.state = DayState::Disputed {
                    by: x.by,
                    claimed: x.minutes.map(Minutes::get),
                    reason: x.reason.clone(),
                };
                self.confirm_due
                    .remove(&(day.submitted_at, m.clone(), x.date));
            }
            EventKind::PaymentRecorded(x) => p.sheet.payments.push(Payment {
                from: x.from,
                to: x.to,
                amount_fen: x.amount_fen.get(),
                period: x.period,
                at,
            }),
            _ => {}
        }
        self.changed.push(m.clone());
        Ok(())
    }

    /// Confirms the days submitted `days` or more days before `now` that
    /// nobody confirmed or disputed, as `timesheet_confirmed` events
    /// without `by` (see [`Market::take_emitted`]), with ids made from the
    /// proposal, the day and the submission's time.
    pub fn confirm_lapsed(&mut self, now: Timestamp, pay: &PayConfig) {
        let cutoff = now.unix_seconds() - pay.auto_confirm_days * 86_400;
        let due: Vec<(Timestamp, MatchId, Date)> = self
            .confirm_due
            .iter()
            .take_while(|(at, _, _)| at.unix_seconds() <= cutoff)
            .cloned()
            .collect();
        for (submitted, m, date) in due {
            self.confirm_due.remove(&(submitted, m.clone(), date));
            let id = EventId::new(format!("evt-tsc-{m}-{date}-{}", submitted.unix_seconds()))
                .expect("valid id");
            let kind = EventKind::TimesheetConfirmed(TimesheetConfirmed {
                match_id: m.clone(),
                date,
                by: None,
            });
            if self.report(&m, &kind, &id, now, pay).is_ok() {
                self.emitted.push(Event { id, at: now, kind });
            }
        }
    }
}
