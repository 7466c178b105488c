//! The market's self-check, which the property and robustness tests run
//! after every step: the expiry queue matches the unanswered proposals,
//! positions held match the gaps' counts and stay within headcounts, no
//! worker holds overlapping or finished commitments, and the solver's own
//! invariants (its optimality certificate) hold.

use std::collections::BTreeSet;

use lendwork_domain::*;

use super::{Market, Status};

impl Market {
    /// Checks the market's own invariants (tests): positions within
    /// headcounts, no worker in overlapping commitments, every standing
    /// proposal eligible apart from itself, the solver's certificate.
    pub fn check_invariants(&self) -> Result<(), String> {
        let unanswered: BTreeSet<(Timestamp, MatchId)> = self
            .proposals
            .values()
            .filter(|p| p.status == Status::Proposed)
            .map(|p| (p.made_at(), p.proposed.match_id.clone()))
            .collect();
        if unanswered != self.unanswered {
            return Err("the expiry queue differs from the unanswered proposals".into());
        }
        for rec in self.gaps.iter().flatten() {
            let held = rec
                .proposals
                .iter()
                .filter(|m| self.proposals[*m].status.holds_position())
                .count();
            // Started and finished assignments stand even when the
            // headcount was lowered below them.
            let fixed = rec
                .proposals
                .iter()
                .filter(|m| {
                    matches!(
                        self.proposals[*m].status,
                        Status::Started | Status::Ended(_)
                    )
                })
                .filter(|m| self.proposals[*m].status.holds_position())
                .count();
            if held as u32 != rec.taken || rec.taken > rec.posting.headcount.get().max(fixed as u32)
            {
                return Err(format!(
                    "gap {}: {held} held, {} counted, headcount {}",
                    rec.posting.gap_id,
                    rec.taken,
                    rec.posting.headcount.get()
                ));
            }
        }
        for rec in self.workers.iter().flatten() {
            let busy = &rec.busy;
            for (i, a) in busy.iter().enumerate() {
                if busy[i + 1..].iter().any(|b| a.1.overlaps(&b.1)) {
                    return Err(format!(
                        "worker {} holds overlapping commitments",
                        rec.profile.worker_id
                    ));
                }
                if !self.proposals[&a.0].status.holds_worker() {
                    return Err(format!(
                        "worker {} lists a finished proposal as busy",
                        rec.profile.worker_id
                    ));
                }
            }
        }
        self.solver.check_invariants()
    }
}
