//! Why a worker was not proposed for a gap — the first that applies of:
//! unknown here, a standing proposal of the pair, a failing rule (the
//! first, in the order of DESIGN §3), an excluded pair, or the optimum
//! using them otherwise. The answer is computed from the market's current
//! state on request; nothing is recorded for it.

use lendwork_domain::*;

use super::Market;

/// Why a worker was not proposed for a gap.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum WhyNot {
    /// One of them is unknown here.
    Unknown,
    /// An eligibility rule fails (the first, in the order of §3).
    Rule {
        /// The rule.
        rule: Rule,
    },
    /// A proposal of this pair was declined, expired or ended in a no-show;
    /// the pair is not proposed again.
    Excluded,
    /// They are matched: a proposal stands.
    Proposed {
        /// The proposal.
        match_id: MatchId,
    },
    /// Eligible, but the optimum used them otherwise: the gap's free
    /// positions went to cheaper or higher-precedence workers, or the
    /// worker serves another gap at lower total cost.
    Outcompeted {
        /// Free positions left in the gap.
        open: u32,
        /// The gap the worker is tentatively matched to, if any.
        worker_matched_to: Option<GapId>,
    },
}

impl Market {
    /// Why `w` was not proposed for `g`.
    pub fn why_not(&self, w: &WorkerId, g: &GapId) -> WhyNot {
        let (Some(wr), Some(gr)) = (self.w(w), self.g(g)) else {
            return WhyNot::Unknown;
        };
        if let Some((m, _)) = wr
            .busy
            .iter()
            .find(|(m, _)| &self.proposals[m].proposed.gap_id == g)
        {
            return WhyNot::Proposed {
                match_id: m.clone(),
            };
        }
        if let Err(rule) = Self::eligible(wr, gr) {
            return WhyNot::Rule { rule };
        }
        if self
            .wslot
            .get(w)
            .is_some_and(|&ws| self.is_blocked(ws, gr.enterprise))
        {
            return WhyNot::Rule {
                rule: Rule::NotBlocked,
            };
        }
        if wr.excluded.contains(&gr.slot) {
            return WhyNot::Excluded;
        }
        let worker_matched_to = wr.ix.and_then(|ix| self.solver.assignment(ix)).map(|gix| {
            let gs = self.gap_of[gix as usize];
            self.gaps[gs as usize]
                .as_ref()
                .expect("live")
                .posting
                .gap_id
                .clone()
        });
        WhyNot::Outcompeted {
            open: self.open(g),
            worker_matched_to,
        }
    }
}
