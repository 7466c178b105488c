//! A proposal's lifecycle: made (by a round, or read from the log), then
//! each step decided by [`crate::machine`] — acceptances, agreement,
//! signatures, start, end, decline, expiry — plus what the market does on
//! its own: cancellations on withdrawals and lowered headcounts, and
//! terminations when a worker is withdrawn mid-assignment or their
//! contract with the lender ends.
//!
//! Every change of status goes through one place ([`Market::finish`]),
//! which frees the worker and the position as the new status says and puts
//! them back into the solver, so the next round re-matches them
//! (back-fill); records the change for the caller's counters
//! ([`Market::take_transitions`]); and queues the proposal for
//! [`Market::take_changed`]. A pair whose proposal was declined, expired
//! or ended is not proposed again. Unanswered proposals are also kept by
//! the time they were made, so expiry looks only at the ones due.

use lendwork_domain::*;

use super::records::{history_name, Step as HistoryStep, CONTRACT_ENDED, HEADCOUNT_LOWERED};
use super::{Market, Proposal, Status};
use crate::machine::{self, Next, Step};

/// A change of a proposal's status, for the caller's counters: each is
/// reported once, when it happens, and never for a step that was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The proposal.
    pub match_id: MatchId,
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// When.
    pub at: Timestamp,
}

impl Market {
    /// Cancels the proposals a re-post no longer has positions for:
    /// unanswered ones first, newest first, then agreed and signed ones.
    pub(super) fn trim_to_headcount(&mut self, slot: u32, event: &EventId, at: Timestamp) {
        for wanted in [Status::Proposed, Status::Agreed, Status::Signed] {
            let gap = self.gaps[slot as usize].as_ref().expect("live");
            let mut excess = gap.taken.saturating_sub(gap.posting.headcount.get());
            if excess == 0 {
                return;
            }
            let victims: Vec<MatchId> = gap
                .proposals
                .iter()
                .rev()
                .filter(|m| self.proposals[*m].status == wanted)
                .take(excess as usize)
                .cloned()
                .collect();
            for m in victims {
                self.finish(
                    &m,
                    Status::Cancelled,
                    event,
                    at,
                    HEADCOUNT_LOWERED,
                    None,
                    None,
                );
                excess -= 1;
            }
        }
    }

    /// Records proposal `p` of worker `ws` for gap `gs`: the position and
    /// the worker's window are taken, and the proposal awaits its answers.
    pub(super) fn record(
        &mut self,
        p: &MatchProposed,
        gs: u32,
        ws: u32,
        event: &EventId,
        at: Timestamp,
    ) {
        let gap = self.gaps[gs as usize].as_mut().expect("live");
        let window = gap.posting.window;
        gap.taken += 1;
        gap.proposals.push(p.match_id.clone());
        let lender = self.workers[ws as usize]
            .as_ref()
            .and_then(|w| w.profile.employer_id.clone());
        let m = p.match_id.clone();
        self.update_worker(ws, |r| r.busy.push((m, window)));
        self.changed.push(p.match_id.clone());
        self.unanswered.insert((at, p.match_id.clone()));
        self.proposals.insert(
            p.match_id.clone(),
            Box::new(Proposal {
                proposed: p.clone(),
                status: Status::Proposed,
                window,
                lender,
                accepted: Vec::new(),
                agreement: None,
                agreement_sha256: None,
                signed: Vec::new(),
                history: vec![HistoryStep {
                    event: event.clone(),
                    at,
                    what: "match_proposed",
                    by: None,
                    reason: None,
                }],
                refused: Vec::new(),
                sheet: Default::default(),
            }),
        );
    }

    /// The proposals made or changed since the last call, in the order it
    /// happened; a proposal may appear more than once. The matcher uses
    /// this to keep reservations and read models in step.
    pub fn take_changed(&mut self) -> Vec<MatchId> {
        std::mem::take(&mut self.changed)
    }

