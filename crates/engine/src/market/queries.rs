//! Read-only views of a market: whether it holds a worker or a gap, their
//! profiles and counts, a gap's free positions, what a pair would cost, and
//! the solver's counters — for the engine's queries, reports, benchmarks
//! and tests. Nothing here changes the market.

use lendwork_domain::*;

use super::{Market, Reliability, Status};

impl Market {
    /// The region.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// Whether the worker is offered here.
    pub fn has_worker(&self, w: &WorkerId) -> bool {
        self.w(w).is_some()
    }

    /// Whether the gap is posted here.
    pub fn has_gap(&self, g: &GapId) -> bool {
        self.g(g).is_some()
    }

    /// Live workers.
    pub fn worker_count(&self) -> usize {
        self.workers.iter().filter(|w| w.is_some()).count()
    }

    /// Live gaps.
    pub fn gap_count(&self) -> usize {
        self.gaps.iter().filter(|g| g.is_some()).count()
    }

    /// The profile of a worker.
    pub fn worker(&self, w: &WorkerId) -> Option<&WorkerOffered> {
        self.w(w).map(|r| &r.profile)
    }

    /// The posting of a gap.
    pub fn gap(&self, g: &GapId) -> Option<&ShortagePosted> {
        self.g(g).map(|r| &r.posting)
    }

    /// Free positions of a gap: not held by any standing proposal or
    /// assignment (what the solver may still fill).
    pub fn open(&self, g: &GapId) -> u32 {
        self.g(g)
            .map_or(0, |r| r.posting.headcount.get().saturating_sub(r.taken))
    }

    /// Every gap with its free positions, sorted by id.
    pub fn open_positions(&self) -> Vec<(GapId, u32)> {
        let mut v: Vec<_> = self
            .gaps
            .iter()
            .flatten()
            .map(|r| {
                (
                    r.posting.gap_id.clone(),
                    r.posting.headcount.get().saturating_sub(r.taken),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Every live gap with its positions as the office counts them, in no
    /// particular order (for statistics; nothing is cloned).
    pub fn gaps_with_positions(&self) -> impl Iterator<Item = (&ShortagePosted, Positions)> + '_ {
        self.gaps
            .iter()
            .flatten()
            .map(|r| (&r.posting, self.count_positions(r)))
    }

    /// A live gap's positions as the office counts them.
    pub fn positions(&self, g: &GapId) -> Option<Positions> {
        self.g(g).map(|r| self.count_positions(r))
    }

    fn count_positions(&self, r: &super::GapRec) -> Positions {
        let mut p = Positions {
            headcount: r.posting.headcount.get(),
            ..Positions::default()
        };
        for m in &r.proposals {
            let s = self.proposals[m].status;
            if s == Status::Proposed {
                p.proposed += 1;
            }
            if s.fills_position() {
                p.filled += 1;
            }
            if matches!(s, Status::Started | Status::Ended(Outcome::Completed)) {
                p.started += 1;
            }
        }
        p
    }

    /// The cost of worker `w` in gap `g` — the sum of the terms a proposal
    /// of the pair would carry — whether or not the pair is eligible;
    /// `None` when either is unknown here. The property tests check each
    /// round's total against an independent solver with it.
    pub fn pair_cost(&self, w: &WorkerId, g: &GapId) -> Option<u64> {
        let (wr, gr) = (self.w(w)?, self.g(g)?);
        let fav = self.is_favourite(*self.wslot.get(w)?, gr.enterprise);
        Some(Self::terms(&self.weights, wr, gr, fav).total())
    }

    /// Windows the worker is committed to (rule 9).
    pub fn busy(&self, w: &WorkerId) -> Vec<Window> {
        self.w(w)
            .map_or_else(Vec::new, |r| r.busy.iter().map(|b| b.1).collect())
    }

    /// A worker's record of ended assignments.
    pub fn reliability(&self, w: &WorkerId) -> Reliability {
        self.wslot
            .get(w)
            .and_then(|s| self.reliability.get(s))
            .copied()
            .unwrap_or_default()
    }

    /// A borrower's late cancellations (declines after the agreement,
    /// assignments called off).
    pub fn late_cancellations(&self, e: &EnterpriseId) -> u32 {
        self.ent_ids
            .get(e)
            .and_then(|i| self.late_cancellations.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// The solver's work counters.
    pub fn solver_stats(&self) -> lendwork_flow::bipartite::Stats {
        self.solver.stats
    }

    /// Pairs the solver currently assigns (what the next round proposes).
    pub fn pending_pairs(&self) -> usize {
        self.solver.assigned_count()
    }
}

/// A gap's positions as the office counts them: a proposal does not fill a
/// position; an agreement does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Positions {
    /// Positions asked for.
    pub headcount: u32,
    /// Proposals waiting for their parties' acceptance.
    pub proposed: u32,
    /// Positions agreed, signed, started or completed.
    pub filled: u32,
    /// Of those, started or completed.
    pub started: u32,
}

impl Positions {
    /// Positions not filled: the headcount less the filled ones.
    pub fn open(&self) -> u32 {
        self.headcount.saturating_sub(self.filled)
    }
}
