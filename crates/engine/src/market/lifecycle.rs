//! A proposal's lifecycle: made (by a round, or read from the log),
//! accepted, declined, expired, started, ended or cancelled.
//!
//! Every change of status goes through one place ([`Market::finish`]), which
//! frees the worker and the position as the new status says and puts them
//! back into the solver, so the next round re-matches them (back-fill). A
//! pair that was declined, expired or did not show is excluded from then
//! on. Unanswered proposals are also kept by the time they were made, so
//! expiry looks only at the ones due; every change is queued for
//! [`Market::take_changed`].

use lendwork_domain::*;

use super::records::{history_name, HEADCOUNT_LOWERED};
use super::{Market, Proposal, Status};

impl Market {
    /// Cancels the proposals a re-post no longer has positions for:
    /// unanswered ones first, newest first, then accepted ones.
    pub(super) fn trim_to_headcount(&mut self, slot: u32, event: &EventId, at: Timestamp) {
        for wanted in [Status::Proposed, Status::Accepted] {
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
                self.finish(&m, Status::Cancelled, event, at, HEADCOUNT_LOWERED);
                excess -= 1;
            }
        }
    }

    /// Records proposal `p` of worker `ws` for gap `gs`: the position and
    /// the worker's window are taken, and the proposal awaits an answer.
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
                history: vec![(event.clone(), at, "match_proposed")],
            }),
        );
    }

    /// The proposals made or changed (in status) since the last call, in
    /// the order it happened; a proposal may appear more than once. The
    /// matcher uses this to keep reservations and read models in step.
    pub fn take_changed(&mut self) -> Vec<MatchId> {
        std::mem::take(&mut self.changed)
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
        if w.excluded.contains(&gs) {
            return Err("the pair was declined, expired or did not show before".into());
        }
        if g.posting.headcount.get() <= g.taken {
            return Err("the gap has no free position".into());
        }
        self.record(p, gs, ws, event, at);
        self.sync_gap(gs);
        self.place_worker(ws);
        Ok(())
    }

    /// A decision, start or end for a standing proposal.
    pub fn transition(
        &mut self,
        m: &MatchId,
        to: Status,
        event: &EventId,
        at: Timestamp,
        what: &'static str,
    ) -> Result<(), String> {
        let Some(p) = self.proposals.get(m) else {
            return Err(format!("unknown match {m}"));
        };
        let allowed = match (p.status, to) {
            (Status::Proposed, Status::Accepted | Status::Declined | Status::Expired) => true,
            (Status::Accepted, Status::Declined | Status::Started) => true,
            (Status::Proposed, Status::Started) => true,
            (Status::Started, Status::Ended(_)) => true,
            (a, b) if a == b => return Ok(()),
            _ => false,
        };
        if !allowed {
            return Err(format!(
                "match {m} is {:?}; {what} does not apply",
                p.status
            ));
        }
        self.finish(m, to, event, at, what);
        Ok(())
    }

    /// Moves a proposal to `to`, freeing the worker and the position as
    /// the new status says, and re-optimising (back-fill).
    pub(super) fn finish(
        &mut self,
        m: &MatchId,
        to: Status,
        event: &EventId,
        at: Timestamp,
        what: &'static str,
    ) {
        let p = self.proposals.get_mut(m).expect("known");
        let before = p.status;
        p.status = to;
        self.changed.push(m.clone());
        if before == Status::Proposed && to != Status::Proposed {
            self.unanswered.remove(&(p.history[0].1, m.clone()));
        }
        debug_assert!(history_name(what).is_some(), "{what}: not a history name");
        p.history.push((event.clone(), at, what));
        let (g, w) = (p.proposed.gap_id.clone(), p.proposed.worker_id.clone());
        if before.holds_position() && !to.holds_position() {
            if let Some(&gs) = self.gslot.get(&g) {
                if let Some(gap) = self.gaps[gs as usize].as_mut() {
                    gap.taken -= 1;
                    self.sync_gap(gs);
                }
            }
        }
        let exclude = matches!(
            to,
            Status::Declined | Status::Expired | Status::Ended(Outcome::NoShow)
        );
        if before.holds_worker() && !to.holds_worker() {
            if let Some(&ws) = self.wslot.get(&w) {
                if self.workers[ws as usize].is_some() {
                    let gs = if exclude {
                        self.gslot.get(&g).copied()
                    } else {
                        None
                    };
                    self.excluded_pairs.extend(gs.map(|g| (ws, g)));
                    self.update_worker(ws, |rec| {
                        rec.busy.retain(|b| &b.0 != m);
                        rec.excluded.extend(gs);
                    });
                    self.place_worker(ws);
                }
            }
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