    /// The status changes since the last call, in order.
    pub fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    /// The events the market made itself since the last call
    /// (terminations), in order.
    pub fn take_emitted(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.emitted)
    }

    /// A `match_proposed` read from the log. Our own (same id) changes
    /// nothing; a foreign one is taken as a commitment when both sides are
    /// here, the pair is eligible and the gap has a free position.
    pub fn proposed(
        &mut self,
        p: &MatchProposed,
        event: &EventId,
        at: Timestamp,
    ) -> Result<(), String> {
        if self.proposals.contains_key(&p.match_id) {
            return Ok(());
        }
        let (Some(&ws), Some(&gs)) = (self.wslot.get(&p.worker_id), self.gslot.get(&p.gap_id))
        else {
            return Err("worker or gap unknown in this region".into());
        };
        let (Some(w), Some(g)) = (
            self.workers[ws as usize].as_ref(),
            self.gaps[gs as usize].as_ref(),
        ) else {
            return Err("worker or gap withdrawn".into());
        };
        if let Err(rule) = Self::eligible(w, g) {
            return Err(format!(
                "not eligible: rule {} ({rule}) fails",
                rule.number()
            ));
        }
        if self.is_blocked(ws, g.enterprise) {
            return Err(format!(
                "not eligible: rule {} ({}) fails",
                Rule::NotBlocked.number(),
                Rule::NotBlocked
            ));
        }
        if w.excluded.contains(&gs) {
            return Err("the pair was declined, expired or ended before".into());
        }
        if g.posting.headcount.get() <= g.taken {
            return Err("the gap has no free position".into());
        }
        self.record(p, gs, ws, event, at);
        self.sync_gap(gs);
        self.place_worker(ws);
        Ok(())
    }

    /// A party's step on a standing proposal, decided by
    /// [`machine::decide`]: applied, or refused and recorded on the
    /// proposal (nothing else changes).
    pub fn step(
        &mut self,
        m: &MatchId,
        step: Step<'_>,
        event: &EventId,
        at: Timestamp,
        what: &'static str,
        reason: Option<&Reason>,
    ) -> Result<(), String> {
        let Some(p) = self.proposals.get_mut(m) else {
            return Err(format!("unknown match {m}"));
        };
        let by = match step {
            Step::Accept(p) | Step::Decline(p) | Step::Sign(p, _) => Some(p),
            Step::End(_, by) => by,
            Step::Expire | Step::Start => None,
        };
        let next = match machine::decide(&p.facts(), step, at.market_date()) {
            Ok(next) => next,
            Err(refusal) => {
                let why = refusal.to_string();
                p.refuse(event, at, &why);
                self.changed.push(m.clone());
                return Err(why);
            }
        };
        match step {
            Step::Accept(party) => p.accepted.push(party),
            Step::Sign(party, _) => p.signed.push(party),
            _ => {}
        }
        match next {
            Next::Stay => {
                p.history.push(HistoryStep {
                    event: event.clone(),
                    at,
                    what,
                    by,
                    reason: reason.cloned(),
                });
                self.changed.push(m.clone());
            }
            Next::Move(to) => {
                if to == Status::Agreed {
                    let terms = self.agreement_terms(m);
                    let p = self.proposals.get_mut(m).expect("known");
                    p.agreement_sha256 = terms.as_ref().map(AgreementTerms::sha256);
                    p.agreement = terms.map(Box::new);
                }
                self.finish(m, to, event, at, what, by, reason.cloned());
            }
        }
        Ok(())
    }

    /// The agreement of proposal `m` from its gap's posting and its
    /// worker's profile now (both are live while it is proposed).
    fn agreement_terms(&self, m: &MatchId) -> Option<AgreementTerms> {
        let p = self.proposals.get(m)?;
        let g = self.g(&p.proposed.gap_id)?;
        let w = self.w(&p.proposed.worker_id)?;
        Some(AgreementTerms::of(&p.proposed, &g.posting, &w.profile))
    }

    /// Ends a started assignment as `terminated` on the market's own
    /// account: an `assignment_ended` event with a deterministic id is
    /// made (see [`Market::take_emitted`]) and applied.
    pub(super) fn terminate(&mut self, m: &MatchId, at: Timestamp, what: &'static str, why: &str) {
        let reason = Reason::new(why).ok();
        let id = EventId::new(format!("evt-term-{m}")).expect("valid id");
        self.emitted.push(Event {
            id: id.clone(),
            at,
            kind: EventKind::AssignmentEnded(AssignmentEnded {
                match_id: m.clone(),
                outcome: Outcome::Terminated,
                by: None,
                reason: reason.clone(),
            }),
        });
        self.finish(
            m,
            Status::Ended(Outcome::Terminated),
            &id,
            at,
            what,
            None,
            reason,
        );
    }

    /// Moves a proposal to `to`, freeing the worker and the position as
    /// the new status says, and re-optimising (back-fill).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish(
        &mut self,
        m: &MatchId,
        to: Status,
        event: &EventId,
        at: Timestamp,
        what: &'static str,
        by: Option<Party>,
        reason: Option<Reason>,
    ) {
        let p = self.proposals.get_mut(m).expect("known");
        let before = p.status;
        p.status = to;
        self.changed.push(m.clone());
        self.transitions.push(Transition {
            match_id: m.clone(),
            from: before,
            to,
            at,
        });
        if before == Status::Proposed && to != Status::Proposed {
            self.unanswered.remove(&(p.history[0].at, m.clone()));
        }
        debug_assert!(history_name(what).is_some(), "{what}: not a history name");
        p.history.push(HistoryStep {
            event: event.clone(),
            at,
            what,
            by,
            reason,
        });
        if before == Status::Started {
            self.contract_ends.retain(|(_, x)| x != m);
        }
        let (g, w) = (p.proposed.gap_id.clone(), p.proposed.worker_id.clone());
        let late_cancel = (matches!(before, Status::Agreed | Status::Signed)
            && to == Status::Declined
            && by == Some(Party::Borrower))
            || to == Status::Ended(Outcome::Cancelled);
        if late_cancel {
            if let Some(gap) = self
                .gslot
                .get(&g)
                .and_then(|&s| self.gaps[s as usize].as_ref())
            {
                *self.late_cancellations.entry(gap.enterprise).or_default() += 1;
            }
        }
        if let (Status::Ended(o), Some(&ws)) = (to, self.wslot.get(&w)) {
            let rec = self.reliability.entry(ws).or_default();
            rec.count(o, by);
            let permille = rec.no_show_permille();
            if self.workers[ws as usize].is_some() {
                self.update_worker(ws, |r| r.no_show_permille = permille);
            }
        }
        if to == Status::Started {
            self.watch_contract(m);
        }
        if before.holds_position() && !to.holds_position() {
            if let Some(&gs) = self.gslot.get(&g) {
                if let Some(gap) = self.gaps[gs as usize].as_mut() {
                    gap.taken -= 1;
                    self.sync_gap(gs);
                }
            }
        }
        let exclude = matches!(to, Status::Declined | Status::Expired | Status::Ended(_));
        if before.holds_worker() && !to.holds_worker() {
            if let Some(&ws) = self.wslot.get(&w) {
                let gs = if exclude {
                    self.gslot.get(&g).copied()
                } else {
                    None
                };
                self.excluded_pairs.extend(gs.map(|g| (ws, g)));
                self.declined.extend(gs.map(|g| (ws, g)));
                if self.workers[ws as usize].is_some() {
                    self.update_worker(ws, |rec| {
                        rec.busy.retain(|b| &b.0 != m);
                        rec.excluded.extend(gs);
                    });
                    self.place_worker(ws);
                } else if let Some(gs) = gs {
                    self.parked_exclusions.entry(ws).or_default().push(gs);
                }
            }
        }
    }

    /// Watches a started assignment whose worker's contract with the
    /// lender ends before its window does: it is terminated the day after
    /// the contract's last day ([`Market::contracts_ended`]).
    pub(super) fn watch_contract(&mut self, m: &MatchId) {
        let Some(p) = self.proposals.get(m) else {
            return;
        };
        let end = self
            .w(&p.proposed.worker_id)
            .filter(|w| w.profile.employer_id.is_some())
            .and_then(|w| w.profile.contract_end);
        if let Some(end) = end.filter(|e| *e < p.window.end) {
            self.contract_ends.insert((end, m.clone()));
        }
    }

    /// Terminates the started assignments whose worker's contract ended
    /// before market day `today`; the events are in
    /// [`Market::take_emitted`].
    pub fn contracts_ended(&mut self, now: Timestamp) {
        let today = now.market_date();
        let due: Vec<MatchId> = self
            .contract_ends
            .iter()
            .take_while(|(end, _)| *end < today)
            .map(|(_, m)| m.clone())
            .collect();
        for m in due {
            self.terminate(
                &m,
                now,
                CONTRACT_ENDED,
                "the worker's contract with the lender ended",
            );
        }
    }

    /// Proposals made before `cutoff` and still unanswered.
    pub fn stale(&self, cutoff: Timestamp) -> Vec<MatchId> {
        self.unanswered
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .map(|(_, m)| m.clone())
            .collect()
    }
}
